-- Conductor schema, version 1: hosts, instances (Nova's instances table), their metadata,
-- actions + action events (Nova's instance_actions / instance_actions_events) and faults.
-- vm_state / task_state keep Nova's spellings; power_state keeps Nova's numbers.

CREATE TABLE hosts (
    name                text PRIMARY KEY,
    address             text NOT NULL,
    agent_version       text NOT NULL DEFAULT '',
    hypervisor          text NOT NULL DEFAULT '',
    storage_kinds       text NOT NULL DEFAULT '',
    contract_versions   text NOT NULL DEFAULT '',
    live_snapshot       boolean NOT NULL DEFAULT false,
    rbd_direct_snapshot boolean NOT NULL DEFAULT false,
    quiesce             boolean NOT NULL DEFAULT false,
    disabled            boolean NOT NULL DEFAULT false,
    disabled_reason     text,
    registered_at       timestamptz NOT NULL,
    last_heartbeat_at   timestamptz NOT NULL,
    version             bigint NOT NULL DEFAULT 0
);

CREATE TABLE instances (
    uuid               uuid PRIMARY KEY,
    name               varchar(255) NOT NULL,
    project_id         text NOT NULL,
    user_id            text NOT NULL,
    host               text REFERENCES hosts (name),
    vm_state           text NOT NULL,
    task_state         text,
    power_state        integer NOT NULL DEFAULT 0,
    image_ref          text NOT NULL,
    root_disk_kind     text NOT NULL,
    vcpus              integer NOT NULL,
    memory_mb          integer NOT NULL,
    root_gb            integer NOT NULL,
    locked             boolean NOT NULL DEFAULT false,
    locked_by          text,
    lock_reason        text,
    -- the request driving the task in flight, and the image a snapshot is making: what
    -- recovery needs to finish or undo the task after a crash
    task_request_id    text,
    task_image_id      text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    deleted_at         timestamptz,
    version            bigint NOT NULL DEFAULT 0,
    CONSTRAINT instances_vm_state_check CHECK (vm_state IN
        ('building', 'active', 'stopped', 'paused', 'suspended', 'error', 'deleted')),
    CONSTRAINT instances_root_disk_kind_check CHECK (root_disk_kind IN ('local', 'rbd'))
);
CREATE INDEX instances_project_created_idx ON instances (project_id, created_at DESC, uuid);
CREATE INDEX instances_host_idx ON instances (host);
CREATE INDEX instances_task_state_idx ON instances (host) WHERE task_state IS NOT NULL;

CREATE TABLE instance_metadata (
    instance_uuid uuid NOT NULL REFERENCES instances (uuid) ON DELETE CASCADE,
    key           varchar(255) NOT NULL,
    value         varchar(65535) NOT NULL,
    PRIMARY KEY (instance_uuid, key)
);

CREATE TABLE instance_actions (
    id            bigserial PRIMARY KEY,
    request_id    text NOT NULL UNIQUE,
    instance_uuid uuid NOT NULL REFERENCES instances (uuid) ON DELETE CASCADE,
    action        text NOT NULL,
    project_id    text NOT NULL,
    user_id       text NOT NULL,
    start_time    timestamptz NOT NULL,
    finish_time   timestamptz,
    message       text
);
CREATE INDEX instance_actions_instance_idx ON instance_actions (instance_uuid, start_time DESC);

CREATE TABLE instance_action_events (
    id          bigserial PRIMARY KEY,
    action_id   bigint NOT NULL REFERENCES instance_actions (id) ON DELETE CASCADE,
    event       text NOT NULL,
    start_time  timestamptz NOT NULL,
    finish_time timestamptz,
    result      text,
    details     text
);
CREATE INDEX instance_action_events_action_idx ON instance_action_events (action_id);

CREATE TABLE instance_faults (
    id            bigserial PRIMARY KEY,
    instance_uuid uuid NOT NULL REFERENCES instances (uuid) ON DELETE CASCADE,
    code          integer NOT NULL,
    message       text NOT NULL,
    details       text,
    created_at    timestamptz NOT NULL
);
CREATE INDEX instance_faults_instance_idx ON instance_faults (instance_uuid, created_at DESC);
