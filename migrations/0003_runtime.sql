-- The runtime: background jobs readable by id from any process, and one lease per job kind
-- so a kind of job runs at most once at a time across every process on this database.

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    -- queued | running | finished | failed
    state       TEXT    NOT NULL,
    progress    TEXT    NOT NULL DEFAULT '',
    error       TEXT,
    -- Which process ran it (pid and a random tag).
    holder      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);
CREATE INDEX jobs_kind ON jobs (kind, id);

CREATE TABLE job_leases (
    kind       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    job_id     INTEGER REFERENCES jobs(id),
    -- Unix milliseconds; a lease past this time is free to take.
    expires_at INTEGER NOT NULL
);
