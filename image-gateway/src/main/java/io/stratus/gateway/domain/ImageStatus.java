package io.stratus.gateway.domain;

/** Glance's image lifecycle: queued → saving → active, or killed; deleted at the end. */
public enum ImageStatus {
  QUEUED,
  SAVING,
  ACTIVE,
  KILLED,
  DELETED,
  PENDING_DELETE;

  /** Glance's spelling. */
  public String glanceName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
