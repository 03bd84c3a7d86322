//! Bulk account import: thousands of accounts in one transaction, written
//! with multi-row statements (one round trip per hundred accounts, not five
//! per account), so 100,000 rows take seconds.

use std::collections::{HashMap, HashSet};

use regain_domain::account::AccountNode;
use regain_domain::clock::Timestamp;
use regain_domain::identifiers::Email;

use crate::accounts::{bind_details, NewAccount, Placement, DETAIL_COLUMNS, DETAIL_COUNT};
use crate::audit::AuditEvent;
use crate::error::conflict_as;
use crate::rows::{int, text};
use crate::sql::placeholders;
use crate::{Backend, Store, StoreError};

/// Rows per INSERT: 100 × 19 columns stays far below both backends' limit
/// on bound parameters.
const CHUNK: usize = 100;
/// Values per `IN (…)` list.
const LOOKUP_CHUNK: usize = 500;

/// An account placed in the tree, ready to insert.
struct Placed<'a> {
    id: i64,
    parent_id: Option<i64>,
    path: String,
    qualified_name: String,
    kind: Option<&'static str>,
    role: Option<&'static str>,
    new: &'a NewAccount,
}

impl Store {
    /// Creates many accounts in one transaction, in order (a parent before
    /// its children), with one audit event for the whole import: all of
    /// them or none. Names taken meanwhile and contact caps are checked
    /// again here. `progress` is told the number of accounts written so far.
    pub async fn import_accounts(
        &self,
        tenant_id: i64,
        accounts: &[NewAccount],
        max_accounts_per_contact: u32,
        event: &AuditEvent,
        now: Timestamp,
        progress: &mut dyn FnMut(usize),
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        self.lock_account_creation(&mut tx, tenant_id).await?;
        let ids = self.reserve_account_ids(&mut tx, accounts.len()).await?;
        let mut parents: HashMap<String, (i64, String)> = HashMap::new();
        let mut placed = Vec::with_capacity(accounts.len());
        for (new, id) in accounts.iter().zip(ids) {
            if new.tenant_id != tenant_id {
                return Err(StoreError::NotFound("tenant of an imported account"));
            }
            let (parent, kind, role) = match &new.placement {
                Placement::Root(kind) => (None, Some(kind.as_str()), None),
                Placement::Sub { parent_id, role } => {
                    let parent =
                        parent_by(&mut tx, tenant_id, "id", &parent_id.to_string()).await?;
                    (Some(parent), None, Some(role.as_str()))
                }
                Placement::SubNamed { parent, role } => {
                    let found = match parents.get(parent) {
                        Some((id, path)) => (*id, path.clone(), parent.clone()),
                        None => parent_by(&mut tx, tenant_id, "qualified_name", parent).await?,
                    };
                    (Some(found), None, Some(role.as_str()))
                }
            };
            let (parent_id, path, qualified_name) = match parent {
                None => (None, id.to_string(), new.username.to_string()),
                Some((parent_id, parent_path, parent_name)) => (
                    Some(parent_id),
                    format!("{parent_path}/{id}"),
                    format!("{parent_name}/{}", new.username),
                ),
            };
            parents.insert(qualified_name.clone(), (id, path.clone()));
            placed.push(Placed {
                id,
                parent_id,
                path,
                qualified_name,
                kind,
                role,
                new,
            });
        }
        for (n, chunk) in placed.chunks(CHUNK).enumerate() {
            insert_chunk(&mut tx, chunk, now).await?;
            progress((n * CHUNK + chunk.len()).min(placed.len()));
        }
        self.recheck_contact_caps(&mut tx, tenant_id, accounts, max_accounts_per_contact)
            .await?;
        crate::audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Which of `names` (qualified names) exist in the tenant.
    pub async fn existing_qualified_names(
        &self,
        tenant_id: i64,
        names: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let mut found = HashSet::new();
        for chunk in names.chunks(LOOKUP_CHUNK) {
            let sql = format!(
                "SELECT qualified_name FROM accounts WHERE tenant_id = $1 AND qualified_name IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(tenant_id);
            for name in chunk {
                query = query.bind(name.as_str());
            }
            for row in query.fetch_all(&mut *self.read().await?).await? {
                found.insert(text(&row, "qualified_name")?);
            }
        }
        Ok(found)
    }

    /// How many accounts have each of `values` bound and verified: email
    /// keys (lower case) with `email = true`, phone numbers otherwise.
    /// Values bound nowhere are left out.
    pub async fn verified_contact_counts(
        &self,
        tenant_id: i64,
        email: bool,
        values: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut counts = HashMap::new();
        let mut conn = self.read().await?;
        for chunk in values.chunks(LOOKUP_CHUNK) {
            for (value, n) in contact_counts(&mut conn, tenant_id, email, chunk, 0).await? {
                counts.insert(value, n);
            }
        }
        Ok(counts)
    }

    /// Ids for `n` new accounts, taken before inserting so that each path
    /// ("1/5/9") is known in advance. SQLite holds the write lock (BEGIN
    /// IMMEDIATE), so the ids above the current maximum are free; PostgreSQL
    /// draws them from the identity sequence, like a default would.
    async fn reserve_account_ids(
        &self,
        tx: &mut crate::lite::Conn,
        n: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let count = i64::try_from(n).map_err(|_| StoreError::Corrupt("import size".into()))?;
        match self.backend {
            Backend::Sqlite => {
                let row = sqlx::query("SELECT COALESCE(MAX(id), 0) AS top FROM accounts")
                    .fetch_one(&mut *tx)
                    .await?;
                let top = int(&row, "top")?;
                Ok((1..=count).map(|k| top + k).collect())
            }
            Backend::Postgres => {
                let rows = sqlx::query(
                    "SELECT nextval(pg_get_serial_sequence('accounts', 'id')) AS id \
                     FROM generate_series(1, $1) ORDER BY 1",
                )
                .bind(count)
                .fetch_all(&mut *tx)
                .await?;
                rows.iter().map(|r| int(r, "id")).collect()
            }
        }
    }

    async fn recheck_contact_caps(
        &self,
        tx: &mut crate::lite::Conn,
        tenant_id: i64,
        accounts: &[NewAccount],
        cap: u32,
    ) -> Result<(), StoreError> {
        let emails: HashSet<String> = accounts
            .iter()
            .filter(|a| a.email_verified)
            .filter_map(|a| a.email.as_ref().map(Email::key))
            .collect();
        let phones: HashSet<String> = accounts
            .iter()
            .filter(|a| a.phone_verified)
            .filter_map(|a| a.phone.as_ref().map(|p| p.as_str().to_string()))
            .collect();
        for (email, values) in [(true, emails), (false, phones)] {
            let values: Vec<String> = values.into_iter().collect();
            for chunk in values.chunks(LOOKUP_CHUNK) {
                if !contact_counts(tx, tenant_id, email, chunk, i64::from(cap))
                    .await?
                    .is_empty()
                {
                    return Err(StoreError::ContactLimit);
                }
            }
        }
        Ok(())
    }
}

/// The parent's id, path and qualified name, by `column` (`id` or
/// `qualified_name`).
async fn parent_by(
    tx: &mut crate::lite::Conn,
    tenant_id: i64,
    column: &str,
    value: &str,
) -> Result<(i64, String, String), StoreError> {
    let sql = format!(
        "SELECT id, path, qualified_name FROM accounts WHERE tenant_id = $1 AND {column} = $2"
    );
    let query = sqlx::query(&sql).bind(tenant_id);
    let query = if column == "id" {
        query.bind(value.parse::<i64>().unwrap_or(-1))
    } else {
        query.bind(value)
    };
    let row = query
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("parent account"))?;
    let path = text(&row, "path")?;
    AccountNode::parse_path(&path).ok_or_else(|| StoreError::Corrupt("account path".into()))?;
    Ok((int(&row, "id")?, path, text(&row, "qualified_name")?))
}

/// Verified-binding counts above `above` for each of `values`.
async fn contact_counts(
    conn: &mut crate::lite::Conn,
    tenant_id: i64,
    email: bool,
    values: &[String],
    above: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let (column, verified) = if email {
        ("email_key", "email_verified")
    } else {
        ("phone", "phone_verified")
    };
    let sql = format!(
        "SELECT {column} AS v, COUNT(*) AS n FROM accounts \
         WHERE tenant_id = $1 AND {verified} = 1 AND {column} IN ({}) \
         GROUP BY {column} HAVING COUNT(*) > $2",
        placeholders(3, values.len())
    );
    let mut query = sqlx::query(&sql).bind(tenant_id).bind(above);
    for value in values {
        query = query.bind(value.as_str());
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| Ok((text(row, "v")?, int(row, "n")?)))
        .collect()
}

async fn insert_chunk(
    tx: &mut crate::lite::Conn,
    chunk: &[Placed<'_>],
    now: Timestamp,
) -> Result<(), StoreError> {
    let columns = 8 + DETAIL_COUNT;
    let values: Vec<String> = (0..chunk.len())
        .map(|r| format!("({})", placeholders(1 + r * columns, columns)))
        .collect();
    let sql = format!(
        "INSERT INTO accounts (id, tenant_id, parent_id, path, username, qualified_name, kind, \
         role, {DETAIL_COLUMNS}) VALUES {}",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for p in chunk {
        let new = p.new;
        query = query
            .bind(p.id)
            .bind(new.tenant_id)
            .bind(p.parent_id)
            .bind(p.path.as_str())
            .bind(new.username.as_str())
            .bind(p.qualified_name.as_str())
            .bind(p.kind)
            .bind(p.role);
        query = bind_details(query, new, now);
    }
    query
        .execute(&mut *tx)
        .await
        .map_err(conflict_as("username"))?;
    let hashed: Vec<&Placed> = chunk
        .iter()
        .filter(|p| p.new.password_hash.is_some())
        .collect();
    if hashed.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..hashed.len())
        .map(|r| format!("({})", placeholders(1 + r * 3, 3)))
        .collect();
    let sql = format!(
        "INSERT INTO password_history (account_id, hash, created_at) VALUES {}",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for p in hashed {
        query = query
            .bind(p.id)
            .bind(p.new.password_hash.as_deref())
            .bind(now.0);
    }
    query.execute(&mut *tx).await?;
    Ok(())
}
