package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.VmState;
import org.junit.jupiter.api.Test;

/**
 * The power-state sync (Nova's _sync_power_states): the database follows what the
 * hypervisor reports for idle instances, with Nova's outcomes, recorded as a "stop" action
 * by power-sync; nothing is restarted.
 */
class PowerSyncTest extends ConductorTest {

  private static String actionUser(String id) throws Exception {
    return h.string("SELECT user_id FROM instance_actions WHERE instance_uuid = ?::uuid"
        + " AND action = 'stop' ORDER BY start_time DESC LIMIT 1", id);
  }

  @Test
  void aHostWithNoIdleInstancesIsNotAsked() throws Exception {
    h.registerOnFakeAgent("sync-empty-host", java.util.List.of("local"));
    // disabled at once, so that no other test's server lands on it
    h.hosts(ConductorHarness.ADMIN).disableHost(io.stratus.proto.conductor.v1.DisableHostRequest
        .newBuilder().setName("sync-empty-host").setReason("test").build());
    Thread.sleep(200);  // the sync the registration queued
    long asked = listInstancesCalls();
    assertEquals(0, h.conductor.powerSync().syncHost("sync-empty-host"));
    assertEquals(asked, listInstancesCalls(), "an empty host's agent is not asked");

    h.bootActive("sync-asked");  // on the harness's host: the other one is disabled
    h.conductor.powerSync().syncHost(ConductorHarness.HOST);
    org.junit.jupiter.api.Assertions.assertTrue(listInstancesCalls() > asked,
        "a host with an idle instance is asked");
  }

  private static long listInstancesCalls() {
    return h.agent.calls().stream().filter(c -> c.rpc().equals("ListInstances")).count();
  }

  @Test
  void aGuestFoundShutOffIsRecordedStoppedAndNotRestarted() throws Exception {
    String id = h.bootActive("died");
    h.agent.setPowerState(id, PowerState.POWER_STATE_SHUTDOWN);  // the guest powered itself off
    int executions = h.agent.executionCount("PowerOn");
    h.conductor.powerSync().syncHost(ConductorHarness.HOST);
    var server = h.awaitIdle(id);
    assertEquals(VmState.VM_STATE_STOPPED, server.getVmState());
    assertEquals(io.stratus.proto.conductor.v1.PowerState.POWER_STATE_SHUTDOWN,
        server.getPowerState());
    assertEquals("power-sync", actionUser(id));
    assertEquals("Success", h.string("SELECT e.result FROM instance_action_events e JOIN"
        + " instance_actions a ON a.id = e.action_id WHERE a.instance_uuid = ?::uuid"
        + " AND a.action = 'stop'", id));
    assertEquals(executions, h.agent.executionCount("PowerOn"), "no automatic restart");
    assertEquals(PowerState.POWER_STATE_SHUTDOWN, h.agent.powerState(id).orElseThrow());
  }

  @Test
  void aStoppedServerFoundRunningIsPoweredOff() throws Exception {
    String id = h.bootActive("came-back");
    h.servers(MEMBER_A).stopServer(StopServerRequest.newBuilder().setServerId(id).build());
    assertEquals(VmState.VM_STATE_STOPPED, h.awaitIdle(id).getVmState());
    h.agent.setPowerState(id, PowerState.POWER_STATE_RUNNING);  // someone started it behind us
    h.conductor.powerSync().syncHost(ConductorHarness.HOST);
    var server = h.awaitIdle(id);
    assertEquals(VmState.VM_STATE_STOPPED, server.getVmState());
    assertEquals(PowerState.POWER_STATE_SHUTDOWN, h.agent.powerState(id).orElseThrow(),
        "the guest was powered off (Nova's force_stop)");
    assertEquals("power-sync", actionUser(id));
  }

  @Test
  void aVanishedDomainOnlyChangesThePowerStateAndInSyncInstancesAreLeftAlone()
      throws Exception {
    String gone = h.bootActive("vanished");
    String fine = h.bootActive("in-sync");
    h.agent.removeDomain(gone);
    long actionsBefore = h.count("SELECT count(*) FROM instance_actions WHERE instance_uuid"
        + " IN (?::uuid, ?::uuid)", gone, fine);
    h.conductor.powerSync().syncHost(ConductorHarness.HOST);
    assertEquals(VmState.VM_STATE_ACTIVE, h.awaitIdle(gone).getVmState(), "Nova ignores it");
    assertEquals(io.stratus.proto.conductor.v1.PowerState.POWER_STATE_NOSTATE,
        h.awaitIdle(gone).getPowerState());
    assertEquals(io.stratus.proto.conductor.v1.PowerState.POWER_STATE_RUNNING,
        h.awaitIdle(fine).getPowerState());
    assertEquals(actionsBefore, h.count("SELECT count(*) FROM instance_actions WHERE"
        + " instance_uuid IN (?::uuid, ?::uuid)", gone, fine), "no action for either");
  }
}
