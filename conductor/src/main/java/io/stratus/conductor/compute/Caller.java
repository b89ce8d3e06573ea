package io.stratus.conductor.compute;

/** Who is calling the public API: from the bearer token. */
public record Caller(String projectId, String userId, boolean admin) {}
