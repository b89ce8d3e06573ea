package io.stratus.conductor.db;

import io.stratus.conductor.domain.PowerState;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.domain.VmState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * A compare-and-swap on an instance's state columns, Nova's {@code
 * instance.save(expected_task_state=…)}: it applies only if the row's task_state (and
 * vm_state, when given) is still one of the expected values, in a single {@code UPDATE …
 * WHERE}. Build with the fluent setters, apply with {@link InstanceStore#apply}.
 */
public final class StateUpdate {
  private final UUID uuid;
  private final Set<TaskState> expectedTasks = EnumSet.noneOf(TaskState.class);
  private boolean expectNoTask;
  private boolean anyTask;
  private Set<VmState> expectedVmStates;
  private boolean checkOwner;
  private String expectedOwner;
  private String expectedRequest;
  private Long expectedVersion;
  private final Map<String, Object> sets = new LinkedHashMap<>();

  private StateUpdate(UUID uuid) {
    this.uuid = uuid;
  }

  /** Starts an update of one instance. */
  public static StateUpdate of(UUID uuid) {
    return new StateUpdate(uuid);
  }

  /** Expects one of these task states; {@code null} in the list stands for "no task". */
  public StateUpdate expectTask(TaskState... states) {
    for (TaskState s : states) {
      if (s == null) {
        expectNoTask = true;
      } else {
        expectedTasks.add(s);
      }
    }
    return this;
  }

  /** Expects one of these task states, or none when {@code includeNone}. */
  public StateUpdate expectTask(Collection<TaskState> states, boolean includeNone) {
    expectedTasks.addAll(states);
    expectNoTask |= includeNone;
    return this;
  }

  /** Applies whatever the task state is (still only to a non-deleted row). */
  public StateUpdate anyTask() {
    anyTask = true;
    return this;
  }

  /** Expects the vm_state to be one of these. */
  public StateUpdate expectVm(Set<VmState> states) {
    expectedVmStates = EnumSet.copyOf(states);
    return this;
  }

  /** Sets task_state ({@code null} clears it). */
  public StateUpdate task(TaskState state) {
    sets.put("task_state", state == null ? null : state.dbName());
    return this;
  }

  public StateUpdate vm(VmState state) {
    sets.put("vm_state", state.dbName());
    return this;
  }

  public StateUpdate power(PowerState state) {
    sets.put("power_state", state.code());
    return this;
  }

  /**
   * Records the request (and image) driving the task and the conductor that owns it, for
   * recovery.
   */
  public StateUpdate taskRequest(String requestId, String imageId, String owner) {
    sets.put("task_request_id", requestId);
    sets.put("task_image_id", imageId);
    sets.put("task_owner", owner);
    return this;
  }

  public StateUpdate clearTaskRequest() {
    return taskRequest(null, null, null);
  }

  /** Also requires the task to be owned by {@code owner} (null: owned by nobody). */
  public StateUpdate expectOwner(String owner) {
    this.expectedOwner = owner;
    this.checkOwner = true;
    return this;
  }

  /** Also requires the task to be the one of request {@code requestId}. */
  public StateUpdate expectRequest(String requestId) {
    this.expectedRequest = requestId;
    return this;
  }

  /** Also requires the row to be unchanged since it was read at {@code version}. */
  public StateUpdate expectVersion(long version) {
    this.expectedVersion = version;
    return this;
  }

  /** Hands the task over to another conductor. */
  public StateUpdate owner(String owner) {
    sets.put("task_owner", owner);
    return this;
  }

  public StateUpdate lock(String lockedBy, String reason) {
    sets.put("locked", lockedBy != null);
    sets.put("locked_by", lockedBy);
    sets.put("lock_reason", reason);
    return this;
  }

  public StateUpdate deletedAt(Instant at) {
    sets.put("deleted_at", at);
    return this;
  }

  public UUID uuid() {
    return uuid;
  }

  /** The new task state if this update sets one, for events. */
  public boolean setsTask() {
    return sets.containsKey("task_state");
  }

  /** The task_state it sets ("none" for none); meaningful when {@link #setsTask}. */
  String taskTo() {
    Object t = sets.get("task_state");
    return t == null ? "none" : t.toString();
  }

  /** SQL text; parameters come from {@link #parameters()}. */
  String sql() {
    if (!anyTask && !expectNoTask && expectedTasks.isEmpty()) {
      throw new IllegalStateException("a state update must say which task states it expects");
    }
    List<String> assignments = new ArrayList<>();
    for (String column : sets.keySet()) {
      assignments.add(column + " = :" + column);
    }
    assignments.add("version = version + 1");
    assignments.add("updated_at = :updated_at");
    StringBuilder sql =
        new StringBuilder("UPDATE instances SET ")
            .append(String.join(", ", assignments))
            .append(" WHERE uuid = :uuid AND deleted_at IS NULL");
    if (!anyTask) {
      List<String> alternatives = new ArrayList<>();
      if (expectNoTask) {
        alternatives.add("task_state IS NULL");
      }
      if (!expectedTasks.isEmpty()) {
        alternatives.add("task_state = ANY(:expected_tasks)");
      }
      sql.append(" AND (").append(String.join(" OR ", alternatives)).append(")");
    }
    if (expectedVmStates != null) {
      sql.append(" AND vm_state = ANY(:expected_vm)");
    }
    if (checkOwner) {
      sql.append(expectedOwner == null ? " AND task_owner IS NULL" : " AND task_owner = :expected_owner");
    }
    if (expectedRequest != null) {
      sql.append(" AND task_request_id = :expected_request");
    }
    if (expectedVersion != null) {
      sql.append(" AND version = :expected_version");
    }
    return sql.toString();
  }

  Map<String, Object> parameters(Instant now) {
    Map<String, Object> params = new LinkedHashMap<>(sets);
    params.put("uuid", uuid);
    params.put("updated_at", now);
    if (!anyTask && !expectedTasks.isEmpty()) {
      params.put("expected_tasks", expectedTasks.stream().map(TaskState::dbName).toList());
    }
    if (expectedVmStates != null) {
      params.put("expected_vm", expectedVmStates.stream().map(VmState::dbName).toList());
    }
    if (checkOwner && expectedOwner != null) {
      params.put("expected_owner", expectedOwner);
    }
    if (expectedRequest != null) {
      params.put("expected_request", expectedRequest);
    }
    if (expectedVersion != null) {
      params.put("expected_version", expectedVersion);
    }
    return params;
  }
}
