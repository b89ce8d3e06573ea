package io.stratus.conductor;

import static org.junit.jupiter.api.Assertions.fail;

import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.WatchServerRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * Records one server's WatchServer stream and renders it compactly for assertions:
 * state changes as {@code task/vm/power} in Nova's spelling, notifications as
 * {@code n:event_type}; progress is kept apart.
 */
final class EventRecorder implements AutoCloseable {
  private final List<ServerEvent> events = new CopyOnWriteArrayList<>();
  private final Context.CancellableContext context = Context.current().withCancellation();
  private volatile Throwable error;
  private volatile boolean completed;

  EventRecorder(ServersGrpc.ServersStub stub, String serverId) throws InterruptedException {
    context.run(() -> stub.watchServer(
        WatchServerRequest.newBuilder().setServerId(serverId).build(), new StreamObserver<>() {
          @Override
          public void onNext(ServerEvent value) {
            events.add(value);
          }

          @Override
          public void onError(Throwable t) {
            error = t;
          }

          @Override
          public void onCompleted() {
            completed = true;
          }
        }));
    await(e -> e.hasSnapshot(), Duration.ofSeconds(10));
  }

  /** Waits for an event matching {@code p}. */
  ServerEvent await(Predicate<ServerEvent> p, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      for (ServerEvent e : events) {
        if (p.test(e)) {
          return e;
        }
      }
      if (error != null) {
        fail("watch failed: " + error);
      }
      Thread.sleep(5);
    }
    fail("no matching event within " + timeout + "; saw " + render());
    return null;
  }

  /** Waits for a notification of the given type. */
  void awaitNotification(String type) throws InterruptedException {
    await(e -> e.hasNotification() && e.getNotification().getEventType().equals(type),
        Duration.ofSeconds(20));
  }

  /** The stream so far without progress events, rendered. */
  List<String> render() {
    List<String> out = new ArrayList<>();
    for (ServerEvent e : events) {
      switch (e.getKindCase()) {
        case SNAPSHOT -> out.add("snapshot");
        case STATE_CHANGE -> {
          var s = e.getStateChange();
          out.add(nova(s.getTaskState().name(), "TASK_STATE_") + "/"
              + nova(s.getVmState().name(), "VM_STATE_") + "/"
              + s.getPowerState().name().substring("POWER_STATE_".length()));
        }
        case NOTIFICATION -> out.add("n:" + e.getNotification().getEventType());
        default -> { }
      }
    }
    return out;
  }

  /** Progress events seen. */
  List<ServerEvent> progress() {
    return events.stream().filter(ServerEvent::hasProgress).toList();
  }

  /** The error the stream ended with, or null. */
  Throwable error() {
    return error;
  }

  boolean completed() {
    return completed;
  }

  private static String nova(String name, String prefix) {
    String n = name.substring(prefix.length()).toLowerCase(java.util.Locale.ROOT);
    return n.equals("powering_on") ? "powering-on" : n.equals("powering_off") ? "powering-off" : n;
  }

  @Override
  public void close() {
    context.cancel(null);
  }
}
