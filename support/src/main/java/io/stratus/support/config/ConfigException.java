package io.stratus.support.config;

import java.util.List;

/** A configuration is missing something or holds a wrong value; lists every problem. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final List<String> problems;

  public ConfigException(String component, List<String> problems) {
    super("invalid " + component + " configuration:\n  - " + String.join("\n  - ", problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
