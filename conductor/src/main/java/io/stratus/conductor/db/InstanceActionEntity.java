package io.stratus.conductor.db;

import jakarta.persistence.CascadeType;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.OneToMany;
import jakarta.persistence.OrderBy;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** One user request on an instance (Nova's InstanceAction), with its events. */
@Entity
@Table(name = "instance_actions")
public class InstanceActionEntity {
  @Id
  @GeneratedValue(strategy = GenerationType.IDENTITY)
  private Long id;

  @Column(name = "request_id")
  private String requestId;

  @Column(name = "instance_uuid")
  private UUID instanceUuid;

  private String action;

  @Column(name = "project_id")
  private String projectId;

  @Column(name = "user_id")
  private String userId;

  @Column(name = "start_time")
  private Instant startTime;

  @Column(name = "finish_time")
  private Instant finishTime;

  private String message;

  @OneToMany(mappedBy = "action", cascade = CascadeType.ALL, fetch = FetchType.EAGER)
  @OrderBy("id")
  private List<InstanceActionEventEntity> events = new ArrayList<>();

  protected InstanceActionEntity() {}

  public InstanceActionEntity(
      String requestId,
      UUID instanceUuid,
      String action,
      String projectId,
      String userId,
      Instant startTime) {
    this.requestId = requestId;
    this.instanceUuid = instanceUuid;
    this.action = action;
    this.projectId = projectId;
    this.userId = userId;
    this.startTime = startTime;
  }

  public Long id() {
    return id;
  }

  public String requestId() {
    return requestId;
  }

  public UUID instanceUuid() {
    return instanceUuid;
  }

  public String action() {
    return action;
  }

  public String projectId() {
    return projectId;
  }

  public String userId() {
    return userId;
  }

  public Instant startTime() {
    return startTime;
  }

  public Instant finishTime() {
    return finishTime;
  }

  public String message() {
    return message;
  }

  public List<InstanceActionEventEntity> events() {
    return List.copyOf(events);
  }

  /** Marks the action finished; {@code message} is set when it failed. */
  void finish(Instant at, String failureMessage) {
    this.finishTime = at;
    this.message = failureMessage;
  }

  void addEvent(InstanceActionEventEntity event) {
    events.add(event);
  }
}
