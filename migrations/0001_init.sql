-- tokend schema, version 1.
-- Times are integer milliseconds since the Unix epoch (UTC); flags are 0/1; permission sets
-- are space-separated scope names. Portable to PostgreSQL apart from AUTOINCREMENT/BLOB.

CREATE TABLE companies (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    name                     TEXT    NOT NULL,
    token_reveal             TEXT    NOT NULL DEFAULT 'allowed'
                                     CHECK (token_reveal IN ('allowed', 'show_once')),
    max_token_lifetime_days  INTEGER,
    idle_disable_days        INTEGER,
    webhook_url              TEXT,
    webhook_secret           TEXT,
    created_at               INTEGER NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id     INTEGER NOT NULL REFERENCES companies (id),
    email          TEXT    NOT NULL,            -- lower-cased; unique across companies
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    permissions    TEXT    NOT NULL DEFAULT '', -- the explicit set of a `custom` role
    enabled        INTEGER NOT NULL DEFAULT 1,
    sso            INTEGER NOT NULL DEFAULT 0,
    password_hash  TEXT,                        -- argon2id PHC string; NULL for SSO users
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_company ON users (company_id, id);

CREATE TABLE sessions (
    id_digest   BLOB    PRIMARY KEY,            -- SHA-256 of the cookie value
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE tokens (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id       INTEGER NOT NULL REFERENCES companies (id),
    owner_id         INTEGER NOT NULL REFERENCES users (id),
    creator_id       INTEGER REFERENCES users (id) ON DELETE SET NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('private', 'shared', 'legacy')),
    audience         TEXT    NOT NULL DEFAULT 'administrators'
                             CHECK (audience IN ('administrators', 'company')),
    name             TEXT    NOT NULL,
    name_key         TEXT    NOT NULL,          -- lower-cased name, for per-owner uniqueness
    description      TEXT    NOT NULL DEFAULT '',
    permissions      TEXT    NOT NULL DEFAULT '', -- empty for legacy tokens (they follow the role)
    role_template    TEXT,
    digest           BLOB    NOT NULL,          -- SHA-256 of the value: the lookup key
    value_hint       TEXT    NOT NULL,          -- first 8 characters
    value_enc        BLOB,                      -- nonce || AES-256-GCM ciphertext, when reveal is allowed
    prev_digest      BLOB,                      -- previous value during a rotation grace period
    prev_expires_at  INTEGER,
    enabled          INTEGER NOT NULL,
    disabled_reason  TEXT,
    disabled_at      INTEGER,
    expires_at       INTEGER,
    allowed_cidrs    TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_used_at     INTEGER,
    last_used_ip     TEXT
);
CREATE UNIQUE INDEX tokens_digest ON tokens (digest);
CREATE UNIQUE INDEX tokens_prev_digest ON tokens (prev_digest) WHERE prev_digest IS NOT NULL;
CREATE UNIQUE INDEX tokens_owner_name ON tokens (owner_id, name_key);
CREATE UNIQUE INDEX tokens_one_legacy_per_owner ON tokens (owner_id) WHERE kind = 'legacy';
CREATE INDEX tokens_company ON tokens (company_id, id);
CREATE INDEX tokens_creator ON tokens (creator_id, id);
CREATE INDEX tokens_expiry ON tokens (expires_at) WHERE enabled = 1 AND expires_at IS NOT NULL;
CREATE INDEX tokens_disabled_at ON tokens (disabled_at) WHERE enabled = 0;

CREATE TABLE token_recent_ips (
    token_id       INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    ip             TEXT    NOT NULL,
    first_seen_at  INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    PRIMARY KEY (token_id, ip)
);

CREATE TABLE legacy_credentials (
    token_id       INTEGER PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
    uuid           TEXT    NOT NULL,
    secret_digest  BLOB    NOT NULL,            -- HMAC-SHA256 of the secret under a server key
    created_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX legacy_uuid ON legacy_credentials (uuid);

CREATE TABLE nodes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id     INTEGER NOT NULL REFERENCES companies (id),
    name           TEXT    NOT NULL,
    token_digest   BLOB    NOT NULL,
    token_hint     TEXT    NOT NULL,
    creator_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER,
    last_seen_ip   TEXT,
    version        TEXT
);
CREATE UNIQUE INDEX nodes_token_digest ON nodes (token_digest);
CREATE INDEX nodes_company ON nodes (company_id, id);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER,
    actor_id    INTEGER,                        -- no foreign key: history outlives users
    actor_email TEXT,
    token_id    INTEGER,                        -- likewise outlives tokens
    user_id     INTEGER,                        -- the user acted upon, if any
    action      TEXT    NOT NULL,
    ip          TEXT,
    details     TEXT    NOT NULL DEFAULT '{}',  -- JSON; never a token value
    created_at  INTEGER NOT NULL
);
CREATE INDEX audit_company ON audit_events (company_id, id);
CREATE INDEX audit_token ON audit_events (token_id, id);
CREATE INDEX audit_actor ON audit_events (actor_id, id);
CREATE INDEX audit_action ON audit_events (action, id);

CREATE TABLE webhook_outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id    INTEGER NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    event_id      TEXT    NOT NULL UNIQUE,
    event_type    TEXT    NOT NULL,
    token_id      INTEGER,
    body          TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at  INTEGER,
    last_error    TEXT,
    created_at    INTEGER NOT NULL
);
CREATE INDEX webhook_due ON webhook_outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- Warnings already sent, so each is sent once (`token.expiring` at 7 and 1 days).
CREATE TABLE token_warnings (
    token_id    INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    warning     TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (token_id, warning, expires_at)
);

-- Counters shared between processes: the CLI bumps `epoch` when it writes, and a running
-- server notices and refreshes its in-memory caches.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('epoch', 0);
