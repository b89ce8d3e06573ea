package io.stratus.cli;

import io.stratus.support.tls.TlsSettings;
import io.stratus.support.tls.TransportSecurity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;

/**
 * The CLI's TLS settings ({@code --ca-cert}, {@code --client-cert}, {@code --client-key},
 * {@code --insecure}), turned into {@link TransportSecurity} when a channel is first opened.
 *
 * @param caCert PEM file of the CA, or null
 * @param clientCert PEM file of the user's certificate, or null
 * @param clientKey PEM file of its key, or null
 * @param insecure plaintext (services started with {@code tls.insecure=true})
 */
record ClientTls(String caCert, String clientCert, String clientKey, boolean insecure) {

  /**
   * Checks that a client certificate is set: the image-gateway takes only callers with one.
   *
   * @throws CliException a usage error naming the settings
   */
  void requireCertificate() {
    if (!insecure && (blank(clientCert) || blank(clientKey))) {
      throw CliException.usage("the image-gateway needs a client certificate: pass "
          + "--client-cert FILE --client-key FILE or set STRATUS_CLIENT_CERT and "
          + "STRATUS_CLIENT_KEY");
    }
  }

  /**
   * Opens the TLS material (the client certificate too when one is set).
   *
   * @throws CliException a usage error naming the missing or unreadable setting
   */
  TransportSecurity open() {
    if (insecure) {
      return opened(TlsSettings.plaintext());
    }
    Path ca = file(caCert, "--ca-cert", "STRATUS_CA_CERT");
    if (ca == null) {
      throw CliException.usage("no CA certificate: pass --ca-cert FILE or set STRATUS_CA_CERT "
          + "(or --insecure for services started with tls.insecure=true)");
    }
    Path cert = file(clientCert, "--client-cert", "STRATUS_CLIENT_CERT");
    Path key = file(clientKey, "--client-key", "STRATUS_CLIENT_KEY");
    if ((cert == null) != (key == null)) {
      throw CliException.usage("--client-cert and --client-key (STRATUS_CLIENT_CERT, "
          + "STRATUS_CLIENT_KEY) go together: one of them is missing");
    }
    return opened(new TlsSettings(ca, cert, key, false, Duration.ofHours(1)));
  }

  private static TransportSecurity opened(TlsSettings settings) {
    try {
      return TransportSecurity.open(settings, "stratus CLI");
    } catch (IOException | GeneralSecurityException e) {
      throw CliException.usage("cannot load the TLS files: " + e.getMessage());
    }
  }

  private static boolean blank(String value) {
    return value == null || value.isBlank();
  }

  private static Path file(String value, String option, String env) {
    if (blank(value)) {
      return null;
    }
    Path p = Path.of(value.trim());
    if (!Files.isReadable(p)) {
      throw CliException.usage("cannot read " + option + " (" + env + "): " + p);
    }
    return p;
  }
}
