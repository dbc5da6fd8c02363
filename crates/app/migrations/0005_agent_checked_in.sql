-- When an agent first asked what it may use (`list_capabilities`): the first-run guide's check
-- that the assistant the person just connected really reached Countersign.
ALTER TABLE agents ADD COLUMN checked_in_at TEXT;
