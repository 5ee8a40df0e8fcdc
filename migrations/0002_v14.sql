-- v1.4: role-aware agents, scoring history and onboarding state.

ALTER TABLE agents ADD COLUMN role TEXT NOT NULL DEFAULT 'custom';
ALTER TABLE agents ADD COLUMN skillset TEXT NOT NULL DEFAULT '[]';
ALTER TABLE agents ADD COLUMN model_score REAL;
ALTER TABLE agents ADD COLUMN model_auto_assigned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN workspace_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE agents ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0;

CREATE TABLE model_scores (
    id                INTEGER PRIMARY KEY,
    model_id          TEXT    NOT NULL,
    role              TEXT    NOT NULL,
    is_free           INTEGER NOT NULL,
    qualified         INTEGER NOT NULL,
    disqualified_by   TEXT,
    total             REAL    NOT NULL,
    context_score     REAL    NOT NULL,
    capability_score  REAL    NOT NULL,
    size_score        REAL    NOT NULL,
    recency_score     REAL    NOT NULL,
    reliability_score REAL    NOT NULL,
    output_score      REAL    NOT NULL,
    fit_score         REAL    NOT NULL,
    price_score       REAL    NOT NULL,
    rank              INTEGER,
    catalog_id        INTEGER REFERENCES catalog_snapshots(id),
    scored_at         TEXT    NOT NULL,
    UNIQUE (model_id, role, scored_at)
);
CREATE INDEX idx_model_scores_role ON model_scores(role);
CREATE INDEX idx_model_scores_is_free ON model_scores(is_free);
CREATE INDEX idx_model_scores_scored_at ON model_scores(scored_at);

CREATE TABLE onboarding (
    id                   INTEGER PRIMARY KEY,
    workspace_id         TEXT    NOT NULL UNIQUE DEFAULT 'default',
    flow                 TEXT    NOT NULL,
    started_at           TEXT    NOT NULL,
    completed_at         TEXT,
    agents_created       TEXT    NOT NULL DEFAULT '[]',
    initial_free_models  TEXT    NOT NULL DEFAULT '{}',
    key_provided         INTEGER NOT NULL DEFAULT 0,
    ollama_detected      INTEGER NOT NULL DEFAULT 0,
    ollama_url           TEXT,
    ollama_models        TEXT    NOT NULL DEFAULT '[]',
    whisper_detected     INTEGER NOT NULL DEFAULT 0,
    whisper_source       TEXT,
    hermes_cli_detected  INTEGER NOT NULL DEFAULT 0,
    hermes_version       TEXT
);
