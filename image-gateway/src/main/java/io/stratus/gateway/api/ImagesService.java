package io.stratus.gateway.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.stratus.gateway.checksum.ChecksumFiller;
import io.stratus.gateway.domain.ImageAccess;
import io.stratus.gateway.domain.ImageCatalog;
import io.stratus.gateway.domain.ImageMembers;
import io.stratus.gateway.domain.ImageMessages;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.ImageStatus;
import io.stratus.gateway.domain.NewImage;
import io.stratus.gateway.identity.ImageCaller;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.RbdDirectImport;
import io.stratus.gateway.upload.UploadLimits;
import io.stratus.gateway.upload.UploadSession;
import io.stratus.gateway.upload.UploadSlots;
import io.stratus.proto.image.v1.ActivateEmptyImageRequest;
import io.stratus.proto.image.v1.AddImageMemberRequest;
import io.stratus.proto.image.v1.ImageMember;
import io.stratus.proto.image.v1.ListImageMembersRequest;
import io.stratus.proto.image.v1.ListImageMembersResponse;
import io.stratus.proto.image.v1.RemoveImageMemberRequest;
import io.stratus.proto.image.v1.RemoveImageMemberResponse;
import io.stratus.proto.image.v1.UpdateImageMemberRequest;
import io.stratus.proto.image.v1.ActivateEmptyImageResponse;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.CreateImageResponse;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.DeleteImageResponse;
import io.stratus.proto.image.v1.DownloadImageRequest;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.GetImageResponse;
import io.stratus.proto.image.v1.GetStoreInfoRequest;
import io.stratus.proto.image.v1.GetStoreInfoResponse;
import io.stratus.proto.image.v1.GetUploadStatusRequest;
import io.stratus.proto.image.v1.GetUploadStatusResponse;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.ImportRbdCloneRequest;
import io.stratus.proto.image.v1.ImportRbdCloneResponse;
import io.stratus.proto.image.v1.ListImagesRequest;
import io.stratus.proto.image.v1.ListImagesResponse;
import io.stratus.proto.image.v1.UpdateImageRequest;
import io.stratus.proto.image.v1.UpdateImageResponse;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.support.errors.ApiException;
import io.stratus.support.grpc.GrpcErrors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashSet;

/** gRPC adapter of {@code image.v1.Images}. */
public final class ImagesService extends ImagesGrpc.ImagesImplBase {
  private final ImageBackend backend;
  private final ImageCatalog catalog;
  private final ImageAccess access;
  private final UploadSlots uploadSlots;
  private final UploadLimits limits;
  private final int maxExtentBytes;
  private final ChecksumFiller checksums;
  private final ImageMembers members;

  /**
   * @param checksums the background pass after activation (digest check, md5 and sha512
   *     where the store does not compute them); null when checksums are off
   */
  public ImagesService(ImageBackend backend, UploadLimits limits, ChecksumFiller checksums) {
    this.backend = backend;
    this.catalog = new ImageCatalog(backend);
    this.access = new ImageAccess(backend, catalog);
    this.uploadSlots = new UploadSlots(limits.maxConcurrent(), limits.maxPerProject());
    this.limits = limits;
    this.maxExtentBytes = limits.maxExtentBytes();
    this.checksums = checksums;
    this.members = new ImageMembers(backend);
  }

  /** The rules this service applies, for the other adapters of the same images. */
  public ImageAccess access() {
    return access;
  }

  /** A new upload session (its slots and limits shared with this service's uploads). */
  public UploadSession newUploadSession() {
    return newSession();
  }

  /** What follows an upload that made an image active: the background checksum pass. */
  public ImageRecord afterActivation(ImageRecord active) {
    return activated(active);
  }

  private UploadSession newSession() {
    return new UploadSession(backend, uploadSlots, limits, checksums != null);
  }

  private ImageRecord activated(ImageRecord active) {
    if (checksums != null && (active.checksumPending() || active.digestPending())) {
      checksums.schedule(active.id());
    }
    return active;
  }

  /** The image, if the caller may see it; otherwise it does not exist for them. */
  private ImageRecord visible(String id) {
    return access.visible(ImageCaller.current(), id);
  }

  private ImageRecord visible(ImageCaller caller, String id) {
    return access.visible(caller, id);
  }

  /** The image, if the caller may upload to, change or delete it. */
  private ImageRecord changeable(String id) {
    return access.changeable(ImageCaller.current(), id);
  }

