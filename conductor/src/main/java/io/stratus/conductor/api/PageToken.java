package io.stratus.conductor.api;

import io.stratus.support.errors.ApiException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.UUID;

/** Opaque keyset page position: the (created_at, uuid) of the last row sent. */
record PageToken(Instant createdAt, UUID uuid) {

  String encode() {
    String raw = createdAt.getEpochSecond() + "." + createdAt.getNano() + "/" + uuid;
    return Base64.getUrlEncoder().withoutPadding().encodeToString(raw.getBytes(StandardCharsets.UTF_8));
  }

  /** Parses a token; {@code null} for the first page. */
  static PageToken decode(String token) {
    if (token == null || token.isEmpty()) {
      return null;
    }
    try {
      String raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
      int slash = raw.indexOf('/');
      String[] ts = raw.substring(0, slash).split("\\.");
      return new PageToken(
          Instant.ofEpochSecond(Long.parseLong(ts[0]), Long.parseLong(ts[1])),
          UUID.fromString(raw.substring(slash + 1)));
    } catch (RuntimeException e) {
      throw ApiException.invalidArgument("page_token", "is not a token this API issued");
    }
  }
}
