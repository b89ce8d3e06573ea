package io.stratus.conductor.domain;

import java.util.Arrays;

/** Nova's power_state, with Nova's numeric codes (stored as the number). */
public enum PowerState {
  NOSTATE(0),
  RUNNING(1),
  PAUSED(3),
  SHUTDOWN(4),
  CRASHED(6),
  SUSPENDED(7);

  private final int code;

  PowerState(int code) {
    this.code = code;
  }

  /** Nova's number, as stored in {@code instances.power_state}. */
  public int code() {
    return code;
  }

  /** Parses a stored code. */
  public static PowerState fromCode(int code) {
    return Arrays.stream(values())
        .filter(s -> s.code == code)
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unknown power_state " + code));
  }
}
