package io.stratus.conductor.compute;

import io.stratus.conductor.db.ActionLog;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.InstanceEntity;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.db.VolumeStore;
import java.util.List;
import java.util.UUID;
import org.hibernate.Session;

/** Reading servers and their actions, as the caller may see them. */
public final class ServerReads {
  private final Database db;
  private final InstanceStore instances;
  private final ActionLog actions;
  private final VolumeStore volumes = new VolumeStore();

  ServerReads(Database db, InstanceStore instances, ActionLog actions) {
    this.db = db;
    this.instances = instances;
    this.actions = actions;
  }

  /** Reads a server of the caller's project (any project for an admin). */
  public ServerView get(Caller caller, String serverId) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    return db.inTransaction(
        s -> view(s, ServerAccess.visible(caller, instances.find(s, uuid), serverId)));
  }

  /**
   * Lists servers newest first, paged; {@code allProjects} and {@code host} are the
   * adapter's to refuse to members.
   */
  public List<ServerView> list(Caller caller, ServerQuery q) {
    var query = new InstanceStore.ListQuery(q.allProjects() ? null : caller.projectId(),
        q.vmState(), q.host(), q.namePrefix(), q.includeDeleted(), q.afterCreatedAt(),
        q.afterUuid(), q.limit());
    return db.inTransaction(s -> instances.list(s, query).stream().map(i -> view(s, i)).toList());
  }

  /** A server's actions, newest first (a deleted server's too). */
  public List<ActionView> actions(Caller caller, String serverId) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    return db.inTransaction(s -> {
      ServerAccess.visible(caller, instances.findAny(s, uuid), serverId);
      return actions.list(s, uuid).stream().map(ActionView::of).toList();
    });
  }

  private ServerView view(Session s, InstanceEntity i) {
    return ServerView.of(i, actions.latestFault(s, i.uuid()), volumes.ofInstance(s, i.uuid()));
  }
}
