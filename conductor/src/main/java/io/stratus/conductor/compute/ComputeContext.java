package io.stratus.conductor.compute;

import io.stratus.conductor.db.ActionLog;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.hosts.HostRegistry;
import io.stratus.conductor.image.ImageRegistry;

/**
 * What the parts of the instance API share: the database and its stores, the hosts, the
 * images, the task driver, the watch publisher, the request validator, and this
 * conductor's lease id (recorded as the owner of the tasks it accepts).
 */
public record ComputeContext(
    Database db,
    InstanceStore instances,
    ActionLog actions,
    HostRegistry hosts,
    ImageRegistry images,
    TaskDriver driver,
    StatePublisher publisher,
    RequestValidator validator,
    String conductorId) {}
