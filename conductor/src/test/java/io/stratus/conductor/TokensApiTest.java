package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.ADMIN;
import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.stratus.proto.conductor.v1.CreateTokenRequest;
import io.stratus.proto.conductor.v1.CreateTokenResponse;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.IdentityGrpc;
import io.stratus.proto.conductor.v1.ListServersRequest;
import io.stratus.proto.conductor.v1.ListTokensRequest;
import io.stratus.proto.conductor.v1.RevokeTokenRequest;
import io.stratus.proto.conductor.v1.TokenRole;
import io.stratus.proto.conductor.v1.TokensGrpc;
import io.stratus.proto.conductor.v1.ValidateTokenRequest;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Tokens in PostgreSQL through the public API: issued by an admin, stored as their SHA-256
 * only, scoped to their project, refused once revoked or expired (by the database's clock),
 * managed by admins only, and every malformed request refused with the field named and
 * nothing written.
 */
class TokensApiTest extends ConductorTest {
  static TokensGrpc.TokensBlockingStub tokens(String token) {
    return TokensGrpc.newBlockingStub(h.channel())
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ConductorHarness.bearer(token)))
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  static CreateTokenRequest.Builder request(String project) {
    return CreateTokenRequest.newBuilder().setProjectId(project).setUserId("user-of-" + project)
        .setRole(TokenRole.TOKEN_ROLE_MEMBER).setDescription("ci");
  }

  static String sha256(String s) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
        .digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  @Test
  void anIssuedTokenSpeaksForItsProjectAndOnlyItsHashIsStored() throws Exception {
    String other = h.bootActive("a-private-server");
    CreateTokenResponse issued = tokens(ADMIN).createToken(request("project-t1").build());
    String secret = issued.getToken();
    assertTrue(secret.startsWith("stt_") && secret.length() > 40, secret);
    assertEquals("project-t1", issued.getInfo().getProjectId());
    assertEquals("admin-user", issued.getInfo().getCreatedBy());

    assertTrue(h.servers(secret).listServers(ListServersRequest.getDefaultInstance())
        .getServersList().isEmpty(), "a new project has no servers");
    refused(Status.Code.NOT_FOUND, () -> h.servers(secret).getServer(
        GetServerRequest.newBuilder().setServerId(other).build()));
    var who = IdentityGrpc.newBlockingStub(h.channel()).validateToken(
        ValidateTokenRequest.newBuilder().setToken(secret).build());
    assertEquals("project-t1", who.getProjectId());
    assertFalse(who.getAdmin());

    assertEquals(1, h.count("SELECT count(*) FROM api_tokens WHERE token_hash = ?",
        sha256(secret)));
    assertEquals(0, h.count("SELECT count(*) FROM api_tokens WHERE token_hash = ? OR"
        + " description = ? OR project_id = ? OR user_id = ?", secret, secret, secret, secret));
  }

  @Test
  void aRevokedOrExpiredTokenIsUnauthenticatedAtOnce() throws Exception {
    String revoked = tokens(ADMIN).createToken(request("project-t2").build()).getToken();
    String id = tokens(ADMIN).listTokens(ListTokensRequest.newBuilder()
        .setProjectId("project-t2").build()).getTokens(0).getId();
    h.servers(revoked).listServers(ListServersRequest.getDefaultInstance());
    var info = tokens(ADMIN).revokeToken(RevokeTokenRequest.newBuilder().setTokenId(id).build())
        .getInfo();
    assertTrue(info.hasRevokedAt());
    var e = refused(Status.Code.UNAUTHENTICATED,
        () -> h.servers(revoked).listServers(ListServersRequest.getDefaultInstance()));
    assertEquals("authorization: unknown, expired or revoked token", e.getStatus().getDescription());
    refused(Status.Code.UNAUTHENTICATED, () -> IdentityGrpc.newBlockingStub(h.channel())
        .validateToken(ValidateTokenRequest.newBuilder().setToken(revoked).build()));
    // revoking again changes nothing; the list hides revoked tokens unless asked
    assertEquals(info.getRevokedAt(), tokens(ADMIN).revokeToken(
        RevokeTokenRequest.newBuilder().setTokenId(id).build()).getInfo().getRevokedAt());
    assertTrue(tokens(ADMIN).listTokens(ListTokensRequest.newBuilder()
        .setProjectId("project-t2").build()).getTokensList().isEmpty());
    assertEquals(1, tokens(ADMIN).listTokens(ListTokensRequest.newBuilder()
        .setProjectId("project-t2").setIncludeRevoked(true).build()).getTokensCount());

    String expiring = tokens(ADMIN).createToken(request("project-t3").setTtlSeconds(3600).build())
        .getToken();
    h.servers(expiring).listServers(ListServersRequest.getDefaultInstance());
    h.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second'"
        + " WHERE token_hash = ?", sha256(expiring));
    refused(Status.Code.UNAUTHENTICATED,
        () -> h.servers(expiring).listServers(ListServersRequest.getDefaultInstance()));
  }

  @Test
  void onlyAnAdminManagesTokens() throws Exception {
    long before = h.count("SELECT count(*) FROM api_tokens");
    refused(Status.Code.PERMISSION_DENIED,
        () -> tokens(MEMBER_A).createToken(request("project-a").build()));
    refused(Status.Code.PERMISSION_DENIED,
        () -> tokens(MEMBER_A).listTokens(ListTokensRequest.getDefaultInstance()));
    refused(Status.Code.PERMISSION_DENIED, () -> tokens(MEMBER_A).revokeToken(
        RevokeTokenRequest.newBuilder().setTokenId(UUID.randomUUID().toString()).build()));
    refused(Status.Code.UNAUTHENTICATED,
        () -> tokens("stt_made-up").listTokens(ListTokensRequest.getDefaultInstance()));
    assertEquals(before, h.count("SELECT count(*) FROM api_tokens"));
  }

  @Test
  void malformedRequestsNameTheFieldAndWriteNothing() throws Exception {
    long before = h.count("SELECT count(*) FROM api_tokens");
    record Bad(String field, Consumer<CreateTokenRequest.Builder> change) {}
    for (Bad bad : List.of(
        new Bad("project_id", b -> b.setProjectId("")),
        new Bad("project_id", b -> b.setProjectId("p\u0000x")),
        new Bad("project_id", b -> b.setProjectId("p".repeat(256))),
        new Bad("user_id", b -> b.setUserId(" ")),
        new Bad("user_id", b -> b.setUserId("u\nv")),
        new Bad("role", b -> b.setRole(TokenRole.TOKEN_ROLE_UNSPECIFIED)),
        new Bad("role", b -> b.setRoleValue(77)),
        new Bad("ttl_seconds", b -> b.setTtlSeconds(-1)),
        new Bad("ttl_seconds", b -> b.setTtlSeconds(59)),
        new Bad("ttl_seconds", b -> b.setTtlSeconds(Long.MAX_VALUE)),
        new Bad("description", b -> b.setDescription("d".repeat(256))),
        new Bad("description", b -> b.setDescription("tab\there")))) {
      CreateTokenRequest.Builder b = request("project-bad");
      bad.change().accept(b);
      var e = refused(Status.Code.INVALID_ARGUMENT, () -> tokens(ADMIN).createToken(b.build()));
      assertTrue(e.getStatus().getDescription().startsWith(bad.field() + ": "),
          bad.field() + " -> " + e.getStatus().getDescription());
    }
    var badId = refused(Status.Code.INVALID_ARGUMENT, () -> tokens(ADMIN).revokeToken(
        RevokeTokenRequest.newBuilder().setTokenId("../etc").build()));
    assertTrue(badId.getStatus().getDescription().startsWith("token_id: "));
    refused(Status.Code.NOT_FOUND, () -> tokens(ADMIN).revokeToken(
        RevokeTokenRequest.newBuilder().setTokenId(UUID.randomUUID().toString()).build()));
    refused(Status.Code.INVALID_ARGUMENT, () -> tokens(ADMIN).listTokens(
        ListTokensRequest.newBuilder().setProjectId("x\u0000").build()));
    assertEquals(before, h.count("SELECT count(*) FROM api_tokens"));
  }
}
