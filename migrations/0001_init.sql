-- nxr base schema. Append-only: never edit a migration once it has landed.

CREATE TABLE agents (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    profile     TEXT    NOT NULL UNIQUE,
    model       TEXT    NOT NULL,
    provider    TEXT    NOT NULL DEFAULT 'openrouter',
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

-- Every model an agent has been given, newest last: what `upgrade --revert` reads.
CREATE TABLE agent_model_history (
    id          INTEGER PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    model       TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    is_free     INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    assigned_at TEXT    NOT NULL
);
CREATE INDEX idx_agent_model_history_agent ON agent_model_history(agent_id, id);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE notifications (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    body         TEXT    NOT NULL DEFAULT '',
    payload      TEXT    NOT NULL DEFAULT '{}',
    created_at   TEXT    NOT NULL,
    read_at      TEXT,
    forwarded_at TEXT
);
CREATE INDEX idx_notifications_unread ON notifications(read_at);

-- A catalog as parsed by nxr (unknown fields dropped), kept with its fetch time.
CREATE TABLE catalog_snapshots (
    id          INTEGER PRIMARY KEY,
    fetched_at  TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    model_count INTEGER NOT NULL,
    free_count  INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    stored_at   TEXT    NOT NULL
);

CREATE TABLE scans (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    source      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    error       TEXT,
    catalog_id  INTEGER REFERENCES catalog_snapshots(id)
);

-- One row per change in any table a screen shows; surfaces poll MAX(id) to refresh.
CREATE TABLE changes (
    id          INTEGER PRIMARY KEY,
    what        TEXT NOT NULL,
    changed_at  TEXT NOT NULL
);
