package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.ADMIN;
import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ServiceDescriptor;
import io.stratus.proto.agent.v1.AgentRegistryGrpc;
import io.stratus.proto.conductor.v1.HostsGrpc;
import io.stratus.proto.conductor.v1.IdentityGrpc;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.TokensGrpc;
import io.stratus.testkit.BadInputSweep;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every method of the conductor's services, read from their descriptors, called with a
 * malformed value in each field (see {@link BadInputSweep}) as an admin and as a member:
 * no call answers UNKNOWN or INTERNAL, and no server, volume, token or image is left by a
 * refused call.
 */
class ConductorBadInputTest extends ConductorTest {
  @Test
  void noMalformedCallAnswersUnknownOrInternalOrLeavesAnything() throws Exception {
    long servers = h.count("SELECT count(*) FROM instances");
    long volumes = h.count("SELECT count(*) FROM volumes");
    long tokens = h.count("SELECT count(*) FROM api_tokens");
    long hosts = h.count("SELECT count(*) FROM hosts");
    int images = h.gateway.images().size();
    List<BadInputSweep.Outcome> outcomes = new ArrayList<>();
    for (String token : List.of(ADMIN, MEMBER_A)) {
      for (ServiceDescriptor service : List.of(ServersGrpc.getServiceDescriptor(),
          HostsGrpc.getServiceDescriptor(), TokensGrpc.getServiceDescriptor(),
          IdentityGrpc.getServiceDescriptor(), AgentRegistryGrpc.getServiceDescriptor())) {
        outcomes.addAll(BadInputSweep.sweep(h.channel(), service, ConductorHarness.bearer(token),
            method -> false));
      }
    }
    List<BadInputSweep.Outcome> bad = BadInputSweep.failures(outcomes);
    assertTrue(bad.isEmpty(), BadInputSweep.describe(bad, outcomes.size()));
    long createdTokens = outcomes.stream()
        .filter(o -> o.method().endsWith("/CreateToken") && o.status().isOk()).count();
    long registered = outcomes.stream()
        .filter(o -> o.method().endsWith("/Register") && o.status().isOk()).count();
    System.out.println("[sweep] conductor (Servers, Hosts, Tokens, Identity, AgentRegistry): "
        + outcomes.size() + " malformed calls, 0 UNKNOWN/INTERNAL; accepted: " + createdTokens
        + " CreateToken, " + registered + " Register");
    assertEquals(servers, h.count("SELECT count(*) FROM instances"), "servers");
    assertEquals(volumes, h.count("SELECT count(*) FROM volumes"), "volumes");
    assertEquals(tokens + createdTokens, h.count("SELECT count(*) FROM api_tokens"), "tokens");
    assertEquals(images, h.gateway.images().size(), "images");
    assertTrue(h.count("SELECT count(*) FROM hosts") <= hosts + registered, "hosts");
  }
}
