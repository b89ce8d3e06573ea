package io.stratus.conductor.api;

import com.google.protobuf.Timestamp;
import io.grpc.stub.StreamObserver;
import io.stratus.conductor.config.ApiToken;
import io.stratus.conductor.identity.TokenView;
import io.stratus.conductor.identity.Tokens;
import io.stratus.proto.conductor.v1.CreateTokenRequest;
import io.stratus.proto.conductor.v1.CreateTokenResponse;
import io.stratus.proto.conductor.v1.ListTokensRequest;
import io.stratus.proto.conductor.v1.ListTokensResponse;
import io.stratus.proto.conductor.v1.RevokeTokenRequest;
import io.stratus.proto.conductor.v1.RevokeTokenResponse;
import io.stratus.proto.conductor.v1.TokenInfo;
import io.stratus.proto.conductor.v1.TokenRole;
import io.stratus.proto.conductor.v1.TokensGrpc;
import io.stratus.support.grpc.GrpcErrors;
import java.time.Instant;

/** gRPC adapter of {@code conductor.v1.Tokens} (admin only; the rules are in {@link Tokens}). */
public final class TokensService extends TokensGrpc.TokensImplBase {
  private final Tokens tokens;

  public TokensService(Tokens tokens) {
    this.tokens = tokens;
  }

  @Override
  public void createToken(CreateTokenRequest r, StreamObserver<CreateTokenResponse> o) {
    GrpcErrors.unary(o, () -> {
      ApiToken.Role role = switch (r.getRole()) {
        case TOKEN_ROLE_MEMBER -> ApiToken.Role.MEMBER;
        case TOKEN_ROLE_ADMIN -> ApiToken.Role.ADMIN;
        default -> null;
      };
      Tokens.Issued issued = tokens.create(AuthInterceptor.caller(), r.getProjectId(),
          r.getUserId(), role, r.getTtlSeconds(), r.getDescription());
      return CreateTokenResponse.newBuilder().setToken(issued.secret())
          .setInfo(info(issued.view())).build();
    });
  }

  @Override
  public void listTokens(ListTokensRequest r, StreamObserver<ListTokensResponse> o) {
    GrpcErrors.unary(o, () -> {
      var b = ListTokensResponse.newBuilder();
      tokens.list(AuthInterceptor.caller(), r.getProjectId(), r.getIncludeRevoked())
          .forEach(v -> b.addTokens(info(v)));
      return b.build();
    });
  }

  @Override
  public void revokeToken(RevokeTokenRequest r, StreamObserver<RevokeTokenResponse> o) {
    GrpcErrors.unary(o, () -> RevokeTokenResponse.newBuilder()
        .setInfo(info(tokens.revoke(AuthInterceptor.caller(), r.getTokenId()))).build());
  }

  private static TokenInfo info(TokenView v) {
    var b = TokenInfo.newBuilder().setId(v.id().toString()).setProjectId(v.projectId())
        .setUserId(v.userId())
        .setRole(v.role() == ApiToken.Role.ADMIN ? TokenRole.TOKEN_ROLE_ADMIN
            : TokenRole.TOKEN_ROLE_MEMBER)
        .setDescription(v.description()).setCreatedBy(v.createdBy())
        .setCreatedAt(ts(v.createdAt()));
    if (v.expiresAt() != null) {
      b.setExpiresAt(ts(v.expiresAt()));
    }
    if (v.revokedAt() != null) {
      b.setRevokedAt(ts(v.revokedAt()));
    }
    return b.build();
  }

  private static Timestamp ts(Instant i) {
    return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
  }
}
