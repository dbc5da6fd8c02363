-- The audit log. Entries are only ever inserted: the triggers below refuse UPDATE and DELETE,
-- and verification detects any change made by going around them.
CREATE TABLE audit_entries (
    seq             INTEGER PRIMARY KEY,
    at              TEXT    NOT NULL,
    actor_kind      TEXT    NOT NULL,
    actor_id        TEXT    NOT NULL,
    actor_name      TEXT    NOT NULL,
    event           TEXT    NOT NULL,
    proposal_id     TEXT,
    artifact_sha256 TEXT,
    credential      TEXT,
    outcome         TEXT,
    details         TEXT    NOT NULL,
    prev_hash       TEXT    NOT NULL,
    entry_hash      TEXT    NOT NULL
);

CREATE INDEX audit_entries_at ON audit_entries (at);
CREATE INDEX audit_entries_event ON audit_entries (event);
CREATE INDEX audit_entries_proposal ON audit_entries (proposal_id);

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are never deleted');
END;

-- Facts about the log itself: its random identity, and when the last daily report was made.
CREATE TABLE audit_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
