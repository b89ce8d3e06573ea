package io.stratus.conductor.hosts;

import io.stratus.support.errors.ApiException;
import java.util.regex.Pattern;

/**
 * Compute host names: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or
 * digit. A host name is the TLS name the conductor checks an agent's certificate against
 * (and what {@code deploy/scripts/dev-ca.sh} accepts), so nothing else may become one.
 */
final class HostNames {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

  private HostNames() {}

  /** Throws INVALID_ARGUMENT naming {@code field} unless {@code name} is a host name. */
  static String check(String field, String name) {
    if (name == null || name.isEmpty()) {
      throw ApiException.invalidArgument(field, "must not be empty");
    }
    if (!NAME.matcher(name).matches()) {
      throw ApiException.invalidArgument(field, "must be 1-63 letters, digits, '.', '_' or '-',"
          + " starting with a letter or digit (it is the agent's TLS name)");
    }
    return name;
  }
}
