package io.stratus.conductor.db;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.testkit.PostgresExtension;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Heartbeats are written in batches on the writer's own connection: a thousand beats are
 * stamped by the database's clock and answered with each host's disabled flag, an unknown
 * host is answered as such, and beats are taken while every pooled connection is held by
 * other work (a busy conductor does not let its hosts fall down).
 */
class HeartbeatWriterTest {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @Test
  void beatsAreBatchedAndNeverWaitForThePool() throws Exception {
    String url = PG.cluster().createDatabase("beats");
    try (Database db = Database.open(url, PG.user(), PG.password(), 2);
        HeartbeatWriter writer = new HeartbeatWriter(db);
        var c = DriverManager.getConnection(url, PG.user(), PG.password())) {
      c.createStatement().execute("INSERT INTO hosts (name, address, registered_at,"
          + " last_heartbeat_at, disabled) SELECT 'h' || i, 'x:1', now(), now() - interval"
          + " '1 hour', i % 10 = 0 FROM generate_series(0, 999) i");
      // both of the pool's connections are busy until the beats are in
      CountDownLatch held = new CountDownLatch(2);
      CountDownLatch release = new CountDownLatch(1);
      List<Thread> busy = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        Thread t = new Thread(() -> db.run(s -> {
          held.countDown();
          try {
            release.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }));
        t.start();
        busy.add(t);
      }
      assertTrue(held.await(10, TimeUnit.SECONDS));
      List<CompletableFuture<HeartbeatWriter.Beat>> beats = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        beats.add(writer.beat("h" + i));
      }
      var unknown = writer.beat("nobody");
      for (int i = 0; i < 1000; i++) {
        HeartbeatWriter.Beat b = beats.get(i).get(10, TimeUnit.SECONDS);
        assertTrue(b.registered());
        assertEquals(i % 10 == 0, b.disabled(), "h" + i);
      }
      assertFalse(unknown.get(10, TimeUnit.SECONDS).registered());
      release.countDown();
      for (Thread t : busy) {
        t.join();
      }
      try (var rs = c.createStatement().executeQuery("SELECT count(*) FROM hosts WHERE"
          + " last_heartbeat_at > clock_timestamp() - interval '1 minute'")) {
        rs.next();
        assertEquals(1000, rs.getInt(1), "every beat stamped by the database's clock");
      }
    }
  }
}
