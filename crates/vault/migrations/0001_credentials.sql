-- Credential metadata: names, kinds and scopes. Secrets are never here: they are in the OS
-- keychain under the entry `credential:<name>`.
CREATE TABLE credentials (
    name            TEXT PRIMARY KEY,
    metadata        TEXT NOT NULL,      -- countersign_core::credential::CredentialMeta as JSON
    release_default TEXT NOT NULL DEFAULT 'ask' CHECK (release_default IN ('ask', 'always', 'never')),
    added_at        TEXT NOT NULL
);
