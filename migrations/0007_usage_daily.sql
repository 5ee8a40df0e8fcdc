-- Per-agent totals per UTC day, so the budget's 7- and 30-day figures read about 30 rows
-- per agent instead of 30 x 24 x models hourly rows. Triggers keep it equal to the sum of
-- `usage_hourly` in the same statement as every write there (ingest, or anything else
-- that writes hourly rows), so the two can never disagree.

CREATE TABLE usage_daily (
    -- unix seconds at 00:00 UTC
    day           INTEGER NOT NULL,
    agent         TEXT    NOT NULL,
    requests      INTEGER NOT NULL DEFAULT 0,
    errors        INTEGER NOT NULL DEFAULT 0,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd      REAL    NOT NULL DEFAULT 0,
    -- Day first: the budget reads a range of days for every agent at once.
    PRIMARY KEY (day, agent)
) WITHOUT ROWID;

-- The UTC day of an hour is `hour - (hour % 86400 + 86400) % 86400` (the Euclidean
-- remainder, as the budget's `day_start`, so an hour before 1970 would not shift a day).
CREATE TRIGGER usage_daily_insert AFTER INSERT ON usage_hourly BEGIN
    INSERT INTO usage_daily (day, agent, requests, errors, input_tokens, output_tokens, cost_usd)
    VALUES (NEW.hour - (NEW.hour % 86400 + 86400) % 86400, NEW.agent, NEW.requests, NEW.errors,
            NEW.input_tokens, NEW.output_tokens, NEW.cost_usd)
    ON CONFLICT (day, agent) DO UPDATE SET
        requests = requests + excluded.requests, errors = errors + excluded.errors,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cost_usd = cost_usd + excluded.cost_usd;
END;

-- Ingest adds to an hour with `ON CONFLICT DO UPDATE`, which fires this.
CREATE TRIGGER usage_daily_update AFTER UPDATE ON usage_hourly BEGIN
    UPDATE usage_daily SET
        requests = requests - OLD.requests, errors = errors - OLD.errors,
        input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens,
        cost_usd = cost_usd - OLD.cost_usd
    WHERE day = OLD.hour - (OLD.hour % 86400 + 86400) % 86400 AND agent = OLD.agent;
    INSERT INTO usage_daily (day, agent, requests, errors, input_tokens, output_tokens, cost_usd)
    VALUES (NEW.hour - (NEW.hour % 86400 + 86400) % 86400, NEW.agent, NEW.requests, NEW.errors,
            NEW.input_tokens, NEW.output_tokens, NEW.cost_usd)
    ON CONFLICT (day, agent) DO UPDATE SET
        requests = requests + excluded.requests, errors = errors + excluded.errors,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cost_usd = cost_usd + excluded.cost_usd;
END;

CREATE TRIGGER usage_daily_delete AFTER DELETE ON usage_hourly BEGIN
    UPDATE usage_daily SET
        requests = requests - OLD.requests, errors = errors - OLD.errors,
        input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens,
        cost_usd = cost_usd - OLD.cost_usd
    WHERE day = OLD.hour - (OLD.hour % 86400 + 86400) % 86400 AND agent = OLD.agent;
END;

-- What is already there.
INSERT INTO usage_daily (day, agent, requests, errors, input_tokens, output_tokens, cost_usd)
SELECT hour - (hour % 86400 + 86400) % 86400, agent, SUM(requests), SUM(errors),
       SUM(input_tokens), SUM(output_tokens), SUM(cost_usd)
FROM usage_hourly GROUP BY 1, 2;

-- Each agent's last call (the budget's heartbeat column) without scanning every agent's
-- calls once per agent.
CREATE INDEX usage_calls_agent ON usage_calls (agent, at);

-- The identity, size and modification time of an agent's state.db, its WAL and its ledger
-- when ingest last read them all ('' = read them next time): while they stay the same,
-- a pass skips opening them.
ALTER TABLE usage_marks ADD COLUMN files_sig TEXT NOT NULL DEFAULT '';
