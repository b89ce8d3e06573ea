package io.stratus.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.ListServersRequest;
import io.stratus.proto.image.v1.AddImageMemberRequest;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.DownloadImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.GetUploadStatusRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ListImageMembersRequest;
import io.stratus.proto.image.v1.ListImagesRequest;
import io.stratus.proto.image.v1.RemoveImageMemberRequest;
import io.stratus.proto.image.v1.UpdateImageMemberRequest;
import io.stratus.proto.image.v1.UpdateImageRequest;
import io.stratus.support.imageio.ImageUploader;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Images belong to projects (Glance's model), through the real gateway and conductor: the
 * owner comes from the caller's token, another project's private image does not exist for a
 * member of another project (read, list, download, change, upload, delete, boot), an admin
 * sees everything, and only an admin publishes.
 */
class ProjectImagesEndToEndTest {
  static StratusSystem system;

  @BeforeAll
  static void start() throws Exception {
    system = new StratusSystem();
  }

  @AfterAll
  static void stop() throws Exception {
    if (system != null) {
      system.close();
    }
  }

  private static Image create(String token, String name, String owner, String visibility) {
    return system.images(token).createImage(CreateImageRequest.newBuilder().setName(name)
        .setDiskFormat("raw").setContainerFormat("bare").setOwner(owner)
        .setVisibility(visibility).build()).getImage();
  }

  private static void notFound(Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode(), e.getStatus().toString());
  }

  @Test
  void theOwnerIsTheCallersProjectWhateverTheRequestSays() {
    Image mine = create(StratusSystem.MEMBER, "mine", "", "private");
    assertEquals("e2e-project", mine.getOwner());

    StatusRuntimeException other = assertThrows(StatusRuntimeException.class,
        () -> create(StratusSystem.MEMBER, "theirs", "other-project", "private"));
    assertEquals(Status.Code.PERMISSION_DENIED, other.getStatus().getCode());
    assertTrue(other.getStatus().getDescription().startsWith("owner: "),
        other.getStatus().getDescription());

    StatusRuntimeException publish = assertThrows(StatusRuntimeException.class,
        () -> create(StratusSystem.MEMBER, "everyone", "", "public"));
    assertEquals(Status.Code.PERMISSION_DENIED, publish.getStatus().getCode());
    assertTrue(publish.getStatus().getDescription().startsWith("visibility: "),
        publish.getStatus().getDescription());
    assertFalse(system.images(StratusSystem.ADMIN).listImages(ListImagesRequest.getDefaultInstance())
        .getImagesList().stream().anyMatch(i -> List.of("theirs", "everyone")
            .contains(i.getName())), "a refused create leaves no image");

    Image published = create(StratusSystem.ADMIN, "published", "", "public");
    assertEquals("admin", published.getOwner());
  }

  @Test
  void anotherProjectsPrivateImageDoesNotExistForAMemberOfAnotherProject() throws Exception {
    String id = create(StratusSystem.MEMBER, "private-of-a", "", "private").getId();
    var b = system.images(StratusSystem.MEMBER_B);

    notFound(() -> b.getImage(GetImageRequest.newBuilder().setImageId(id).build()));
    notFound(() -> b.downloadImage(DownloadImageRequest.newBuilder().setImageId(id).build())
        .hasNext());
    notFound(() -> b.updateImage(UpdateImageRequest.newBuilder().setImageId(id)
        .putSetProperties("stolen", "yes").build()));
    notFound(() -> b.getUploadStatus(GetUploadStatusRequest.newBuilder().setImageId(id)
        .setUploadId("u").build()));
    notFound(() -> b.deleteImage(DeleteImageRequest.newBuilder().setImageId(id).build()));
    StatusRuntimeException upload = assertThrows(StatusRuntimeException.class, () -> {
      try (ImageUploader out = ImageUploader.start(io.grpc.ClientInterceptors.intercept(
          system.gatewayChannel, io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(
              StratusSystem.bearer(StratusSystem.MEMBER_B))), id, "steal", 1 << 20, 0)) {
        out.finish(java.time.Duration.ofSeconds(30));
      }
    });
    assertEquals(Status.Code.NOT_FOUND, upload.getStatus().getCode(), upload.getStatus().toString());
    assertFalse(b.listImages(ListImagesRequest.getDefaultInstance()).getImagesList().stream()
        .anyMatch(i -> i.getId().equals(id)));

    // booting it through the conductor: NOT_FOUND too, and no server is recorded
    StatusRuntimeException boot = assertThrows(StatusRuntimeException.class,
        () -> system.servers(StratusSystem.MEMBER_B).createServer(CreateServerRequest.newBuilder()
            .setName("b-steals").setImageRef(id)
            .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128)).build()));
    assertEquals(Status.Code.NOT_FOUND, boot.getStatus().getCode());
    assertTrue(system.servers(StratusSystem.MEMBER_B).listServers(
        ListServersRequest.getDefaultInstance()).getServersList().isEmpty());

    // untouched, and the owner and an admin still see it
    Image still = system.images(StratusSystem.MEMBER)
        .getImage(GetImageRequest.newBuilder().setImageId(id).build()).getImage();
    assertFalse(still.getPropertiesMap().containsKey("stolen"));
    assertEquals(io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_QUEUED, still.getStatus());
    Consumer<String> adminSees = token -> assertTrue(system.images(token)
        .listImages(ListImagesRequest.getDefaultInstance()).getImagesList().stream()
        .anyMatch(i -> i.getId().equals(id)));
    adminSees.accept(StratusSystem.ADMIN);
    adminSees.accept(StratusSystem.MEMBER);
  }

  @Test
  void aPublicImageIsReadByEveryoneAndChangedByItsOwnerOnly() {
    String id = create(StratusSystem.ADMIN, "base-public", "", "public").getId();
    var b = system.images(StratusSystem.MEMBER_B);
    assertEquals(id, b.getImage(GetImageRequest.newBuilder().setImageId(id).build()).getImage()
        .getId());
    assertTrue(b.listImages(ListImagesRequest.getDefaultInstance()).getImagesList().stream()
        .anyMatch(i -> i.getId().equals(id)));
    StatusRuntimeException delete = assertThrows(StatusRuntimeException.class,
        () -> b.deleteImage(DeleteImageRequest.newBuilder().setImageId(id).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, delete.getStatus().getCode());
  }

  private static String[] cli(String token, String... args) {
    return system.cli(token, args);
  }

  private static String field(String json, String name) {
    var m = java.util.regex.Pattern.compile("\"" + name + "\"\\s*:\\s*\"([^\"]+)\"")
        .matcher(json);
    assertTrue(m.find(), "no " + name + " in " + json);
    return m.group(1);
  }

  @Test
  void aTokenIssuedWithTheCliOpensItsProjectUntilRevoked() {
    String[] denied = cli(StratusSystem.MEMBER, "token", "create", "--project", "cli-project",
        "--user", "carol");
    assertEquals("1", denied[0], denied[1] + denied[2]);

    String[] created = cli(StratusSystem.ADMIN, "token", "create", "--project", "cli-project",
        "--user", "carol", "--expires-in", "8h", "--description", "e2e", "-f", "json");
    assertEquals("0", created[0], created[2]);
    String secret = field(created[1], "token");
    String id = field(created[1], "id");

    Image image = create(secret, "carols", "", "private");
    assertEquals("cli-project", image.getOwner());
    system.servers(secret).listServers(ListServersRequest.getDefaultInstance());

    String[] revoked = cli(StratusSystem.ADMIN, "token", "revoke", id);
    assertEquals("0", revoked[0], revoked[2]);
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> system.servers(secret).listServers(ListServersRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
    String[] listed = cli(StratusSystem.ADMIN, "token", "list", "--project", "cli-project",
        "--all");
    assertTrue(listed[1].contains(id), listed[1]);
    assertFalse(listed[1].contains(secret), "a listing never shows a secret");
  }

  @Test
  void aSharedImageIsSeenByTheMembersItsOwnerAddsAndListedOnceAccepted() {
    String id = create(StratusSystem.MEMBER, "shared-by-a", "", "shared").getId();
    var a = system.images(StratusSystem.MEMBER);
    var b = system.images(StratusSystem.MEMBER_B);
    GetImageRequest get = GetImageRequest.newBuilder().setImageId(id).build();
    notFound(() -> b.getImage(get));
    // only the owner adds members; a stranger's attempt finds no image
    notFound(() -> b.addImageMember(AddImageMemberRequest.newBuilder().setImageId(id)
        .setMember("other-project").build()));

    assertEquals("pending", a.addImageMember(AddImageMemberRequest.newBuilder().setImageId(id)
        .setMember("other-project").build()).getStatus());
    assertEquals(id, b.getImage(get).getImage().getId(), "a pending member sees it by id");
    assertFalse(listed(b, id), "but it is not listed until accepted");
    StatusRuntimeException notOwner = assertThrows(StatusRuntimeException.class,
        () -> b.deleteImage(DeleteImageRequest.newBuilder().setImageId(id).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, notOwner.getStatus().getCode());
    StatusRuntimeException forSomeoneElse = assertThrows(StatusRuntimeException.class,
        () -> a.updateImageMember(UpdateImageMemberRequest.newBuilder().setImageId(id)
            .setMember("other-project").setStatus("accepted").build()));
    assertEquals(Status.Code.PERMISSION_DENIED, forSomeoneElse.getStatus().getCode());

    assertEquals("accepted", b.updateImageMember(UpdateImageMemberRequest.newBuilder()
        .setImageId(id).setMember("other-project").setStatus("accepted").build()).getStatus());
    assertTrue(listed(b, id));
    assertEquals(1, b.listImageMembers(ListImageMembersRequest.newBuilder().setImageId(id)
        .build()).getMembersCount());

    a.removeImageMember(RemoveImageMemberRequest.newBuilder().setImageId(id)
        .setMember("other-project").build());
    notFound(() -> b.getImage(get));

    // members are for shared images only
    String priv = create(StratusSystem.MEMBER, "private-no-members", "", "private").getId();
    StatusRuntimeException notShared = assertThrows(StatusRuntimeException.class,
        () -> a.addImageMember(AddImageMemberRequest.newBuilder().setImageId(priv)
            .setMember("other-project").build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, notShared.getStatus().getCode());
  }

  private static boolean listed(io.stratus.proto.image.v1.ImagesGrpc.ImagesBlockingStub s,
      String id) {
    return s.listImages(ListImagesRequest.getDefaultInstance()).getImagesList().stream()
        .anyMatch(i -> i.getId().equals(id));
  }

  @Test
  void anUnknownTokenOpensNoImage() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> system.images("no-such-token").listImages(ListImagesRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
  }
}
