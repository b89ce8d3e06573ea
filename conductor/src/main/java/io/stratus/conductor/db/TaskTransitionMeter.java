package io.stratus.conductor.db;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Metrics;
import jakarta.transaction.Status;
import jakarta.transaction.Synchronization;
import org.hibernate.Session;

/**
 * Counts persisted task-state transitions by the state entered ({@code
 * stratus_task_transitions_total{to="image_uploading"}}): once its transaction committed,
 * so a swap rolled back is not counted. Operators read the operations' flow from it; the
 * control-plane benchmark reads its rate.
 */
final class TaskTransitionMeter {
  private TaskTransitionMeter() {}

  static void countOnCommit(Session session, String to) {
    session.getTransaction().registerSynchronization(new Synchronization() {
      @Override
      public void beforeCompletion() {}

      @Override
      public void afterCompletion(int status) {
        if (status == Status.STATUS_COMMITTED) {
          Counter.builder("stratus.task.transitions")
              .description("task-state transitions persisted, by the state entered")
              .tag("to", to)
              .register(Metrics.globalRegistry)
              .increment();
        }
      }
    });
  }
}
