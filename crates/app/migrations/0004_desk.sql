-- Which desk approved (and executes) a proposal or runs a routine, and who decided it. One
-- person's data home has one desk; the columns match the team's shared queue (team/queue.sql),
-- so both are read and written by the same statements.
ALTER TABLE proposals ADD COLUMN desk TEXT;
ALTER TABLE proposals ADD COLUMN decided_by TEXT;
ALTER TABLE routine_runs ADD COLUMN desk TEXT;
