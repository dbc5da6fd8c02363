-- A counter every change to the credentials bumps, so a long-running app that keeps credential
-- metadata and secrets for its session notices a change made by another process (`countersign
-- credential add` while `countersign review` runs) with one cheap read.
CREATE TABLE vault_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO vault_generation (id, generation) VALUES (1, 0);
CREATE TRIGGER credentials_added AFTER INSERT ON credentials
BEGIN UPDATE vault_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_removed AFTER DELETE ON credentials
BEGIN UPDATE vault_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_changed AFTER UPDATE ON credentials
BEGIN UPDATE vault_generation SET generation = generation + 1 WHERE id = 1; END;
