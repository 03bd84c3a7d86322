-- Verification methods beyond codes, and the manual appeal (DESIGN §3).
-- Kept in lockstep with migrations/postgres/0005_methods.sql.

-- What a flow's non-code method gathered (questions asked, an external
-- step passed, a denial's reason), as JSON.
ALTER TABLE recovery_flows ADD COLUMN progress TEXT NOT NULL DEFAULT '{}';

-- Tenant staff outside the account tree: `support` reviews appeals,
-- `operator` reads the whole tenant's audit log.
ALTER TABLE accounts ADD COLUMN staff_role TEXT;

-- Answers are normalized then hashed like passwords (Argon2id).
CREATE TABLE security_questions (
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    position     INTEGER  NOT NULL,
    question     TEXT   NOT NULL,
    answer_hash  TEXT   NOT NULL,
    PRIMARY KEY (account_id, position)
);

-- Trusted people who relay a code; usable once their own code was entered.
CREATE TABLE emergency_contacts (
    id               INTEGER PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name             TEXT   NOT NULL,
    kind             TEXT   NOT NULL,
    value            TEXT   NOT NULL,
    verified         INTEGER  NOT NULL DEFAULT 0,
    code_hmac        TEXT,
    tries            INTEGER  NOT NULL DEFAULT 0,
    code_expires_at  INTEGER,
    created_at       INTEGER  NOT NULL,
    UNIQUE (account_id, kind, value)
);

-- The account's verified identity (KYC). Only HMACs of document numbers.
CREATE TABLE identity_records (
    account_id                   INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    subject_type                 TEXT   NOT NULL,
    verified_name                TEXT   NOT NULL,
    document_hmac                TEXT   NOT NULL,
    representative_name          TEXT,
    representative_document_hmac TEXT,
    verified_at                  INTEGER  NOT NULL
);

-- External accounts (OpenID Connect) linked from the account's settings.
CREATE TABLE linked_identities (
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    issuer        TEXT   NOT NULL,
    subject_hmac  TEXT   NOT NULL,
    linked_at     INTEGER  NOT NULL,
    PRIMARY KEY (account_id, issuer)
);

-- A person asks an administrator to vouch for them.
CREATE TABLE approvals (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    flow_id_hash  TEXT   NOT NULL REFERENCES recovery_flows(id_hash) ON DELETE CASCADE,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    approver_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    state         TEXT   NOT NULL,
    reason        TEXT,
    decided_by    INTEGER,
    created_at    INTEGER  NOT NULL,
    expires_at    INTEGER  NOT NULL,
    decided_at    INTEGER
);
CREATE INDEX approvals_approver ON approvals (approver_id, state);

-- External verification sessions (OIDC authorization, KYC sessions), by
-- the hash of their state or the provider's session id.
CREATE TABLE external_checks (
    key_hash      TEXT   PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    flow_id_hash  TEXT   NOT NULL REFERENCES recovery_flows(id_hash) ON DELETE CASCADE,
    kind          TEXT   NOT NULL,
    secret        TEXT   NOT NULL,
    used          INTEGER  NOT NULL DEFAULT 0,
    created_at    INTEGER  NOT NULL,
    expires_at    INTEGER  NOT NULL
);

-- Signed webhook calls seen, so a replay is refused.
CREATE TABLE webhook_replays (
    signature_hash TEXT  PRIMARY KEY,
    seen_at        INTEGER NOT NULL
);

-- The fallback when no method works: support staff judge the evidence.
CREATE TABLE appeals (
    id                 INTEGER PRIMARY KEY,
    tenant_id          INTEGER NOT NULL REFERENCES tenants(id),
    account_id         INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    identifier         TEXT   NOT NULL,
    contact_kind       TEXT   NOT NULL,
    contact_value      TEXT   NOT NULL,
    code_hmac          TEXT,
    code_tries         INTEGER  NOT NULL DEFAULT 0,
    description        TEXT   NOT NULL,
    evidence           TEXT   NOT NULL,
    state              TEXT   NOT NULL,
    status_token_hash  TEXT   NOT NULL,
    claimed_by         INTEGER,
    reason             TEXT,
    reset_token_hash   TEXT,
    reset_expires_at   INTEGER,
    created_at         INTEGER  NOT NULL,
    updated_at         INTEGER  NOT NULL
);
CREATE INDEX appeals_queue ON appeals (tenant_id, state);
CREATE INDEX appeals_account ON appeals (account_id, state);

CREATE TABLE appeal_attachments (
    id            INTEGER PRIMARY KEY,
    appeal_id     INTEGER NOT NULL REFERENCES appeals(id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    content_type  TEXT   NOT NULL,
    size          INTEGER  NOT NULL,
    data_base64   TEXT   NOT NULL
);
