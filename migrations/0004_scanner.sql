-- The scanner: notifications that can be withdrawn, applied and forwarded once, and the
-- routing slots nxr set itself (only those may be moved by the scanner).

-- active | obsolete (a later scan made it false: not actionable, not unread) | applied
ALTER TABLE notifications ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
-- What the advice is about ("better_model:scout:main:qwen/x"): the same advice is never
-- added twice while one is active.
ALTER TABLE notifications ADD COLUMN dedupe_key TEXT;
-- Telegram forwarding: a process claims a row (unix ms) in a write transaction before
-- sending, so several processes never send it twice; failures wait until forward_after.
ALTER TABLE notifications ADD COLUMN forward_claimed_at INTEGER;
ALTER TABLE notifications ADD COLUMN forward_after INTEGER;
ALTER TABLE notifications ADD COLUMN forward_attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_notifications_dedupe ON notifications(dedupe_key, state);
CREATE INDEX idx_notifications_kind ON notifications(kind, id);
CREATE INDEX idx_notifications_pending ON notifications(forwarded_at, id);
-- The unread badge counts on every refresh of every surface: a partial index keeps that
-- count small however long the history grows.
CREATE INDEX idx_notifications_unread_active ON notifications(id)
    WHERE read_at IS NULL AND state = 'active';

-- A slot nxr wrote for an agent (at creation or by auto-upgrade). When the profile's slot
-- still holds `model`, nxr set it; when it differs, a person changed it by hand.
CREATE TABLE managed_slots (
    agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    -- vision, fallback:0 ... (routing::SlotKey::as_string)
    slot     TEXT    NOT NULL,
    model    TEXT    NOT NULL,
    set_at   TEXT    NOT NULL,
    PRIMARY KEY (agent_id, slot)
);
