-- Rate limits, quotas and usage per token.
-- rate_requests / rate_per_seconds: at most this many authentications per this many seconds
-- (both NULL: no rate limit).
ALTER TABLE tokens ADD COLUMN rate_requests INTEGER;
ALTER TABLE tokens ADD COLUMN rate_per_seconds INTEGER;
-- quota_limit / quota_period (day | month | total): successful authentications allowed per
-- UTC day, UTC month or in all (both NULL: no quota). quota_used counts those of the period
-- starting at quota_window (milliseconds since the Unix epoch; 0 for total); quota_reset_at
-- is when the quota was last set, so counts buffered before a change are not applied after.
ALTER TABLE tokens ADD COLUMN quota_limit INTEGER;
ALTER TABLE tokens ADD COLUMN quota_period TEXT;
ALTER TABLE tokens ADD COLUMN quota_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN quota_window INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN quota_reset_at INTEGER NOT NULL DEFAULT 0;
-- quota_low_window: the window whose token.quota_low warning went out (once per window).
ALTER TABLE tokens ADD COLUMN quota_low_window INTEGER;
-- Hourly usage roll-ups: authentications allowed and refused per token and hour (start of
-- the hour, milliseconds since the Unix epoch). Kept 90 days.
CREATE TABLE token_usage (
    token_id INTEGER NOT NULL,
    hour     INTEGER NOT NULL,
    allowed  INTEGER NOT NULL DEFAULT 0,
    refused  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, hour)
);
CREATE INDEX token_usage_hour ON token_usage (hour);
