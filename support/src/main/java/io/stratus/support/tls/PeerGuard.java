package io.stratus.support.tls;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Lets a call through only when the caller's verified certificate carries one of the roles
 * allowed for its method, and puts the caller's {@link PeerIdentity} in the call's context
 * ({@link #peer()}). A call without a client certificate ends UNAUTHENTICATED; a certificate
 * of a role not allowed ends PERMISSION_DENIED, before any service code runs. Roles are
 * set per service, with per-method exceptions.
 *
 * <p>When the process runs with {@code tls.insecure=true} the guard lets every call through
 * and {@link #peer()} is empty: plaintext carries no identity.
 */
public final class PeerGuard implements ServerInterceptor {
  private static final Context.Key<PeerIdentity> PEER = Context.key("stratus-peer");

  private final boolean secure;
  private final Set<Role> allowed;
  private final Map<String, Set<Role>> perMethod;

  private PeerGuard(boolean secure, Set<Role> allowed, Map<String, Set<Role>> perMethod) {
    this.secure = secure;
    this.allowed = Set.copyOf(allowed);
    this.perMethod = Map.copyOf(perMethod);
  }

  /** A guard letting the given roles call every method of the service it intercepts. */
  public static PeerGuard allow(TransportSecurity security, Role first, Role... more) {
    return new PeerGuard(security.secure(), EnumSet.of(first, more), Map.of());
  }

  /**
   * A guard letting {@code allowed} call the service's methods, except those named (bare
   * method names, e.g. {@code ActivateEmptyImage}) in {@code perMethod}, which get their own
   * roles.
   */
  public static PeerGuard allow(TransportSecurity security, Set<Role> allowed,
      Map<String, Set<Role>> perMethod) {
    return new PeerGuard(security.secure(), allowed, perMethod);
  }

  /** The verified caller of the current call; null when the process runs without TLS. */
  public static PeerIdentity peer() {
    return PEER.get();
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    if (!secure) {
      return next.startCall(call, headers);
    }
    String method = call.getMethodDescriptor().getBareMethodName();
    PeerIdentity peer;
    try {
      peer = identity(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
    } catch (CertificateException e) {
      return refuse(call, Status.PERMISSION_DENIED.withDescription(
          "client certificate: " + e.getMessage()));
    }
    if (peer == null) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription(
          "client certificate: " + call.getMethodDescriptor().getFullMethodName()
              + " needs a client certificate signed by the Stratus CA"));
    }
    Set<Role> roles = perMethod.getOrDefault(method, allowed);
    if (!roles.contains(peer.role())) {
      return refuse(call, Status.PERMISSION_DENIED.withDescription(
          "client certificate: a " + peer.role().name().toLowerCase(java.util.Locale.ROOT)
              + " certificate (" + peer.name() + ") may not call "
              + call.getMethodDescriptor().getFullMethodName()));
    }
    return Contexts.interceptCall(Context.current().withValue(PEER, peer), call, headers, next);
  }

  private static PeerIdentity identity(SSLSession session) throws CertificateException {
    if (session == null) {
      return null;
    }
    Certificate[] chain;
    try {
      chain = session.getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
    if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
      return null;
    }
    return PeerIdentity.of(leaf);
  }

  private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, Status status) {
    call.close(status, new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
