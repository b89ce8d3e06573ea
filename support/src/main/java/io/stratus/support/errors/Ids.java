package io.stratus.support.errors;

import java.util.UUID;

/**
 * Ids that become file names, libvirt names or Ceph names are UUIDs in their canonical
 * form, checked before they are used: nothing a caller sends can walk out of a directory
 * ({@code ../}), name another kind of file or carry a control character.
 */
public final class Ids {
  private static final java.util.regex.Pattern HOST_NAME =
      java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

  private Ids() {}

  /**
   * {@code value} as a canonical lower-case UUID.
   *
   * @throws ApiException INVALID_ARGUMENT naming {@code field} when it is empty or not a
   *     UUID written the canonical way (36 characters, hyphens in place)
   */
  public static String uuid(String field, String value) {
    if (value == null || value.isEmpty()) {
      throw ApiException.invalidArgument(field, "is required");
    }
    try {
      String canonical = UUID.fromString(value).toString();
      if (canonical.equalsIgnoreCase(value)) {
        return canonical;
      }
    } catch (IllegalArgumentException e) {
      // reported below
    }
    throw ApiException.invalidArgument(field, "'" + printable(value) + "' is not a UUID");
  }

  /**
   * Whether {@code value} is a compute host name: 1 to 63 letters, digits, '.', '_' or '-',
   * starting with a letter or digit. A host name is the TLS name the conductor checks an
   * agent's certificate against (and what {@code deploy/scripts/dev-ca.sh} accepts).
   */
  public static boolean isHostName(String value) {
    return value != null && HOST_NAME.matcher(value).matches();
  }

  /** {@code value}, if it is a host name; INVALID_ARGUMENT naming {@code field} otherwise. */
  public static String hostName(String field, String value) {
    if (value == null || value.isEmpty()) {
      throw ApiException.invalidArgument(field, "must not be empty");
    }
    if (!isHostName(value)) {
      throw ApiException.invalidArgument(field, "must be 1-63 letters, digits, '.', '_' or '-',"
          + " starting with a letter or digit (it is the agent's TLS name)");
    }
    return value;
  }

  /** At most 40 characters of {@code s}, control characters shown as {@code ?}. */
  static String printable(String s) {
    String cut = s.length() > 40 ? s.substring(0, 40) + "…" : s;
    return cut.codePoints().map(c -> Character.isISOControl(c) ? '?' : c)
        .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append)
        .toString();
  }
}
