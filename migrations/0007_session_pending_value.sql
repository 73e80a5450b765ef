-- A new token value waiting for its one view after a console form (post/redirect/get): the
-- value page sealed with the master key, kept in the session that made it, cleared when it
-- is shown or replaced; it also expires (its expiry is inside the sealed data).
ALTER TABLE sessions ADD COLUMN pending_value BLOB;
