package io.stratus.agent;

import static org.junit.jupiter.api.Assertions.assertTrue;
import io.stratus.support.tls.TransportSecurity;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.gateway.GatewayConfig;
import io.stratus.gateway.ImageGateway;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.fs.FilesystemBackend;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.RootDiskKind;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.DownloadImageRequest;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.support.imageio.ImageUploader;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A compute-agent under test: the real image-gateway (filesystem store) in-process, a
 * registry stand-in for the conductor, and the agent on the given hypervisor.
 */
final class AgentHarness implements AutoCloseable {
  final Path root;
  final Path gatewayDir;
  final FakeConductorRegistry registry = new FakeConductorRegistry();
  final ImageGateway gateway;
  final ManagedChannel gatewayChannel;
  final ManagedChannel conductorChannel;
  final ComputeAgent agent;
  final ManagedChannel agentChannel;
  final Hypervisor hypervisor;
  private final Server registryServer;

  AgentHarness(Hypervisor hypervisor, Path root, Map<String, String> extraConfig) throws Exception {
    this(hypervisor, root, extraConfig, null);
  }

  /**
   * An agent whose gateway stores images in {@code backend}; {@code null} for the
   * filesystem store under ROOT/gateway.
   */
  AgentHarness(Hypervisor hypervisor, Path root, Map<String, String> extraConfig,
      ImageBackend backend) throws Exception {
    this.hypervisor = hypervisor;
    this.root = root;
    this.gatewayDir = Files.createDirectories(root.resolve("gateway"));
    String gw = InProcessServerBuilder.generateName();
    gateway = ImageGateway.start(GatewayConfig.fromMap(Map.of("fs.dir", gatewayDir.toString(),
            "tls.insecure", "true")),
        InProcessServerBuilder.forName(gw), TransportSecurity.plaintext("test gateway"),
        backend != null ? backend : new FilesystemBackend(gatewayDir, Clock.systemUTC()));
    gatewayChannel = InProcessChannelBuilder.forName(gw).maxInboundMessageSize(8 << 20).build();
    String reg = InProcessServerBuilder.generateName();
    registryServer = InProcessServerBuilder.forName(reg).addService(registry).build().start();
    conductorChannel = InProcessChannelBuilder.forName(reg).build();
    String agentName = InProcessServerBuilder.generateName();
    var config = new java.util.HashMap<String, String>(Map.of(
        "host", "test-host",
        "conductor.address", "in-process",
        "gateway.address", "in-process",
        "instances.dir", root.resolve("instances").toString(),
        "image.cache.dir", root.resolve("cache").toString(),
        "power.on.timeout", "PT30S",
        "tls.insecure", "true"));
    config.putAll(extraConfig);
    agent = ComputeAgent.start(AgentConfig.fromMap(config), InProcessServerBuilder.forName(agentName),
        TransportSecurity.plaintext("test agent"), hypervisor, conductorChannel, gatewayChannel, port -> agentName);
    agentChannel = InProcessChannelBuilder.forName(agentName).build();
  }

  ComputeAgentGrpc.ComputeAgentBlockingStub stub() {
    return ComputeAgentGrpc.newBlockingStub(agentChannel).withDeadlineAfter(300, TimeUnit.SECONDS);
  }

  ImagesGrpc.ImagesBlockingStub images() {
    return ImagesGrpc.newBlockingStub(gatewayChannel).withDeadlineAfter(300, TimeUnit.SECONDS);
  }

  /** Writes a pattern through a running guest's own block layer (qemu-io inside qemu). */
  static void guestWrite(InstanceSpec i, int pattern, long offset, long length) {
    String out = io.stratus.testkit.Libvirt.virsh("qemu-monitor-command", "instance-" + i.getUuid(),
        "--hmp", "qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend \"write -P 0x"
            + Integer.toHexString(pattern) + " " + offset + " " + length + "\"");
    org.junit.jupiter.api.Assertions.assertFalse(out.contains("Error"), out);
  }

