package io.stratus.conductor.domain;

import java.util.Arrays;

/** Nova's vm_state: the stable state of an instance. Stored by {@link #dbName()}. */
public enum VmState {
  BUILDING("building"),
  ACTIVE("active"),
  STOPPED("stopped"),
  PAUSED("paused"),
  SUSPENDED("suspended"),
  ERROR("error"),
  DELETED("deleted");

  private final String dbName;

  VmState(String dbName) {
    this.dbName = dbName;
  }

  /** Nova's spelling, as stored in the {@code instances.vm_state} column. */
  public String dbName() {
    return dbName;
  }

  /** Parses a stored value. */
  public static VmState fromDb(String value) {
    return Arrays.stream(values())
        .filter(s -> s.dbName.equals(value))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unknown vm_state " + value));
  }
}
