package io.stratus.conductor.testing;

import io.grpc.ForwardingServerCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.stratus.gateway.GatewayConfig;
import io.stratus.gateway.ImageGateway;
import io.stratus.gateway.store.fs.FilesystemBackend;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.ListImagesRequest;
import io.stratus.support.imageio.ImageUploader;
import io.stratus.support.tls.TransportSecurity;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The real image-gateway ({@link ImageGateway}) for conductor tests: served in-process over
 * a temporary filesystem store, without TLS (every caller is a service). Tests inject
 * failures of CreateImage and DeleteImage through a server interceptor, and create images
 * "in the past" by setting the store's clock back; everything else is the gateway's own
 * behaviour.
 */
public final class InProcessGateway implements AutoCloseable {
  /** The bytes a seeded image holds. */
  private static final int SEED_BYTES = 1 << 20;

  private final String name = InProcessServerBuilder.generateName();
  private final Path dir;
  private final ShiftedClock clock = new ShiftedClock();
  private final Faults faults = new Faults();
  private final ImageGateway gateway;
  private final ManagedChannel channel;

  private InProcessGateway(Path dir) throws Exception {
    this.dir = dir;
    gateway = ImageGateway.start(GatewayConfig.fromMap(Map.of("fs.dir", dir.toString(),
            "tls.insecure", "true", "checksums", "off")),
        InProcessServerBuilder.forName(name).intercept(faults),
        TransportSecurity.plaintext("conductor tests' gateway"),
        new FilesystemBackend(dir, clock));
    channel = InProcessChannelBuilder.forName(name).maxInboundMessageSize(8 << 20).build();
  }

  /** Starts a gateway over a new temporary store. */
  public static InProcessGateway start() throws Exception {
    return new InProcessGateway(Files.createTempDirectory("stratus-conductor-gateway-"));
  }

  /** The in-process server's name (the conductor's {@code gateway.address} is {@code in-process:NAME}). */
  public String name() {
    return name;
  }

  /** A channel to the gateway. */
  public ManagedChannel channel() {
    return channel;
  }

