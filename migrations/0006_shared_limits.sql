-- Limits shared by every replica on one database (login throttling, the revoke endpoint's
-- rate): one row per counted event, kept while it is inside its window.
CREATE TABLE limit_events (
    name  TEXT    NOT NULL,   -- which limit: login | revoke
    key   TEXT    NOT NULL,   -- what it counts: an account's email, a client address
    at    INTEGER NOT NULL    -- milliseconds since the Unix epoch
);
CREATE INDEX limit_events_key ON limit_events (name, key, at);
