package io.stratus.conductor.compute;

import java.util.UUID;

/**
 * The outcome of an accepted request: its request id (Nova's {@code req-UUID}), the
 * server, and for a snapshot the id of the queued image.
 */
public record Accepted(String requestId, UUID instance, String imageId) {}
