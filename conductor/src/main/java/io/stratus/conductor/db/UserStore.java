package io.stratus.conductor.db;

import java.util.Optional;
import org.hibernate.Session;

/** Reads and writes {@code users}. */
public final class UserStore {

  public void insert(Session session, UserEntity user) {
    session.persist(user);
  }

  public Optional<UserEntity> find(Session session, String id) {
    return Optional.ofNullable(session.find(UserEntity.class, id));
  }

  /** The user named {@code name} in {@code domain}. */
  public Optional<UserEntity> byName(Session session, String domain, String name) {
    return session.createSelectionQuery(
            "from UserEntity u where u.domain = :d and u.name = :n", UserEntity.class)
        .setParameter("d", domain)
        .setParameter("n", name)
        .uniqueResultOptional();
  }
}
