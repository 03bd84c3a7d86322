//! Accounts: the tree, identifiers, contacts and password state.

use regain_domain::account::{AccountKind, AccountNode, Position, Role};
use regain_domain::clock::Timestamp;
use regain_domain::identifiers::{Email, LoginIdentifier, Phone, QualifiedName, Username};
use regain_domain::policy::overrides::PolicyOverride;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::Any;

use crate::credentials::{setup_columns, setup_from_row, SetupCounts};
use crate::error::conflict_as;
use crate::rows::{flag, int, opt_int, opt_text, text, to_json};
use crate::write::WriteTx;
use crate::{Store, StoreError};

/// Most password hashes kept per account, whatever a policy asks: bounds the
/// history check's cost (each entry costs one Argon2id verification).
pub const MAX_HISTORY: u32 = 24;

/// How an account is found: by what a person typed, or by what a flow
/// or a session holds.
#[derive(Debug, Clone, Copy)]
pub enum AccountLookup<'a> {
    /// By id.
    Id(i64),
    /// By `root/sub/…` (or a root's username).
    QualifiedName(&'a str),
    /// By a parsed `root/sub/…`.
    SubAccount(&'a QualifiedName),
    /// By verified email (case-insensitive).
    VerifiedEmail(&'a Email),
    /// By verified phone.
    VerifiedPhone(&'a Phone),
}

impl<'a> From<&'a LoginIdentifier> for AccountLookup<'a> {
    /// What a person typed to log in or to recover: a name is one
    /// account, a verified contact may be bound to several.
    fn from(identifier: &'a LoginIdentifier) -> Self {
        match identifier {
            LoginIdentifier::Username(u) => AccountLookup::QualifiedName(u.as_str()),
            LoginIdentifier::Qualified(q) => AccountLookup::SubAccount(q),
            LoginIdentifier::Email(e) => AccountLookup::VerifiedEmail(e),
            LoginIdentifier::Phone(p) => AccountLookup::VerifiedPhone(p),
        }
    }
}

/// A stored account.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Internal id.
    pub id: i64,
    /// Owning tenant.
    pub tenant_id: i64,
    /// Parent account, `None` for a root.
    pub parent_id: Option<i64>,
    /// Ids from the root down to this account.
    pub path: Vec<i64>,
    /// Name among siblings.
    pub username: String,
    /// `root/sub/…` (just the username for a root).
    pub qualified_name: String,
    /// Root kind or sub-account role.
    pub position: Position,
    /// Optional human name.
    pub display_name: Option<String>,
    /// Bound email, as written to.
    pub email: Option<String>,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Bound phone, E.164.
    pub phone: Option<String>,
    /// Whether the phone was verified.
    pub phone_verified: bool,
    /// Argon2id PHC string; `None` until a password is set.
    pub password_hash: Option<String>,
    /// Login allows nothing but a password change until this is cleared.
    pub must_change_password: bool,
    /// When the password was last set.
    pub password_changed_at: Option<Timestamp>,
    /// A disabled account cannot log in or manage anyone.
    pub disabled: bool,
    /// This account's policy override for its subtree.
    pub policy_override: Option<PolicyOverride>,
    /// Language of messages to this account (`en`, `zh-CN`).
    pub locale: String,
    /// Creation time.
    pub created_at: Timestamp,
}

impl Account {
    /// The facts management rights depend on.
    pub fn node(&self) -> AccountNode {
        AccountNode {
            tenant_id: self.tenant_id,
            path: self.path.clone(),
            position: self.position,
            disabled: self.disabled,
        }
    }

    /// The bound email, parsed, if any.
    pub fn email_parsed(&self) -> Option<Email> {
        self.email.as_deref().and_then(|e| Email::parse(e).ok())
    }
}

/// Where a new account goes.
#[derive(Debug, Clone)]
pub enum Placement {
    /// A new root account of this kind.
    Root(AccountKind),
    /// A sub-account under `parent_id` with `role`.
    Sub {
        /// The parent account.
        parent_id: i64,
        /// Role in the parent.
        role: Role,
    },
    /// A sub-account under the account of this qualified name, which may
    /// have been created earlier in the same transaction (bulk import).
    SubNamed {
        /// The parent's qualified name.
        parent: String,
        /// Role in the parent.
        role: Role,
    },
}

/// What is needed to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Owning tenant.
    pub tenant_id: i64,
    /// Root or sub-account.
    pub placement: Placement,
    /// Name among siblings.
    pub username: Username,
    /// Optional human name.
    pub display_name: Option<String>,
    /// Email to bind.
    pub email: Option<Email>,
    /// Bind it as verified (an operator vouches for it).
    pub email_verified: bool,
    /// Phone to bind.
    pub phone: Option<Phone>,
    /// Bind it as verified.
    pub phone_verified: bool,
    /// Initial Argon2id hash.
    pub password_hash: Option<String>,
    /// Force a change at first login.
    pub must_change_password: bool,
    /// Language of messages (`en`, `zh-CN`).
    pub locale: String,
}

