-- Conductor leases and task ownership: every task in flight names the conductor that
-- drives it; a conductor keeps its lease alive while it runs. Tasks whose owner's lease
-- expired are adopted by a live conductor's reconcile loop (SPEC §4 Recovery), so two
-- conductors on one database never drive the same operation and no task is left forever.
CREATE TABLE conductors (
    id           text PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);

ALTER TABLE instances ADD COLUMN task_owner text;
CREATE INDEX instances_task_owner_idx ON instances (task_owner) WHERE task_state IS NOT NULL;
