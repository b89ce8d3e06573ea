package io.stratus.support.concurrent;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/** The single-thread timers of the services' periodic loops. */
public final class Timers {
  private Timers() {}

  /**
   * A single-thread scheduler on a daemon thread named {@code name} (it never keeps a
   * process alive); shut it down with the component that owns it.
   */
  public static ScheduledExecutorService daemon(String name) {
    return Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
  }
}
