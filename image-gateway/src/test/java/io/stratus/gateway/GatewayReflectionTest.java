package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import io.stratus.support.tls.TransportSecurity;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.stratus.gateway.store.fs.FilesystemBackend;
import io.stratus.testkit.GrpcReflection;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway's Images service is rebuilt with its own UploadImage marshaller; server
 * reflection (what grpcurl uses) must still list and describe it, every method included.
 */
class GatewayReflectionTest {
  @TempDir Path dir;

  private static ServerReflectionResponse reflect(ManagedChannel channel, ServerReflectionRequest r)
      throws Exception {
    return GrpcReflection.ask(channel, r);
  }

  @Test
  void reflectionListsAndDescribesEveryImagesMethod() throws Exception {
    String name = InProcessServerBuilder.generateName();
    try (ImageGateway gateway = ImageGateway.start(GatewayConfig.fromMap(Map.of("fs.dir", "/unused",
            "tls.insecure", "true")),
        InProcessServerBuilder.forName(name), TransportSecurity.plaintext("test gateway"),
        new FilesystemBackend(dir, java.time.Clock.systemUTC()))) {
      ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
      try {
        List<String> services = reflect(channel, ServerReflectionRequest.newBuilder()
            .setListServices("*").build()).getListServicesResponse().getServiceList().stream()
            .map(s -> s.getName()).toList();
        assertTrue(services.contains("stratus.image.v1.Images"), services.toString());
        var files = reflect(channel, ServerReflectionRequest.newBuilder()
            .setFileContainingSymbol("stratus.image.v1.Images").build())
            .getFileDescriptorResponse().getFileDescriptorProtoList();
        FileDescriptorProto images = null;
        for (var bytes : files) {
          FileDescriptorProto p = FileDescriptorProto.parseFrom(bytes);
          if (p.getServiceList().stream().anyMatch(s -> s.getName().equals("Images"))) {
            images = p;
          }
        }
        assertTrue(images != null, "no file describes stratus.image.v1.Images");
        List<String> methods = images.getServiceList().stream().filter(s -> s.getName().equals("Images"))
            .findFirst().orElseThrow().getMethodList().stream().map(m -> m.getName()).toList();
        assertTrue(methods.containsAll(List.of("UploadImage", "DownloadImage", "ActivateEmptyImage",
            "CreateImage", "GetImage")), methods.toString());
        assertEquals(methods.size(), new java.util.HashSet<>(methods).size());
      } finally {
        channel.shutdownNow();
      }
    }
  }
}
