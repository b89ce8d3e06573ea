package io.stratus.conductor.db;

import com.google.protobuf.InvalidProtocolBufferException;
import io.stratus.conductor.events.EventBus;
import io.stratus.proto.conductor.v1.Notification;
import io.stratus.proto.conductor.v1.ServerEvent;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.hibernate.Session;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Server events shared by every conductor replica through PostgreSQL's {@code
 * LISTEN/NOTIFY}: {@link #publish} sends an event on channel {@value #CHANNEL} (it is
 * delivered once the sending transaction commits, in commit order), and a listener thread
 * on its own connection hands every replica's events, this one's included, to the local
 * {@link EventBus}. So a {@code WatchServer} on any replica sees every transition, whoever
 * made it, in one order.
 *
 * <p>When the listening connection breaks, events may be lost until it is back: the bus is
 * told ({@link EventBus#gap}), watchers end their streams with UNAVAILABLE, and their
 * clients watch again from a fresh snapshot. A payload is at most 8000 bytes in PostgreSQL;
 * an event over {@link #MAX_PAYLOAD} has its notification payload's values cut short.
 */
public final class EventRelay implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EventRelay.class);
  /** The {@code NOTIFY} channel. */
  public static final String CHANNEL = "stratus_server_events";
  /** Largest payload sent (base64 text); PostgreSQL's limit is 8000 bytes. */
  static final int MAX_PAYLOAD = 7900;
  private static final Duration RECONNECT = Duration.ofSeconds(1);

  private final Database db;
  private final EventBus bus;
  private final Thread listener;
  private final CountDownLatch listening = new CountDownLatch(1);
  private volatile boolean closed;
  private volatile Connection connection;

  private EventRelay(Database db, EventBus bus) {
    this.db = db;
    this.bus = bus;
    this.listener = new Thread(this::listen, "event-relay");
    listener.setDaemon(true);
  }

  /** Starts listening, and returns once {@code LISTEN} is in place (or after 10 s). */
  public static EventRelay start(Database db, EventBus bus) {
    EventRelay relay = new EventRelay(db, bus);
    relay.listener.start();
    try {
      if (!relay.listening.await(10, TimeUnit.SECONDS)) {
        LOG.warn("the event relay is not listening yet; it keeps trying");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return relay;
  }

  public void publish(ServerEvent event) {
    try {
      db.run(s -> publish(s, event));
    } catch (RuntimeException e) {
      // The change itself committed; only the watchers miss it. Tell this replica's.
      LOG.warn("could not relay a server event; server={}", event.getServerId(), e);
      bus.gap();
    }
  }

  /**
   * Sends {@code event} in {@code session}'s transaction: it is delivered if and when that
   * commits. The transaction's commit does not wait for its WAL to reach the disk
   * ({@code synchronous_commit = off}): a notification is not durable anyway (a crashed
   * PostgreSQL delivers none), and the wait would be a disk flush per event.
   */
  public void publish(Session session, ServerEvent event) {
    Jdbc.update(session, "SET LOCAL synchronous_commit = off", java.util.Map.of());
    notifyIn(session, event);
  }

  /**
   * Sends {@code event} as part of {@code session}'s transaction, which stays as durable as
   * it was: for a state change sent with the swap that made it, so watchers get it exactly
   * when the swap commits, even if this replica dies right after.
   */
  public void notifyIn(Session session, ServerEvent event) {
    Jdbc.call(session, "SELECT pg_notify(?, ?)", CHANNEL, encode(event));
  }

  /** The event as NOTIFY text (base64 protobuf), cut to fit {@link #MAX_PAYLOAD}. */
  static String encode(ServerEvent event) {
    String text = Base64.getEncoder().encodeToString(event.toByteArray());
    if (text.length() <= MAX_PAYLOAD || !event.hasNotification()) {
      return text;
    }
    Notification.Builder n = event.getNotification().toBuilder().clearPayload();
    for (Map.Entry<String, String> e : event.getNotification().getPayloadMap().entrySet()) {
      String v = e.getValue();
      n.putPayload(e.getKey(), v.length() > 256 ? v.substring(0, 256) + "…" : v);
    }
    return Base64.getEncoder().encodeToString(event.toBuilder().setNotification(n).build()
        .toByteArray());
  }

  static ServerEvent decode(String payload) throws InvalidProtocolBufferException {
    return ServerEvent.parseFrom(Base64.getDecoder().decode(payload));
  }

  private void listen() {
    boolean lostBefore = false;
    while (!closed) {
      try (Connection c = db.dedicatedConnection()) {
        connection = c;
        try (Statement st = c.createStatement()) {
          st.execute("LISTEN " + CHANNEL);
        }
        listening.countDown();
        if (lostBefore) {
          LOG.info("event relay listening again");
        }
        PGConnection pg = c.unwrap(PGConnection.class);
        while (!closed) {
          PGNotification[] batch = pg.getNotifications(500);
          if (batch == null) {
            continue;
          }
          for (PGNotification n : batch) {
            deliver(n.getParameter());
          }
        }
      } catch (SQLException | RuntimeException e) {
        if (closed) {
          return;
        }
        LOG.warn("event relay connection lost; watchers are told to watch again", e);
        lostBefore = true;
        bus.gap();
        try {
          Thread.sleep(RECONNECT.toMillis());
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  private void deliver(String payload) {
    try {
      bus.publish(decode(payload));
    } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
      LOG.warn("ignored a malformed event on {}", CHANNEL, e);
    }
  }

  /** Stops listening. */
  @Override
  public void close() {
    closed = true;
    Connection c = connection;
    if (c != null) {
      try {
        c.close();
      } catch (SQLException ignored) {
        // closing anyway
      }
    }
    listener.interrupt();
    try {
      listener.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
