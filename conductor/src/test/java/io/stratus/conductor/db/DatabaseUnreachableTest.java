package io.stratus.conductor.db;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.SQLException;
import org.hibernate.exception.ConstraintViolationException;
import org.hibernate.exception.JDBCConnectionException;
import org.junit.jupiter.api.Test;

/**
 * Which failures {@link Database#inTransactionRetrying} waits out: the database out of
 * reach (what a PostgreSQL restart looks like to the driver), never a refusal by a
 * database that answered — retrying those would only hide a bug.
 */
class DatabaseUnreachableTest {

  @Test
  void aDatabaseOutOfReachIsWaitedOut() {
    assertTrue(Database.unreachable(new JDBCConnectionException("no connection",
        new SQLException("Connection refused", "08001"))));
    assertTrue(Database.unreachable(new RuntimeException(
        new SQLException("terminating connection due to administrator command", "57P01"))));
    assertTrue(Database.unreachable(new RuntimeException(
        new SQLException("the database system is starting up", "57P03"))));
    assertTrue(Database.unreachable(new RuntimeException(
        new java.sql.SQLTransientConnectionException("conductor-db - Connection is not available"))));
  }

  @Test
  void aRefusalIsNot() {
    assertFalse(Database.unreachable(new ConstraintViolationException("duplicate",
        new SQLException("duplicate key value", "23505"), "pk")));
    assertFalse(Database.unreachable(new RuntimeException(
        new SQLException("syntax error", "42601"))));
    assertFalse(Database.unreachable(new IllegalStateException("no cause")));
  }
}
