package io.stratus.conductor.recovery;

import io.stratus.conductor.compute.AgentTask;
import io.stratus.conductor.compute.InstanceSpecs;
import io.stratus.conductor.compute.StatePublisher;
import io.stratus.conductor.compute.TaskDriver;
import io.stratus.conductor.db.ActionLog;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.HostEntity;
import io.stratus.conductor.db.InstanceEntity;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.db.StateUpdate;
import io.stratus.conductor.domain.Operation;
import io.stratus.conductor.domain.PowerState;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.domain.VmState;
import io.stratus.conductor.hosts.AgentClients;
import io.stratus.conductor.hosts.HostRegistry;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.proto.agent.v1.InstanceInfo;
import io.stratus.proto.agent.v1.ListInstancesRequest;
import io.stratus.support.concurrent.Timers;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The hypervisor's truth, Nova's {@code _sync_power_states}: every interval, and for one
 * host as soon as its agent (re)registers, each idle instance (no task in flight) of an up
 * host is compared with what the agent's hypervisor reports, and the database follows it:
 *
 * <pre>
 *   db vm_state   hypervisor says          outcome (recorded as a "stop" action by power-sync)
 *   active        shut off / crashed /     stop: vm_state stopped (the guest is left off;
 *                 suspended                no automatic restart)
 *   paused        shut off / crashed       stop, as above
 *   stopped       running / paused         stop: the guest is powered off (Nova's force_stop)
 *   any           another power state      power_state updated only (e.g. nostate when the
 *                                          domain is gone: Nova ignores it, so do we)
 * </pre>
 *
 * The rows are read before the hypervisor is asked, and every change is a compare-and-swap
 * on "no task, same vm_state, same row version", so an instance a user acts on meanwhile is
 * left alone until the next round.
 */
public final class PowerSync implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PowerSync.class);
  /** The user recorded on the actions this loop starts. */
  public static final String USER = "power-sync";

  private final Database db;
  private final InstanceStore instances;
  private final ActionLog actions;
  private final HostRegistry hosts;
  private final AgentClients agents;
  private final TaskDriver driver;
  private final StatePublisher publisher;
  private final InstanceSpecs specs;
  private final String conductorId;
  private final Duration interval;
  private final ScheduledExecutorService timer =
      Timers.daemon("power-sync");

  public PowerSync(Database db, InstanceStore instances, ActionLog actions, HostRegistry hosts,
      AgentClients agents, TaskDriver driver, StatePublisher publisher, String conductorId,
      Duration interval) {
    this.db = db;
    this.instances = instances;
    this.actions = actions;
    this.hosts = hosts;
    this.agents = agents;
    this.driver = driver;
    this.publisher = publisher;
    this.specs = new InstanceSpecs(db);
    this.conductorId = conductorId;
    this.interval = interval;
  }

  /** Syncs every up host each interval, and a host at once when its agent registers. */
  public void start() {
    timer.scheduleWithFixedDelay(this::safeRound, interval.toMillis(), interval.toMillis(),
        TimeUnit.MILLISECONDS);
    hosts.onRegistered(host -> timer.execute(() -> {
      try {
        syncHost(host);
      } catch (RuntimeException e) {
        LOG.warn("power-state check of a registering host failed; host={}", host, e);
      }
    }));
  }

  private void safeRound() {
    try {
      syncOnce();
    } catch (RuntimeException e) {
      LOG.warn("power-state sync round failed; it runs again", e);
    }
  }

  /** One round over every up host; returns how many instances were changed. */
  public int syncOnce() {
    int changed = 0;
    for (var view : hosts.list()) {
      if (view.up()) {
        try {
          changed += syncHost(view.host().name());
        } catch (RuntimeException e) {
          LOG.warn("power-state sync of a host failed; host={} error={}", view.host().name(),
              e.toString());
        }
      }
    }
    return changed;
  }

  /** Compares one host's idle instances with its hypervisor; returns how many changed. */
  public int syncHost(String hostName) {
    // The database first, the hypervisor second, and every change expects the row's version
    // as read: a task that ran in between (and made the hypervisor's answer news to the row,
    // or the row news to the answer) makes the swap miss, and the next round looks again.
    List<InstanceEntity> idle = db.inTransaction(s -> instances.idleOnHost(s, hostName));
    if (idle.isEmpty()) {
      // Nothing to compare (domains the database does not know are not ours to touch): no
      // call to the agent. Thousands of hosts registering at once cost a query each.
      return 0;
    }
    HostEntity host = hosts.find(hostName).orElse(null);
    if (host == null) {
      return 0;
    }
    List<InstanceInfo> domains = ComputeAgentGrpc.newBlockingStub(
            agents.stub(host.name(), host.address()).getChannel())
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .listInstances(ListInstancesRequest.getDefaultInstance())
        .getInstancesList();
    Map<String, PowerState> seen = new HashMap<>();
    for (InstanceInfo d : domains) {
      seen.put(d.getUuid(), PowerState.valueOf(
          d.getPowerState().name().substring("POWER_STATE_".length())));
    }
    int changed = 0;
    for (InstanceEntity i : idle) {
      PowerState actual = seen.getOrDefault(i.uuid().toString(), PowerState.NOSTATE);
      if (sync(i, actual, host)) {
        changed++;
      }
    }
    return changed;
  }

  private boolean sync(InstanceEntity i, PowerState actual, HostEntity host) {
    VmState vm = i.vmState();
    boolean off = actual == PowerState.SHUTDOWN || actual == PowerState.CRASHED;
    boolean stop = (vm == VmState.ACTIVE && (off || actual == PowerState.SUSPENDED))
        || (vm == VmState.PAUSED && off)
        || (vm == VmState.STOPPED && (actual == PowerState.RUNNING || actual == PowerState.PAUSED));
    if (stop) {
      return stop(i, actual, host);
    }
    if (actual == i.powerState()) {
      return false;
    }
    boolean applied = db.inTransaction(s -> {
      boolean ok = instances.apply(s, StateUpdate.of(i.uuid())
          .expectTask((TaskState) null).expectVm(java.util.Set.of(vm))
          .expectVersion(i.version()).power(actual));
      if (ok) {
        publisher.stateChangedIn(s, i.uuid(), null);
      }
      return ok;
    });
    if (applied) {
      LOG.info("power state synced; instance={} vm_state={} power_state {} -> {}", i.uuid(),
          vm.dbName(), i.powerState(), actual);
    }
    return applied;
  }

  /** Nova's stop by the sync: a stop action and task, driven on the agent like any stop. */
  private boolean stop(InstanceEntity i, PowerState actual, HostEntity host) {
    String requestId = "req-" + UUID.randomUUID();
    String why = "power-state sync: vm_state " + i.vmState().dbName() + " but the hypervisor"
        + " reports " + actual.name().toLowerCase(java.util.Locale.ROOT);
    boolean accepted = db.inTransaction(s -> {
      boolean ok = instances.apply(s, StateUpdate.of(i.uuid())
          .expectTask((TaskState) null)
          .expectVm(java.util.Set.of(i.vmState()))
          .expectVersion(i.version())
          .power(actual)
          .task(Operation.STOP.startTaskState())
          .taskRequest(requestId, null, conductorId));
      if (ok) {
        actions.start(s, requestId, i.uuid(), Operation.STOP.actionName(), i.projectId(), USER);
        publisher.stateChangedIn(s, i.uuid(), null);
      }
      return ok;
    });
    if (!accepted) {
      return false;
    }
    LOG.warn("{}; stopping it; instance={} request={}", why, i.uuid(), requestId);
    // no clean shutdown: a guest that should be off is powered off (Nova's force_stop)
    driver.dispatch(new AgentTask(Operation.STOP, requestId, specs.of(i), host.name(),
        host.address(), null, 0));
    return true;
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
