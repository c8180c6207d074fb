-- Y1: a message given up on (a permanent refusal, or the configured number of attempts spent)
-- is marked, no longer claimed, and listed by `gatehouse outbox list --failed` until retried.
ALTER TABLE outbox ADD COLUMN failed_at BIGINT;
