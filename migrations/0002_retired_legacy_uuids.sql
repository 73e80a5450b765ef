-- Rule 21: once backward compatibility ends (the legacy token is renewed, deleted or purged,
-- or its owner switched to SSO), the UUID never works again — not even by re-importing it.
CREATE TABLE retired_legacy_uuids (
    uuid        TEXT    PRIMARY KEY,
    retired_at  INTEGER NOT NULL
);
