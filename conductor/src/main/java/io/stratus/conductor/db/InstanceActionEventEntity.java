package io.stratus.conductor.db;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Table;
import java.time.Instant;

/** One step of an action (Nova's InstanceActionEvent), e.g. compute_snapshot_instance. */
@Entity
@Table(name = "instance_action_events")
public class InstanceActionEventEntity {
  /** Result of a finished step, spelled as Nova does. */
  public static final String SUCCESS = "Success";

  /** Result of a failed step. */
  public static final String ERROR = "Error";

  @Id
  @GeneratedValue(strategy = GenerationType.IDENTITY)
  private Long id;

  @ManyToOne(fetch = FetchType.LAZY)
  @JoinColumn(name = "action_id")
  private InstanceActionEntity action;

  private String event;

  @Column(name = "start_time")
  private Instant startTime;

  @Column(name = "finish_time")
  private Instant finishTime;

  private String result;

  private String details;

  protected InstanceActionEventEntity() {}

  InstanceActionEventEntity(InstanceActionEntity action, String event, Instant startTime) {
    this.action = action;
    this.event = event;
    this.startTime = startTime;
  }

  public String event() {
    return event;
  }

  public Instant startTime() {
    return startTime;
  }

  public Instant finishTime() {
    return finishTime;
  }

  /** {@link #SUCCESS}, {@link #ERROR}, or {@code null} while running. */
  public String result() {
    return result;
  }

  public String details() {
    return details;
  }

  void finish(Instant at, String outcome, String detailText) {
    this.finishTime = at;
    this.result = outcome;
    this.details = detailText;
  }
}
