package io.stratus.e2e;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.agent.v1.AgentRegistryGrpc;
import io.stratus.proto.agent.v1.Capabilities;
import io.stratus.proto.agent.v1.HeartbeatRequest;
import io.stratus.proto.agent.v1.HeartbeatResponse;
import io.stratus.proto.agent.v1.RegisterRequest;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TlsSettings;
import io.stratus.support.tls.TransportSecurity;
import io.stratus.testkit.DevCa;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Many simulated compute hosts for the control-plane benchmark: each registers with the
 * conductor and heartbeats every interval on its own TLS connection and stream, exactly as
 * an agent's link does, and records how long each beat took to be acknowledged. They run
 * no agent of their own: the address each registers is one of the benchmark's real agent
 * servers (on the simulated hypervisor), so the conductor's power sync of a simulated host
 * gets a real answer. Certificates name their hosts in batches of {@link #PER_CERT} (an
 * agent certificate may name several hosts); each host is its own connection.
 */
final class SimulatedHosts implements AutoCloseable {
  static final int PER_CERT = 100;

  /** One simulated host. */
  final class Host {
    final String name;
    final ManagedChannel channel;
    private StreamObserver<HeartbeatRequest> beats;
    private volatile boolean silent;
    volatile long lastAckNanos;
    private volatile long sentNanos;

    Host(String name, ManagedChannel channel) {
      this.name = name;
      this.channel = channel;
    }

    void register(String address) {
      AgentRegistryGrpc.newBlockingStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS)
          .withWaitForReady()
          .register(RegisterRequest.newBuilder().setHost(name).setAddress(address)
              .setAgentVersion("simulated").addContractVersions("stratus.agent.v1")
              .setCapabilities(Capabilities.newBuilder().setHypervisor("simulator")
                  .addStorageKinds("local").setMaxConcurrentSnapshots(1))
              .build());
      beats = AgentRegistryGrpc.newStub(channel).heartbeat(new StreamObserver<>() {
        @Override
        public void onNext(HeartbeatResponse r) {
          long now = System.nanoTime();
          lastAckNanos = now;
          ackNanos.add(now - sentNanos);
        }

        @Override
        public void onError(Throwable t) {
          errors.add(name + ": " + t);
        }

        @Override
        public void onCompleted() {}
      });
    }

    void beat() {
      if (!silent) {
        sentNanos = System.nanoTime();
        synchronized (this) {
          beats.onNext(HeartbeatRequest.newBuilder().setHost(name).build());
        }
      }
    }

    /** Stops beating (the connection stays): the host goes silent. */
    void silence() {
      silent = true;
    }
  }

  final List<Host> hosts = new ArrayList<>();
  /** Beat-to-acknowledgement times, nanoseconds, since the last {@link #drainAcks}. */
  private final ConcurrentLinkedQueue<Long> ackNanos = new ConcurrentLinkedQueue<>();
  final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
  private final ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
  private final List<TransportSecurity> tls = new ArrayList<>();

  /**
   * {@code count} hosts named {@code sim-host-NNNNN}, connected to {@code conductor}, their
   * certificates issued by {@code pki}; each registers one of {@code agentAddresses}.
   */
  SimulatedHosts(DevCa pki, String conductor, int count, List<String> agentAddresses)
      throws Exception {
    for (int batch = 0; batch * PER_CERT < count; batch++) {
      List<String> names = new ArrayList<>();
      for (int i = batch * PER_CERT; i < Math.min(count, (batch + 1) * PER_CERT); i++) {
        names.add(String.format("sim-host-%05d", i));
      }
      DevCa.Issued cert = pki.issue("agent", "sim-batch-" + batch,
          names.toArray(String[]::new));
      TransportSecurity t = TransportSecurity.open(TlsSettings.of(pki.caCert(), cert.cert(),
          cert.key(), Duration.ofHours(1)), "simulated hosts " + batch);
      tls.add(t);
      for (String name : names) {
        hosts.add(new Host(name, NettyChannelBuilder.forTarget(conductor,
            t.channel(Role.CONDUCTOR)).build()));
      }
    }
    var pool = Executors.newFixedThreadPool(16);
    try {
      List<java.util.concurrent.Future<?>> registered = new ArrayList<>();
      for (int i = 0; i < hosts.size(); i++) {
        Host h = hosts.get(i);
        String address = agentAddresses.get(i % agentAddresses.size());
        registered.add(pool.submit(() -> h.register(address)));
      }
      for (var f : registered) {
        f.get(10, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** Beats every host every {@code interval}, each at its own random phase. */
  void start(Duration interval) {
    Random random = new Random(42);
    for (Host h : hosts) {
      timer.scheduleAtFixedRate(h::beat, random.nextLong(interval.toMillis()),
          interval.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** The acknowledgement times recorded since the last call, in milliseconds. */
  List<Double> drainAcks() {
    List<Double> out = new ArrayList<>();
    Long n;
    while ((n = ackNanos.poll()) != null) {
      out.add(n / 1e6);
    }
    return out;
  }

  @Override
  public void close() {
    timer.shutdownNow();
    for (Host h : hosts) {
      h.channel.shutdownNow();
    }
    tls.forEach(TransportSecurity::close);
  }
}
