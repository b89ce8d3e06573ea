package io.stratus.conductor.api;

import io.grpc.stub.StreamObserver;
import io.stratus.conductor.config.ApiToken;
import io.stratus.proto.conductor.v1.IdentityGrpc;
import io.stratus.proto.conductor.v1.ValidateTokenRequest;
import io.stratus.proto.conductor.v1.ValidateTokenResponse;
import io.stratus.support.errors.ApiException;
import io.stratus.support.grpc.GrpcErrors;
import java.util.Map;

/**
 * gRPC adapter of {@code conductor.v1.Identity}: the image-gateway resolves a user's token
 * to the project, user and role the public API would give it (the same token table).
 */
public final class IdentityService extends IdentityGrpc.IdentityImplBase {
  private final Map<String, ApiToken> tokens;

  public IdentityService(Map<String, ApiToken> tokens) {
    this.tokens = Map.copyOf(tokens);
  }

  @Override
  public void validateToken(ValidateTokenRequest r, StreamObserver<ValidateTokenResponse> o) {
    GrpcErrors.unary(o, () -> {
      String token = r.getToken();
      if (token.isBlank() || token.length() > 512) {
        throw ApiException.invalidArgument("token", "must be 1 to 512 characters");
      }
      ApiToken t = tokens.get(token);
      if (t == null) {
        throw ApiException.unauthenticated("token: unknown");
      }
      return ValidateTokenResponse.newBuilder().setProjectId(t.projectId())
          .setUserId(t.userId()).setAdmin(t.role() == ApiToken.Role.ADMIN).build();
    });
  }
}
