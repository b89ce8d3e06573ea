package io.stratus.conductor.db;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/** A compute host (Nova's compute service record) as its agent registered it. */
@Entity
@Table(name = "hosts")
public class HostEntity {
  @Id
  private String name;

  private String address;

  @Column(name = "agent_version")
  private String agentVersion;

  private String hypervisor;

  @Column(name = "storage_kinds")
  private String storageKinds;

  @Column(name = "contract_versions")
  private String contractVersions;

  @Column(name = "live_snapshot")
  private boolean liveSnapshot;

  @Column(name = "rbd_direct_snapshot")
  private boolean rbdDirectSnapshot;

  private boolean quiesce;

  private boolean disabled;

  @Column(name = "disabled_reason")
  private String disabledReason;

  @Column(name = "registered_at")
  private Instant registeredAt;

  @Column(name = "last_heartbeat_at")
  private Instant lastHeartbeatAt;

  @Version
  private long version;

  protected HostEntity() {}

  public HostEntity(String name, Instant now) {
    this.name = name;
    this.registeredAt = now;
    this.lastHeartbeatAt = now;
  }

  /** Records what the agent said when it (re)registered. */
  public void register(
      String newAddress,
      String newAgentVersion,
      String newHypervisor,
      List<String> newStorageKinds,
      List<String> newContractVersions,
      boolean newLiveSnapshot,
      boolean newRbdDirectSnapshot,
      boolean newQuiesce,
      Instant now) {
    this.address = newAddress;
    this.agentVersion = newAgentVersion;
    this.hypervisor = newHypervisor;
    this.storageKinds = String.join(",", newStorageKinds);
    this.contractVersions = String.join(",", newContractVersions);
    this.liveSnapshot = newLiveSnapshot;
    this.rbdDirectSnapshot = newRbdDirectSnapshot;
    this.quiesce = newQuiesce;
    this.registeredAt = now;
    this.lastHeartbeatAt = now;
  }

  public void setDisabled(boolean isDisabled, String reason) {
    this.disabled = isDisabled;
    this.disabledReason = isDisabled ? reason : null;
  }

  public String name() {
    return name;
  }

  public String address() {
    return address;
  }

  public String agentVersion() {
    return agentVersion;
  }

  public String hypervisor() {
    return hypervisor;
  }

  public List<String> storageKinds() {
    return split(storageKinds);
  }

  public List<String> contractVersions() {
    return split(contractVersions);
  }

  public boolean liveSnapshot() {
    return liveSnapshot;
  }

  public boolean rbdDirectSnapshot() {
    return rbdDirectSnapshot;
  }

  public boolean quiesce() {
    return quiesce;
  }

  public boolean disabled() {
    return disabled;
  }

  public String disabledReason() {
    return disabledReason;
  }

  public Instant registeredAt() {
    return registeredAt;
  }

  public Instant lastHeartbeatAt() {
    return lastHeartbeatAt;
  }

  private static List<String> split(String joined) {
    return joined == null || joined.isEmpty() ? List.of() : Arrays.asList(joined.split(","));
  }
}
