package io.stratus.conductor.db;

import io.stratus.conductor.domain.PowerState;
import io.stratus.conductor.domain.RootDiskKind;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.domain.VmState;
import jakarta.persistence.CollectionTable;
import jakarta.persistence.Column;
import jakarta.persistence.ElementCollection;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.MapKeyColumn;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * One row of {@code instances} (Nova's Instance). State columns are changed only through
 * {@link InstanceStore}'s compare-and-swap updates, never by dirty-checking this entity.
 */
@Entity
@Table(name = "instances")
public class InstanceEntity {
  @Id
  private UUID uuid;

  private String name;

  @Column(name = "project_id")
  private String projectId;

  @Column(name = "user_id")
  private String userId;

  private String host;

  @Column(name = "vm_state")
  private String vmState;

  @Column(name = "task_state")
  private String taskState;

  @Column(name = "power_state")
  private int powerState;

  @Column(name = "image_ref")
  private String imageRef;

  @Column(name = "root_disk_kind")
  private String rootDiskKind;

  @Column(name = "guest_agent")
  private boolean guestAgent;

  @Column(name = "require_quiesce")
  private boolean requireQuiesce;

  private int vcpus;

  @Column(name = "memory_mb")
  private int memoryMb;

  @Column(name = "root_gb")
  private int rootGb;

  private boolean locked;

  @Column(name = "locked_by")
  private String lockedBy;

  @Column(name = "lock_reason")
  private String lockReason;

  @Column(name = "task_request_id")
  private String taskRequestId;

  @Column(name = "task_image_id")
  private String taskImageId;

  @Column(name = "task_owner")
  private String taskOwner;

  @Column(name = "created_at")
  private Instant createdAt;

  @Column(name = "updated_at")
  private Instant updatedAt;

  @Column(name = "deleted_at")
  private Instant deletedAt;

  @Version
  private long version;

  @ElementCollection(fetch = FetchType.EAGER)
  @CollectionTable(name = "instance_metadata", joinColumns = @JoinColumn(name = "instance_uuid"))
  @MapKeyColumn(name = "key")
  @Column(name = "value")
  private Map<String, String> metadata = new HashMap<>();

  protected InstanceEntity() {}

  /** A detached copy of {@link InstanceStore#read}'s row: to read, never to change. */
  static InstanceEntity fromRow(java.sql.ResultSet rs) throws java.sql.SQLException {
    InstanceEntity e = new InstanceEntity();
    e.uuid = rs.getObject(1, UUID.class);
    e.name = rs.getString(2);
    e.projectId = rs.getString(3);
    e.userId = rs.getString(4);
    e.host = rs.getString(5);
    e.vmState = rs.getString(6);
    e.taskState = rs.getString(7);
    e.powerState = rs.getInt(8);
    e.imageRef = rs.getString(9);
    e.rootDiskKind = rs.getString(10);
    e.guestAgent = rs.getBoolean(11);
    e.requireQuiesce = rs.getBoolean(12);
    e.vcpus = rs.getInt(13);
    e.memoryMb = rs.getInt(14);
    e.rootGb = rs.getInt(15);
    e.locked = rs.getBoolean(16);
    e.lockedBy = rs.getString(17);
    e.lockReason = rs.getString(18);
    e.taskRequestId = rs.getString(19);
    e.taskImageId = rs.getString(20);
    e.taskOwner = rs.getString(21);
    e.createdAt = Jdbc.instant(rs, 22);
    e.updatedAt = Jdbc.instant(rs, 23);
    e.deletedAt = Jdbc.instant(rs, 24);
    e.version = rs.getLong(25);
    String[] keys = (String[]) rs.getArray(26).getArray();
    String[] values = (String[]) rs.getArray(27).getArray();
    for (int k = 0; k < keys.length; k++) {
      e.metadata.put(keys[k], values[k]);
    }
    return e;
  }

  /** A new instance record in vm_state building, task spawning. */
  public InstanceEntity(
      UUID uuid,
      String name,
      String projectId,
      String userId,
      String host,
      String imageRef,
      RootDiskKind rootDiskKind,
      int vcpus,
      int memoryMb,
      int rootGb,
      Map<String, String> metadata,
      String taskRequestId,
      String taskOwner,
      Instant now) {
    this.uuid = uuid;
    this.name = name;
    this.projectId = projectId;
    this.userId = userId;
    this.host = host;
    this.vmState = VmState.BUILDING.dbName();
    this.taskState = TaskState.SPAWNING.dbName();
    this.powerState = PowerState.NOSTATE.code();
    this.imageRef = imageRef;
    this.rootDiskKind = rootDiskKind.dbName();
    this.vcpus = vcpus;
    this.memoryMb = memoryMb;
    this.rootGb = rootGb;
    this.metadata = new HashMap<>(metadata);
    this.taskRequestId = taskRequestId;
    this.taskOwner = taskOwner;
    this.createdAt = now;
    this.updatedAt = now;
  }

  public UUID uuid() {
    return uuid;
  }

  public String name() {
    return name;
  }

  public String projectId() {
    return projectId;
  }

  public String userId() {
    return userId;
  }

  public String host() {
    return host;
  }

  public VmState vmState() {
    return VmState.fromDb(vmState);
  }

  /** The task in flight, or {@code null} for none. */
  public TaskState taskState() {
    return TaskState.fromDb(taskState);
  }

  public PowerState powerState() {
    return PowerState.fromCode(powerState);
  }

  public String imageRef() {
    return imageRef;
  }

  /** The boot image said hw_qemu_guest_agent=yes: the guest runs a qemu guest agent. */
  public boolean guestAgent() {
    return guestAgent;
  }

  /** The boot image said os_require_quiesce=yes: snapshots must be quiesced. */
  public boolean requireQuiesce() {
    return requireQuiesce;
  }

  /** Records what the boot image's properties say about quiescing; before the insert. */
  public void setImageTraits(boolean guestAgent, boolean requireQuiesce) {
    this.guestAgent = guestAgent;
    this.requireQuiesce = requireQuiesce;
  }

  public RootDiskKind rootDiskKind() {
    return RootDiskKind.fromDb(rootDiskKind);
  }

  public int vcpus() {
    return vcpus;
  }

  public int memoryMb() {
    return memoryMb;
  }

  public int rootGb() {
    return rootGb;
  }

  public boolean locked() {
    return locked;
  }

  /** "owner" or "admin" when locked, else {@code null}. */
  public String lockedBy() {
    return lockedBy;
  }

  public String lockReason() {
    return lockReason;
  }

  public String taskRequestId() {
    return taskRequestId;
  }

  public String taskImageId() {
    return taskImageId;
  }

  /** The conductor driving the task in flight, or {@code null}. */
  public String taskOwner() {
    return taskOwner;
  }

  public Instant createdAt() {
    return createdAt;
  }

  public Instant updatedAt() {
    return updatedAt;
  }

  public Instant deletedAt() {
    return deletedAt;
  }

  public long version() {
    return version;
  }

  public Map<String, String> metadata() {
    return Map.copyOf(metadata);
  }
}
