package io.stratus.support.tls;

import java.util.Locale;
import java.util.Optional;

/**
 * What a certificate's holder is to Stratus. The development CA ({@code deploy/scripts/dev-ca.sh})
 * writes it as the URI SAN {@code urn:stratus:role:<name>}; the services authorise on it.
 */
public enum Role {
  /** The conductor: calls agents and the gateway, serves the public API. */
  CONDUCTOR,
  /** A compute host's agent; its certificate also names the host (a DNS SAN). */
  AGENT,
  /** The image gateway. */
  GATEWAY,
  /** A user's tool (CLI, grpcurl): reaches user-facing calls, which still need a token. */
  CLIENT;

  private static final String PREFIX = "urn:stratus:role:";

  /** The URI SAN that carries this role. */
  public String uri() {
    return PREFIX + name().toLowerCase(Locale.ROOT);
  }

  /** The role a URI SAN names, if it is a Stratus role URI. */
  public static Optional<Role> fromUri(String uri) {
    if (uri == null || !uri.startsWith(PREFIX)) {
      return Optional.empty();
    }
    String name = uri.substring(PREFIX.length());
    for (Role r : values()) {
      if (r.name().toLowerCase(Locale.ROOT).equals(name)) {
        return Optional.of(r);
      }
    }
    return Optional.empty();
  }
}