pub(crate) const COLUMNS: &str =
    "id, tenant_id, parent_id, path, username, qualified_name, kind, role, \
    display_name, email, email_verified, phone, phone_verified, password_hash, \
    must_change_password, password_changed_at, disabled, policy_override, locale, created_at";

fn account_from_row(row: &AnyRow) -> Result<Account, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("account {what}"));
    let path_text = text(row, "path")?;
    let path = AccountNode::parse_path(&path_text).ok_or_else(|| corrupt("path"))?;
    let position = match (opt_text(row, "kind")?, opt_text(row, "role")?) {
        (Some(k), None) => Position::Root(AccountKind::parse(&k).ok_or_else(|| corrupt("kind"))?),
        (None, Some(r)) => Position::Sub(Role::parse(&r).ok_or_else(|| corrupt("role"))?),
        _ => return Err(corrupt("position")),
    };
    let policy_override = opt_text(row, "policy_override")?
        .map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|_| corrupt("policy override"))?;
    Ok(Account {
        id: int(row, "id")?,
        tenant_id: int(row, "tenant_id")?,
        parent_id: opt_int(row, "parent_id")?,
        path,
        username: text(row, "username")?,
        qualified_name: text(row, "qualified_name")?,
        position,
        display_name: opt_text(row, "display_name")?,
        email: opt_text(row, "email")?,
        email_verified: flag(row, "email_verified")?,
        phone: opt_text(row, "phone")?,
        phone_verified: flag(row, "phone_verified")?,
        password_hash: opt_text(row, "password_hash")?,
        must_change_password: flag(row, "must_change_password")?,
        password_changed_at: opt_int(row, "password_changed_at")?.map(Timestamp),
        disabled: flag(row, "disabled")?,
        policy_override,
        locale: text(row, "locale")?,
        created_at: Timestamp(int(row, "created_at")?),
    })
}

/// Places `new` in the tree, checks the per-contact cap and records the
/// initial password in the history, inside the caller's transaction.
async fn insert_account(
    tx: &mut crate::lite::Conn,
    new: &NewAccount,
    max_accounts_per_contact: u32,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let (parent_id, parent_path, qualified_name, kind, role) = match &new.placement {
        Placement::Root(kind) => (
            None,
            Vec::new(),
            new.username.to_string(),
            Some(kind.as_str()),
            None,
        ),
        Placement::Sub { parent_id, role } => {
            let row = sqlx::query(
                "SELECT id, path, qualified_name FROM accounts WHERE tenant_id = $1 AND id = $2",
            )
            .bind(new.tenant_id)
            .bind(*parent_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("parent account"))?;
            parent_placement(&row, &new.username, *role)?
        }
        Placement::SubNamed { parent, role } => {
            let row = sqlx::query(
                "SELECT id, path, qualified_name FROM accounts \
                 WHERE tenant_id = $1 AND qualified_name = $2",
            )
            .bind(new.tenant_id)
            .bind(parent.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("parent account"))?;
            parent_placement(&row, &new.username, *role)?
        }
    };
    let cap = i64::from(max_accounts_per_contact);
    if let (Some(email), true) = (&new.email, new.email_verified) {
        if count_verified(tx, new.tenant_id, "email_key", &email.key()).await? >= cap {
            return Err(StoreError::ContactLimit);
        }
    }
    if let (Some(phone), true) = (&new.phone, new.phone_verified) {
        if count_verified(tx, new.tenant_id, "phone", phone.as_str()).await? >= cap {
            return Err(StoreError::ContactLimit);
        }
    }
    let sql = format!(
        "INSERT INTO accounts (tenant_id, parent_id, path, username, qualified_name, kind, role, \
         {DETAIL_COLUMNS}) VALUES ($1, $2, '', $3, $4, $5, $6, {}) RETURNING id",
        crate::sql::placeholders(7, DETAIL_COUNT)
    );
    let query = sqlx::query(&sql)
        .bind(new.tenant_id)
        .bind(parent_id)
        .bind(new.username.as_str())
        .bind(qualified_name.as_str())
        .bind(kind)
        .bind(role);
    let row = bind_details(query, new, now)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_as("username"))?;
    let id = int(&row, "id")?;
    let mut path = parent_path;
    path.push(id);
    sqlx::query("UPDATE accounts SET path = $1 WHERE id = $2")
        .bind(AccountNode::format_path(&path))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if let Some(hash) = &new.password_hash {
        sqlx::query(
            "INSERT INTO password_history (account_id, hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(hash.as_str())
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
    }
    Ok(id)
}

