package io.stratus.conductor.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.stratus.conductor.compute.Caller;
import io.stratus.conductor.compute.ServerReads;
import io.stratus.conductor.compute.ServerView;
import io.stratus.conductor.events.EventBus;
import io.stratus.conductor.events.ServerEvents;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.WatchEventsRequest;
import io.stratus.proto.conductor.v1.WatchServerRequest;
import io.stratus.support.errors.ApiException;
import io.stratus.support.grpc.GrpcErrors;
import java.time.Clock;
import java.time.Instant;
import java.util.UUID;

/**
 * The two watch RPCs of {@link ServersService}: streams of server events from the bus
 * (every replica's events), each holding one of its project's watch slots while open on
 * this replica. A stream ends with UNAVAILABLE when the bus reports a gap in its feed.
 */
final class ServerWatches {
  /** How a watch ends when events may have been lost: the client watches again. */
  private static final io.grpc.StatusRuntimeException FEED_LOST = io.grpc.Status.UNAVAILABLE
      .withDescription("the conductor's event feed was interrupted; watch again")
      .asRuntimeException();
  private final ServerReads reads;
  private final EventBus bus;
  private final Clock clock;
  private final WatchQuota quota;

  ServerWatches(ServerReads reads, EventBus bus, Clock clock, WatchQuota quota) {
    this.reads = reads;
    this.bus = bus;
    this.clock = clock;
    this.quota = quota;
  }

  /** WatchServer: the server's snapshot, then its every event until it is deleted. */
  void server(Caller c, WatchServerRequest r, StreamObserver<ServerEvent> o) {
    ServerView view;
    try {
      view = reads.get(c, r.getServerId());
    } catch (RuntimeException e) {
      o.onError(GrpcErrors.toStatus(e));
      return;
    }
    String id = view.uuid().toString();
    Runnable release = watchSlot(c, o);
    if (release == null) {
      return;
    }
    WatchStream stream = new WatchStream((ServerCallStreamObserver<ServerEvent>) o, true, true);
    // Subscribe before reading the snapshot again, so no change falls in between.
    AutoCloseable sub = bus.subscribe(e -> e.getServerId().equals(id), stream::offer,
        () -> stream.fail(FEED_LOST));
    stream.onClose(() -> {
      closeQuietly(sub);
      release.run();
    });
    ServerView fresh;
    try {
      fresh = reads.get(c, id);
    } catch (RuntimeException e) {
      // deleted (or the database gone) in between: the same mapped status as the first read
      stream.fail(GrpcErrors.toStatus(e));
      return;
    }
    stream.first(ServerEvents.snapshot(ServerMessages.server(fresh), Instant.now(clock)));
  }

  /** WatchEvents: the events of the caller's project's servers (or all, for an admin). */
  void events(Caller c, WatchEventsRequest r, StreamObserver<ServerEvent> o) {
    if (r.getAllProjects() && !c.admin()) {
      o.onError(GrpcErrors.toStatus(ApiException.permissionDenied("all_projects: admin only")));
      return;
    }
    Runnable release = watchSlot(c, o);
    if (release == null) {
      return;
    }
    WatchStream stream = new WatchStream((ServerCallStreamObserver<ServerEvent>) o, false, false);
    java.util.Set<String> visible = java.util.concurrent.ConcurrentHashMap.newKeySet();
    AutoCloseable sub = bus.subscribe(
        e -> r.getAllProjects() || visibleTo(c, e.getServerId(), visible), stream::offer,
        () -> stream.fail(FEED_LOST));
    stream.onClose(() -> {
      closeQuietly(sub);
      release.run();
    });
  }

  /** A watch slot of the caller's project, or null after ending the call over the limit. */
  private Runnable watchSlot(Caller c, StreamObserver<ServerEvent> o) {
    try {
      return quota.acquire(c.projectId());
    } catch (RuntimeException e) {
      o.onError(GrpcErrors.toStatus(e));
      return null;
    }
  }

  /** Whether a server belongs to the caller's project (remembered once seen). */
  private boolean visibleTo(Caller c, String serverId, java.util.Set<String> known) {
    if (known.contains(serverId)) {
      return true;
    }
    try {
      reads.get(c, UUID.fromString(serverId).toString());
      known.add(serverId);
      return true;
    } catch (ApiException e) {
      return false;
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception ignored) {
      // listener removal cannot fail
    }
  }
}
