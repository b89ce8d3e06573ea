package io.stratus.conductor.db;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;

/**
 * A user of the Keystone subset: a name in a domain, a salted password hash (never the
 * password), and the one project and role its tokens carry.
 */
@Entity
@Table(name = "users")
public class UserEntity {
  @Id
  private String id;

  private String name;

  private String domain;

  @Column(name = "password_hash")
  private String passwordHash;

  @Column(name = "project_id")
  private String projectId;

  private String role;

  private boolean enabled;

  @Column(name = "created_at")
  private Instant createdAt;

  protected UserEntity() {}

  public UserEntity(String id, String name, String domain, String passwordHash,
      String projectId, String role, Instant createdAt) {
    this.id = id;
    this.name = name;
    this.domain = domain;
    this.passwordHash = passwordHash;
    this.projectId = projectId;
    this.role = role;
    this.enabled = true;
    this.createdAt = createdAt;
  }

  public String id() {
    return id;
  }

  public String name() {
    return name;
  }

  public String domain() {
    return domain;
  }

  public String passwordHash() {
    return passwordHash;
  }

  public String projectId() {
    return projectId;
  }

  public String role() {
    return role;
  }

  public boolean enabled() {
    return enabled;
  }

  /** Sets what a bootstrap entry says (password, project, role), re-enabling the user. */
  public void reset(String passwordHash, String projectId, String role) {
    this.passwordHash = passwordHash;
    this.projectId = projectId;
    this.role = role;
    this.enabled = true;
  }
}
