package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.ADMIN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.stratus.proto.conductor.v1.DisableHostRequest;
import org.junit.jupiter.api.Test;

/**
 * The conductor's gauges count what the database says: hosts up, down and disabled,
 * servers by task state; the database pool's meters are there too.
 */
class ConductorMetricsTest extends ConductorTest {

  @Test
  void hostsAndServersAreCountedByStatusAndTaskState() throws Exception {
    h.bootActive("counted-1");
    h.bootActive("counted-2");
    h.registerOnFakeAgent("metrics-idle-host", java.util.List.of("local"));
    h.hosts(ADMIN).disableHost(DisableHostRequest.newBuilder().setName("metrics-idle-host")
        .setReason("maintenance").build());
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    h.conductor.bindMetrics(registry);

    long live = h.count("SELECT count(*) FROM instances WHERE deleted_at IS NULL");
    long noTask = h.count(
        "SELECT count(*) FROM instances WHERE deleted_at IS NULL AND task_state IS NULL");
    org.junit.jupiter.api.Assertions.assertTrue(noTask >= 2, "the two servers booted here");
    assertEquals(noTask, (long) registry.get("stratus.conductor.servers").tag("task_state", "none")
        .gauge().value());
    assertEquals(live - noTask, (long) registry.find("stratus.conductor.servers").gauges().stream()
        .filter(g -> !g.getId().getTag("task_state").equals("none"))
        .mapToDouble(g -> g.value()).sum());
    assertEquals(h.count("SELECT count(*) FROM hosts WHERE disabled"),
        (long) registry.get("stratus.conductor.hosts").tag("status", "disabled").gauge().value());
    double up = registry.get("stratus.conductor.hosts").tag("status", "up").gauge().value();
    double down = registry.get("stratus.conductor.hosts").tag("status", "down").gauge().value();
    assertEquals(h.count("SELECT count(*) FROM hosts"), (long) (up + down));
    org.junit.jupiter.api.Assertions.assertTrue(up >= 1, "the harness's host beats");
    assertNotNull(registry.find("hikaricp.connections").gauge(), "the pool's meters");
  }
}
