package io.stratus.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A development certificate authority in a directory, made by the repository's
 * {@code deploy/scripts/dev-ca.sh} (openssl), the same script the all-in-one uses. Tests
 * issue certificates for each role and name they need.
 *
 * <pre>{@code
 * DevCa ca = DevCa.create(dir.resolve("pki"));
 * DevCa.Issued agent = ca.issue("agent", "host-1", "127.0.0.1");
 * }</pre>
 */
public final class DevCa {
    /** The script, relative to the repository root. */
    public static final String SCRIPT = "deploy/scripts/dev-ca.sh";

    private final Path script;
    private final Path dir;

    /**
     * A certificate and its key.
     *
     * @param cert PEM certificate
     * @param key PEM PKCS#8 key
     */
    public record Issued(Path cert, Path key) {
    }

    private DevCa(Path script, Path dir) {
        this.script = script;
        this.dir = dir;
    }

    /** Makes (or reuses) the CA in {@code dir}. */
    public static DevCa create(Path dir) {
        DevCa ca = new DevCa(RepoScripts.root(SCRIPT).resolve(SCRIPT), dir);
        ca.run(List.of("init", dir.toString()));
        return ca;
    }

    /** The CA certificate. */
    public Path caCert() {
        return dir.resolve("ca.pem");
    }

    /**
     * Issues (or re-issues, replacing the files) a certificate of {@code role} for {@code name}
     * with extra SANs (DNS names or IP addresses).
     */
    public Issued issue(String role, String name, String... sans) {
        List<String> args = new ArrayList<>(List.of("issue", dir.toString(), role, name));
        args.addAll(List.of(sans));
        run(args);
        return new Issued(dir.resolve(name + ".pem"), dir.resolve(name + ".key"));
    }

    private void run(List<String> args) {
        List<String> command = new ArrayList<>(List.of("bash", script.toString()));
        command.addAll(args);
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " timed out");
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " exited with "
                        + p.exitValue() + ": " + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + script, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + script, e);
        }
        if (!Files.isRegularFile(caCert())) {
            throw new IllegalStateException(script + " left no " + caCert());
        }
    }
}
