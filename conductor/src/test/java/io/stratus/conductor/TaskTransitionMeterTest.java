package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.stratus.proto.conductor.v1.StopServerRequest;
import org.junit.jupiter.api.Test;

/**
 * {@code stratus_task_transitions_total} counts each committed task-state swap once, by
 * the state entered, and nothing for a request refused before any swap.
 */
class TaskTransitionMeterTest extends ConductorTest {

  private static double count(SimpleMeterRegistry r, String to) {
    var c = r.find("stratus.task.transitions").tag("to", to).counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void aStopIsTwoTransitionsAndARefusedOneNone() throws Exception {
    String id = h.bootActive("counted");
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Metrics.addRegistry(registry);
    try {
      h.servers(MEMBER_A).stopServer(StopServerRequest.newBuilder().setServerId(id).build());
      h.awaitIdle(id);
      assertEquals(1, count(registry, "powering-off"));
      assertEquals(1, count(registry, "none"));
      // stopping a stopped server is refused before any swap: nothing counted
      org.junit.jupiter.api.Assertions.assertThrows(io.grpc.StatusRuntimeException.class,
          () -> h.servers(MEMBER_A).stopServer(
              StopServerRequest.newBuilder().setServerId(id).build()));
      assertEquals(1, count(registry, "powering-off"));
      assertEquals(1, count(registry, "none"));
    } finally {
      Metrics.removeRegistry(registry);
    }
  }
}
