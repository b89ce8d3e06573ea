package io.stratus.cli.fake;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.image.v1.DownloadImageRequest;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.GetImageResponse;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImagesGrpc;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A fake image-gateway: image records in a map, download streams given per image. */
public final class FakeImages extends ImagesGrpc.ImagesImplBase {
  public final Map<String, Image> images = new LinkedHashMap<>();
  /** The extents DownloadImage sends after the image record. */
  public final Map<String, List<DownloadImageResponse>> extents = new LinkedHashMap<>();

  @Override
  public void getImage(GetImageRequest r, StreamObserver<GetImageResponse> o) {
    Image i = images.get(r.getImageId());
    if (i == null) {
      o.onError(notFound(r.getImageId()));
      return;
    }
    o.onNext(GetImageResponse.newBuilder().setImage(i).build());
    o.onCompleted();
  }

  /** Every image, in one page. */
  @Override
  public void listImages(io.stratus.proto.image.v1.ListImagesRequest r,
      StreamObserver<io.stratus.proto.image.v1.ListImagesResponse> o) {
    o.onNext(io.stratus.proto.image.v1.ListImagesResponse.newBuilder()
        .addAllImages(images.values()).build());
    o.onCompleted();
  }

  @Override
  public void downloadImage(DownloadImageRequest r, StreamObserver<DownloadImageResponse> o) {
    Image i = images.get(r.getImageId());
    if (i == null) {
      o.onError(notFound(r.getImageId()));
      return;
    }
    o.onNext(DownloadImageResponse.newBuilder().setImage(i).build());
    extents.getOrDefault(r.getImageId(), List.of()).forEach(o::onNext);
    o.onCompleted();
  }

  /** Deleted like the real gateway: a volume-backed snapshot only through the conductor. */
  @Override
  public void deleteImage(io.stratus.proto.image.v1.DeleteImageRequest r,
      StreamObserver<io.stratus.proto.image.v1.DeleteImageResponse> o) {
    Image i = images.get(r.getImageId());
    if (i == null) {
      o.onError(notFound(r.getImageId()));
      return;
    }
    if (i.containsProperties("block_device_mapping") && !r.getVolumeSnapshotsReleased()) {
      o.onError(Status.FAILED_PRECONDITION.withDescription("image " + i.getId() + " is a"
          + " volume-backed snapshot: delete it through the conductor"
          + " (Servers.DeleteSnapshotImage), which also deletes its volume snapshots")
          .asRuntimeException());
      return;
    }
    images.remove(r.getImageId());
    o.onNext(io.stratus.proto.image.v1.DeleteImageResponse.getDefaultInstance());
    o.onCompleted();
  }

  private static RuntimeException notFound(String id) {
    return Status.NOT_FOUND.withDescription("image " + id + " not found").asRuntimeException();
  }
}
