package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static io.stratus.conductor.ConductorHarness.MEMBER_B;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.WatchEventsRequest;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import io.stratus.testkit.PostgresExtension;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * api.watch.max.per.project = 2: a project's third open watch is RESOURCE_EXHAUSTED naming
 * the limit, another project is not affected, and a closed watch frees its slot.
 */
class WatchQuotaTest {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  static ConductorHarness h;

  @BeforeAll
  static void start() throws Exception {
    h = new ConductorHarness(PG.cluster(), Map.of("api.watch.max.per.project", "2"));
  }

  @AfterAll
  static void stop() throws Exception {
    h.close();
  }

  /** An open WatchEvents stream of {@code token}; cancel its context to close it. */
  record Watch(Context.CancellableContext context, CompletableFuture<Status> end) {
    /** How the stream ended, or null while it is still open after a short wait. */
    Status endedWithin(long ms) throws Exception {
      try {
        return end.get(ms, TimeUnit.MILLISECONDS);
      } catch (TimeoutException stillOpen) {
        return null;
      }
    }
  }

  static Watch watch(String token) {
    Context.CancellableContext ctx = Context.current().withCancellation();
    CompletableFuture<Status> end = new CompletableFuture<>();
    ctx.run(() -> h.serversAsync(token).watchEvents(WatchEventsRequest.getDefaultInstance(),
        new StreamObserver<ServerEvent>() {
          @Override
          public void onNext(ServerEvent e) {}

          @Override
          public void onError(Throwable t) {
            end.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            end.complete(Status.OK);
          }
        }));
    return new Watch(ctx, end);
  }

  @Test
  void aProjectsThirdWatchIsRefusedUntilOneCloses() throws Exception {
    Watch first = watch(MEMBER_A);
    Watch second = watch(MEMBER_A);
    assertEquals(null, first.endedWithin(300));
    assertEquals(null, second.endedWithin(300));

    Status third = watch(MEMBER_A).end().get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, third.getCode());
    assertEquals("watch streams: project project-a has 2 open, the limit"
        + " api.watch.max.per.project = 2", third.getDescription());

    Watch other = watch(MEMBER_B);
    assertEquals(null, other.endedWithin(300), "another project has its own slots");

    first.context().cancel(null);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    Watch again = watch(MEMBER_A);
    while (again.endedWithin(300) != null && System.nanoTime() < deadline) {
      again = watch(MEMBER_A);
    }
    assertEquals(null, again.endedWithin(300), "the closed watch's slot was never freed");
    second.context().cancel(null);
    again.context().cancel(null);
    other.context().cancel(null);
  }
}
