package io.stratus.support.tls;

import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * Who is on the other end of a mutual-TLS connection, read from its (already verified)
 * certificate: its {@link Role}, its common name and the DNS names it holds.
 *
 * @param role the one Stratus role URI SAN of the certificate
 * @param name the subject's common name (an agent's host name)
 * @param dnsNames the DNS SANs
 */
public record PeerIdentity(Role role, String name, List<String> dnsNames) {
  public PeerIdentity {
    dnsNames = List.copyOf(dnsNames);
  }

  /** Whether this is an agent whose certificate names {@code host}. */
  public boolean isAgentFor(String host) {
    return role == Role.AGENT && dnsNames.contains(host);
  }

  /**
   * Reads the identity of a verified leaf certificate.
   *
   * @throws CertificateException if it carries no Stratus role, or more than one
   */
  public static PeerIdentity of(X509Certificate cert) throws CertificateException {
    Role role = null;
    List<String> dns = new ArrayList<>();
    Collection<List<?>> sans;
    try {
      sans = cert.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      throw new CertificateException("unreadable subject alternative names", e);
    }
    if (sans != null) {
      for (List<?> san : sans) {
        Object type = san.get(0);
        Object value = san.get(1);
        if (Integer.valueOf(6).equals(type) && value instanceof String uri) {
          Optional<Role> r = Role.fromUri(uri);
          if (r.isPresent()) {
            if (role != null && role != r.get()) {
              throw new CertificateException("the certificate carries two Stratus roles");
            }
            role = r.get();
          }
        } else if (Integer.valueOf(2).equals(type) && value instanceof String name) {
          dns.add(name);
        }
      }
    }
    if (role == null) {
      throw new CertificateException("the certificate carries no Stratus role (a URI SAN "
          + "urn:stratus:role:conductor|agent|gateway|client)");
    }
    return new PeerIdentity(role, commonName(cert), dns);
  }

  private static String commonName(X509Certificate cert) {
    try {
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          return rdn.getValue().toString();
        }
      }
    } catch (InvalidNameException e) {
      return "";
    }
    return "";
  }
}