/// The columns of a new account that come from [`NewAccount`] alone, in the
/// order [`bind_details`] binds them (the single and the bulk insert share
/// them).
pub(crate) const DETAIL_COLUMNS: &str = "display_name, email, email_key, email_verified, \
    phone, phone_verified, password_hash, must_change_password, password_changed_at, \
    created_at, locale";
/// How many [`DETAIL_COLUMNS`] there are.
pub(crate) const DETAIL_COUNT: usize = 11;

/// Binds the [`DETAIL_COLUMNS`] of `new`, created at `now`.
pub(crate) fn bind_details<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    new: &'q NewAccount,
    now: Timestamp,
) -> Query<'q, Any, AnyArguments<'q>> {
    query
        .bind(new.display_name.as_deref())
        .bind(new.email.as_ref().map(Email::as_str))
        .bind(new.email.as_ref().map(Email::key))
        .bind(i64::from(new.email_verified))
        .bind(new.phone.as_ref().map(Phone::as_str))
        .bind(i64::from(new.phone_verified))
        .bind(new.password_hash.as_deref())
        .bind(i64::from(new.must_change_password))
        .bind(new.password_hash.as_ref().map(|_| now.0))
        .bind(now.0)
        .bind(new.locale.as_str())
}

/// The parent's id and path, and the new account's qualified name, kind and role.
type ParentPlacement = (
    Option<i64>,
    Vec<i64>,
    String,
    Option<&'static str>,
    Option<&'static str>,
);

fn parent_placement(
    row: &AnyRow,
    username: &Username,
    role: Role,
) -> Result<ParentPlacement, StoreError> {
    let path = AccountNode::parse_path(&text(row, "path")?)
        .ok_or_else(|| StoreError::Corrupt("account path".into()))?;
    let qualified = format!("{}/{}", text(row, "qualified_name")?, username);
    Ok((
        Some(int(row, "id")?),
        path,
        qualified,
        None,
        Some(role.as_str()),
    ))
}

pub(crate) async fn count_verified(
    tx: &mut crate::lite::Conn,
    tenant_id: i64,
    column: &str,
    value: &str,
) -> Result<i64, StoreError> {
    let verified = if column == "email_key" {
        "email_verified"
    } else {
        "phone_verified"
    };
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM accounts WHERE tenant_id = $1 AND {column} = $2 AND {verified} = 1"
    ))
    .bind(tenant_id)
    .bind(value)
    .fetch_one(&mut *tx)
    .await?;
    int(&row, "n")
}

impl Store {
    /// Creates an account in one transaction: places it in the tree, checks
    /// the per-contact cap, and records the initial password in the history.
    pub async fn create_account(
        &self,
        new: &NewAccount,
        max_accounts_per_contact: u32,
        now: Timestamp,
    ) -> Result<Account, StoreError> {
        let mut tx = self.begin().await?;
        self.lock_account_creation(&mut tx, new.tenant_id).await?;
        let id = insert_account(&mut tx, new, max_accounts_per_contact, now).await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        account_from_row(&row)
    }

