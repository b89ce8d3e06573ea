package io.stratus.support.imageio;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.stub.ClientCalls;
import io.stratus.proto.image.v1.DownloadImageRequest;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.ImagesGrpc;
import java.util.Iterator;

/**
 * {@code Images/DownloadImage} with its responses parsed by {@link AliasingMarshaller}: one
 * copy of each extent on the way in instead of three. Blocking, with gRPC's flow control:
 * the server sends only as fast as the iterator is drained.
 */
public final class ImageDownloads {
  private static final MethodDescriptor<DownloadImageRequest, DownloadImageResponse> METHOD =
      ImagesGrpc.getDownloadImageMethod().toBuilder(
          ImagesGrpc.getDownloadImageMethod().getRequestMarshaller(),
          AliasingMarshaller.of(DownloadImageResponse.getDefaultInstance())).build();

  private ImageDownloads() {}

  /** The stream of {@code imageId}: the image record first, then its extents in order. */
  public static Iterator<DownloadImageResponse> open(Channel gateway, String imageId) {
    return ClientCalls.blockingServerStreamingCall(gateway, METHOD, CallOptions.DEFAULT,
        DownloadImageRequest.newBuilder().setImageId(imageId).build());
  }
}
