package io.stratus.conductor.compute;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.stratus.conductor.db.ActionLog;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.db.StateUpdate;
import io.stratus.conductor.domain.Operation;
import io.stratus.conductor.domain.PowerState;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.domain.VmState;
import io.stratus.conductor.hosts.AgentClients;
import io.stratus.conductor.image.ImageRegistry;
import io.stratus.proto.agent.v1.CancelOperationRequest;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.proto.agent.v1.DestroyRequest;
import io.stratus.proto.agent.v1.PowerOffRequest;
import io.stratus.proto.agent.v1.PowerOnRequest;
import io.stratus.proto.agent.v1.RebootRequest;
import io.stratus.proto.agent.v1.RebootType;
import io.stratus.proto.agent.v1.SnapshotRequest;
import io.stratus.proto.agent.v1.SnapshotVolumesRequest;
import io.stratus.proto.agent.v1.VolumeSnapshotsResult;
import io.stratus.conductor.db.VolumeSnapshotEntity;
import io.stratus.conductor.db.VolumeStore;
import io.stratus.proto.agent.v1.SpawnRequest;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskUpdate;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives an {@link AgentTask} on its host's agent and applies what the agent streams back:
 *
 * <pre>
 *   dispatch ──► TaskTransition ──CAS ok──► (next update)
 *                      │ CAS lost ──► cancel call, undo own work (image), leave state alone
 *                TaskProgress ──► progress event
 *                TaskResult ──► end-state CAS (task_state → none, vm/power state),
 *                               Success event, "*.end" notification
 *   stream error / broken / no result ──► cleanup (SPEC §4 step 5): image deleted unless
 *        active, task_state → none (vm_state error for reboot/spawn/delete), fault and
 *        Error event recorded, "*.error" notification
 * </pre>
 *
 * The agent's task_state transitions are applied only if the row still holds the state
 * the agent expects (compare-and-swap), so two conductors or a concurrent delete can never
 * be overwritten silently.
 */
public final class TaskDriver {
  private static final Logger LOG = LoggerFactory.getLogger(TaskDriver.class);

  private final Database db;
  private final VolumeStore volumes = new VolumeStore();
  private final InstanceStore instances;
  private final ActionLog actions;
  private final ImageRegistry images;
  private final AgentClients agents;
  private final StatePublisher publisher;
  private final Clock clock;
  private final Duration callTimeout;
  private final String conductorId;
  private final Map<String, TaskStream> running = new ConcurrentHashMap<>();
  private volatile boolean closing;

  public TaskDriver(
      Database db,
      InstanceStore instances,
      ActionLog actions,
      ImageRegistry images,
      AgentClients agents,
      StatePublisher publisher,
      Clock clock,
      Duration callTimeout,
      String conductorId) {
    this.db = db;
    this.instances = instances;
    this.actions = actions;
    this.images = images;
    this.agents = agents;
    this.publisher = publisher;
    this.clock = clock;
    this.callTimeout = callTimeout;
    this.conductorId = conductorId;
  }

  /**
   * Sends the task to its agent; returns at once, the stream is handled asynchronously.
   * The call is detached from the caller's gRPC context: the public request that caused
   * it returns (and its context is cancelled) long before the task ends.
   */
  public void dispatch(AgentTask task) {
    Context.ROOT.run(() -> start(task, false));
  }

  /**
   * Re-attaches to a task another conductor started (same operation id, so the agent
   * replays or continues it instead of running it twice); updates already applied are
   * recognised and skipped.
   */
  public void resume(AgentTask task) {
    Context.ROOT.run(() -> start(task, true));
  }

