-- Recovery, delivery and audit. Kept in lockstep with migrations/postgres/0002_recovery.sql.

ALTER TABLE accounts ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';

-- Transactional outbox: written in the same transaction as the change that
-- causes the message; a worker delivers it with retries.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    channel          TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);

CREATE TABLE captchas (
    id_hash      TEXT    PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    answer_hmac  TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX captchas_expiry ON captchas (expires_at);

CREATE TABLE recovery_flows (
    id_hash          TEXT    PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    account_id       INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    contact          TEXT,
    decoy            INTEGER NOT NULL,
    offers           TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    method           TEXT,
    destination      TEXT,
    code_hmac        TEXT,
    code_expires_at  INTEGER,
    wrong_tries      INTEGER NOT NULL DEFAULT 0,
    messages_sent    INTEGER NOT NULL DEFAULT 0,
    last_sent_at     INTEGER,
    last_message_id  INTEGER REFERENCES outbox(id),
    reset_token_hash TEXT,
    reset_expires_at INTEGER,
    version          INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);
CREATE INDEX recovery_flows_reset ON recovery_flows (reset_token_hash);

-- Append-only; each event carries the hash of the previous one.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER,
    at          INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    ip          TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
