-- The team's shared queue (design.md §19): the same tables as a data home's proposals.db, in
-- PostgreSQL's types. Made by the first desk that opens the team's queue; every statement here
-- may run again (IF NOT EXISTS), so a desk of a newer version can add to it.

CREATE TABLE IF NOT EXISTS agents (
    name       TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    added_at   TEXT NOT NULL,
    revoked_at TEXT,
    -- When it first asked what it may use (list_capabilities).
    checked_in_at TEXT
);
-- A team database made before the column existed.
ALTER TABLE agents ADD COLUMN IF NOT EXISTS checked_in_at TEXT;

CREATE TABLE IF NOT EXISTS proposals (
    id              TEXT PRIMARY KEY,
    agent           TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    summary         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    artifact        TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL,
    explanation     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn',
                        'expired', 'executing', 'succeeded', 'failed', 'outcome_unknown')),
    decided_at      TEXT,
    reason          TEXT,
    result          TEXT,
    released        TEXT,
    routine_id      TEXT,
    -- The desk (its keychain namespace) that approved it and executes it: only that desk marks
    -- it `outcome_unknown` when it starts again after being cut off.
    desk            TEXT,
    -- Who decided it, for the other desks ("decided by …").
    decided_by      TEXT,
    -- The money its artifact moves (`[["250.00","USD"]]`), for the two-person rule.
    amounts         TEXT,
    -- The first of two people a rule asks for, once they approved.
    first_approved_by TEXT
);
CREATE INDEX IF NOT EXISTS proposals_status ON proposals (status);
CREATE INDEX IF NOT EXISTS proposals_agent ON proposals (agent);
CREATE INDEX IF NOT EXISTS proposals_status_received ON proposals (status, received_at, id);
CREATE INDEX IF NOT EXISTS proposals_decided_received ON proposals (received_at, id) WHERE status <> 'pending';

CREATE TABLE IF NOT EXISTS routines (
    id              TEXT PRIMARY KEY,
    agent           TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    status          TEXT NOT NULL,
    summary         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    routine         TEXT NOT NULL,
    routine_sha256  TEXT NOT NULL,
    explanation     TEXT NOT NULL,
    decided_at      TEXT,
    reason          TEXT,
    expires_at      BIGINT,
    vetted          TEXT,
    last_scheduled  BIGINT
);
CREATE INDEX IF NOT EXISTS routines_status ON routines (status, received_at);

CREATE TABLE IF NOT EXISTS routine_runs (
    id              TEXT PRIMARY KEY,
    routine_id      TEXT NOT NULL REFERENCES routines (id),
    requested_by    TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    started_day     TEXT NOT NULL,
    status          TEXT NOT NULL,
    parameters      TEXT NOT NULL,
    money           TEXT,
    proposal_id     TEXT,
    released        TEXT,
    reason          TEXT,
    desk            TEXT
);
CREATE INDEX IF NOT EXISTS routine_runs_routine ON routine_runs (routine_id, started_at);
