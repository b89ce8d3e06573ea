package io.stratus.conductor.db;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.UUID;

/** An error recorded on an instance (Nova's InstanceFault); the latest is shown. */
@Entity
@Table(name = "instance_faults")
public class InstanceFaultEntity {
  @Id
  @GeneratedValue(strategy = GenerationType.IDENTITY)
  private Long id;

  @Column(name = "instance_uuid")
  private UUID instanceUuid;

  private int code;

  private String message;

  private String details;

  @Column(name = "created_at")
  private Instant createdAt;

  protected InstanceFaultEntity() {}

  public InstanceFaultEntity(
      UUID instanceUuid, int code, String message, String details, Instant createdAt) {
    this.instanceUuid = instanceUuid;
    this.code = code;
    this.message = message;
    this.details = details;
    this.createdAt = createdAt;
  }

  public UUID instanceUuid() {
    return instanceUuid;
  }

  /** gRPC status code number of the failure. */
  public int code() {
    return code;
  }

  public String message() {
    return message;
  }

  public String details() {
    return details;
  }

  public Instant createdAt() {
    return createdAt;
  }
}
