-- Rule 27: every audit event names the credential behind it.
-- `via`: session | token | legacy | sso | node | cli | system. Rows written before this
-- migration are marked 'unknown' rather than guessed.
ALTER TABLE audit_events ADD COLUMN via TEXT NOT NULL DEFAULT 'unknown';
-- The token id when `via` is token or legacy.
ALTER TABLE audit_events ADD COLUMN credential_id INTEGER;
-- The creator's user id when the token is delegated (made by someone else for its owner).
ALTER TABLE audit_events ADD COLUMN on_behalf_of INTEGER;