    /// One account creation per tenant at a time, so that the contact cap
    /// holds under concurrency (SQLite's BEGIN IMMEDIATE already serializes
    /// writers).
    pub(crate) async fn lock_account_creation(
        &self,
        tx: &mut crate::lite::Conn,
        tenant_id: i64,
    ) -> Result<(), StoreError> {
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(tenant_id)
                .fetch_one(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// An account by id within a tenant.
    pub async fn account(&self, tenant_id: i64, id: i64) -> Result<Option<Account>, StoreError> {
        self.account_by(tenant_id, AccountLookup::Id(id)).await
    }

    /// An account by `root/sub/…` (or a root's username).
    pub async fn account_by_qualified_name(
        &self,
        tenant_id: i64,
        qualified_name: &str,
    ) -> Result<Option<Account>, StoreError> {
        self.account_by(tenant_id, AccountLookup::QualifiedName(qualified_name))
            .await
    }

    /// Accounts whose verified email is `email` (case-insensitive), at most `limit`.
    pub async fn accounts_by_verified_email(
        &self,
        tenant_id: i64,
        email: &Email,
        limit: i64,
    ) -> Result<Vec<Account>, StoreError> {
        self.accounts(tenant_id, AccountLookup::VerifiedEmail(email), limit)
            .await
    }

    /// Accounts whose verified phone is `phone`, at most `limit`.
    pub async fn accounts_by_verified_phone(
        &self,
        tenant_id: i64,
        phone: &Phone,
        limit: i64,
    ) -> Result<Vec<Account>, StoreError> {
        self.accounts(tenant_id, AccountLookup::VerifiedPhone(phone), limit)
            .await
    }

    /// The accounts `lookup` finds (at most `limit`), by id.
    pub async fn accounts(
        &self,
        tenant_id: i64,
        lookup: AccountLookup<'_>,
        limit: i64,
    ) -> Result<Vec<Account>, StoreError> {
        let rows = self.find(tenant_id, lookup, limit, false).await?;
        rows.iter().map(account_from_row).collect()
    }

    /// The accounts `lookup` finds (at most `limit`), each with what it has
    /// set up for recovery, in one read: on SQLite every read begins by
    /// checking its connection's page cache against the writes since, so a
    /// step that needs both pays that once.
    pub async fn accounts_with_setup(
        &self,
        tenant_id: i64,
        lookup: AccountLookup<'_>,
        limit: i64,
    ) -> Result<Vec<(Account, SetupCounts)>, StoreError> {
        let rows = self.find(tenant_id, lookup, limit, true).await?;
        rows.iter()
            .map(|row| Ok((account_from_row(row)?, setup_from_row(row)?)))
            .collect()
    }

    async fn account_by(
        &self,
        tenant_id: i64,
        lookup: AccountLookup<'_>,
    ) -> Result<Option<Account>, StoreError> {
        let rows = self.find(tenant_id, lookup, 1, false).await?;
        rows.first().map(account_from_row).transpose()
    }

    /// The rows of the accounts `lookup` finds in the tenant, by id, with
    /// their [`SetupCounts`] columns when `setup`.
    async fn find(
        &self,
        tenant_id: i64,
        lookup: AccountLookup<'_>,
        limit: i64,
        setup: bool,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let condition = match lookup {
            AccountLookup::Id(_) => "id = $2",
            AccountLookup::QualifiedName(_) | AccountLookup::SubAccount(_) => "qualified_name = $2",
            AccountLookup::VerifiedEmail(_) => "email_key = $2 AND email_verified = 1",
            AccountLookup::VerifiedPhone(_) => "phone = $2 AND phone_verified = 1",
        };
        let setup = if setup {
            format!(", {}", setup_columns("accounts.id"))
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {COLUMNS}{setup} FROM accounts WHERE tenant_id = $1 AND {condition} \
             ORDER BY id LIMIT $3"
        );
        let query = sqlx::query(&sql).bind(tenant_id);
        let query = match lookup {
            AccountLookup::Id(id) => query.bind(id),
            AccountLookup::QualifiedName(name) => query.bind(name),
            AccountLookup::SubAccount(name) => query.bind(name.to_string()),
            AccountLookup::VerifiedEmail(email) => query.bind(email.key()),
            AccountLookup::VerifiedPhone(phone) => query.bind(phone.as_str()),
        };
        Ok(query
            .bind(limit)
            .fetch_all(&mut *self.read().await?)
            .await?)
    }

    /// Accounts matching a fixed `condition` over integer parameters
    /// `$1…` (never user text), by id.
    pub(crate) async fn accounts_where(
        &self,
        condition: &str,
        params: &[i64],
    ) -> Result<Vec<Account>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE {condition} ORDER BY id");
        let mut query = sqlx::query(&sql);
        for p in params {
            query = query.bind(*p);
        }
        let rows = query.fetch_all(&mut *self.read().await?).await?;
        rows.iter().map(account_from_row).collect()
    }

    /// Children of `parent_id` (roots when `None`), by id, after `after_id`.
    pub async fn list_accounts(
        &self,
        tenant_id: i64,
        parent_id: Option<i64>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Account>, StoreError> {
        let parent_clause = if parent_id.is_some() {
            "parent_id = $4"
        } else {
            "parent_id IS NULL"
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM accounts WHERE tenant_id = $1 AND id > $2 AND {parent_clause} \
             ORDER BY id LIMIT $3"
        );
        let mut query = sqlx::query(&sql).bind(tenant_id).bind(after_id).bind(limit);
        if let Some(parent_id) = parent_id {
            query = query.bind(parent_id);
        }
        let rows = query.fetch_all(&mut *self.read().await?).await?;
        rows.iter().map(account_from_row).collect()
    }

    /// The account's ancestors and itself, root first: what policy
    /// resolution and the management rights need (a root: the given
    /// account itself, as read by the caller). The ids are the path's
    /// own ("1/5/9"), so this is a primary-key lookup whatever the size of
    /// the tenant (a pattern match on paths would read every account).
    pub async fn lineage(&self, account: &Account) -> Result<Vec<Account>, StoreError> {
        // A root account is its own lineage: most accounts of most tenants
        // are roots, and a login or a reset needs their policy.
        if account.parent_id.is_none() && account.path == [account.id] {
            return Ok(vec![account.clone()]);
        }
        let ids = &account.path;
        let sql = format!(
            "SELECT {COLUMNS} FROM accounts WHERE tenant_id = $1 AND id IN ({})",
            crate::sql::placeholders(2, ids.len())
        );
        let mut query = sqlx::query(&sql).bind(account.tenant_id);
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&mut *self.read().await?).await?;
        let mut found: Vec<Account> = rows
            .iter()
            .map(account_from_row)
            .collect::<Result<_, _>>()?;
        // Root first, as the path lists them; a row whose path disagrees
        // with its place in this lineage is not an ancestor.
        found.sort_by_key(|a| a.path.len());
        found.retain(|a| account.path.starts_with(&a.path));
        Ok(found)
    }

    /// Up to `limit` accounts below `account` (its whole subtree), by id.
    pub async fn accounts_below(
        &self,
        account: &Account,
        limit: i64,
    ) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts WHERE tenant_id = $1 AND path LIKE $2 ORDER BY id LIMIT $3"
        ))
        .bind(account.tenant_id)
        .bind(format!("{}/%", AccountNode::format_path(&account.path)))
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    /// The accounts below `account` that carry their own policy override.
    pub async fn overrides_below(&self, account: &Account) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts WHERE tenant_id = $1 AND path LIKE $2 AND policy_override IS NOT NULL"
        ))
        .bind(account.tenant_id)
        .bind(format!("{}/%", AccountNode::format_path(&account.path)))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    /// Sets a new password in one transaction: the hash, the history entry
    /// (trimmed to `keep_history`), the must-change flag, and the revocation
    /// of every session of the account except `keep_session` (a token hash).
    pub async fn set_password(
        &self,
        account_id: i64,
        hash: &str,
        must_change: bool,
        keep_history: u32,
        keep_session: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        set_password_in(
            &mut tx,
            account_id,
            hash,
            must_change,
            keep_history,
            keep_session,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the hash with an equivalent one under new parameters, only if
    /// the password was not changed meanwhile. Returns whether it replaced.
    pub async fn rehash_password(
        &self,
        account_id: i64,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
        )
        .bind(new_hash)
        .bind(account_id)
        .bind(old_hash)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE password_history SET hash = $1 WHERE account_id = $2 AND hash = $3")
            .bind(new_hash)
            .bind(account_id)
            .bind(old_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The account's most recent password hashes, newest first.
    pub async fn password_history(
        &self,
        account_id: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT hash FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(i64::from(limit.min(MAX_HISTORY)))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(|r| text(r, "hash")).collect()
    }

    /// Sets or clears the policy override of an account's subtree.
    pub async fn set_policy_override(
        &self,
        account_id: i64,
        policy_override: Option<&PolicyOverride>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        policy_override_in(&mut tx, account_id, policy_override).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::set_policy_override`] and its audit event, in one transaction.
    pub async fn set_policy_override_audited(
        &self,
        account_id: i64,
        policy_override: Option<&PolicyOverride>,
        event: &crate::AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        policy_override_in(&mut tx, account_id, policy_override).await?;
        crate::audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes a sub-account's role; refuses roots.
    pub async fn set_role(&self, account_id: i64, role: Role) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        role_in(&mut tx, account_id, role).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::set_role`] and its audit event, in one transaction.
    pub async fn set_role_audited(
        &self,
        account_id: i64,
        role: Role,
        event: &crate::AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        role_in(&mut tx, account_id, role).await?;
        crate::audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables or enables an account; disabling revokes its sessions.
    pub async fn set_disabled(
        &self,
        account_id: i64,
        disabled: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        disabled_in(&mut tx, account_id, disabled, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::set_disabled`] and its audit event, in one transaction.
    pub async fn set_disabled_audited(
        &self,
        account_id: i64,
        disabled: bool,
        event: &crate::AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        disabled_in(&mut tx, account_id, disabled, now).await?;
        crate::audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn policy_override_in(
    conn: &mut crate::lite::Conn,
    account_id: i64,
    policy_override: Option<&PolicyOverride>,
) -> Result<(), StoreError> {
    let value = policy_override
        .filter(|o| !o.is_empty())
        .map(to_json)
        .transpose()?;
    let done = sqlx::query("UPDATE accounts SET policy_override = $1 WHERE id = $2")
        .bind(value)
        .bind(account_id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("account"));
    }
    Ok(())
}

async fn role_in(
    conn: &mut crate::lite::Conn,
    account_id: i64,
    role: Role,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE accounts SET role = $1 WHERE id = $2 AND parent_id IS NOT NULL")
        .bind(role.as_str())
        .bind(account_id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("sub-account"));
    }
    Ok(())
}

async fn disabled_in(
    conn: &mut crate::lite::Conn,
    account_id: i64,
    disabled: bool,
    now: Timestamp,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE accounts SET disabled = $1 WHERE id = $2")
        .bind(i64::from(disabled))
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("account"));
    }
    if disabled {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Sets a new password inside the caller's transaction: the hash, the
/// history entry (trimmed to `keep_history`), the must-change flag, and the
/// revocation of every session of the account except `keep_session`.
pub(crate) async fn set_password_in(
    tx: &mut WriteTx,
    account_id: i64,
    hash: &str,
    must_change: bool,
    keep_history: u32,
    keep_session: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE accounts SET password_hash = $1, must_change_password = $2, password_changed_at = $3 \
         WHERE id = $4",
    )
    .bind(hash)
    .bind(i64::from(must_change))
    .bind(now.0)
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("account"));
    }
    // The history and the other sessions follow the password, with the
    // commit.
    let keep = i64::from(keep_history.clamp(1, MAX_HISTORY));
    tx.run(
        HISTORY_ADD,
        vec![account_id.into(), hash.into(), now.0.into()],
    )
    .await?;
    tx.run(HISTORY_TRIM, vec![account_id.into(), keep.into()])
        .await?;
    tx.run(
        SESSIONS_REVOKE,
        vec![
            now.0.into(),
            account_id.into(),
            keep_session.unwrap_or("").into(),
        ],
    )
    .await?;
    Ok(())
}

const HISTORY_ADD: &str =
    "INSERT INTO password_history (account_id, hash, created_at) VALUES ($1, $2, $3)";

/// Keeps the newest `$2` entries of account `$1`.
const HISTORY_TRIM: &str = "DELETE FROM password_history WHERE account_id = $1 AND id NOT IN \
     (SELECT id FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2)";

/// Revokes account `$2`'s live sessions but the one whose hash is `$3`.
const SESSIONS_REVOKE: &str = "UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 \
     AND revoked_at IS NULL AND token_hash <> $3";
