package io.stratus.agent.link;

import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.agent.v1.AgentRegistryGrpc;
import io.stratus.proto.agent.v1.HeartbeatRequest;
import io.stratus.proto.agent.v1.HeartbeatResponse;
import io.stratus.proto.agent.v1.RegisterRequest;
import io.stratus.support.concurrent.Timers;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this host known to the conductor: registers (retrying with backoff until it
 * works), then beats on one heartbeat stream at the interval the conductor asks for;
 * when the stream breaks or the conductor has forgotten the host, registers again.
 */
public final class ConductorLink implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ConductorLink.class);

  private final AgentRegistryGrpc.AgentRegistryBlockingStub registry;
  private final AgentRegistryGrpc.AgentRegistryStub streams;
  private final Supplier<RegisterRequest> registration;
  private final Supplier<HeartbeatRequest> beat;
  private final ScheduledExecutorService timer = Timers.daemon("conductor-link");
  private volatile StreamObserver<HeartbeatRequest> stream;
  private volatile long intervalMs = 10_000;
  private volatile boolean closed;
  private volatile boolean registered;

  public ConductorLink(Channel conductor, Supplier<RegisterRequest> registration,
      Supplier<HeartbeatRequest> beat) {
    this.registry = AgentRegistryGrpc.newBlockingStub(conductor);
    this.streams = AgentRegistryGrpc.newStub(conductor);
    this.registration = registration;
    this.beat = beat;
  }

  /** Starts registering in the background. */
  public void start() {
    timer.execute(() -> connect(Duration.ofMillis(200)));
  }

  public boolean registered() {
    return registered;
  }

  private void connect(Duration backoff) {
    if (closed) {
      return;
    }
    try {
      var r = registry.withDeadlineAfter(10, TimeUnit.SECONDS).register(registration.get());
      intervalMs = Math.max(100, r.getHeartbeatIntervalMs());
      registered = true;
      LOG.info("registered with the conductor; heartbeatMs={}", intervalMs);
      openStream();
      timer.schedule(this::beatOnce, 0, TimeUnit.MILLISECONDS);
    } catch (RuntimeException e) {
      registered = false;
      Duration next = backoff.multipliedBy(2).compareTo(Duration.ofSeconds(10)) > 0
          ? Duration.ofSeconds(10) : backoff.multipliedBy(2);
      LOG.warn("registration failed, retrying in {} ms: {}", backoff.toMillis(), Status.fromThrowable(e));
      timer.schedule(() -> connect(next), backoff.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void openStream() {
    stream = streams.heartbeat(new StreamObserver<>() {
      @Override
      public void onNext(HeartbeatResponse value) {
        intervalMs = Math.max(100, value.getHeartbeatIntervalMs());
      }

      @Override
      public void onError(Throwable t) {
        lost(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        lost(Status.UNAVAILABLE.withDescription("conductor closed the heartbeat stream"));
      }
    });
  }

  private synchronized void lost(Status why) {
    if (closed || !registered) {
      return;
    }
    registered = false;
    stream = null;
    LOG.warn("heartbeat stream lost, registering again: {}", why);
    timer.schedule(() -> connect(Duration.ofMillis(200)), 200, TimeUnit.MILLISECONDS);
  }

  private void beatOnce() {
    var s = stream;
    if (closed || s == null || !registered) {
      return;
    }
    try {
      s.onNext(beat.get());
    } catch (RuntimeException e) {
      lost(Status.fromThrowable(e));
      return;
    }
    timer.schedule(this::beatOnce, intervalMs, TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    closed = true;
    var s = stream;
    if (s != null) {
      try {
        s.onCompleted();
      } catch (RuntimeException ignored) {
        // already broken
      }
    }
    timer.shutdownNow();
  }
}
