package io.stratus.conductor.compute;

import io.stratus.conductor.config.ApiToken;
import java.time.Clock;

/**
 * The instance API (Nova's {@code compute/api.py}) the adapters call, in three parts:
 * {@link ServerReads reading} servers and actions, {@link ServerCreation booting} one, and
 * the {@link ServerOperations operations} on an existing one. They take and return plain
 * values ({@link ServerView}, {@link ActionView}, {@link ServerQuery}); no database object
 * leaves this package through them.
 */
public record ComputeApi(ServerReads reads, ServerCreation creation, ServerOperations operations) {

  /**
   * How volumes are handled: the Ceph pool new volumes go to, and the role the policy
   * create_image:allow_volume_backed requires.
   */
  public record VolumeSettings(String pool, ApiToken.Role snapshotRole) {}

  /** Wires the three parts over the shared {@code context}. */
  public static ComputeApi create(ComputeContext context, Clock clock,
      VolumeSettings volumeSettings, java.time.Duration softRebootTimeout) {
    return new ComputeApi(
        new ServerReads(context.db(), context.instances(), context.actions()),
        new ServerCreation(context, clock, volumeSettings.pool()),
        new ServerOperations(context, volumeSettings.snapshotRole(),
            (int) Math.max(1, softRebootTimeout.toSeconds())));
  }
}
