-- Foundation schema. Kept in lockstep with migrations/postgres/0001_foundation.sql:
-- same tables, columns and meanings. Times are Unix seconds; flags are 0/1.

CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    policy      TEXT    NOT NULL,
    settings    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE accounts (
    id                   INTEGER PRIMARY KEY,
    tenant_id            INTEGER NOT NULL REFERENCES tenants(id),
    parent_id            INTEGER REFERENCES accounts(id),
    path                 TEXT    NOT NULL,
    username             TEXT    NOT NULL,
    qualified_name       TEXT    NOT NULL,
    kind                 TEXT,
    role                 TEXT,
    display_name         TEXT,
    email                TEXT,
    email_key            TEXT,
    email_verified       INTEGER NOT NULL DEFAULT 0,
    phone                TEXT,
    phone_verified       INTEGER NOT NULL DEFAULT 0,
    password_hash        TEXT,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    password_changed_at  INTEGER,
    disabled             INTEGER NOT NULL DEFAULT 0,
    policy_override      TEXT,
    created_at           INTEGER NOT NULL,
    CHECK ((parent_id IS NULL AND kind IS NOT NULL AND role IS NULL)
        OR (parent_id IS NOT NULL AND kind IS NULL AND role IS NOT NULL))
);
-- A qualified name is the parent's plus "/username": unique per tenant means
-- usernames are unique among siblings and root usernames unique in the tenant.
CREATE UNIQUE INDEX accounts_qualified_name ON accounts (tenant_id, qualified_name);
CREATE INDEX accounts_parent ON accounts (tenant_id, parent_id, id);
CREATE INDEX accounts_path ON accounts (tenant_id, path);
CREATE INDEX accounts_email ON accounts (tenant_id, email_key);
CREATE INDEX accounts_phone ON accounts (tenant_id, phone);

CREATE TABLE password_history (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    hash        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX password_history_account ON password_history (account_id, id);

CREATE TABLE sessions (
    token_hash       TEXT    PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at       INTEGER NOT NULL,
    authenticated_at INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    revoked_at       INTEGER,
    ip               TEXT    NOT NULL,
    user_agent       TEXT    NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE throttles (
    key           TEXT    PRIMARY KEY,
    failures      INTEGER NOT NULL,
    window_start  INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL
);
