package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.stratus.gateway.store.fs.FilesystemBackend;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.support.tls.TransportSecurity;
import io.stratus.testkit.BadInputSweep;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every method of {@code image.v1.Images}, read from its descriptor, called with a
 * malformed value in each field (see {@link BadInputSweep}) on the real gateway over a
 * filesystem store: no call answers UNKNOWN or INTERNAL, and the store holds nothing but
 * the records of the creates that were accepted — no bytes, no partial uploads.
 */
class GatewayBadInputTest {
  @TempDir Path dir;

  @Test
  void noMalformedCallAnswersUnknownOrInternalOrLeavesAnything() throws Exception {
    String name = InProcessServerBuilder.generateName();
    try (ImageGateway gateway = ImageGateway.start(GatewayConfig.fromMap(Map.of(
            "fs.dir", dir.toString(), "tls.insecure", "true", "upload.idle", "PT5S")),
        InProcessServerBuilder.forName(name), TransportSecurity.plaintext("test gateway"),
        new FilesystemBackend(dir, Clock.systemUTC()))) {
      ManagedChannel channel = InProcessChannelBuilder.forName(name)
          .maxInboundMessageSize(8 << 20).build();
      List<BadInputSweep.Outcome> outcomes;
      try {
        outcomes = BadInputSweep.sweep(channel, ImagesGrpc.getServiceDescriptor(),
            new Metadata(), method -> false);
      } finally {
        channel.shutdownNow();
      }
      List<BadInputSweep.Outcome> bad = BadInputSweep.failures(outcomes);
      assertTrue(bad.isEmpty(), BadInputSweep.describe(bad, outcomes.size()));
      long created = outcomes.stream().filter(o -> o.method().endsWith("/CreateImage")
          && o.status().isOk()).count();
      // the sweep's "unknown UUID" is a valid id: it creates that image, and deletes it again
      long deleted = outcomes.stream().filter(o -> o.method().endsWith("/DeleteImage")
          && o.status().isOk()).count();
      System.out.println("[sweep] image.v1.Images: " + outcomes.size() + " malformed calls, "
          + created + " accepted creates (valid Glance values), " + deleted
          + " accepted deletes, 0 UNKNOWN/INTERNAL");
      assertEquals(created - deleted, count(dir.resolve("records")), "records of refused calls");
      assertEquals(0, count(dir.resolve("data")), "image bytes");
      assertEquals(0, count(dir.resolve("partial")), "partial uploads");
    }
  }

  private static long count(Path d) throws Exception {
    try (Stream<Path> s = Files.list(d)) {
      return s.count();
    }
  }
}
