-- The inbox lists the newest pending proposals and the newest decided ones; `review` walks the
-- oldest pending. Each page is read in index order without reading the other kind: 10,000
-- waiting proposals do not slow the "recently decided" list, nor the reverse.
CREATE INDEX proposals_status_received ON proposals (status, received_at, id);
CREATE INDEX proposals_decided_received ON proposals (received_at, id) WHERE status <> 'pending';
