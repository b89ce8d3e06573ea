package io.stratus.conductor.api;

import io.grpc.stub.StreamObserver;
import io.stratus.conductor.identity.Tokens;
import io.stratus.proto.conductor.v1.IdentityGrpc;
import io.stratus.proto.conductor.v1.ValidateTokenRequest;
import io.stratus.proto.conductor.v1.ValidateTokenResponse;
import io.stratus.support.errors.ApiException;
import io.stratus.support.grpc.GrpcErrors;

/**
 * gRPC adapter of {@code conductor.v1.Identity}: the image-gateway resolves a user's token
 * to the project, user and role the public API would give it (the same {@link Tokens}).
 */
public final class IdentityService extends IdentityGrpc.IdentityImplBase {
  private final Tokens tokens;

  public IdentityService(Tokens tokens) {
    this.tokens = tokens;
  }

  @Override
  public void validateToken(ValidateTokenRequest r, StreamObserver<ValidateTokenResponse> o) {
    GrpcErrors.unary(o, () -> {
      String token = r.getToken();
      if (token.isBlank() || token.length() > 512) {
        throw ApiException.invalidArgument("token", "must be 1 to 512 characters");
      }
      var caller = tokens.resolve(token).orElseThrow(
          () -> ApiException.unauthenticated("token: unknown, expired or revoked"));
      return ValidateTokenResponse.newBuilder().setProjectId(caller.projectId())
          .setUserId(caller.userId()).setAdmin(caller.admin()).build();
    });
  }
}