  private ImagesGrpc.ImagesBlockingStub stub() {
    return ImagesGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /** The image with that id, if the gateway has it (a deleted one it has not). */
  public Optional<Image> image(String id) {
    try {
      return Optional.of(stub().getImage(GetImageRequest.newBuilder().setImageId(id).build())
          .getImage());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /** Whether the image is gone (deleted; the tests ask only about images that existed). */
  public boolean wasDeleted(String id) {
    return image(id).isEmpty();
  }

  /** Every image, in creation order. */
  public List<Image> images() {
    List<Image> all = new ArrayList<>();
    String page = "";
    do {
      var r = stub().listImages(ListImagesRequest.newBuilder().setPageSize(500)
          .setPageToken(page).build());
      all.addAll(r.getImagesList());
      page = r.getNextPageToken();
    } while (!page.isEmpty());
    all.sort(java.util.Comparator.comparing((Image i) -> i.getCreatedAt().getSeconds())
        .thenComparing(i -> i.getCreatedAt().getNanos()));
    return all;
  }

  /** An active public image of the admin project, as an operator's base image is. */
  public Image seedActiveImage(String name) {
    return seedActiveImage(name, Map.of());
  }

  /** As {@link #seedActiveImage(String)}, with image properties. */
  public Image seedActiveImage(String name, Map<String, String> properties) {
    return seedImage(name, "admin-project", "public", properties);
  }

  /** An active image of {@code owner} with {@code visibility}, as a user's upload is. */
  public Image seedImage(String name, String owner, String visibility) {
    return seedImage(name, owner, visibility, Map.of());
  }

  /** As {@link #seedImage(String, String, String)}, with properties (e.g. its members). */
  public Image seedImage(String name, String owner, String visibility,
      Map<String, String> properties) {
    Image queued = stub().createImage(CreateImageRequest.newBuilder().setName(name)
        .setDiskFormat("raw").setContainerFormat("bare").setOwner(owner)
        .setVisibility(visibility).putAllProperties(properties).build()).getImage();
    try (Upload upload = beginUpload(queued.getId(), SEED_BYTES, SEED_BYTES)) {
      return upload.finish();
    }
  }

  /** Shares a {@code shared} image with {@code project}, a pending member, as its owner does. */
  public void addMember(String imageId, String project) {
    stub().addImageMember(io.stratus.proto.image.v1.AddImageMemberRequest.newBuilder()
        .setImageId(imageId).setMember(project).build());
  }

  /**
   * Runs {@code action} with the store's clock set {@code age} back: the images it creates
   * were created that long ago.
   */
  public <T> T createdAgo(Duration age, Supplier<T> action) {
    clock.shift(age.negated());
    try {
      return action.get();
    } finally {
      clock.shift(Duration.ZERO);
    }
  }

  /** The next CreateImage call fails with {@code status}, creating nothing. */
  public void failNextCreate(Status status) {
    faults.nextCreate.set(requireError(status));
  }

  /** The next DeleteImage call fails with {@code status}, deleting nothing. */
  public void failNextDelete(Status status) {
    faults.nextDelete.set(requireError(status));
  }

  /** How many CreateImage calls arrived, failed ones included. */
  public int createCount() {
    return faults.creates.get();
  }

  /** How many DeleteImage calls arrived, failed ones included. */
  public int deleteCount() {
    return faults.deletes.get();
  }

  /**
   * Starts uploading {@code size} bytes of data into a queued image of {@code virtualSize}
   * (the rest reads as zeros), as an agent's snapshot does: the image is saving from the
   * first message on.
   */
  public Upload beginUpload(String imageId, long size, long virtualSize) {
    return new Upload(imageId, size, virtualSize);
  }

  /**
   * An upload in progress: {@link #finish()} sends the bytes (deterministic, from the image
   * id) and waits for the image to be active; {@link #close()} before that cancels it.
   */
  public final class Upload implements AutoCloseable {
    private final String imageId;
    private final long size;
    private final long virtualSize;
    private final ImageUploader uploader;
    private boolean finished;

    private Upload(String imageId, long size, long virtualSize) {
      this.imageId = imageId;
      this.size = size;
      this.virtualSize = virtualSize;
      try {
        this.uploader = ImageUploader.start(channel, imageId, "conductor-test", virtualSize, 0);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while starting the upload of " + imageId, e);
      }
      // the gateway takes the header asynchronously: the image is saving once it did
      awaitStatus(imageId, s -> s == io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_SAVING);
    }

    /** Sends the content and waits for the gateway's answer; returns the active image. */
    public Image finish() {
      try {
        uploader.data(0, ByteBuffer.wrap(content(imageId, size)));
        if (virtualSize > size) {
          uploader.zero(size, virtualSize - size);
        }
        uploader.finish(Duration.ofSeconds(30));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while uploading " + imageId, e);
      }
      finished = true;
      return image(imageId).orElseThrow();
    }

    /** md5 of what {@link #finish()} sends. */
    public String md5() {
      return digest("MD5");
    }

    /** sha512 of what {@link #finish()} sends. */
    public String sha512() {
      return digest("SHA-512");
    }

    private String digest(String algorithm) {
      try {
        return java.util.HexFormat.of().formatHex(
            MessageDigest.getInstance(algorithm).digest(content(imageId, size)));
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    /** Cancels an unfinished upload and waits until the gateway put the image back. */
    @Override
    public void close() {
      if (!finished) {
        uploader.cancel("the simulated upload was abandoned");
        awaitStatus(imageId, s -> s != io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_SAVING);
      }
    }
  }

  /** Waits (at most 10 s) until the image is gone or its status satisfies {@code done}. */
  private void awaitStatus(String imageId,
      java.util.function.Predicate<io.stratus.proto.image.v1.ImageStatus> done) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      Optional<Image> image = image(imageId);
      if (image.isEmpty() || done.test(image.get().getStatus())) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("image " + imageId + " stayed " + image.get().getStatus());
      }
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  /** The bytes uploaded into an image: a stable pattern of its id. */
  private static byte[] content(String imageId, long size) {
    byte[] seed = imageId.getBytes(StandardCharsets.UTF_8);
    byte[] b = new byte[Math.toIntExact(size)];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) (seed[i % seed.length] + i / seed.length);
    }
    return b;
  }

  private static Status requireError(Status status) {
    if (status.isOk()) {
      throw new IllegalArgumentException("an injected failure needs a non-OK status");
    }
    return status;
  }

  @Override
  public void close() throws Exception {
    channel.shutdownNow();
    gateway.close();
    // an upload the gateway was still closing may write its record a moment later
    for (int attempt = 1; ; attempt++) {
      try (var paths = Files.walk(dir)) {
        for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
        return;
      } catch (java.io.IOException | java.io.UncheckedIOException e) {
        if (attempt == 20) {
          throw e;
        }
        Thread.sleep(50);
      }
    }
  }

  /** The system clock, shifted by a settable offset. */
  private static final class ShiftedClock extends Clock {
    private volatile Duration offset = Duration.ZERO;

    void shift(Duration offset) {
      this.offset = offset;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.now().plus(offset);
    }
  }

  /** Fails the next CreateImage or DeleteImage when told to, and counts them. */
  private static final class Faults implements ServerInterceptor {
    final AtomicReference<Status> nextCreate = new AtomicReference<>();
    final AtomicReference<Status> nextDelete = new AtomicReference<>();
    final AtomicInteger creates = new AtomicInteger();
    final AtomicInteger deletes = new AtomicInteger();

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
        ServerCallHandler<Q, R> next) {
      String method = call.getMethodDescriptor().getBareMethodName();
      Status injected = null;
      if ("CreateImage".equals(method)) {
        creates.incrementAndGet();
        injected = nextCreate.getAndSet(null);
      } else if ("DeleteImage".equals(method)) {
        deletes.incrementAndGet();
        injected = nextDelete.getAndSet(null);
      }
      if (injected != null) {
        call.close(injected, new Metadata());
        return new ServerCall.Listener<>() {};
      }
      return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
          next.startCall(call, headers)) {};
    }
  }
}
