package io.stratus.conductor.identity;

import io.stratus.conductor.config.ApiToken;
import java.time.Instant;
import java.util.UUID;

/**
 * An issued token as the API shows it: never its secret.
 *
 * @param expiresAt null: no expiry
 * @param revokedAt null: not revoked
 */
public record TokenView(UUID id, String projectId, String userId, ApiToken.Role role,
    String description, String createdBy, Instant createdAt, Instant expiresAt,
    Instant revokedAt) {}
