-- Usage read from every agent's Hermes state.db and nxr-ledger file, the free-tier
-- thresholds already announced, and nothing else: the budget is computed from these.

-- Per agent, per model, per UTC hour (unix seconds at the start of the hour).
CREATE TABLE usage_hourly (
    agent         TEXT    NOT NULL,
    model         TEXT    NOT NULL,
    hour          INTEGER NOT NULL,
    requests      INTEGER NOT NULL DEFAULT 0,
    -- Failed attempts seen in the ledger (429s and the like): they count against the
    -- free-tier quota too.
    errors        INTEGER NOT NULL DEFAULT 0,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd      REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, agent, model)
);
-- The per-agent totals (today, 7 and 30 days) and each agent's last hour.
CREATE INDEX usage_hourly_agent ON usage_hourly (agent, hour);

-- Exact call times (unix seconds) of the last two days, for the last-minute count and
-- the projection; older rows are pruned on ingest.
CREATE TABLE usage_calls (
    agent TEXT    NOT NULL,
    model TEXT    NOT NULL,
    at    REAL    NOT NULL,
    -- 1 for a failed attempt from the ledger
    error INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX usage_calls_at ON usage_calls (at);

-- High-water marks per agent: the last `messages.id` read, the newest
-- `session_model_usage.last_seen` read, and the bytes of the ledger file read.
CREATE TABLE usage_marks (
    agent         TEXT PRIMARY KEY,
    message_id    INTEGER NOT NULL DEFAULT 0,
    usage_seen    REAL    NOT NULL DEFAULT 0,
    ledger_offset INTEGER NOT NULL DEFAULT 0,
    -- The state.db file's identity (inode), so a replaced file is read from the start.
    state_inode   INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT    NOT NULL
);

-- What each `session_model_usage` row held when last read, to take deltas.
CREATE TABLE usage_seen_rows (
    agent         TEXT    NOT NULL,
    session_id    TEXT    NOT NULL,
    model         TEXT    NOT NULL,
    task          TEXT    NOT NULL,
    calls         INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd      REAL    NOT NULL,
    PRIMARY KEY (agent, session_id, model, task)
);

-- The rate-limit event log: every failed API call the ledger recorded.
CREATE TABLE rate_limit_events (
    id          INTEGER PRIMARY KEY,
    agent       TEXT    NOT NULL,
    -- unix milliseconds
    at          INTEGER NOT NULL,
    model       TEXT    NOT NULL DEFAULT '',
    status      INTEGER,
    reason      TEXT    NOT NULL DEFAULT '',
    -- `free-models-per-day`, `free-models-per-min`, ... from OpenRouter's message
    limit_kind  TEXT    NOT NULL DEFAULT '',
    retry_count INTEGER,
    -- X-RateLimit-Reset, unix milliseconds
    reset_at    INTEGER,
    message     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX rate_limit_events_at ON rate_limit_events (at);

-- Free-tier thresholds (70, 90, 100 %) announced, at most once per UTC day each.
CREATE TABLE budget_alerts (
    day       TEXT    NOT NULL,
    threshold INTEGER NOT NULL,
    used      INTEGER NOT NULL,
    lim       INTEGER NOT NULL,
    fired_at  TEXT    NOT NULL,
    PRIMARY KEY (day, threshold)
);
