package io.stratus.support.grpc;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Channels to a replicated service (conductors, gateways) given as a list of addresses,
 * {@code host:port,host:port}: calls are spread round-robin over the replicas that are
 * up, and a replica that dies is skipped until it is back. Each replica's TLS certificate
 * is checked against its own host, not the first one's. A single address (or any gRPC
 * target such as {@code dns:///name:port}) is used as it is. Usage:
 * {@code NettyChannelBuilder.forTarget(target(a), creds).defaultLoadBalancingPolicy(policy(a))}.
 */
public final class ReplicaTargets {
  /** The scheme of the list targets this class registers with gRPC. */
  static final String SCHEME = "stratus-replicas";

  static {
    NameResolverRegistry.getDefaultRegistry().register(new Provider());
  }

  private ReplicaTargets() {}

  /**
   * The gRPC target for {@code addresses}: itself when it is one target, else a target of
   * this class's scheme naming each {@code host:port} replica. Use it with {@link #policy}.
   *
   * @throws IllegalArgumentException when an entry of a list is not {@code host:port}
   */
  public static String target(String addresses) {
    if (!addresses.contains(",")) {
      return addresses;
    }
    parse(addresses);  // fail here, with the setting's text, rather than at the first call
    return SCHEME + ":///" + addresses.replace(" ", "");
  }

  /** The load-balancing policy for {@code addresses}: round-robin over a list of replicas. */
  public static String policy(String addresses) {
    return addresses.contains(",") ? "round_robin" : "pick_first";
  }

  /** The {@code host:port} entries of a list. */
  static List<InetSocketAddress> parse(String list) {
    List<InetSocketAddress> out = new ArrayList<>();
    for (String entry : list.split(",")) {
      String e = entry.strip();
      int colon = e.lastIndexOf(':');
      if (e.isEmpty() || colon <= 0 || colon == e.length() - 1) {
        throw new IllegalArgumentException("'" + e + "' in '" + list + "' is not host:port");
      }
      String host = e.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      int port;
      try {
        port = Integer.parseInt(e.substring(colon + 1));
      } catch (NumberFormatException x) {
        throw new IllegalArgumentException("'" + e + "' in '" + list + "' has no port number");
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("'" + e + "' in '" + list + "': port out of range");
      }
      out.add(InetSocketAddress.createUnresolved(host, port));
    }
    return out;
  }

  private static final class Provider extends NameResolverProvider {
    @Override
    public NameResolver newNameResolver(URI target, NameResolver.Args args) {
      if (!SCHEME.equals(target.getScheme())) {
        return null;
      }
      String path = target.getPath();
      return new ListResolver(parse(path.startsWith("/") ? path.substring(1) : path));
    }

    @Override
    public String getDefaultScheme() {
      return SCHEME;
    }

    @Override
    protected boolean isAvailable() {
      return true;
    }

    @Override
    protected int priority() {
      return 4;  // below dns (5): only targets that name this scheme reach it
    }

    @Override
    public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
      return List.of(InetSocketAddress.class);
    }
  }

  /** Resolves a fixed list once, each address its own group with its own authority. */
  private static final class ListResolver extends NameResolver {
    private final List<InetSocketAddress> replicas;

    ListResolver(List<InetSocketAddress> replicas) {
      this.replicas = replicas;
    }

    @Override
    public String getServiceAuthority() {
      return authority(replicas.get(0));
    }

    @Override
    public void start(Listener2 listener) {
      List<EquivalentAddressGroup> groups = new ArrayList<>();
      for (InetSocketAddress a : replicas) {
        groups.add(new EquivalentAddressGroup(
            new InetSocketAddress(a.getHostString(), a.getPort()),
            Attributes.newBuilder()
                .set(EquivalentAddressGroup.ATTR_AUTHORITY_OVERRIDE, authority(a)).build()));
      }
      listener.onResult(ResolutionResult.newBuilder().setAddressesOrError(
          io.grpc.StatusOr.fromValue(groups)).build());
    }

    @Override
    public void shutdown() {}

    private static String authority(InetSocketAddress a) {
      String host = a.getHostString();
      return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }
  }
}
