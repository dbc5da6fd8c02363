-- Agents: a name and the SHA-256 of its key (the key itself is shown once and never stored).
CREATE TABLE agents (
    name       TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    added_at   TEXT NOT NULL,
    revoked_at TEXT
);

-- Proposals and where they are in their life (design.md §3).
CREATE TABLE proposals (
    id              TEXT PRIMARY KEY,
    agent           TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,      -- unix seconds; pending proposals expire then
    summary         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    artifact        TEXT NOT NULL,         -- canonical JSON, exactly what was hashed
    artifact_sha256 TEXT NOT NULL,
    explanation     TEXT NOT NULL,         -- JSON, as the person saw it
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn',
                        'expired', 'executing', 'succeeded', 'failed', 'outcome_unknown')),
    decided_at      TEXT,
    reason          TEXT,
    result          TEXT,                  -- JSON of the full (redacted) result, for the person
    released        TEXT                   -- JSON of what the agent may read
);
CREATE INDEX proposals_status ON proposals (status);
CREATE INDEX proposals_agent ON proposals (agent);
