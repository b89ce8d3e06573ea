package io.stratus.conductor.compute;

import io.stratus.conductor.domain.VmState;
import java.time.Instant;
import java.util.UUID;

/**
 * Which servers a list asks for: the caller's project unless {@code allProjects} (admins
 * only; so is {@code host}), a vm_state ({@code null} for any), a host and a name prefix
 * ({@code null} for any), whether deleted ones count, and the page: at most {@code limit}
 * servers created before the position ({@code afterCreatedAt}, {@code afterUuid}), newest
 * first, or from the newest when the position is null.
 */
public record ServerQuery(
    boolean allProjects,
    VmState vmState,
    String host,
    String namePrefix,
    boolean includeDeleted,
    Instant afterCreatedAt,
    UUID afterUuid,
    int limit) {}
