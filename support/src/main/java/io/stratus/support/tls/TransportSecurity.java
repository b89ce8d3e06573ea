package io.stratus.support.tls;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.stratus.support.concurrent.Timers;
import io.stratus.support.config.ConfigException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.cert.CertificateFactory;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One process's TLS: gRPC server and channel credentials built from {@link TlsSettings},
 * whose key and trust material is re-read from the PEM files every {@code reload}
 * (certificate renewal without a restart). Channels check the server's certificate
 * against the CA, the name they dial (the target's host, or the authority a caller sets,
 * e.g. an agent's host name) and the {@link Role} they expect. Servers check a client's
 * certificate against the CA; what a verified caller may call is {@link PeerGuard}'s job.
 *
 * <p>With {@code tls.insecure=true} every credential is plaintext and a warning is logged.
 */
public final class TransportSecurity implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TransportSecurity.class);

  private final TlsSettings settings;
  private final ScheduledExecutorService reloader;
  private final AdvancedTlsX509KeyManager keys;
  private final AdvancedTlsX509TrustManager serverTrust;
  private final Map<Role, AdvancedTlsX509TrustManager> channelTrust = new EnumMap<>(Role.class);
  private final List<AdvancedTlsX509TrustManager> trustManagers = new CopyOnWriteArrayList<>();
  private String identityStamp;
  private String trustStamp;

  private TransportSecurity(TlsSettings settings) throws IOException, GeneralSecurityException {
    this.settings = settings;
    if (settings.insecure()) {
      reloader = null;
      keys = null;
      serverTrust = null;
      return;
    }
    reloader = Timers.daemon("tls-reload");
    try {
      if (settings.cert() != null) {
        keys = new AdvancedTlsX509KeyManager();
        loadIdentity();
        identityStamp = stamp(settings.cert(), settings.key());
      } else {
        keys = null;
      }
      trustStamp = stamp(settings.ca());
      serverTrust = trust(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_ONLY_VERIFICATION,
          null);
      reloader.scheduleWithFixedDelay(this::reload, settings.reload().toMillis(),
          settings.reload().toMillis(), TimeUnit.MILLISECONDS);
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * Loads the material in {@code settings} (or logs that {@code component} runs without
   * TLS).
   *
   * @throws IOException if a PEM file cannot be read
   * @throws GeneralSecurityException if a PEM file does not hold a certificate or key
   */
  public static TransportSecurity open(TlsSettings settings, String component)
      throws IOException, GeneralSecurityException {
    if (settings.insecure()) {
      LOG.warn("{} runs WITHOUT TLS (tls.insecure=true): traffic is plaintext and callers "
          + "are not authenticated; never use this outside tests", component);
    }
    return new TransportSecurity(settings);
  }

  /**
   * Checks, at start-up, that this process's own certificate carries {@code role} and, for
   * an agent, names {@code host}: a certificate the peers would refuse stops the process
   * with a clear message instead of failing every call later. Nothing to check without TLS.
   *
   * @throws ConfigException naming {@code tls.cert} when it does not fit
   */
  public void requireOwnIdentity(Role role, String host) {
    if (!secure()) {
      return;
    }
    List<String> problems = new ArrayList<>();
    try (InputStream in = Files.newInputStream(settings.cert())) {
      X509Certificate leaf = (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(in);
      PeerIdentity own = PeerIdentity.of(leaf);
      if (own.role() != role) {
        problems.add("tls.cert " + settings.cert() + " is a " + own.role() + " certificate; this "
            + "service needs a " + role + " certificate");
      } else if (role == Role.AGENT && !own.isAgentFor(host)) {
        problems.add("tls.cert " + settings.cert() + " names hosts " + own.dnsNames()
            + ", not this agent's host '" + host + "'");
      }
    } catch (IOException | GeneralSecurityException e) {
      problems.add("tls.cert " + settings.cert() + ": " + e.getMessage());
    }
    if (!problems.isEmpty()) {
      throw new ConfigException(role.name().toLowerCase(java.util.Locale.ROOT), problems);
    }
  }

  /** Plaintext for {@code component} (tests that do not exercise TLS), with the warning. */
  public static TransportSecurity plaintext(String component) {
    try {
      return open(TlsSettings.plaintext(), component);
    } catch (IOException | GeneralSecurityException e) {
      throw new AssertionError("plaintext reads no file", e);
    }
  }

  /** Whether peers are authenticated by certificate. */
  public boolean secure() {
    return !settings.insecure();
  }

  /**
   * Credentials of a server: this service's certificate, and client certificates verified
   * against the CA ({@code requireClientCertificate} false lets callers without one in, for
   * a public API where a token authenticates them).
   */
  public ServerCredentials server(boolean requireClientCertificate) {
    if (!secure()) {
      return InsecureServerCredentials.create();
    }
    return TlsServerCredentials.newBuilder()
        .keyManager(keys)
        .trustManager(serverTrust)
        .clientAuth(requireClientCertificate ? TlsServerCredentials.ClientAuth.REQUIRE
            : TlsServerCredentials.ClientAuth.OPTIONAL)
        .build();
  }

  /**
   * A TLS context for an HTTPS server that presents this service's certificate (reloaded
   * as for gRPC) and asks no client certificate: for a REST API whose callers a token
   * authenticates. Null without TLS.
   *
   * @throws GeneralSecurityException if the JDK has no TLS
   */
  public javax.net.ssl.SSLContext httpsServerContext() throws GeneralSecurityException {
    if (!secure() || keys == null) {
      return null;
    }
    javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
    context.init(new javax.net.ssl.KeyManager[] {keys}, null, null);
    return context;
  }

  /**
   * Credentials of a channel to a server that must hold {@code expected}'s certificate for
   * the name dialled; this process's certificate is presented when it has one.
   */
  public synchronized ChannelCredentials channel(Role expected) {
    if (!secure()) {
      return InsecureChannelCredentials.create();
    }
    AdvancedTlsX509TrustManager trust = channelTrust.computeIfAbsent(expected, role -> {
      try {
        return trust(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_AND_HOST_NAME_VERIFICATION,
            role);
      } catch (IOException | GeneralSecurityException e) {
        throw new IllegalStateException("cannot load " + settings.ca() + ": " + e.getMessage(), e);
      }
    });
    TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder().trustManager(trust);
    if (keys != null) {
      b.keyManager(keys);
    }
    return b.build();
  }

  private AdvancedTlsX509TrustManager trust(AdvancedTlsX509TrustManager.Verification verification,
      Role expected) throws IOException, GeneralSecurityException {
    AdvancedTlsX509TrustManager.Builder b = AdvancedTlsX509TrustManager.newBuilder()
        .setVerification(verification);
    if (expected != null) {
      b.setSslSocketAndEnginePeerVerifier(new RoleCheck(expected));
    }
    AdvancedTlsX509TrustManager tm = b.build();
    tm.updateTrustCredentials(settings.ca().toFile());
    trustManagers.add(tm);
    return tm;
  }

  /**
   * Re-reads the certificate and key when either file changed. A renewal is taken only
   * when the key fits the certificate (a reader between the two renames of a renewal sees a
   * new key with the old certificate and waits for the next round); a failure keeps the
   * material in use and is retried. grpc's own file watcher polls at most once a minute and
   * does not check the pair, hence this one.
   */
  private void reload() {
    try {
      String now = keys == null ? null : stamp(settings.cert(), settings.key());
      if (now != null && !now.equals(identityStamp)) {
        loadIdentity();
        identityStamp = now;
        LOG.info("TLS certificate reloaded from {}", settings.cert());
      }
      String ca = stamp(settings.ca());
      if (!ca.equals(trustStamp)) {
        for (AdvancedTlsX509TrustManager tm : trustManagers) {
          tm.updateTrustCredentials(settings.ca().toFile());
        }
        trustStamp = ca;
        LOG.info("TLS trust anchors reloaded from {}", settings.ca());
      }
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      LOG.warn("TLS material not reloaded (kept the one in use; retrying): {}", e.toString());
    }
  }

  private void loadIdentity() throws IOException, GeneralSecurityException {
    X509Certificate[] chain;
    try (InputStream in = Files.newInputStream(settings.cert())) {
      chain = CertificateFactory.getInstance("X.509").generateCertificates(in)
          .toArray(new X509Certificate[0]);
    }
    if (chain.length == 0) {
      throw new CertificateException(settings.cert() + " holds no certificate");
    }
    PrivateKey key = Pem.privateKey(settings.key());
    Pem.requirePair(chain[0], key, settings.cert(), settings.key());
    keys.updateIdentityCredentials(chain, key);
  }

  private static String stamp(Path... files) throws IOException {
    StringBuilder b = new StringBuilder();
    for (Path f : files) {
      b.append(Files.getLastModifiedTime(f).toMillis()).append('/').append(Files.size(f))
          .append(';');
    }
    return b.toString();
  }

  @Override
  public synchronized void close() {
    if (reloader != null) {
      reloader.shutdownNow();
    }
  }

  /** Refuses a server whose certificate does not carry the expected role. */
  private record RoleCheck(Role expected) implements
      AdvancedTlsX509TrustManager.SslSocketAndEnginePeerVerifier {
    @Override
    public void verifyPeerCertificate(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      check(chain);
    }

    @Override
    public void verifyPeerCertificate(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      check(chain);
    }

    private void check(X509Certificate[] chain) throws CertificateException {
      Role actual = PeerIdentity.of(chain[0]).role();
      if (actual != expected) {
        throw new CertificateException("the server's certificate is a " + actual
            + " certificate; a " + expected + " was expected");
      }
    }
  }
}
