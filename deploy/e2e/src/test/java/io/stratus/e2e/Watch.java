package io.stratus.e2e;

import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.WatchServerRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records a server's WatchServer stream as {@code task/vm/power} state lines. */
final class Watch implements AutoCloseable {
  private final List<ServerEvent> events = new CopyOnWriteArrayList<>();
  private final Context.CancellableContext context = Context.current().withCancellation();

  Watch(ServersGrpc.ServersStub stub, String serverId) throws InterruptedException {
    context.run(() -> stub.watchServer(WatchServerRequest.newBuilder().setServerId(serverId).build(),
        new StreamObserver<>() {
          @Override
          public void onNext(ServerEvent value) {
            events.add(value);
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        }));
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (events.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
  }

  /** Waits for a notification of this type (bounded). */
  void await(String eventType, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (events.stream().anyMatch(e -> e.hasNotification()
          && e.getNotification().getEventType().equals(eventType))) {
        return;
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no " + eventType + " within " + seconds + " s; saw " + states());
  }

  /** State changes and notifications, in order. */
  List<String> states() {
    List<String> out = new ArrayList<>();
    for (ServerEvent e : events) {
      if (e.hasStateChange()) {
        var s = e.getStateChange();
        out.add(nova(s.getTaskState().name().substring(11)) + "/"
            + s.getVmState().name().substring(9).toLowerCase(Locale.ROOT) + "/"
            + s.getPowerState().name().substring(12));
      } else if (e.hasNotification()) {
        out.add("n:" + e.getNotification().getEventType());
      }
    }
    return out;
  }

  long progressEvents() {
    return events.stream().filter(ServerEvent::hasProgress).count();
  }

  private static String nova(String task) {
    String t = task.toLowerCase(Locale.ROOT);
    return t.equals("powering_on") ? "powering-on" : t.equals("powering_off") ? "powering-off" : t;
  }

  @Override
  public void close() {
    context.cancel(null);
  }
}
