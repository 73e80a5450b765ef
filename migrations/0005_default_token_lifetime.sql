-- The expiry the console proposes for a new token: this many days from now (a company
-- setting; the company's maximum lifetime, when set, caps it).
ALTER TABLE companies ADD COLUMN default_token_lifetime_days INTEGER NOT NULL DEFAULT 30;