  private void start(AgentTask task, boolean resumed) {
    Operation op = task.operation();
    if (!resumed) {
      db.run(s -> actions.startEvent(s, task.requestId(), op.eventName()));
      publisher.notify(task.uuid(), op.startNotification(), task.requestId(), payload(task));
    }
    LOG.info("{} task; op={} instance={} request={} agent={}", resumed ? "re-attaching" : "dispatching",
        op, task.uuid(), task.requestId(), task.hostAddress());
    TaskStream stream = new TaskStream(task);
    running.put(task.requestId(), stream);
    ComputeAgentGrpc.ComputeAgentStub stub =
        agents.stub(task.host(), task.hostAddress())
            .withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS);
    var spec = task.instance();
    switch (op) {
      case CREATE_IMAGE -> {
        if (spec.getVolumesCount() > 0) {
          stub.snapshotVolumes(
              SnapshotVolumesRequest.newBuilder()
                  .setOperationId(task.requestId())
                  .setInstance(spec)
                  .setSnapshotName(volumeSnapshotName(task.imageId()))
                  .setRequireQuiesce(task.requireQuiesce())
                  .build(),
              stream.typed());
        } else {
          stub.snapshot(
              SnapshotRequest.newBuilder()
                  .setOperationId(task.requestId())
                  .setInstance(spec)
                  .setImageId(task.imageId())
                  .setAllowLive(true)
                  .build(),
              stream.typed());
        }
      }
      case START -> stub.powerOn(
          PowerOnRequest.newBuilder().setOperationId(task.requestId()).setInstance(spec).build(),
          stream.typed());
      case STOP -> stub.powerOff(
          PowerOffRequest.newBuilder()
              .setOperationId(task.requestId())
              .setInstance(spec)
              .setCleanShutdownTimeoutSeconds(task.stopTimeoutSeconds())
              .build(),
          stream.typed());
      case REBOOT_HARD -> stub.reboot(
          RebootRequest.newBuilder()
              .setOperationId(task.requestId())
              .setInstance(spec)
              .setType(RebootType.REBOOT_TYPE_HARD)
              .build(),
          stream.typed());
      case CREATE -> stub.spawn(
          SpawnRequest.newBuilder().setOperationId(task.requestId()).setInstance(spec).build(),
          stream.typed());
      case DELETE -> stub.destroy(
          DestroyRequest.newBuilder().setOperationId(task.requestId()).setInstance(spec).build(),
          stream.typed());
    }
  }

  /** Asks the agent to cancel a running task. */
  public void cancel(String host, String hostAddress, String requestId) {
    Context.ROOT.run(() -> sendCancel(host, hostAddress, requestId));
  }

  private void sendCancel(String host, String hostAddress, String requestId) {
    agents.stub(host, hostAddress)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .cancelOperation(
            CancelOperationRequest.newBuilder().setOperationId(requestId).build(),
            new io.grpc.stub.StreamObserver<>() {
              @Override
              public void onNext(io.stratus.proto.agent.v1.CancelOperationResponse value) {}

              @Override
              public void onError(Throwable t) {
                LOG.warn("cancel was not delivered; request={} status={}",
                    requestId, Status.fromThrowable(t));
              }

              @Override
              public void onCompleted() {}
            });
  }

  /** Request ids of tasks whose streams are still open. */
  public Set<String> runningRequests() {
    return Set.copyOf(running.keySet());
  }

  /** Waits until no task stream is open (tests, shutdown); {@code false} on timeout. */
  public boolean awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!running.isEmpty()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(10);
    }
    return true;
  }

  /**
   * Stops handling streams without cleaning up: on conductor shutdown the tasks keep
   * running on the agents and recovery resolves them, so nothing is undone here.
   */
  public void close() {
    closing = true;
    running.values().forEach(TaskStream::detach);
  }

  private static Map<String, String> payload(AgentTask task) {
    Map<String, String> p = new HashMap<>();
    p.put("instance_uuid", task.uuid().toString());
    if (task.imageId() != null) {
      p.put("image_id", task.imageId());
    }
    return p;
  }

  /** The RBD snapshot name a volume-backed createImage gives every volume. */
  static String volumeSnapshotName(String imageId) {
    return "image-" + imageId;
  }

  static TaskState domainTaskState(io.stratus.proto.agent.v1.TaskState s) {
    return s == io.stratus.proto.agent.v1.TaskState.TASK_STATE_NONE
        ? null
        : TaskState.valueOf(s.name().substring("TASK_STATE_".length()));
  }

  static PowerState domainPowerState(io.stratus.proto.agent.v1.PowerState s) {
    return PowerState.valueOf(s.name().substring("POWER_STATE_".length()));
  }

  /** The stream of one task call. Callbacks are serialized by gRPC. */
  private final class TaskStream implements ClientResponseObserver<Object, TaskUpdate> {
    private final AgentTask task;
    private ClientCallStreamObserver<Object> call;
    private TaskResult result;
    private boolean done;

    TaskStream(AgentTask task) {
      this.task = task;
    }

    @SuppressWarnings("unchecked")
    <R> ClientResponseObserver<R, TaskUpdate> typed() {
      return (ClientResponseObserver<R, TaskUpdate>) (ClientResponseObserver<?, TaskUpdate>) this;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<Object> requestStream) {
      this.call = requestStream;
    }

    void detach() {
      done = true;
      if (call != null) {
        call.cancel("conductor shutting down", null);
      }
    }

    @Override
    public void onNext(TaskUpdate update) {
      if (done) {
        return;
      }
      switch (update.getKindCase()) {
        case TRANSITION -> transition(update);
        case PROGRESS -> publisher.progress(task.uuid(), task.requestId(),
            update.getProgress().getBytesDone(), update.getProgress().getBytesTotal());
        case RESULT -> result = update.getResult();
        default -> LOG.warn("empty task update ignored; request={}", task.requestId());
      }
    }

    private void transition(TaskUpdate update) {
      TaskState expected = domainTaskState(update.getTransition().getExpected());
      TaskState next = domainTaskState(update.getTransition().getTaskState());
      boolean applied =
          db.inTransaction(
              s -> instances.apply(s, StateUpdate.of(task.uuid())
                  .expectTask(expected).expectOwner(conductorId).task(next)));
      if (applied) {
        publisher.stateChanged(task.uuid(), expected);
        return;
      }
      if (alreadyApplied(next)) {
        return;  // a replay after re-attaching: this step was applied before
      }
      // The instance moved on without us (deleted, or another request took over).
      done = true;
      call.cancel("task_state changed under the task", null);
      LOG.warn("task state changed under the task, stopping it; op={} instance={} request={}"
              + " expected={} next={}",
          task.operation(), task.uuid(), task.requestId(),
          TaskState.dbNameOf(expected), TaskState.dbNameOf(next));
      undoOwnWork();
      db.run(s -> actions.finishEvent(s, task.requestId(), task.operation().eventName(), false,
          "instance left task_state " + TaskState.dbNameOf(expected) + " while the task ran"));
      finished();
    }

    @Override
    public void onError(Throwable t) {
      if (done) {
        finished();
        return;
      }
      done = true;
      Status status = Status.fromThrowable(t);
      fail(status, describe(status));
      finished();
    }

    @Override
    public void onCompleted() {
      if (done) {
        finished();
        return;
      }
      done = true;
      if (result == null) {
        fail(Status.INTERNAL, "agent ended the task without a result");
      } else {
        succeed(result);
      }
      finished();
    }

    private void finished() {
      running.remove(task.requestId());
    }

    private String describe(Status status) {
      String d = status.getDescription();
      return status.getCode() + (d == null ? "" : ": " + d);
    }

    private void succeed(TaskResult r) {
      Operation op = task.operation();
      if (op == Operation.CREATE_IMAGE && r.hasVolumeSnapshots()) {
        try {
          recordVolumeSnapshots(r.getVolumeSnapshots());
        } catch (RuntimeException e) {
          fail(Status.UNAVAILABLE, "volume snapshots taken, but the image could not be completed: "
              + e.getMessage());
          return;
        }
      }
      if (op == Operation.CREATE_IMAGE) {
        var imageStatus = safeImageStatus();
        if (imageStatus != ImageRegistry.Status.ACTIVE) {
          fail(Status.DATA_LOSS, "agent reported success but image " + task.imageId() + " is "
              + (imageStatus == null ? "missing" : imageStatus));
          return;
        }
      }
      PowerState power = domainPowerState(r.getPowerState());
      StateUpdate u =
          StateUpdate.of(task.uuid())
              .expectTask(op.ownTaskStates(), false)
              .expectOwner(conductorId)
              .task(null)
              .clearTaskRequest()
              .power(power);
      switch (op) {
        case START, REBOOT_HARD, CREATE -> u.vm(VmState.ACTIVE);
        case STOP -> u.vm(VmState.STOPPED);
        case DELETE -> u.vm(VmState.DELETED).power(PowerState.NOSTATE).deletedAt(clock.instant());
        case CREATE_IMAGE -> { /* vm_state unchanged */ }
      }
      TaskState before = currentTask();
      boolean applied =
          db.inTransaction(
              s -> {
                boolean ok = instances.apply(s, u);
                if (ok && op == Operation.DELETE) {
                  volumes.detachAll(s, task.uuid(), clock.instant());
                }
                actions.finishEvent(s, task.requestId(), op.eventName(), true,
                    ok ? r.getDetails() : "finished, but the instance had moved on meanwhile");
                return ok;
              });
      if (applied) {
        publisher.stateChanged(task.uuid(), before);
      }
      Map<String, String> p = payload(task);
      if (r.hasSnapshot()) {
        p.put("size", Long.toString(r.getSnapshot().getSize()));
        p.put("live", Boolean.toString(r.getSnapshot().getLive()));
      }
      publisher.notify(task.uuid(), op.endNotification(), task.requestId(), p);
      LOG.info("task finished; op={} instance={} request={} power={}",
          op, task.uuid(), task.requestId(), power);
    }

    private void fail(Status status, String message) {
      if (closing) {
        return; // leave it to recovery
      }
      Operation op = task.operation();
      LOG.warn("task failed, cleaning up; op={} instance={} request={} error={}",
          op, task.uuid(), task.requestId(), message);
      undoOwnWork();
      StateUpdate u =
          StateUpdate.of(task.uuid())
              .expectTask(op.ownTaskStates(), false)
              .expectOwner(conductorId)
              .task(null)
              .clearTaskRequest();
      if (op == Operation.REBOOT_HARD || op == Operation.CREATE || op == Operation.DELETE) {
        u.vm(VmState.ERROR);
      }
      TaskState before = currentTask();
      boolean cancelled = status.getCode() == Status.Code.CANCELLED;
      boolean applied =
          db.inTransaction(
              s -> {
                boolean ok = instances.apply(s, u);
                if (!cancelled) {
                  actions.recordFault(s, task.uuid(), status.getCode().value(), message, op.name());
                }
                actions.finishEvent(s, task.requestId(), op.eventName(), false,
                    cancelled ? "cancelled" : message);
                return ok;
              });
      if (applied) {
        publisher.stateChanged(task.uuid(), before);
      }
      Map<String, String> p = payload(task);
      p.put("error", message);
      publisher.notify(task.uuid(), op.name().toLowerCase(java.util.Locale.ROOT) + ".error",
          task.requestId(), p);
    }

    /**
     * Records the volume snapshots of a volume-backed createImage and completes its image:
     * the block_device_mapping property listing them, then active with size 0.
     */
    private void recordVolumeSnapshots(VolumeSnapshotsResult result) {
      java.time.Instant now = clock.instant();
      List<VolumeSnapshotEntity> rows = result.getSnapshotsList().stream()
          .map(v -> new VolumeSnapshotEntity(UUID.randomUUID(), UUID.fromString(v.getVolumeId()),
              task.imageId(), v.getSnapshot(), v.getSize(), now))
          .toList();
      db.run(s -> rows.forEach(row -> volumes.insertSnapshot(s, row)));
      images.activateEmpty(task.imageId(),
          VolumePlan.imageProperties(rows, result.getSnapshotsList()));
      LOG.info("volume-backed snapshot recorded; instance={} image={} volumes={} quiesced={}"
              + " frozen_ms={}", task.uuid(), task.imageId(), rows.size(), result.getQuiesced(),
          result.getFrozenMs());
    }

    /** Deletes the snapshot image unless it became active (Nova's delete_image_on_error). */
    private void undoOwnWork() {
      if (task.operation() != Operation.CREATE_IMAGE || task.imageId() == null) {
        return;
      }
      try {
        if (images.status(task.imageId()).filter(st -> st == ImageRegistry.Status.ACTIVE).isEmpty()) {
          images.delete(task.imageId());
          LOG.info("deleted image of failed snapshot; instance={} image={}",
              task.uuid(), task.imageId());
        }
      } catch (RuntimeException e) {
        LOG.error("could not delete image of failed snapshot; instance={} image={}",
            task.uuid(), task.imageId(), e);
      }
    }

    private ImageRegistry.Status safeImageStatus() {
      try {
        return images.status(task.imageId()).orElse(null);
      } catch (RuntimeException e) {
        return null;
      }
    }

    /** Whether we still own the task and it is already at or past {@code next}. */
    private boolean alreadyApplied(TaskState next) {
      var current = db.inTransaction(s -> instances.find(s, task.uuid()));
      if (current.isEmpty() || !conductorId.equals(current.get().taskOwner())) {
        return false;
      }
      TaskState now = current.get().taskState();
      Set<TaskState> own = task.operation().ownTaskStates();
      return now != null && next != null && own.contains(now) && own.contains(next)
          && now.ordinal() >= next.ordinal();
    }

    private TaskState currentTask() {
      return db.inTransaction(s -> instances.findAny(s, task.uuid()))
          .map(i -> i.taskState())
          .orElse(null);
    }
  }
}
