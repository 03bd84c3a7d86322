-- Linking an external (OpenID Connect) identity from the account's
-- settings: the sign-in in progress, by the hash of its state. Kept in
-- lockstep with migrations/sqlite/0006_identity_links.sql.
CREATE TABLE link_requests (
    key_hash    TEXT   PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id),
    account_id  BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    secret      TEXT   NOT NULL,
    used        BIGINT  NOT NULL DEFAULT 0,
    expires_at  BIGINT  NOT NULL
);
