package io.stratus.conductor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import io.stratus.support.tls.TransportSecurity;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.DynamicMessage;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.stratus.conductor.config.ConfigLoader;
import io.stratus.conductor.testing.InProcessGateway;
import io.stratus.testkit.GrpcReflection;
import io.stratus.testkit.PostgresExtension;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A client that has no .proto files — only gRPC server reflection, as grpcurl — can list
 * the conductor's services over TCP, describe them and call them.
 */
class ReflectionTest {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  static Conductor conductor;
  static InProcessGateway gateway;
  static ManagedChannel channel;

  @BeforeAll
  static void start() throws Exception {
    gateway = InProcessGateway.start();
    conductor = Conductor.start(
        ConfigLoader.fromMap(Map.of(
            "db.url", PG.jdbcUrl(), "db.user", PG.user(), "gateway.address", "in-process",
            "api.tokens", "tok=project-r:user-r:member", "tls.insecure", "true")),
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)),
        TransportSecurity.plaintext("test conductor"),
        (host, address) -> InProcessChannelBuilder.forName(address).build(), gateway.channel(),
        Clock.systemUTC());
    channel = NettyChannelBuilder.forAddress("127.0.0.1", conductor.port()).usePlaintext().build();
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow();
    conductor.close();
    gateway.close();
  }

  /** One reflection request/response on a fresh stream. */
  private static ServerReflectionResponse reflect(ServerReflectionRequest request) throws Exception {
    return GrpcReflection.ask(channel, request);
  }

  private static ServiceDescriptor describe(String service) throws Exception {
    var response = reflect(ServerReflectionRequest.newBuilder().setFileContainingSymbol(service).build());
    Map<String, FileDescriptorProto> protos = new HashMap<>();
    for (var bytes : response.getFileDescriptorResponse().getFileDescriptorProtoList()) {
      FileDescriptorProto p = FileDescriptorProto.parseFrom(bytes);
      protos.put(p.getName(), p);
    }
    Map<String, FileDescriptor> built = new HashMap<>();
    FileDescriptor file = null;
    for (FileDescriptorProto p : protos.values()) {
      FileDescriptor fd = build(p.getName(), protos, built);
      if (fd.findServiceByName(service.substring(service.lastIndexOf('.') + 1)) != null) {
        file = fd;
      }
    }
    return file.findServiceByName(service.substring(service.lastIndexOf('.') + 1));
  }

  private static FileDescriptor build(String name, Map<String, FileDescriptorProto> protos,
      Map<String, FileDescriptor> built) throws Exception {
    if (built.containsKey(name)) {
      return built.get(name);
    }
    FileDescriptorProto p = protos.get(name);
    List<FileDescriptor> deps = new ArrayList<>();
    for (String dep : p.getDependencyList()) {
      deps.add(build(dep, protos, built));
    }
    FileDescriptor fd = FileDescriptor.buildFrom(p, deps.toArray(new FileDescriptor[0]));
    built.put(name, fd);
    return fd;
  }

  private static DynamicMessage call(ServiceDescriptor service, String method, DynamicMessage request) {
    MethodDescriptor m = service.findMethodByName(method);
    io.grpc.MethodDescriptor<DynamicMessage, DynamicMessage> grpcMethod =
        io.grpc.MethodDescriptor.<DynamicMessage, DynamicMessage>newBuilder()
            .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(io.grpc.MethodDescriptor.generateFullMethodName(
                service.getFullName(), m.getName()))
            .setRequestMarshaller(ProtoUtils.marshaller(DynamicMessage.getDefaultInstance(m.getInputType())))
            .setResponseMarshaller(ProtoUtils.marshaller(DynamicMessage.getDefaultInstance(m.getOutputType())))
            .build();
    var authed = io.grpc.ClientInterceptors.intercept(channel,
        MetadataUtils.newAttachHeadersInterceptor(ConductorHarness.bearer("tok")));
    return ClientCalls.blockingUnaryCall(authed, grpcMethod, CallOptions.DEFAULT, request);
  }

  @Test
  void servicesAreListedByReflection() throws Exception {
    var response = reflect(ServerReflectionRequest.newBuilder().setListServices("*").build());
    List<String> names = response.getListServicesResponse().getServiceList().stream()
        .map(s -> s.getName()).toList();
    assertTrue(names.containsAll(List.of("stratus.conductor.v1.Servers", "stratus.conductor.v1.Hosts",
        "stratus.agent.v1.AgentRegistry", "grpc.health.v1.Health")), names.toString());
  }

  @Test
  void aClientWithOnlyReflectionCanDescribeAndCallServers() throws Exception {
    ServiceDescriptor servers = describe("stratus.conductor.v1.Servers");
    List<String> methods = servers.getMethods().stream().map(MethodDescriptor::getName).toList();
    assertTrue(methods.containsAll(List.of("CreateImage", "StartServer", "StopServer",
        "RebootServer", "WatchServer", "ListServers")), methods.toString());

    MethodDescriptor list = servers.findMethodByName("ListServers");
    DynamicMessage listed = call(servers, "ListServers",
        DynamicMessage.newBuilder(list.getInputType())
            .setField(list.getInputType().findFieldByName("page_size"), 10).build());
    assertEquals(0, listed.getRepeatedFieldCount(list.getOutputType().findFieldByName("servers")));

    MethodDescriptor get = servers.findMethodByName("GetServer");
    String id = UUID.randomUUID().toString();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(servers, "GetServer",
        DynamicMessage.newBuilder(get.getInputType())
            .setField(get.getInputType().findFieldByName("server_id"), id).build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    assertEquals("server " + id + " not found", e.getStatus().getDescription());
  }

  @Test
  void healthReportsServing() {
    var health = HealthGrpc.newBlockingStub(channel);
    assertEquals(HealthCheckResponse.ServingStatus.SERVING,
        health.check(HealthCheckRequest.newBuilder().setService("stratus.conductor.v1.Servers").build())
            .getStatus());
    assertEquals(HealthCheckResponse.ServingStatus.SERVING,
        health.check(HealthCheckRequest.getDefaultInstance()).getStatus());
  }
}
