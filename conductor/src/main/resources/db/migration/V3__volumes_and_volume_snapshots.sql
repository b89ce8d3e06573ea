-- Conductor schema, version 3: volumes (Cinder's volumes, as RBD images) attached to
-- volume-backed instances, and the volume snapshots a volume-backed createImage takes
-- (Cinder's snapshots), each belonging to the image whose block_device_mapping lists it.

CREATE TABLE volumes (
    id                    uuid PRIMARY KEY,
    project_id            text NOT NULL,
    instance_uuid         uuid REFERENCES instances (uuid),
    pool                  text NOT NULL,
    rbd_image             text NOT NULL,
    size_bytes            bigint NOT NULL CHECK (size_bytes >= 0),
    device                text NOT NULL,
    boot_index            integer NOT NULL,
    delete_on_termination boolean NOT NULL,
    source_type           text NOT NULL,
    source_id             text,
    status                text NOT NULL,
    created_at            timestamptz NOT NULL,
    deleted_at            timestamptz,
    CONSTRAINT volumes_source_type_check CHECK (source_type IN ('image', 'blank', 'snapshot')),
    CONSTRAINT volumes_status_check CHECK (status IN ('in-use', 'available', 'deleted'))
);
CREATE INDEX volumes_instance_idx ON volumes (instance_uuid);

CREATE TABLE volume_snapshots (
    id           uuid PRIMARY KEY,
    volume_id    uuid NOT NULL REFERENCES volumes (id),
    image_id     text NOT NULL,
    rbd_snapshot text NOT NULL,
    size_bytes   bigint NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX volume_snapshots_image_idx ON volume_snapshots (image_id);

-- What the conductor keeps of the boot image's properties (Nova keeps them in the
-- instance's system_metadata as image_hw_qemu_guest_agent / image_os_require_quiesce).
ALTER TABLE instances ADD COLUMN guest_agent boolean NOT NULL DEFAULT false;
ALTER TABLE instances ADD COLUMN require_quiesce boolean NOT NULL DEFAULT false;
