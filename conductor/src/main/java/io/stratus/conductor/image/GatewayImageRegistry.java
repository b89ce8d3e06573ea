package io.stratus.conductor.image;

import io.grpc.Channel;

import io.grpc.StatusRuntimeException;
import io.stratus.support.errors.ApiException;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.image.v1.UpdateImageRequest;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.proto.image.v1.UploadTrailer;
import java.util.concurrent.CompletableFuture;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** {@link ImageRegistry} over the image-gateway's {@code image.v1} gRPC API. */
public final class GatewayImageRegistry implements ImageRegistry {
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

  private final ImagesGrpc.ImagesBlockingStub stub;
  private final Channel channel;

  public GatewayImageRegistry(Channel channel) {
    this.channel = channel;
    this.stub = ImagesGrpc.newBlockingStub(channel);
  }

  private ImagesGrpc.ImagesBlockingStub call() {
    return stub.withDeadlineAfter(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public String createQueued(String name, String owner, Map<String, String> properties) {
    try {
      return call()
          .createImage(
              CreateImageRequest.newBuilder()
                  .setName(name)
                  .setOwner(owner)
                  .setDiskFormat("raw")  // agents stream the guest-visible content
                  .setContainerFormat("bare")
                  .putAllProperties(properties)
                  .build())
          .getImage()
          .getId();
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.INVALID_ARGUMENT) {
        throw ApiException.invalidArgument("metadata", e.getStatus().getDescription());
      }
      throw ApiException.unavailable("image-gateway could not create the image: " + e.getStatus(), e);
    }
  }

  @Override
  public Optional<ImageRegistry.Status> status(String imageId) {
    try {
      var image = call().getImage(GetImageRequest.newBuilder().setImageId(imageId).build()).getImage();
      return Optional.of(
          switch (image.getStatus()) {
            case IMAGE_STATUS_QUEUED -> ImageRegistry.Status.QUEUED;
            case IMAGE_STATUS_SAVING -> ImageRegistry.Status.SAVING;
            case IMAGE_STATUS_ACTIVE -> ImageRegistry.Status.ACTIVE;
            case IMAGE_STATUS_KILLED -> ImageRegistry.Status.KILLED;
            case IMAGE_STATUS_DELETED, IMAGE_STATUS_PENDING_DELETE -> ImageRegistry.Status.DELETED;
            default -> ImageRegistry.Status.OTHER;
          });
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND) {
        return Optional.empty();
      }
      throw ApiException.unavailable("image-gateway could not read image " + imageId, e);
    }
  }

  @Override
  public Optional<Map<String, String>> properties(String imageId) {
    try {
      return Optional.of(call().getImage(GetImageRequest.newBuilder().setImageId(imageId).build())
          .getImage().getPropertiesMap());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND
          || e.getStatus().getCode() == io.grpc.Status.Code.INVALID_ARGUMENT) {
        return Optional.empty();
      }
      throw ApiException.unavailable("image-gateway could not read image " + imageId, e);
    }
  }

  @Override
  public Optional<String> owner(String imageId) {
    try {
      return Optional.of(call().getImage(GetImageRequest.newBuilder().setImageId(imageId).build())
          .getImage().getOwner());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND
          || e.getStatus().getCode() == io.grpc.Status.Code.INVALID_ARGUMENT) {
        return Optional.empty();
      }
      throw ApiException.unavailable("image-gateway could not read image " + imageId, e);
    }
  }

  @Override
  public void activateEmpty(String imageId, Map<String, String> properties) {
    try {
      call().updateImage(UpdateImageRequest.newBuilder().setImageId(imageId)
          .putAllSetProperties(properties).build());
    } catch (StatusRuntimeException e) {
      throw ApiException.unavailable("image-gateway could not update image " + imageId + ": "
          + e.getStatus(), e);
    }
    CompletableFuture<UploadImageResponse> done = new CompletableFuture<>();
    StreamObserver<UploadImageRequest> upload = ImagesGrpc.newStub(channel)
        .withDeadlineAfter(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
        .uploadImage(new StreamObserver<>() {
          @Override
          public void onNext(UploadImageResponse r) {
            done.complete(r);
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.completeExceptionally(new IllegalStateException("upload ended without a response"));
          }
        });
    upload.onNext(UploadImageRequest.newBuilder().setHeader(UploadHeader.newBuilder()
        .setImageId(imageId).setUploadId("empty").setVirtualSize(0).setDiskFormat("raw")).build());
    upload.onNext(UploadImageRequest.newBuilder().setTrailer(UploadTrailer.newBuilder()
        .setMd5(EMPTY_MD5).setSha512(EMPTY_SHA512)).build());
    upload.onCompleted();
    try {
      done.get(CALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApiException.unavailable("interrupted while activating image " + imageId, e);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw ApiException.unavailable("image-gateway could not activate image " + imageId + ": "
          + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()), e);
    }
  }

  /** md5 and sha512 of no bytes. */
  static final String EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e";
  static final String EMPTY_SHA512 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
      + "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

  @Override
  public void delete(String imageId) {
    try {
      call().deleteImage(DeleteImageRequest.newBuilder().setImageId(imageId)
          .setVolumeSnapshotsReleased(true).build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != io.grpc.Status.Code.NOT_FOUND) {
        throw ApiException.unavailable("image-gateway could not delete image " + imageId, e);
      }
    }
  }
}
