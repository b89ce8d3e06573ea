package io.stratus.gateway.api;

import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.support.imageio.AliasingMarshaller;

/**
 * The {@code Images} service definition with {@code UploadImage} requests parsed by {@link
 * AliasingMarshaller} (one copy of each extent instead of three). Everything else, including
 * the schema descriptors that server reflection serves, is unchanged.
 */
public final class AliasingUploads {
  private AliasingUploads() {}

  @SuppressWarnings("unchecked")
  public static ServerServiceDefinition of(ServerServiceDefinition generated) {
    ServiceDescriptor original = generated.getServiceDescriptor();
    MethodDescriptor<UploadImageRequest, ?> upload = (MethodDescriptor<UploadImageRequest, ?>)
        ImagesGrpc.getUploadImageMethod();
    MethodDescriptor<UploadImageRequest, ?> aliased = upload.toBuilder(
        AliasingMarshaller.of(UploadImageRequest.getDefaultInstance()),
        upload.getResponseMarshaller()).build();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    java.util.List<ServerMethodDefinition<?, ?>> methods = new java.util.ArrayList<>();
    for (ServerMethodDefinition<?, ?> m : generated.getMethods()) {
      if (m.getMethodDescriptor().getFullMethodName().equals(upload.getFullMethodName())) {
        methods.add(ServerMethodDefinition.create(
            (MethodDescriptor<UploadImageRequest, Object>) (MethodDescriptor<?, ?>) aliased,
            ((ServerMethodDefinition<UploadImageRequest, Object>) m).getServerCallHandler()));
        descriptor.addMethod(aliased);
      } else {
        methods.add(m);
        descriptor.addMethod(m.getMethodDescriptor());
      }
    }
    ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(out::addMethod);
    return out.build();
  }
}
