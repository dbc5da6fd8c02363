-- Routines (design.md §18): programs an agent proposes, a person vets once, and Countersign runs.
CREATE TABLE routines (
    id              TEXT PRIMARY KEY,
    agent           TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    -- pending | active | paused | rejected | revoked | expired
    status          TEXT NOT NULL,
    summary         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    -- The routine's canonical text: what routine_sha256 is taken over.
    routine         TEXT NOT NULL,
    routine_sha256  TEXT NOT NULL,
    -- The routine in words and its steps explained at their limits (JSON).
    explanation     TEXT NOT NULL,
    decided_at      TEXT,
    reason          TEXT,
    -- Unix seconds; set when approved.
    expires_at      INTEGER,
    -- Set when approved: the danger risks the person saw, and each credential's metadata hash.
    vetted          TEXT,
    -- The last scheduled time (unix seconds) that was run or recorded as missed.
    last_scheduled  INTEGER
);
CREATE INDEX routines_status ON routines (status, received_at);

CREATE TABLE routine_runs (
    id              TEXT PRIMARY KEY,
    routine_id      TEXT NOT NULL REFERENCES routines (id),
    -- agent:NAME, person:NAME or schedule
    requested_by    TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    started_day     TEXT NOT NULL,
    -- running | succeeded | failed | held | outcome_unknown | missed
    status          TEXT NOT NULL,
    parameters      TEXT NOT NULL,
    -- The sum of the run's money parameters (decimal text), counted against the routine's limit.
    money           TEXT,
    -- A held run's pending proposal.
    proposal_id     TEXT,
    -- What the agent may read, by the routine's release rule (canonical JSON).
    released        TEXT,
    reason          TEXT
);
CREATE INDEX routine_runs_routine ON routine_runs (routine_id, started_at);

-- A proposal made from a held run names its routine.
ALTER TABLE proposals ADD COLUMN routine_id TEXT;
