//! What an account sets up to prove itself later: security questions
//! (answers only as Argon2id hashes), emergency contacts (usable once their
//! own code was entered), its verified identity record (only HMACs of
//! document numbers) and tenant staff roles.

use regain_domain::clock::Timestamp;
use sqlx::any::AnyRow;

use crate::audit::{self, AuditEvent};
use crate::contacts::ContactKind;
use crate::outbox::{enqueue, NewMessage};
use crate::rows::{flag, int, opt_int, opt_text, text};
use crate::{Store, StoreError};

/// Most emergency contacts an account may name.
pub const MAX_EMERGENCY_CONTACTS: i64 = 5;

/// One stored security question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityQuestion {
    /// Its place in the account's list, from 0.
    pub position: u32,
    /// The question as the person wrote or chose it.
    pub question: String,
    /// Argon2id hash of the normalized answer.
    pub answer_hash: String,
}

/// One emergency contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyContact {
    /// Its id.
    pub id: i64,
    /// The account that named it.
    pub account_id: i64,
    /// Who it is, as the person named them.
    pub name: String,
    /// Email or phone.
    pub kind: ContactKind,
    /// The address or number.
    pub value: String,
    /// Its own code was entered.
    pub verified: bool,
    /// HMAC of the pending set-up code.
    pub code_hmac: Option<String>,
    /// Wrong set-up codes so far.
    pub tries: i64,
    /// When the set-up code stops working.
    pub code_expires_at: Option<Timestamp>,
}

/// An account's verified identity (KYC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    /// `individual` or `enterprise`.
    pub subject_type: String,
    /// The verified name (a person's, or the enterprise's).
    pub verified_name: String,
    /// HMAC of the document number (ID card, business licence).
    pub document_hmac: String,
    /// An enterprise's legal representative.
    pub representative_name: Option<String>,
    /// HMAC of the representative's document number.
    pub representative_document_hmac: Option<String>,
    /// When it was verified.
    pub verified_at: Timestamp,
}

/// How much of each method an account has set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetupCounts {
    /// Security questions with answers.
    pub questions: u32,
    /// Verified emergency contacts.
    pub emergency_contacts: u32,
    /// An identity record exists.
    pub identity_verified: bool,
}

fn emergency_from_row(row: &AnyRow) -> Result<EmergencyContact, StoreError> {
    Ok(EmergencyContact {
        id: int(row, "id")?,
        account_id: int(row, "account_id")?,
        name: text(row, "name")?,
        kind: ContactKind::parse(&text(row, "kind")?)
            .ok_or_else(|| StoreError::Corrupt("emergency contact kind".into()))?,
        value: text(row, "value")?,
        verified: flag(row, "verified")?,
        code_hmac: opt_text(row, "code_hmac")?,
        tries: int(row, "tries")?,
        code_expires_at: opt_int(row, "code_expires_at")?.map(Timestamp),
    })
}

/// The [`SetupCounts`] of the account whose id is `account_id` (a
/// parameter or a column), as columns: a query of accounts adds them to
/// read an account and what it has set up at once.
pub(crate) fn setup_columns(account_id: &str) -> String {
    format!(
        "(SELECT COUNT(*) FROM security_questions WHERE account_id = {account_id}) AS setup_questions, \
         (SELECT COUNT(*) FROM emergency_contacts WHERE account_id = {account_id} AND verified = 1) AS setup_contacts, \
         (SELECT COUNT(*) FROM identity_records WHERE account_id = {account_id}) AS setup_identity"
    )
}

/// The counts read by [`setup_columns`].
pub(crate) fn setup_from_row(row: &AnyRow) -> Result<SetupCounts, StoreError> {
    let count = |col: &str| -> Result<u32, StoreError> {
        u32::try_from(int(row, col)?).map_err(|_| StoreError::Corrupt(col.into()))
    };
    Ok(SetupCounts {
        questions: count("setup_questions")?,
        emergency_contacts: count("setup_contacts")?,
        identity_verified: count("setup_identity")? > 0,
    })
}

const EMERGENCY_COLUMNS: &str =
    "id, account_id, name, kind, value, verified, code_hmac, tries, code_expires_at";

impl Store {
    /// What the account has set up, in one round trip.
    pub async fn setup_counts(&self, account_id: i64) -> Result<SetupCounts, StoreError> {
        let row = sqlx::query(&format!("SELECT {}", setup_columns("$1")))
            .bind(account_id)
            .fetch_one(&mut *self.read().await?)
            .await?;
        setup_from_row(&row)
    }

