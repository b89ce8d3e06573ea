package io.stratus.conductor.domain;

/** Where an instance's root disk lives. */
public enum RootDiskKind {
  /** A qcow2 file on the compute host. */
  LOCAL,
  /** An RBD image in Ceph. */
  RBD;

  /** Stored spelling. */
  public String dbName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** Parses a stored value. */
  public static RootDiskKind fromDb(String value) {
    return valueOf(value.toUpperCase(java.util.Locale.ROOT));
  }
}
