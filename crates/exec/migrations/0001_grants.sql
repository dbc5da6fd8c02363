-- Grants: one per approval, bound to the artifact's hash, used at most once, expiring.
CREATE TABLE grants (
    id              TEXT PRIMARY KEY,
    proposal_id     TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL,
    issued_at       INTEGER NOT NULL,   -- unix seconds
    expires_at      INTEGER NOT NULL,   -- unix seconds
    consumed_at     INTEGER             -- unix seconds; NULL until used
);
CREATE INDEX grants_proposal ON grants (proposal_id);