  /** Drains a task stream; rethrows the stream's error. */
  static List<TaskUpdate> drain(Iterator<TaskUpdate> stream) {
    List<TaskUpdate> out = new ArrayList<>();
    stream.forEachRemaining(out::add);
    return out;
  }

  static InstanceSpec instance(String imageRef) {
    return InstanceSpec.newBuilder().setUuid(UUID.randomUUID().toString()).setName("t")
        .setVcpus(1).setMemoryMb(128).setRootGb(0).setImageRef(imageRef)
        .setRootDiskKind(RootDiskKind.ROOT_DISK_KIND_LOCAL).build();
  }

  /** An active raw base image of {@code size} bytes with random data in its first half. */
  Image seedBaseImage(long size, long seed) throws Exception {
    Image image = images().createImage(CreateImageRequest.newBuilder().setName("base")
        .setDiskFormat("raw").setContainerFormat("bare").build()).getImage();
    try (ImageUploader out = ImageUploader.start(gatewayChannel, image.getId(), "seed", size, 0)) {
      Random random = new Random(seed);
      for (long off = 0; off < size / 2; off += 1 << 20) {
        byte[] b = new byte[1 << 20];
        random.nextBytes(b);
        out.data(off, java.nio.ByteBuffer.wrap(b));
      }
      return out.finish(java.time.Duration.ofSeconds(60)).getImage();
    }
  }

  /** Downloads an image into a sparse raw file. */
  Path download(String imageId, Path file) throws IOException {
    Iterator<DownloadImageResponse> it = images().downloadImage(
        DownloadImageRequest.newBuilder().setImageId(imageId).build());
    long size = it.next().getImage().getVirtualSize();
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw");
        FileChannel ch = raf.getChannel()) {
      while (it.hasNext()) {
        var m = it.next();
        if (m.hasData()) {
          var buf = m.getData().getData().asReadOnlyByteBuffer();
          long at = m.getData().getOffset();
          while (buf.hasRemaining()) {
            at += ch.write(buf, at);
          }
        }
      }
      raf.setLength(size);
    }
    return file;
  }

  /** The guest-visible content of a disk image (any format) as raw, via qemu-img convert. */
  static Path toRaw(Path image, Path raw) throws Exception {
    run("qemu-img", "convert", "-U", "-O", "raw", image.toString(), raw.toString());
    return raw;
  }

  static String sha512(Path file) throws Exception {
    MessageDigest d = MessageDigest.getInstance("SHA-512");
    try (var in = Files.newInputStream(file)) {
      byte[] b = new byte[1 << 20];
      int n;
      while ((n = in.read(b)) > 0) {
        d.update(b, 0, n);
      }
    }
    return HexFormat.of().formatHex(d.digest());
  }

  /**
   * The image content digest of a raw file, computed naively (every 4 MiB chunk read and
   * hashed, zeros included), independently of the gateway's code: {@code sha256-4m:HEX}.
   */
  static String contentDigest(Path file) throws Exception {
    MessageDigest outer = MessageDigest.getInstance("SHA-256");
    try (var in = Files.newInputStream(file)) {
      byte[] chunk;
      while ((chunk = in.readNBytes(4 << 20)).length > 0) {
        outer.update(MessageDigest.getInstance("SHA-256").digest(chunk));
      }
    }
    return "sha256-4m:" + HexFormat.of().formatHex(outer.digest());
  }

  static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " hung");
    if (p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
    }
    return out;
  }

  /** Files left under a directory whose name contains {@code mark}. */
  static List<Path> filesContaining(Path dir, String mark) throws IOException {
    if (!Files.exists(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> p.getFileName().toString().contains(mark)).toList();
    }
  }

  @Override
  public void close() throws Exception {
    agentChannel.shutdownNow();
    agent.close();
    conductorChannel.shutdownNow();
    registryServer.shutdownNow();
    gatewayChannel.shutdownNow();
    gateway.close();
  }
}
