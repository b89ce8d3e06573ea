package io.stratus.conductor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.testkit.PostgresExtension;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Base of the conductor's service tests: one {@link ConductorHarness} per test class (its
 * own database on the shared throwaway PostgreSQL), simulated-agent faults cleared after each
 * test, and an assertion for refused calls.
 */
abstract class ConductorTest {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  static ConductorHarness h;

  @BeforeAll
  static void startHarness() throws Exception {
    h = new ConductorHarness(PG.cluster());
  }

  @AfterAll
  static void stopHarness() throws Exception {
    h.close();
  }

  @AfterEach
  void clearAgentFaults() {
    h.agent.clearFaults();
    h.agent.delayBetweenUpdates(Duration.ZERO);
  }

  /** Asserts the call fails with {@code code}; returns the error for its description. */
  static StatusRuntimeException refused(Status.Code code, Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    return e;
  }
}