  private ImageRecord changeable(ImageCaller caller, String id) {
    return access.changeable(caller, id);
  }

  @Override
  public void createImage(CreateImageRequest r, StreamObserver<CreateImageResponse> o) {
    GrpcErrors.unary(o, () -> {
      ImageRecord created = access.create(ImageCaller.current(), new NewImage(r.getId(),
          r.getName(), r.getDiskFormat(), r.getContainerFormat(), r.getOwner(),
          r.getVisibility(), r.getMinDisk(), r.getMinRam(), r.getPropertiesMap()),
          r.getProtected());
      return CreateImageResponse.newBuilder().setImage(ImageMessages.toProto(created)).build();
    });
  }

  @Override
  public void getImage(GetImageRequest r, StreamObserver<GetImageResponse> o) {
    GrpcErrors.unary(o, () -> GetImageResponse.newBuilder()
        .setImage(ImageMessages.toProto(visible(r.getImageId()))).build());
  }

  @Override
  public void listImages(ListImagesRequest r, StreamObserver<ListImagesResponse> o) {
    GrpcErrors.unary(o, () -> {
      ImageStatus status = switch (r.getStatus()) {
        case IMAGE_STATUS_UNSPECIFIED -> null;
        case UNRECOGNIZED -> throw ApiException.invalidArgument("status", "unknown value");
        default -> ImageStatus.valueOf(r.getStatus().name().substring("IMAGE_STATUS_".length()));
      };
      var page = access.list(ImageCaller.current(), r.getOwner(), status,
          r.getPropertiesMap(), r.getPageSize(), r.getPageToken());
      var b = ListImagesResponse.newBuilder().setNextPageToken(page.nextToken());
      page.images().forEach(i -> b.addImages(ImageMessages.toProto(i)));
      return b.build();
    });
  }

  @Override
  public void updateImage(UpdateImageRequest r, StreamObserver<UpdateImageResponse> o) {
    GrpcErrors.unary(o, () -> UpdateImageResponse.newBuilder().setImage(ImageMessages.toProto(
        access.update(ImageCaller.current(), r.getImageId(), r.getName(),
            r.getSetPropertiesMap(), new HashSet<>(r.getRemovePropertiesList()),
            r.hasProtected() ? r.getProtected() : null))).build());
  }

  @Override
  public void deleteImage(DeleteImageRequest r, StreamObserver<DeleteImageResponse> o) {
    GrpcErrors.unary(o, () -> {
      access.delete(ImageCaller.current(), r.getImageId(), r.getVolumeSnapshotsReleased());
      return DeleteImageResponse.getDefaultInstance();
    });
  }

  @Override
  public void addImageMember(AddImageMemberRequest r, StreamObserver<ImageMember> o) {
    GrpcErrors.unary(o, () -> {
      ImageRecord image = changeable(r.getImageId());
      String member = ImageMembers.member(r.getMember());
      return member(image, member, members.add(image, member));
    });
  }

  @Override
  public void updateImageMember(UpdateImageMemberRequest r, StreamObserver<ImageMember> o) {
    GrpcErrors.unary(o, () -> {
      ImageCaller caller = ImageCaller.current();
      ImageRecord image = visible(caller, r.getImageId());
      String member = ImageMembers.member(r.getMember());
      if (!caller.service() && !caller.admin() && !member.equals(caller.project())) {
        throw ApiException.permissionDenied("member: only project " + member
            + " itself accepts or rejects its membership");
      }
      return member(image, member, members.setStatus(image, member, r.getStatus()));
    });
  }

  @Override
  public void listImageMembers(ListImageMembersRequest r,
      StreamObserver<ListImageMembersResponse> o) {
    GrpcErrors.unary(o, () -> {
      ImageCaller caller = ImageCaller.current();
      ImageRecord image = visible(caller, r.getImageId());
      var b = ListImageMembersResponse.newBuilder();
      ImageMembers.of(image).forEach((member, status) -> {
        if (caller.mayChange(image) || member.equals(caller.project())) {
          b.addMembers(member(image, member, status));
        }
      });
      return b.build();
    });
  }

