package io.stratus.conductor.db;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.UUID;

/** An issued API token: who it speaks for, and the SHA-256 of its secret (never the secret). */
@Entity
@Table(name = "api_tokens")
public class ApiTokenEntity {
  @Id
  private UUID id;

  @Column(name = "token_hash")
  private String tokenHash;

  @Column(name = "project_id")
  private String projectId;

  @Column(name = "user_id")
  private String userId;

  private String role;

  private String description;

  @Column(name = "created_by")
  private String createdBy;

  @Column(name = "created_at")
  private Instant createdAt;

  @Column(name = "expires_at")
  private Instant expiresAt;

  @Column(name = "revoked_at")
  private Instant revokedAt;

  protected ApiTokenEntity() {}

  public ApiTokenEntity(UUID id, String tokenHash, String projectId, String userId, String role,
      String description, String createdBy, Instant createdAt, Instant expiresAt) {
    this.id = id;
    this.tokenHash = tokenHash;
    this.projectId = projectId;
    this.userId = userId;
    this.role = role;
    this.description = description;
    this.createdBy = createdBy;
    this.createdAt = createdAt;
    this.expiresAt = expiresAt;
  }

  public UUID id() {
    return id;
  }

  public String projectId() {
    return projectId;
  }

  public String userId() {
    return userId;
  }

  /** {@code member} or {@code admin}. */
  public String role() {
    return role;
  }

  public String description() {
    return description;
  }

  public String createdBy() {
    return createdBy;
  }

  public Instant createdAt() {
    return createdAt;
  }

  /** Null: no expiry. */
  public Instant expiresAt() {
    return expiresAt;
  }

  /** Null: not revoked. */
  public Instant revokedAt() {
    return revokedAt;
  }

  /** Revokes the token (no-op when it already is). */
  public void revoke(Instant at) {
    if (revokedAt == null) {
      revokedAt = at;
    }
  }
}