    /// Replaces the account's security questions, audited, all or nothing.
    pub async fn set_security_questions(
        &self,
        account_id: i64,
        questions: &[(String, String)],
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM security_questions WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        for (position, (question, hash)) in questions.iter().enumerate() {
            sqlx::query(
                "INSERT INTO security_questions (account_id, position, question, answer_hash) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(account_id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(question.as_str())
            .bind(hash.as_str())
            .execute(&mut *tx)
            .await?;
        }
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account's security questions, in their order.
    pub async fn security_questions(
        &self,
        account_id: i64,
    ) -> Result<Vec<SecurityQuestion>, StoreError> {
        let rows = sqlx::query(
            "SELECT position, question, answer_hash FROM security_questions \
             WHERE account_id = $1 ORDER BY position",
        )
        .bind(account_id)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SecurityQuestion {
                    position: u32::try_from(int(row, "position")?)
                        .map_err(|_| StoreError::Corrupt("question position".into()))?,
                    question: text(row, "question")?,
                    answer_hash: text(row, "answer_hash")?,
                })
            })
            .collect()
    }

    /// Names an emergency contact (or renews the code of one named
    /// already) and queues its code, within [`MAX_EMERGENCY_CONTACTS`].
    #[allow(clippy::too_many_arguments)]
    pub async fn add_emergency_contact(
        &self,
        account_id: i64,
        name: &str,
        kind: ContactKind,
        value: &str,
        code_hmac: &str,
        expires_at: Timestamp,
        message: &NewMessage,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let existing = sqlx::query(
            "SELECT id FROM emergency_contacts WHERE account_id = $1 AND kind = $2 AND value = $3",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .bind(value)
        .fetch_optional(&mut *tx)
        .await?;
        let id = match existing {
            Some(row) => {
                let id = int(&row, "id")?;
                sqlx::query(
                    "UPDATE emergency_contacts SET name = $1, code_hmac = $2, tries = 0, \
                     code_expires_at = $3 WHERE id = $4",
                )
                .bind(name)
                .bind(code_hmac)
                .bind(expires_at.0)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => {
                let count = sqlx::query(
                    "SELECT COUNT(*) AS n FROM emergency_contacts WHERE account_id = $1",
                )
                .bind(account_id)
                .fetch_one(&mut *tx)
                .await?;
                if int(&count, "n")? >= MAX_EMERGENCY_CONTACTS {
                    return Err(StoreError::ContactLimit);
                }
                let row = sqlx::query(
                    "INSERT INTO emergency_contacts (account_id, name, kind, value, code_hmac, \
                     code_expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(account_id)
                .bind(name)
                .bind(kind.as_str())
                .bind(value)
                .bind(code_hmac)
                .bind(expires_at.0)
                .bind(now.0)
                .fetch_one(&mut *tx)
                .await?;
                int(&row, "id")?
            }
        };
        enqueue(&mut tx, message, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The account's emergency contacts, oldest first.
    pub async fn emergency_contacts(
        &self,
        account_id: i64,
    ) -> Result<Vec<EmergencyContact>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EMERGENCY_COLUMNS} FROM emergency_contacts WHERE account_id = $1 ORDER BY id"
        ))
        .bind(account_id)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(emergency_from_row).collect()
    }

    /// Marks the contact verified (its code was right), audited.
    pub async fn confirm_emergency_contact(
        &self,
        id: i64,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE emergency_contacts SET verified = 1, code_hmac = NULL, code_expires_at = NULL \
             WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts a wrong set-up code; the last allowed one drops the code.
    pub async fn emergency_wrong_try(&self, id: i64, max_tries: i64) -> Result<(), StoreError> {
        let mut w = self.writer().await?;
        sqlx::query(
            "UPDATE emergency_contacts SET tries = tries + 1, \
             code_hmac = CASE WHEN tries + 1 >= $2 THEN NULL ELSE code_hmac END WHERE id = $1",
        )
        .bind(id)
        .bind(max_tries)
        .execute(&mut *w)
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Removes one of the account's emergency contacts; whether it existed.
    pub async fn remove_emergency_contact(
        &self,
        account_id: i64,
        id: i64,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM emergency_contacts WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records (or replaces) the account's verified identity, audited.
    pub async fn set_identity_record(
        &self,
        account_id: i64,
        r: &IdentityRecord,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM identity_records WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        insert_identity(&mut tx, account_id, r).await?;
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account's verified identity, if any.
    pub async fn identity_record(
        &self,
        account_id: i64,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT subject_type, verified_name, document_hmac, representative_name, \
             representative_document_hmac, verified_at FROM identity_records WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(|row| {
            Ok(IdentityRecord {
                subject_type: text(&row, "subject_type")?,
                verified_name: text(&row, "verified_name")?,
                document_hmac: text(&row, "document_hmac")?,
                representative_name: opt_text(&row, "representative_name")?,
                representative_document_hmac: opt_text(&row, "representative_document_hmac")?,
                verified_at: Timestamp(int(&row, "verified_at")?),
            })
        })
        .transpose()
    }

    /// The account's tenant staff role (`support`, `operator`), if any.
    pub async fn staff_role(&self, account_id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT staff_role FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(match row {
            Some(row) => opt_text(&row, "staff_role")?,
            None => None,
        })
    }

    /// Grants or withdraws a tenant staff role, audited.
    pub async fn set_staff_role(
        &self,
        account_id: i64,
        role: Option<&str>,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE accounts SET staff_role = $1 WHERE id = $2")
            .bind(role)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The admin sub-accounts beside `account` (same parent), enabled ones
    /// only, `account` itself excluded.
    pub async fn admins_beside(
        &self,
        tenant_id: i64,
        parent_id: i64,
        except: i64,
    ) -> Result<Vec<crate::Account>, StoreError> {
        self.accounts_where(
            "tenant_id = $1 AND parent_id = $2 AND id <> $3 AND role = 'admin' AND disabled = 0",
            &[tenant_id, parent_id, except],
        )
        .await
    }
}

/// Inserts an identity record inside the caller's transaction.
pub(crate) async fn insert_identity(
    conn: &mut crate::lite::Conn,
    account_id: i64,
    r: &IdentityRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO identity_records (account_id, subject_type, verified_name, document_hmac, \
         representative_name, representative_document_hmac, verified_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(account_id)
    .bind(r.subject_type.as_str())
    .bind(r.verified_name.as_str())
    .bind(r.document_hmac.as_str())
    .bind(r.representative_name.as_deref())
    .bind(r.representative_document_hmac.as_deref())
    .bind(r.verified_at.0)
    .execute(conn)
    .await?;
    Ok(())
}
