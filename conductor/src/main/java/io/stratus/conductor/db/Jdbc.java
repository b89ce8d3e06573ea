package io.stratus.conductor.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hibernate.Session;

/**
 * Plain JDBC statements in a Hibernate session's transaction, for the task path's few hot
 * writes: Hibernate's query machinery cost the conductor more CPU than PostgreSQL spent on
 * the statements (the control-plane benchmark's profile). Pending entity changes are
 * flushed first, as Hibernate does before a native statement.
 */
final class Jdbc {
  private static final Pattern NAMED = Pattern.compile("(?<!:):([a-z_]+)");

  /** The statements seen so far, parsed once: the task path has a few dozen shapes. */
  private static final Map<String, Named> PARSED = new java.util.concurrent.ConcurrentHashMap<>();

  private Jdbc() {}

  /** A statement with {@code :name} parameters as JDBC's {@code ?} and the names in order. */
  private record Named(String positional, List<String> names) {
    static Named parse(String sql) {
      List<String> names = new ArrayList<>();
      StringBuilder positional = new StringBuilder();
      Matcher m = NAMED.matcher(sql);
      while (m.find()) {
        names.add(m.group(1));
        m.appendReplacement(positional, "?");
      }
      m.appendTail(positional);
      return new Named(positional.toString(), List.copyOf(names));
    }
  }

  /**
   * Runs {@code sql} with {@code :name} parameters from {@code params} (a collection
   * binds as a text array: write {@code = ANY(:name)}); the number of rows changed.
   */
  static int update(Session session, String sql, Map<String, Object> params) {
    Named named = PARSED.computeIfAbsent(sql, Named::parse);
    Object[] values = values(named, sql, params);
    session.flush();
    return session.doReturningWork(c -> {
      try (PreparedStatement ps = prepare(c, named.positional(), values)) {
        return ps.executeUpdate();
      }
    });
  }

  /**
   * As {@link #update}, for a statement with a {@code RETURNING} clause that changes at most
   * one row: that row, read by {@code row}; empty when none changed.
   */
  static <T> java.util.Optional<T> updateReturning(Session session, String sql,
      Map<String, Object> params, Row<T> row) {
    Named named = PARSED.computeIfAbsent(sql, Named::parse);
    Object[] values = values(named, sql, params);
    session.flush();
    return session.doReturningWork(c -> first(c, named.positional(), row, values));
  }

  private static Object[] values(Named named, String sql, Map<String, Object> params) {
    Object[] values = new Object[named.names().size()];
    for (int i = 0; i < values.length; i++) {
      String name = named.names().get(i);
      if (!params.containsKey(name)) {
        throw new IllegalArgumentException("no value for :" + name + " in " + sql);
      }
      values[i] = params.get(name);
    }
    return values;
  }

  /** Runs a query whose answer is not needed ({@code SELECT pg_notify(…)}). */
  static void call(Session session, String sql, Object... values) {
    session.doWork(c -> {
      try (PreparedStatement ps = prepare(c, sql, values)) {
        ps.executeQuery().close();
      }
    });
  }

  /** Reads one row of a row's columns. */
  @FunctionalInterface
  interface Row<T> {
    T read(java.sql.ResultSet rs) throws SQLException;
  }

  /** The first row of a query, read by {@code row}; empty when there is none. */
  static <T> java.util.Optional<T> queryOne(Session session, String sql, Row<T> row,
      Object... values) {
    return session.doReturningWork(c -> first(c, sql, row, values));
  }

  /** Every row of a query, read by {@code row}. */
  static <T> List<T> query(Session session, String sql, Row<T> row, Object... values) {
    return session.doReturningWork(c -> {
      List<T> rows = new ArrayList<>();
      try (PreparedStatement ps = prepare(c, sql, values);
          java.sql.ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          rows.add(row.read(rs));
        }
      }
      return rows;
    });
  }

  private static <T> java.util.Optional<T> first(Connection c, String sql, Row<T> row,
      Object[] values) throws SQLException {
    try (PreparedStatement ps = prepare(c, sql, values);
        java.sql.ResultSet rs = ps.executeQuery()) {
      return rs.next() ? java.util.Optional.ofNullable(row.read(rs))
          : java.util.Optional.<T>empty();
    }
  }

  /** {@code sql} prepared with {@code values} bound; the caller closes it. */
  private static PreparedStatement prepare(Connection c, String sql, Object[] values)
      throws SQLException {
    PreparedStatement ps = c.prepareStatement(sql);
    try {
      for (int i = 0; i < values.length; i++) {
        bind(c, ps, i + 1, values[i]);
      }
      return ps;
    } catch (SQLException | RuntimeException e) {
      ps.close();
      throw e;
    }
  }

  /** A timestamptz column as an instant ({@code null} for NULL). */
  static Instant instant(java.sql.ResultSet rs, int column) throws SQLException {
    OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
    return t == null ? null : t.toInstant();
  }

  private static void bind(Connection c, PreparedStatement ps, int i, Object v)
      throws SQLException {
    if (v instanceof Instant t) {
      ps.setObject(i, OffsetDateTime.ofInstant(t, ZoneOffset.UTC));
    } else if (v instanceof Collection<?> list) {
      ps.setArray(i, c.createArrayOf("text", list.toArray()));
    } else {
      ps.setObject(i, v);
    }
  }
}
