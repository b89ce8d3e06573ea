package io.stratus.conductor.db;

import io.stratus.support.errors.ApiException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes agents' heartbeats in batches on a connection of its own: one thread takes every
 * beat that arrived while the previous batch was being written and stamps them all with
 * one {@code UPDATE … WHERE name = ANY(…)} (by the database's clock). So the cost of
 * thousands of hosts is a few statements a second, and a beat never waits behind the API's
 * work for a pooled connection: a host is not marked down because the conductor is busy.
 * Beats are committed without waiting for the disk ({@code synchronous_commit = off}).
 */
public final class HeartbeatWriter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HeartbeatWriter.class);
  private static final int MAX_BATCH = 10_000;

  /** What a beat found: whether the host is registered, and whether it is disabled. */
  public record Beat(boolean registered, boolean disabled) {}

  private record Pending(String host, CompletableFuture<Beat> result) {}

  private final Database db;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final Thread writer;
  private volatile boolean closed;
  private Connection connection;

  public HeartbeatWriter(Database db) {
    this.db = db;
    this.writer = new Thread(this::run, "heartbeat-writer");
    writer.setDaemon(true);
    writer.start();
  }

  /** Records a beat of {@code host}; completes once it is committed. */
  public CompletableFuture<Beat> beat(String host) {
    CompletableFuture<Beat> f = new CompletableFuture<>();
    if (closed) {
      f.completeExceptionally(ApiException.unavailable("the conductor is stopping", null));
    } else {
      queue.add(new Pending(host, f));
    }
    return f;
  }

  private void run() {
    List<Pending> batch = new ArrayList<>();
    while (!closed) {
      try {
        batch.add(queue.take());
      } catch (InterruptedException e) {
        break;
      }
      queue.drainTo(batch, MAX_BATCH - 1);
      write(batch);
      batch.clear();
    }
    for (Pending p : queue) {
      p.result().completeExceptionally(ApiException.unavailable("the conductor is stopping", null));
    }
  }

  private void write(List<Pending> batch) {
    Map<String, Boolean> disabled = new HashMap<>();
    try {
      if (connection == null || connection.isClosed()) {
        connection = db.dedicatedConnection();
        try (var st = connection.createStatement()) {
          // a beat lost in a crash of PostgreSQL is harmless (the next comes in one
          // interval); waiting for a disk flush per batch is not
          st.execute("SET synchronous_commit = off");
        }
      }
      try (PreparedStatement st = connection.prepareStatement("UPDATE hosts SET"
          + " last_heartbeat_at = clock_timestamp() WHERE name = ANY(?) RETURNING name, disabled")) {
        st.setArray(1, connection.createArrayOf("text",
            batch.stream().map(Pending::host).distinct().toArray()));
        try (ResultSet rs = st.executeQuery()) {
          while (rs.next()) {
            disabled.put(rs.getString(1), rs.getBoolean(2));
          }
        }
      }
    } catch (SQLException | RuntimeException e) {
      LOG.warn("could not record {} heartbeats; the agents beat again", batch.size(), e);
      closeConnection();
      for (Pending p : batch) {
        p.result().completeExceptionally(ApiException.unavailable(
            "the database did not take the heartbeat: " + e.getMessage(), e));
      }
      return;
    }
    for (Pending p : batch) {
      Boolean d = disabled.get(p.host());
      p.result().complete(new Beat(d != null, d != null && d));
    }
  }

  private void closeConnection() {
    if (connection != null) {
      try {
        connection.close();
      } catch (SQLException ignored) {
        // replaced on the next batch
      }
      connection = null;
    }
  }

  @Override
  public void close() {
    closed = true;
    writer.interrupt();
    try {
      writer.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeConnection();
  }
}
