package io.stratus.support.tls;

import io.stratus.support.config.Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A service's TLS material: the CA that signs every Stratus certificate, this service's
 * certificate and PKCS#8 key (PEM files, re-read every {@code reload} so a renewed
 * certificate is used without a restart), or the explicit {@code tls.insecure=true} that
 * turns TLS off (plaintext, every caller trusted; for tests and debugging only, and logged
 * as a warning at start-up).
 *
 * @param ca PEM file of the trusted CA certificate(s); null when insecure
 * @param cert PEM file of this service's certificate chain; null when insecure
 * @param key PEM file of this service's PKCS#8 private key; null when insecure
 * @param insecure plaintext without authentication of peers
 * @param reload how often the three files are checked for changes
 */
public record TlsSettings(Path ca, Path cert, Path key, boolean insecure, Duration reload) {
  /** Plaintext settings (tests that do not exercise TLS). */
  public static TlsSettings plaintext() {
    return new TlsSettings(null, null, null, true, Duration.ofMinutes(1));
  }

  /** Verified settings from three PEM files. */
  public static TlsSettings of(Path ca, Path cert, Path key, Duration reload) {
    return new TlsSettings(ca, cert, key, false, reload);
  }

  /**
   * Reads {@code tls.ca}, {@code tls.cert}, {@code tls.key}, {@code tls.reload} (PT1M) and
   * {@code tls.insecure} (false): either all three files, which must be readable, or
   * {@code tls.insecure=true}; anything else is recorded as a problem in {@code s}.
   */
  public static TlsSettings read(Settings s) {
    boolean insecure = "true".equals(s.oneOf("tls.insecure", "false", List.of("true", "false")));
    Duration reload = s.duration("tls.reload", Duration.ofMinutes(1));
    if (insecure) {
      return new TlsSettings(null, null, null, true, reload);
    }
    Path ca = file(s, "tls.ca");
    Path cert = file(s, "tls.cert");
    Path key = file(s, "tls.key");
    return new TlsSettings(ca, cert, key, false, reload);
  }

  private static Path file(Settings s, String key) {
    String v = s.raw(key);
    if (v == null) {
      s.problem(key + " (env " + s.envName(key) + "): required unless tls.insecure=true "
          + "(deploy/scripts/dev-ca.sh makes a development CA and certificates)");
      return null;
    }
    Path p = Path.of(v);
    if (!Files.isReadable(p)) {
      s.problem(key + " (env " + s.envName(key) + "): cannot read " + p);
    }
    return p;
  }
}
