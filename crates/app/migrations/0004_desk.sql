-- Which desk approved (and executes) a proposal or runs a routine, and who decided it. One
-- person's data home has one desk; the columns match the team's shared queue (team/queue.sql),
-- so both are read and written by the same statements.
ALTER TABLE proposals ADD COLUMN desk TEXT;
ALTER TABLE proposals ADD COLUMN decided_by TEXT;
ALTER TABLE routine_runs ADD COLUMN desk TEXT;
-- The money a proposal's artifact moves (`[["250.00","USD"]]`), for rules that count amounts,
-- and on a team the first of two people a rule asks for.
ALTER TABLE proposals ADD COLUMN amounts TEXT;
ALTER TABLE proposals ADD COLUMN first_approved_by TEXT;
