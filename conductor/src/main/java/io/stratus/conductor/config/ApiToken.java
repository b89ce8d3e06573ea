package io.stratus.conductor.config;

/** Who a bearer token speaks for: a project, a user and a role. */
public record ApiToken(String projectId, String userId, Role role) {
  /** Roles of the public API. */
  public enum Role {
    MEMBER,
    ADMIN
  }
}
