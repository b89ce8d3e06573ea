package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.StartServerRequest;
import io.stratus.proto.conductor.v1.StopServerRequest;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Watches across conductor replicas: events travel through PostgreSQL's LISTEN/NOTIFY,
 * so a watch on one replica sees, in the same order, every transition another replica
 * drove; and when a replica's listening connection is cut (PostgreSQL terminates its
 * backend), its watchers are told to watch again rather than silently missing events.
 */
class ReplicaWatchTest extends ConductorTest {
  private static final String LISTENING = " WHERE datname = current_database() AND query = 'LISTEN "
      + io.stratus.conductor.db.EventRelay.CHANNEL + "'";

  private static ServersGrpc.ServersStub async(ManagedChannel channel) {
    return ServersGrpc.newStub(channel).withInterceptors(
        MetadataUtils.newAttachHeadersInterceptor(ConductorHarness.bearer(MEMBER_A)));
  }

  @Test
  void aWatchOnOneReplicaSeesEveryTransitionAnotherReplicaDrove() throws Exception {
    String id = h.bootActive("watched-across");
    String name = InProcessServerBuilder.generateName();
    Conductor second = h.startAnotherConductor(name);
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    try (EventRecorder onSecond = new EventRecorder(async(channel), id);
        EventRecorder onFirst = new EventRecorder(h.serversAsync(MEMBER_A), id)) {
      // driven by the harness's conductor, the first replica
      h.servers(MEMBER_A).stopServer(StopServerRequest.newBuilder().setServerId(id).build());
      h.awaitIdle(id);
      h.servers(MEMBER_A).startServer(StartServerRequest.newBuilder().setServerId(id).build());
      h.awaitIdle(id);
      onFirst.awaitNotification("power_on.end");
      onSecond.awaitNotification("power_on.end");
      List<String> seen = onSecond.render();
      assertEquals(onFirst.render(), seen);
      assertTrue(seen.containsAll(List.of("powering-off/active/RUNNING",
          "none/stopped/SHUTDOWN", "powering-on/stopped/SHUTDOWN", "none/active/RUNNING",
          "n:power_off.start", "n:power_off.end")), seen.toString());
    } finally {
      channel.shutdownNow();
      second.close();
    }
  }

  @Test
  void watchersAreToldToWatchAgainWhenTheirReplicasFeedIsCut() throws Exception {
    String id = h.bootActive("feed-cut");
    try (EventRecorder before = new EventRecorder(h.serversAsync(MEMBER_A), id)) {
      // PostgreSQL ends every backend listening for events: the replicas' feed breaks
      assertTrue(h.count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
          + LISTENING) >= 1);
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (before.error() == null && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      StatusRuntimeException e = assertInstanceOf(StatusRuntimeException.class, before.error());
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
      assertTrue(e.getStatus().getDescription().contains("watch again"), e.toString());
    }
    // the relay listens again: a new watch sees what happens next
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (h.count("SELECT count(*) FROM pg_stat_activity" + LISTENING) == 0) {
      assertTrue(System.nanoTime() < deadline, "the relay did not listen again");
      Thread.sleep(50);
    }
    try (EventRecorder after = new EventRecorder(h.serversAsync(MEMBER_A), id)) {
      h.servers(MEMBER_A).stopServer(StopServerRequest.newBuilder().setServerId(id).build());
      after.awaitNotification("power_off.end");
      h.awaitIdle(id);
    }
  }
}