  @Override
  public void removeImageMember(RemoveImageMemberRequest r,
      StreamObserver<RemoveImageMemberResponse> o) {
    GrpcErrors.unary(o, () -> {
      ImageRecord image = changeable(r.getImageId());
      members.remove(image, ImageMembers.member(r.getMember()));
      return RemoveImageMemberResponse.getDefaultInstance();
    });
  }

  private static ImageMember member(ImageRecord image, String member, String status) {
    return ImageMember.newBuilder().setImageId(image.id()).setMember(member).setStatus(status)
        .build();
  }

  @Override
  public void getStoreInfo(GetStoreInfoRequest r, StreamObserver<GetStoreInfoResponse> o) {
    GrpcErrors.unary(o, () -> {
      var info = backend.info();
      return GetStoreInfoResponse.newBuilder().setBackend(info.backend())
          .setCephFsid(info.cephFsid()).setCephPool(info.cephPool()).build();
    });
  }

  @Override
  public void activateEmptyImage(ActivateEmptyImageRequest r,
      StreamObserver<ActivateEmptyImageResponse> o) {
    GrpcErrors.unary(o, () -> {
      try {
        return ActivateEmptyImageResponse.newBuilder()
            .setImage(ImageMessages.toProto(activated(newSession().empty(r.getImageId()))))
            .build();
      } catch (IOException e) {
        throw UploadSession.storeFailure(r.getImageId(), e);
      }
    });
  }

  @Override
  public void getUploadStatus(GetUploadStatusRequest r, StreamObserver<GetUploadStatusResponse> o) {
    GrpcErrors.unary(o, () -> {
      ImageRecord image = changeable(r.getImageId());
      try {
        return GetUploadStatusResponse.newBuilder()
            .setCommittedOffset(backend.resumableOffset(image.id(), r.getUploadId())).build();
      } catch (IOException e) {
        throw UploadSession.storeFailure(image.id(), e);
      }
    });
  }

  @Override
  public void importRbdClone(ImportRbdCloneRequest r, StreamObserver<ImportRbdCloneResponse> o) {
    GrpcErrors.unary(o, () -> {
      if (!(backend instanceof RbdDirectImport rbd)) {
        throw ApiException.failedPrecondition("the image store is " + backend.info().backend()
            + ", not Ceph RBD: stream the bytes instead");
      }
      ImageRecord image = catalog.get(r.getImageId());
      try {
        return ImportRbdCloneResponse.newBuilder().setImage(ImageMessages.toProto(rbd.importClone(
            image, r.getCephFsid(), r.getSourcePool(), r.getSourceImage(), r.getSourceSnapshot())))
            .build();
      } catch (IOException e) {
        throw UploadSession.storeFailure(image.id(), e);
      }
    });
  }

  /**
   * Client-streaming upload with manual flow control: one message is requested at a time
   * and only after the previous one was written, so memory per upload stays at one extent.
   * An uploader that sends nothing for {@link UploadLimits#idle} after the gateway asked
   * for its next message loses the call (see {@link UploadObserver}).
   */
  @Override
  public StreamObserver<UploadImageRequest> uploadImage(StreamObserver<UploadImageResponse> o) {
    var call = (ServerCallStreamObserver<UploadImageResponse>) o;
    call.disableAutoRequest();
    UploadSession session = newSession();
    ImageCaller caller = ImageCaller.current();
    UploadObserver in = new UploadObserver(call, session, limits.idle(), this::activated,
        id -> changeable(caller, id));
    in.start();
    return in;
  }

  /** Server-streaming download paced by the client's readiness (flow control). */
  @Override
  public void downloadImage(DownloadImageRequest r, StreamObserver<DownloadImageResponse> o) {
    ImageRecord image;
    try {
      image = visible(r.getImageId());
      if (image.status() != ImageStatus.ACTIVE) {
        throw ApiException.failedPrecondition("image " + image.id() + " is "
            + image.status().glanceName() + ", not active");
      }
    } catch (RuntimeException e) {
      o.onError(GrpcErrors.toStatus(e));
      return;
    }
    var call = (ServerCallStreamObserver<DownloadImageResponse>) o;
    try {
      new DownloadPump(call, image, backend.open(image), maxExtentBytes).start();
    } catch (IOException e) {
      o.onError(GrpcErrors.toStatus(UploadSession.storeFailure(image.id(), e)));
    } catch (UncheckedIOException e) {
      o.onError(GrpcErrors.toStatus(UploadSession.storeFailure(image.id(), e.getCause())));
    }
  }
}
