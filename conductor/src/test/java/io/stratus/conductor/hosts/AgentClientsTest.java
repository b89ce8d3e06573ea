package io.stratus.conductor.hosts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** One channel per host: a host that moves to another address leaves no channel behind. */
class AgentClientsTest {
  private final Map<String, ManagedChannel> opened = new LinkedHashMap<>();
  private final AgentClients clients = new AgentClients((host, address) -> {
    ManagedChannel c = InProcessChannelBuilder.forName(host + "@" + address).build();
    opened.put(host + "@" + address, c);
    return c;
  });

  @Test
  void aHostThatMovesHasItsOldChannelShutDown() throws Exception {
    clients.stub("host-a", "10.0.0.1:7000");
    clients.stub("host-a", "10.0.0.1:7000");
    assertEquals(1, opened.size(), "the same address reuses its channel");

    clients.stub("host-a", "10.0.0.2:7000");
    assertEquals(2, opened.size());
    assertTrue(opened.get("host-a@10.0.0.1:7000").isShutdown(), "the old address's channel");
    assertFalse(opened.get("host-a@10.0.0.2:7000").isShutdown());
    assertEquals(1, clients.open());

    clients.stub("host-b", "10.0.0.1:7000");
    assertEquals(2, clients.open(), "another host at a freed address has its own channel");
    clients.close();
    assertTrue(opened.values().stream().allMatch(ManagedChannel::isShutdown));
  }
}
