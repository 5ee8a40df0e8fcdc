-- Hermes gateway processes: what nxr launched, the last state it saw (so a crash is noticed
-- once, by one process), the opt-in watchdog, and every restart it made.

CREATE TABLE gateways (
    agent             TEXT    PRIMARY KEY,
    -- 1: restart this gateway when it crashes (`nxr hermes watch AGENT on`).
    watch             INTEGER NOT NULL DEFAULT 0,
    -- How nxr last launched it: 'tmux' | 'child'; NULL once nxr stopped it.
    launch_mode       TEXT,
    launch_pid        INTEGER,
    -- Field 22 of /proc/<pid>/stat at launch: a reused PID is not the child nxr started.
    launch_start_time INTEGER,
    launched_at       TEXT,
    -- running | starting | stopped | crashed | stopping (nxr is stopping it)
    last_state        TEXT    NOT NULL DEFAULT 'stopped',
    last_pid          INTEGER,
    last_change_at    TEXT,
    -- The watchdog: when it may try the next restart (unix ms), and when it gave up.
    next_try_at       INTEGER,
    gave_up_at        TEXT
);

CREATE TABLE gateway_restarts (
    id         INTEGER PRIMARY KEY,
    agent      TEXT    NOT NULL,
    -- unix milliseconds, for the watchdog's 10-minute window
    at_ms      INTEGER NOT NULL,
    at         TEXT    NOT NULL,
    -- 'watchdog' | 'user'
    reason     TEXT    NOT NULL,
    ok         INTEGER NOT NULL,
    detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX gateway_restarts_agent ON gateway_restarts (agent, at_ms);
