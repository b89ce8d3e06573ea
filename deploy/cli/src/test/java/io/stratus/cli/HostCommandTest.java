package io.stratus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.stratus.cli.fake.FakeCloud;
import io.stratus.proto.conductor.v1.Host;
import io.stratus.proto.conductor.v1.HostCapabilities;
import io.stratus.proto.conductor.v1.HostStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class HostCommandTest {
  private FakeCloud cloud;

  @BeforeEach
  void setUp() throws Exception {
    cloud = new FakeCloud();
  }

  @AfterEach
  void tearDown() {
    cloud.close();
  }

  @Test
  void listShowsNovasStatusAndStateColumns() {
    cloud.hosts.hosts.add(Host.newBuilder()
        .setName("host-a").setAddress("10.0.0.1:9191").setStatus(HostStatus.HOST_STATUS_UP)
        .setServerCount(3)
        .setCapabilities(HostCapabilities.newBuilder()
            .setHypervisor("qemu").addStorageKinds("local").addStorageKinds("rbd"))
        .build());
    cloud.hosts.hosts.add(Host.newBuilder()
        .setName("host-b").setAddress("10.0.0.2:9191").setStatus(HostStatus.HOST_STATUS_DOWN)
        .setDisabled(true)
        .build());

    FakeCloud.Result r = cloud.run("host", "list");

    assertEquals(0, r.code(), r.err());
    assertEquals("""
        Name    Address        Status    State  Servers  Hypervisor  Storage    Last Heartbeat
        host-a  10.0.0.1:9191  enabled   up     3        qemu        local,rbd
        host-b  10.0.0.2:9191  disabled  down   0
        """, r.out());
  }
}
