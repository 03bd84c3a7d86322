-- Contacts waiting for their code before they are bound as verified. Kept
-- in lockstep with migrations/sqlite/0004_contact_verifications.sql.
CREATE TABLE contact_verifications (
    account_id  BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    code_hmac   TEXT    NOT NULL,
    tries       BIGINT NOT NULL DEFAULT 0,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind)
);
