-- Linking an external (OpenID Connect) identity from the account's
-- settings: the sign-in in progress, by the hash of its state. Kept in
-- lockstep with migrations/postgres/0006_identity_links.sql.
CREATE TABLE link_requests (
    key_hash    TEXT   PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    secret      TEXT   NOT NULL,
    used        INTEGER  NOT NULL DEFAULT 0,
    expires_at  INTEGER  NOT NULL
);
