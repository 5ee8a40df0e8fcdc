-- Kanban tasks nxr held while the budget gate was closed (`hermes kanban schedule`), so
-- that when the gate opens it unblocks exactly these and never a task a person scheduled.

CREATE TABLE kanban_holds (
    id          INTEGER PRIMARY KEY,
    -- The Hermes root whose board holds the task, and the board ('default' is
    -- <root>/kanban.db, others <root>/kanban/boards/<slug>/kanban.db).
    root        TEXT    NOT NULL,
    board       TEXT    NOT NULL,
    task_id     TEXT    NOT NULL,
    title       TEXT    NOT NULL DEFAULT '',
    assignee    TEXT,
    -- The reason given to Hermes, as `hermes kanban show` prints it.
    reason      TEXT    NOT NULL,
    -- When the gate opens by itself (RFC 3339), as the reason says.
    opens_at    TEXT,
    held_at     TEXT    NOT NULL,
    -- unix milliseconds of the last `schedule` nxr ran for this hold
    held_ms     INTEGER NOT NULL,
    -- When nxr first found the held task `ready` again (a person unblocked it, or the
    -- `schedule` was lost with its process); cleared when it is seen not ready. Ready for
    -- 30 s while the gate stays closed, it is held again.
    ready_seen_ms INTEGER,
    released_at TEXT,
    -- unblocked | not held any more (a person moved it) | failed: <why>
    outcome     TEXT
);
-- One open hold per task: the row a process inserts (or closes) is its claim to run
-- `schedule` (or `unblock`), so two nxr processes never both act on one task.
CREATE UNIQUE INDEX kanban_holds_open ON kanban_holds (root, board, task_id)
    WHERE released_at IS NULL;
