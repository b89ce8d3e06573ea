package io.stratus.conductor.hosts;

import io.stratus.conductor.db.HostEntity;

/** A host with its computed liveness and number of instances. */
public record HostView(HostEntity host, boolean up, long instanceCount) {}
