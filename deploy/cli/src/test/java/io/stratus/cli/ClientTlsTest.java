package io.stratus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's TLS settings: what is missing is a usage error naming the option and variable. */
class ClientTlsTest {
  @TempDir Path dir;

  private String[] run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = StratusCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), null, null);
    return new String[] {Integer.toString(code), err.toString(StandardCharsets.UTF_8)};
  }

  @Test
  void withoutACaCertificateNothingIsDialled() {
    String[] r = run("--conductor", "127.0.0.1:1", "--token", "t", "--ca-cert", "",
        "server", "list");
    assertEquals("2", r[0], r[1]);
    assertTrue(r[1].contains("no CA certificate: pass --ca-cert FILE or set STRATUS_CA_CERT"),
        r[1]);
  }

  @Test
  void theGatewayNeedsAClientCertificateAndAKeyGoesWithItsCertificate() throws Exception {
    Path ca = Files.writeString(dir.resolve("ca.pem"), "not read before the check");
    String[] noCert = run("--gateway", "127.0.0.1:1", "--ca-cert", ca.toString(),
        "--client-cert", "", "--client-key", "", "image", "list");
    assertEquals("2", noCert[0], noCert[1]);
    assertTrue(noCert[1].contains("the image-gateway needs a client certificate"), noCert[1]);

    String[] unreadable = run("--gateway", "127.0.0.1:1", "--ca-cert", ca.toString(),
        "--client-cert", dir.resolve("missing.pem").toString(), "--client-key",
        dir.resolve("missing.key").toString(), "image", "list");
    assertEquals("2", unreadable[0], unreadable[1]);
    assertTrue(unreadable[1].contains("cannot read --client-cert (STRATUS_CLIENT_CERT)"),
        unreadable[1]);
  }
}
