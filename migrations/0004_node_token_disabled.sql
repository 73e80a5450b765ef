-- Rule 35: a leaked node token can be revoked through the public revoke endpoint. The node
-- stays (an administrator deletes it and creates a new one); its token stops working.
ALTER TABLE nodes ADD COLUMN token_disabled_at INTEGER;
ALTER TABLE nodes ADD COLUMN token_disabled_reason TEXT;
