package io.stratus.conductor.db;

import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.hibernate.Session;

/** Reads and writes {@code api_tokens}. Expiry is judged by the database's clock. */
public final class TokenStore {

  public void insert(Session session, ApiTokenEntity token) {
    session.persist(token);
  }

  public Optional<ApiTokenEntity> find(Session session, UUID id) {
    return Optional.ofNullable(session.find(ApiTokenEntity.class, id));
  }

  /** The token with this hash, if it is neither revoked nor expired now. */
  public Optional<ApiTokenEntity> findUsable(Session session, String tokenHash) {
    return session.createNativeQuery("SELECT * FROM api_tokens WHERE token_hash = :hash"
            + " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
            ApiTokenEntity.class)
        .setParameter("hash", tokenHash)
        .uniqueResultOptional();
  }

  /** Tokens newest first; of one project when {@code projectId} is not empty. */
  public List<ApiTokenEntity> list(Session session, String projectId, boolean includeRevoked) {
    String where = (projectId.isEmpty() ? "1 = 1" : "t.projectId = :project")
        + (includeRevoked ? "" : " and t.revokedAt is null");
    var query = session.createSelectionQuery("from ApiTokenEntity t where " + where
        + " order by t.createdAt desc", ApiTokenEntity.class);
    if (!projectId.isEmpty()) {
      query.setParameter("project", projectId);
    }
    return query.setMaxResults(10_000).getResultList();
  }
}
