package io.stratus.conductor.testing;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.stratus.support.grpc.Answered;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.agent.v1.CancelOperationRequest;
import io.stratus.proto.agent.v1.CancelOperationResponse;
import io.stratus.proto.agent.v1.Capabilities;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.proto.agent.v1.DestroyRequest;
import io.stratus.proto.agent.v1.GetAgentInfoRequest;
import io.stratus.proto.agent.v1.GetAgentInfoResponse;
import io.stratus.proto.agent.v1.GetInstanceInfoRequest;
import io.stratus.proto.agent.v1.GetInstanceInfoResponse;
import io.stratus.proto.agent.v1.InstanceInfo;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.ListInstancesRequest;
import io.stratus.proto.agent.v1.ListInstancesResponse;
import io.stratus.proto.agent.v1.PowerOffRequest;
import io.stratus.proto.agent.v1.PowerOnRequest;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.agent.v1.RebootRequest;
import io.stratus.proto.agent.v1.RebootType;
import io.stratus.proto.agent.v1.SnapshotRequest;
import io.stratus.proto.agent.v1.SnapshotResult;
import io.stratus.proto.agent.v1.SpawnRequest;
import io.stratus.proto.agent.v1.TaskProgress;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskState;
import io.stratus.proto.agent.v1.TaskTransition;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.proto.image.v1.ImageStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * A simulated compute agent for the conductor's tests, used where a real libvirt cannot
 * serve: many hosts in one JVM, and a failure, a broken stream or a stall at any step of
 * any operation. It simulates one host's agent with an in-memory map of "domains"
 * (uuid → power state) and no hypervisor, and uploads its snapshots into the real gateway
 * ({@link InProcessGateway}). The real agent is tested against libvirt in its own module
 * and, with the real conductor and gateway, in {@code deploy/e2e}.
 *
 * <p>Each task RPC streams the task_state transitions, progress and result the real agent
 * would, tagged with the request's operation_id and a timestamp. The work runs on its own
 * virtual thread, so a caller blocked on the stream never blocks the work. As the contract
 * requires, a task call is keyed by operation_id: a repeated call re-attaches to the running
 * operation or replays the recorded updates and final status of the finished one; the work
 * never runs twice ({@link #executionCount} vs {@link #callCount}).
 *
 * <p>Behaviour is configured per test, like Nomad's mock driver: {@link #failAt},
 * {@link #breakStreamAt}, {@link #blockAt} and {@link #delayBetweenUpdates}. A fault is armed
 * for the <em>next execution</em> of that RPC's work (replays do not consume it); arm it again
 * to hit a retry too. Everything is thread-safe.
 *
 * <p>Checks the real agent makes and the simulator keeps: INVALID_ARGUMENT (naming the field) for
 * an empty operation_id, instance uuid, snapshot image_id or an unspecified reboot type;
 * NOT_FOUND for Snapshot, PowerOn and Reboot of an instance with no domain here (seed one with
 * {@link #setPowerState}); when an image gateway is set, Spawn needs an active image_ref and
 * Snapshot uploads into a queued image (queued → saving → active, back to queued on failure).
 */
public class AgentSimulator extends ComputeAgentGrpc.ComputeAgentImplBase {

  /** RPC names accepted by the fault methods and counted by {@link #executionCount}. */
  public static final Set<String> TASK_RPCS =
      Set.of("Snapshot", "PowerOn", "PowerOff", "Reboot", "Spawn", "Destroy");
  /** Bytes a fake snapshot "uploads" (progress total, size, bytes_sent). */
  public static final long SNAPSHOT_BYTES = 3L << 20;

  /** One received request: the RPC name, its operation_id and instance uuid ("" if none). */
  public record Call(String rpc, String operationId, String instanceUuid) {}

  private enum FaultKind { FAIL, BREAK, BLOCK, DROP }

  private record Fault(FaultKind kind, int afterUpdates, Status status, Gate gate) {}

  private final String host;
  private volatile InProcessGateway gateway;
  private volatile Duration delay = Duration.ZERO;
  private final ConcurrentHashMap<String, PowerState> domains = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Operation> operations = new ConcurrentHashMap<>();
  private final Map<String, List<Fault>> armed = new TreeMap<>(); // guarded by itself
  private final List<Call> calls = new CopyOnWriteArrayList<>();
  private final List<String> volumeSnapshots = new CopyOnWriteArrayList<>();
  private final List<InstanceSpec> spawned = new CopyOnWriteArrayList<>();
  private final List<InstanceSpec> taskSpecs = new CopyOnWriteArrayList<>();
  private final List<Call> executions = new CopyOnWriteArrayList<>();

  /** A simulated agent for {@code host} with no image gateway (snapshots upload nowhere). */
  public AgentSimulator(String host) {
    this(host, null);
  }

  /** A simulated agent for {@code host} that uploads snapshots into {@code gateway}. */
  public AgentSimulator(String host, InProcessGateway gateway) {
    this.host = Objects.requireNonNull(host, "host");
    this.gateway = gateway;
  }

  // ---------------------------------------------------------------- configuration

  /** Sets (or clears, with null) the image gateway snapshots upload into. */
  public void setImageGateway(InProcessGateway gateway) {
    this.gateway = gateway;
  }

  /** The next execution of {@code rpc} ends with {@code status} after {@code afterUpdates} updates. */
  public void failAt(String rpc, int afterUpdates, Status status) {
    if (status.isOk()) {
      throw new IllegalArgumentException("failAt needs a non-OK status");
    }
    arm(rpc, new Fault(FaultKind.FAIL, checkCount(afterUpdates), status, null));
  }

  /**
   * Simulates the agent dying during the next execution of {@code rpc}: after
   * {@code afterUpdates} updates every stream attached to it ends with UNAVAILABLE "agent
   * connection lost", and the operation is forgotten (a restarted agent keeps no record), so a
   * retry with the same operation_id runs the work again from the domain state left behind.
   */
  public void breakStreamAt(String rpc, int afterUpdates) {
    arm(rpc, new Fault(FaultKind.BREAK, checkCount(afterUpdates), null, null));
  }

  /**
   * Simulates a link that breaks while the agent lives: after {@code afterUpdates} updates
   * of the next execution of {@code rpc}, every stream attached to it ends as a dropped
   * connection would, and the work goes on (a caller can attach again by its id).
   */
  public void dropStreamsAt(String rpc, int afterUpdates) {
    arm(rpc, new Fault(FaultKind.DROP, checkCount(afterUpdates), null, null));
  }

  /**
   * The next execution of {@code rpc} stops after {@code afterUpdates} updates until the
   * returned gate is released (or the operation is cancelled), so a test can look at the
   * state mid-operation.
   */
  public Gate blockAt(String rpc, int afterUpdates) {
    Gate gate = new Gate();
    arm(rpc, new Fault(FaultKind.BLOCK, checkCount(afterUpdates), null, gate));
    return gate;
  }

  /** Waits this long before every update but the first of each execution. */
  public void delayBetweenUpdates(Duration delay) {
    if (delay.isNegative()) {
      throw new IllegalArgumentException("negative delay");
    }
    this.delay = delay;
  }

  /** Disarms every fault not yet used; gates already handed out stay as they are. */
  public void clearFaults() {
    synchronized (armed) {
      armed.clear();
    }
  }

  /** Defines (or changes) the domain of {@code uuid} with that power state. */
  public void setPowerState(String uuid, PowerState state) {
    domains.put(uuid, state);
  }

  /** The power state of the domain of {@code uuid}, empty if there is no domain. */
  public Optional<PowerState> powerState(String uuid) {
    return Optional.ofNullable(domains.get(uuid));
  }

  /** Removes the domain of {@code uuid}, as if it vanished from the hypervisor. */
  public void removeDomain(String uuid) {
    domains.remove(uuid);
  }

  /**
   * Simulates an agent restart: every operation is forgotten (a restarted agent keeps no
   * record) and the running ones stop, as their process died.
   */
  public void forgetOperations() {
    synchronized (operations) {
      operations.values().forEach(Operation::requestCancel);
      operations.clear();
    }
  }

  /** Every request received, in order (task RPCs, replays included, and the others). */
  public List<Call> calls() {
    return List.copyOf(calls);
  }

  /** How many requests of {@code rpc} were received, replays included. */
  public int callCount(String rpc) {
    return (int) calls.stream().filter(c -> c.rpc().equals(rpc)).count();
  }

  /** The task executions actually run (work started), in order. */
  public List<Call> executions() {
    return List.copyOf(executions);
  }

  /** How many times the work of {@code rpc} actually ran. */
  public int executionCount(String rpc) {
    return (int) executions.stream().filter(c -> c.rpc().equals(rpc)).count();
  }

  /** The recorded updates of operation {@code operationId} so far, empty if unknown. */
  public List<TaskUpdate> recordedUpdates(String operationId) {
    Operation op = operations.get(operationId);
    return op == null ? List.of() : op.updatesSoFar();
  }

  // ---------------------------------------------------------------- task RPCs

  @Override
  public void snapshot(SnapshotRequest request, StreamObserver<TaskUpdate> out) {
    startTask("Snapshot", request.getOperationId(), request.getInstance(), out, () -> {
      requireField("image_id", request.getImageId());
      requireDomain(request.getInstance().getUuid());
    }, run -> snapshotWork(run, request));
  }

  /** Volume snapshots of a volume-backed instance: remembered per volume, never stored. */
  @Override
  public void snapshotVolumes(io.stratus.proto.agent.v1.SnapshotVolumesRequest request,
      StreamObserver<TaskUpdate> out) {
    startTask("SnapshotVolumes", request.getOperationId(), request.getInstance(), out, () -> {
      requireField("snapshot_name", request.getSnapshotName());
      if (request.getInstance().getVolumesCount() == 0) {
        throw invalid("instance.volumes", "a volume-backed instance needs volumes");
      }
      requireDomain(request.getInstance().getUuid());
    }, run -> {
      run.transition(TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING,
          TaskState.TASK_STATE_IMAGE_SNAPSHOT, "volume snapshots", () -> { });
      run.transition(TaskState.TASK_STATE_IMAGE_SNAPSHOT,
          TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD, "volume snapshots taken", () -> { });
      run.result(() -> {
        var result = io.stratus.proto.agent.v1.VolumeSnapshotsResult.newBuilder()
            .setQuiesced(request.getInstance().getGuestAgent())
            .setFrozenMs(request.getInstance().getGuestAgent() ? 5 : 0);
        if (!request.getInstance().getGuestAgent()) {
          result.setQuiesceError("the guest has no qemu guest agent (hw_qemu_guest_agent)");
        }
        for (var v : request.getInstance().getVolumesList()) {
          long size = Math.max(v.getSizeBytes(), 1L << 30);
          result.addSnapshots(io.stratus.proto.agent.v1.VolumeSnapshot.newBuilder()
              .setVolumeId(v.getId()).setPool(v.getPool()).setImage(v.getImage())
              .setSnapshot(request.getSnapshotName()).setSize(size).setDevice(v.getDevice())
              .setBootIndex(v.getBootIndex()));
          volumeSnapshots.add(v.getPool() + "/" + v.getImage() + "@" + request.getSnapshotName());
        }
        return TaskResult.newBuilder().setVolumeSnapshots(result)
            .setPowerState(domains.getOrDefault(request.getInstance().getUuid(),
                PowerState.POWER_STATE_NOSTATE))
            .setDetails(result.getSnapshotsCount() + " volume snapshots").build();
      });
    });
  }

  /** Removes volume snapshots it took; the conductor checks for clones itself. */
  @Override
  public void deleteVolumeSnapshots(io.stratus.proto.agent.v1.DeleteVolumeSnapshotsRequest request,
      StreamObserver<io.stratus.proto.agent.v1.DeleteVolumeSnapshotsResponse> out) {
    calls.add(new Call("DeleteVolumeSnapshots", "", ""));
    int removed = 0;
    for (var s : request.getSnapshotsList()) {
      if (volumeSnapshots.remove(s.getPool() + "/" + s.getImage() + "@" + s.getSnapshot())) {
        removed++;
      }
    }
    out.onNext(io.stratus.proto.agent.v1.DeleteVolumeSnapshotsResponse.newBuilder()
        .setRemoved(removed).build());
    out.onCompleted();
  }

  /** Every volume snapshot SnapshotVolumes took (and not removed), as pool/image@snapshot. */
  public List<String> volumeSnapshots() {
    return List.copyOf(volumeSnapshots);
  }

  /** The instance specs Spawn received, in order. */
  /** The instance spec of every task started, in order. */
  public List<InstanceSpec> taskSpecs() {
    return List.copyOf(taskSpecs);
  }

  public List<InstanceSpec> spawned() {
    return List.copyOf(spawned);
  }

  @Override
  public void powerOn(PowerOnRequest request, StreamObserver<TaskUpdate> out) {
    String uuid = request.getInstance().getUuid();
    startTask("PowerOn", request.getOperationId(), request.getInstance(), out,
        () -> requireDomain(uuid),
        run -> run.result(() -> {
          domains.put(uuid, PowerState.POWER_STATE_RUNNING);
          return resultOf(PowerState.POWER_STATE_RUNNING, "powered on");
        }));
  }

  @Override
  public void powerOff(PowerOffRequest request, StreamObserver<TaskUpdate> out) {
    String uuid = request.getInstance().getUuid();
    startTask("PowerOff", request.getOperationId(), request.getInstance(), out, () -> { },
        run -> run.result(() -> {
          // An instance with no domain here is already off: nothing to record.
          PowerState after = domains.computeIfPresent(uuid, (k, v) -> PowerState.POWER_STATE_SHUTDOWN);
          return resultOf(after == null ? PowerState.POWER_STATE_NOSTATE : after, "powered off");
        }));
  }

  @Override
  public void reboot(RebootRequest request, StreamObserver<TaskUpdate> out) {
    String uuid = request.getInstance().getUuid();
    startTask("Reboot", request.getOperationId(), request.getInstance(), out, () -> {
      if (request.getType() == RebootType.REBOOT_TYPE_UNSPECIFIED
          || request.getType() == RebootType.UNRECOGNIZED) {
        throw invalid("type", "must be SOFT or HARD");
      }
      requireDomain(uuid);
    }, run -> {
      if (request.getType() == RebootType.REBOOT_TYPE_HARD) {
        // Hard reboot: destroy (the guest is off from here), redefine, create.
        run.transition(TaskState.TASK_STATE_REBOOTING_HARD,
            TaskState.TASK_STATE_REBOOT_PENDING_HARD, "destroy domain",
            () -> domains.put(uuid, PowerState.POWER_STATE_SHUTDOWN));
        run.transition(TaskState.TASK_STATE_REBOOT_PENDING_HARD,
            TaskState.TASK_STATE_REBOOT_STARTED_HARD, "define and start domain", () -> { });
      } else {
        // Soft reboot: the guest shuts down cleanly, then the domain starts again.
        run.transition(TaskState.TASK_STATE_REBOOTING, TaskState.TASK_STATE_REBOOT_PENDING,
            "asking the guest to shut down",
            () -> domains.put(uuid, PowerState.POWER_STATE_SHUTDOWN));
        run.transition(TaskState.TASK_STATE_REBOOT_PENDING, TaskState.TASK_STATE_REBOOT_STARTED,
            "the guest shut down; starting it again", () -> { });
      }
      run.result(() -> {
        domains.put(uuid, PowerState.POWER_STATE_RUNNING);
        return resultOf(PowerState.POWER_STATE_RUNNING, "rebooted");
      });
    });
  }

  @Override
  public void spawn(SpawnRequest request, StreamObserver<TaskUpdate> out) {
    InstanceSpec spec = request.getInstance();
    spawned.add(spec);
    startTask("Spawn", request.getOperationId(), spec, out, () -> {
      if (domains.containsKey(spec.getUuid())) {
        throw Status.INTERNAL.withDescription("define domain: a domain for " + spec.getUuid()
            + " already exists on " + host).asRuntimeException();
      }
      InProcessGateway images = gateway;
      if (images != null) {
        boolean active = images.image(spec.getImageRef())
            .filter(i -> i.getStatus() == ImageStatus.IMAGE_STATUS_ACTIVE).isPresent();
        if (!active) {
          throw Status.NOT_FOUND.withDescription(
              "image " + spec.getImageRef() + " not found or not active").asRuntimeException();
        }
      }
    }, run -> run.result(() -> {
      domains.put(spec.getUuid(), PowerState.POWER_STATE_RUNNING);
      return resultOf(PowerState.POWER_STATE_RUNNING, "spawned");
    }));
  }

  @Override
  public void destroy(DestroyRequest request, StreamObserver<TaskUpdate> out) {
    String uuid = request.getInstance().getUuid();
    startTask("Destroy", request.getOperationId(), request.getInstance(), out, () -> { },
        run -> run.result(() -> {
          domains.remove(uuid); // idempotent: an instance already gone succeeds
          return resultOf(PowerState.POWER_STATE_NOSTATE, "destroyed");
        }));
  }

  private void snapshotWork(Run run, SnapshotRequest request) throws Abort {
    String uuid = request.getInstance().getUuid();
    String imageId = request.getImageId();
    PowerState before = domains.getOrDefault(uuid, PowerState.POWER_STATE_NOSTATE);
    boolean live = before == PowerState.POWER_STATE_RUNNING && request.getAllowLive();
    boolean stopsGuest = before == PowerState.POWER_STATE_RUNNING && !live;
    // The guest is returned to its earlier power state in every case.
    run.onFailure(() -> domains.computeIfPresent(uuid, (k, v) -> before));

    run.transition(TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING, TaskState.TASK_STATE_IMAGE_SNAPSHOT,
        live ? "live snapshot" : "cold snapshot", () -> {
          if (stopsGuest) {
            domains.computeIfPresent(uuid, (k, v) -> PowerState.POWER_STATE_SHUTDOWN);
          }
        });
    run.transition(TaskState.TASK_STATE_IMAGE_SNAPSHOT, TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
        "prepare upload", () -> {
          if (stopsGuest) {
            domains.computeIfPresent(uuid, (k, v) -> before);
          }
        });
    long rootBytes = (long) request.getInstance().getRootGb() << 30;
    long virtualSize = Math.max(rootBytes, SNAPSHOT_BYTES);
    java.util.concurrent.atomic.AtomicReference<InProcessGateway.Upload> upload =
        new java.util.concurrent.atomic.AtomicReference<>();
    run.transition(TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD, TaskState.TASK_STATE_IMAGE_UPLOADING,
        "upload to image gateway", () -> {
          InProcessGateway images = gateway;
          if (images != null) {
            InProcessGateway.Upload started = images.beginUpload(imageId, SNAPSHOT_BYTES,
                virtualSize);
            upload.set(started);
            run.onFailure(started::close);
          }
        });
    run.progress(SNAPSHOT_BYTES / 2, SNAPSHOT_BYTES);
    run.progress(SNAPSHOT_BYTES, SNAPSHOT_BYTES);
    run.result(() -> {
      InProcessGateway.Upload sent = upload.get();
      String md5 = sent == null ? hexDigest("MD5", imageId) : sent.md5();
      String sha512 = sent == null ? hexDigest("SHA-512", imageId) : sent.sha512();
      if (sent != null) {
        sent.finish();
      }
      return TaskResult.newBuilder()
          .setPowerState(domains.getOrDefault(uuid, PowerState.POWER_STATE_NOSTATE))
          .setSnapshot(SnapshotResult.newBuilder()
              .setImageId(imageId)
              .setLive(live)
              .setSize(SNAPSHOT_BYTES)
              .setVirtualSize(virtualSize)
              .setChecksum(md5)
              .setOsHashValue(sha512)
              .setBytesSent(SNAPSHOT_BYTES))
          .setDetails(live ? "live snapshot uploaded" : "cold snapshot uploaded")
          .build();
    });
  }

  // ---------------------------------------------------------------- other RPCs

  /**
   * This fake as a server serves it (add this, not the fake itself): marks every status it answers with, as the real agent's server does
   * ({@link Answered}), except the simulated link breaks of {@link #breakStreamAt}: those
   * reach the conductor like a dropped connection, with no answer from the agent.
   */
  public io.grpc.ServerServiceDefinition served() {
    return io.grpc.ServerInterceptors.intercept(bindService(), new io.grpc.ServerInterceptor() {
      @Override
      public <Q, A> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, A> call,
          io.grpc.Metadata headers, io.grpc.ServerCallHandler<Q, A> next) {
        return next.startCall(new io.grpc.ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          @Override
          public void close(Status status, io.grpc.Metadata trailers) {
            if (BROKEN_LINK.equals(status.getDescription())) {
              super.close(Status.UNAVAILABLE.withDescription("agent connection lost"), trailers);
            } else {
              trailers.put(Answered.KEY, "1");
              super.close(status, trailers);
            }
          }
        }, headers);
      }
    });
  }

  /** A status that ends streams as a broken link would (see {@link #served}). */
  private static final String BROKEN_LINK = "fake-agent: simulated broken link";

  private static Status broken(Status ignored) {
    return Status.UNAVAILABLE.withDescription(BROKEN_LINK);
  }

  @Override
  public void attachOperation(io.stratus.proto.agent.v1.AttachOperationRequest request,
      StreamObserver<TaskUpdate> out) {
    calls.add(new Call("AttachOperation", request.getOperationId(), ""));
    Operation op = operations.get(request.getOperationId());
    if (op == null) {
      out.onError(Status.NOT_FOUND.withDescription(
          "no operation " + request.getOperationId()).asRuntimeException());
      return;
    }
    ServerCallStreamObserver<TaskUpdate> observer = (ServerCallStreamObserver<TaskUpdate>) out;
    observer.setOnCancelHandler(() -> Thread.ofVirtual().start(() -> op.detach(observer)));
    op.attach(observer);
  }

  @Override
  public void cancelOperation(CancelOperationRequest request,
      StreamObserver<CancelOperationResponse> out) {
    calls.add(new Call("CancelOperation", request.getOperationId(), ""));
    Operation op = operations.get(request.getOperationId());
    if (op == null || !op.requestCancel()) {
      out.onError(Status.NOT_FOUND.withDescription(
          "no running operation " + request.getOperationId()).asRuntimeException());
      return;
    }
    out.onNext(CancelOperationResponse.getDefaultInstance());
    out.onCompleted();
  }

  @Override
  public void getAgentInfo(GetAgentInfoRequest request, StreamObserver<GetAgentInfoResponse> out) {
    calls.add(new Call("GetAgentInfo", "", ""));
    out.onNext(GetAgentInfoResponse.newBuilder()
        .setHost(host)
        .setAgentVersion("fake-1")
        .addContractVersions("stratus.agent.v1")
        .setCapabilities(Capabilities.newBuilder()
            .setHypervisor("fake")
            .addStorageKinds("local")
            .setLiveSnapshot(true)
            .setMaxConcurrentSnapshots(2))
        .build());
    out.onCompleted();
  }

  @Override
  public void getInstanceInfo(GetInstanceInfoRequest request,
      StreamObserver<GetInstanceInfoResponse> out) {
    calls.add(new Call("GetInstanceInfo", "", request.getUuid()));
    if (request.getUuid().isEmpty()) {
      out.onError(invalid("uuid", "must not be empty"));
      return;
    }
    PowerState state = domains.get(request.getUuid());
    if (state == null) {
      out.onError(Status.NOT_FOUND.withDescription(
          "no domain for " + request.getUuid() + " on " + host).asRuntimeException());
      return;
    }
    out.onNext(GetInstanceInfoResponse.newBuilder().setInfo(info(request.getUuid(), state)).build());
    out.onCompleted();
  }

  @Override
  public void listInstances(ListInstancesRequest request, StreamObserver<ListInstancesResponse> out) {
    calls.add(new Call("ListInstances", "", ""));
    ListInstancesResponse.Builder response = ListInstancesResponse.newBuilder();
    new TreeMap<>(domains).forEach((uuid, state) -> response.addInstances(info(uuid, state)));
    operations.values().stream()
        .filter(Operation::running)
        .map(op -> op.id)
        .sorted()
        .forEach(response::addRunningOperationIds);
    out.onNext(response.build());
    out.onCompleted();
  }

  // ---------------------------------------------------------------- the task machinery

  private interface Check {
    void run();
  }

  private interface Work {
    void run(Run run) throws Abort;
  }

  /** Validates, then starts the work or attaches to the operation already keyed by the id. */
  private void startTask(String rpc, String operationId, InstanceSpec instance,
      StreamObserver<TaskUpdate> out, Check check, Work work) {
    calls.add(new Call(rpc, operationId, instance.getUuid()));
    ServerCallStreamObserver<TaskUpdate> observer = (ServerCallStreamObserver<TaskUpdate>) out;
    Operation op;
    boolean fresh;
    try {
      requireField("operation_id", operationId);
      requireField("instance.uuid", instance.getUuid());
      synchronized (operations) {
        op = operations.get(operationId);
        fresh = op == null;
        if (fresh) {
          check.run();
          op = new Operation(operationId, rpc);
          operations.put(operationId, op);
        } else if (!op.rpc.equals(rpc)) {
          throw invalid("operation_id", operationId + " already names a " + op.rpc + " operation");
        }
      }
    } catch (StatusRuntimeException e) {
      out.onError(e);
      return;
    }
    Operation attached = op;
    // The handler may run under the transport's locks while the worker, holding the
    // operation's lock, writes to this stream: detach from another thread, never inline.
    observer.setOnCancelHandler(
        () -> Thread.ofVirtual().start(() -> attached.detach(observer)));
    attached.attach(observer);
    if (fresh) {
      executions.add(new Call(rpc, operationId, instance.getUuid()));
      taskSpecs.add(instance);
      List<Fault> faults = takeFaults(rpc);
      Thread worker = Thread.ofVirtual().name("fake-agent-" + rpc + "-" + operationId)
          .unstarted(() -> execute(attached, faults, work));
      attached.worker = worker;
      worker.start();
    }
  }

  private void execute(Operation op, List<Fault> faults, Work work) {
    Run run = new Run(op, faults);
    try {
      work.run(run);
      run.checkpoint(false); // faults armed at the count reached after the result
      op.finish(Status.OK);
    } catch (Abort abort) {
      run.failed();
      if (abort.forget) {
        operations.remove(op.id, op);
      }
      op.finish(abort.forget ? broken(abort.status) : abort.status);
    } catch (StatusRuntimeException e) {
      run.failed();
      op.finish(e.getStatus());
    } catch (RuntimeException e) {
      run.failed();
      op.finish(Status.INTERNAL.withDescription("simulated agent: " + e).withCause(e));
    }
  }

  /** Ends an execution early with a status. */
  private static final class Abort extends Exception {
    final Status status;
    final boolean forget;

    Abort(Status status, boolean forget) {
      super(status.toString(), null, false, false);
      this.status = status;
      this.forget = forget;
    }
  }

  /** One execution of a task's work: emits updates, applying the armed faults between them. */
  private final class Run {
    private final Operation op;
    private final List<Fault> faults;
    private final List<Runnable> failureHooks = new ArrayList<>();
    private int sent;

    Run(Operation op, List<Fault> faults) {
      this.op = op;
      this.faults = faults;
    }

    void onFailure(Runnable hook) {
      failureHooks.add(hook);
    }

    void failed() {
      for (int i = failureHooks.size() - 1; i >= 0; i--) {
        failureHooks.get(i).run();
      }
    }

    void transition(TaskState expected, TaskState next, String step, Runnable sideEffect)
        throws Abort {
      emit(() -> {
        sideEffect.run();
        return TaskUpdate.newBuilder().setTransition(TaskTransition.newBuilder()
            .setExpected(expected).setTaskState(next).setStep(step));
      });
    }

    void progress(long done, long total) throws Abort {
      emit(() -> TaskUpdate.newBuilder().setProgress(
          TaskProgress.newBuilder().setBytesDone(done).setBytesTotal(total)));
    }

    void result(Supplier<TaskResult> body) throws Abort {
      emit(() -> TaskUpdate.newBuilder().setResult(body.get()));
    }

    private void emit(Supplier<TaskUpdate.Builder> body) throws Abort {
      if (sent > 0) {
        pause(delay);
      }
      checkpoint(true);
      TaskUpdate.Builder update = body.get();
      op.publish(update.setOperationId(op.id).setTime(now()).build());
      sent++;
    }

    /** Applies the faults armed at the current update count and, if asked, a pending cancel. */
    void checkpoint(boolean honourCancel) throws Abort {
      for (Fault fault : faults) {
        if (fault.kind == FaultKind.BLOCK && fault.afterUpdates == sent) {
          fault.gate.reached.countDown();
          try {
            fault.gate.released.await();
          } catch (InterruptedException e) {
            if (honourCancel) {
              throw cancelled();
            }
          }
        }
      }
      if (honourCancel && op.cancelRequested.get()) {
        throw cancelled();
      }
      for (Fault fault : faults) {
        if (fault.afterUpdates != sent) {
          continue;
        }
        if (fault.kind == FaultKind.DROP) {
          op.dropStreams();
        }
        if (fault.kind == FaultKind.BREAK) {
          throw new Abort(Status.UNAVAILABLE.withDescription("agent connection lost"), true);
        }
        if (fault.kind == FaultKind.FAIL) {
          throw new Abort(fault.status, false);
        }
      }
    }

    private void pause(Duration duration) throws Abort {
      if (duration.isZero()) {
        return;
      }
      try {
        Thread.sleep(duration);
      } catch (InterruptedException e) {
        throw cancelled();
      }
    }

    private Abort cancelled() {
      return new Abort(Status.CANCELLED.withDescription("operation " + op.id + " cancelled"), false);
    }
  }

  /** A task operation: its recorded updates, final status and attached streams. */
  private static final class Operation {
    final String id;
    final String rpc;
    final AtomicBoolean cancelRequested = new AtomicBoolean();
    volatile Thread worker;
    private final List<TaskUpdate> updates = new ArrayList<>();
    private final List<ServerCallStreamObserver<TaskUpdate>> streams = new ArrayList<>();
    private Status finalStatus; // null while running

    Operation(String id, String rpc) {
      this.id = id;
      this.rpc = rpc;
    }

    synchronized boolean running() {
      return finalStatus == null;
    }

    synchronized List<TaskUpdate> updatesSoFar() {
      return List.copyOf(updates);
    }

    /** Replays what happened so far to a new stream, then keeps it attached if running. */
    synchronized void attach(ServerCallStreamObserver<TaskUpdate> stream) {
      for (TaskUpdate update : updates) {
        send(stream, update);
      }
      if (finalStatus == null) {
        streams.add(stream);
      } else {
        close(stream, finalStatus);
      }
    }

    /**
     * A caller went away. The operation keeps running, as the real agent's must: a
     * conductor that crashed or lost its connection is not a cancel, and another
     * conductor may re-attach with the same operation id. Only CancelOperation cancels.
     */
    synchronized void detach(ServerCallStreamObserver<TaskUpdate> stream) {
      streams.remove(stream);
    }

    synchronized void publish(TaskUpdate update) {
      updates.add(update);
      for (ServerCallStreamObserver<TaskUpdate> stream : streams) {
        send(stream, update);
      }
    }

    /** Ends every attached stream as a broken link; the operation goes on. */
    synchronized void dropStreams() {
      for (ServerCallStreamObserver<TaskUpdate> stream : streams) {
        close(stream, broken(Status.OK));
      }
      streams.clear();
    }

    synchronized void finish(Status status) {
      finalStatus = status;
      for (ServerCallStreamObserver<TaskUpdate> stream : streams) {
        close(stream, status);
      }
      streams.clear();
    }

    /** Marks a running operation cancelled; false if it already finished. */
    synchronized boolean requestCancel() {
      if (finalStatus != null) {
        return false;
      }
      cancelRequested.set(true);
      Thread running = worker;
      if (running != null) {
        running.interrupt(); // wakes a blocked gate or a delay
      }
      return true;
    }

    private static void send(ServerCallStreamObserver<TaskUpdate> stream, TaskUpdate update) {
      if (stream.isCancelled()) {
        return;
      }
      try {
        stream.onNext(update);
      } catch (RuntimeException ignored) {
        // the caller went away in between
      }
    }

    private static void close(ServerCallStreamObserver<TaskUpdate> stream, Status status) {
      if (stream.isCancelled()) {
        return;
      }
      try {
        if (status.isOk()) {
          stream.onCompleted();
        } else {
          stream.onError(status.asRuntimeException());
        }
      } catch (RuntimeException ignored) {
        // the caller went away in between
      }
    }
  }

  /**
   * Where a {@link #blockAt blocked} operation waits: the test learns it got there with
   * {@link #awaitReached} and lets it go on with {@link #release}.
   */
  public static final class Gate {
    private final CountDownLatch reached = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);

    /** Lets the blocked operation continue (or a later one pass straight through). */
    public void release() {
      released.countDown();
    }

    /** Whether the operation has reached the gate. */
    public boolean isReached() {
      return reached.getCount() == 0;
    }

    /** Waits until the operation reaches the gate; false on timeout or interrupt. */
    public boolean awaitReached(Duration timeout) {
      try {
        return reached.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  private void arm(String rpc, Fault fault) {
    if (!TASK_RPCS.contains(rpc)) {
      throw new IllegalArgumentException("unknown task RPC '" + rpc + "', expected one of "
          + TASK_RPCS.stream().sorted().toList());
    }
    synchronized (armed) {
      armed.computeIfAbsent(rpc, k -> new ArrayList<>()).add(fault);
    }
  }

  private List<Fault> takeFaults(String rpc) {
    synchronized (armed) {
      List<Fault> faults = armed.remove(rpc);
      return faults == null ? List.of() : faults;
    }
  }

  private static int checkCount(int afterUpdates) {
    if (afterUpdates < 0) {
      throw new IllegalArgumentException("afterUpdates must not be negative");
    }
    return afterUpdates;
  }

  private void requireDomain(String uuid) {
    if (!domains.containsKey(uuid)) {
      throw Status.NOT_FOUND.withDescription("no domain for " + uuid + " on " + host)
          .asRuntimeException();
    }
  }

  private static void requireField(String field, String value) {
    if (value.isEmpty()) {
      throw invalid(field, "must not be empty");
    }
  }

  private static StatusRuntimeException invalid(String field, String why) {
    return Status.INVALID_ARGUMENT.withDescription(field + ": " + why).asRuntimeException();
  }

  private static TaskResult resultOf(PowerState state, String details) {
    return TaskResult.newBuilder().setPowerState(state).setDetails(details).build();
  }

  private static InstanceInfo info(String uuid, PowerState state) {
    return InstanceInfo.newBuilder().setUuid(uuid).setPowerState(state).setDefined(true).build();
  }

  private static Timestamp now() {
    Instant now = Instant.now();
    return Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()).build();
  }

  /** A stable, well-formed digest of the image id, standing in for the bytes' digest. */
  private static String hexDigest(String algorithm, String imageId) {
    try {
      byte[] digest = MessageDigest.getInstance(algorithm)
          .digest(("fake snapshot " + imageId).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
