//! Tenants: create, find by slug, list, and change their policy.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use regain_domain::clock::Timestamp;
use regain_domain::identifiers::TenantSlug;
use regain_domain::policy::PasswordPolicy;
use regain_domain::tenant::TenantSettings;
use sqlx::any::AnyRow;

use crate::error::conflict_as;
use crate::rows::{int, json, text, to_json};
use crate::{Store, StoreError};

/// A stored tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Internal id.
    pub id: i64,
    /// Public address.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Default password policy of the tenant.
    pub policy: PasswordPolicy,
    /// Other settings.
    pub settings: TenantSettings,
    /// Creation time.
    pub created_at: Timestamp,
}

/// What is needed to create a tenant.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Public address.
    pub slug: TenantSlug,
    /// Display name.
    pub name: String,
    /// Default password policy.
    pub policy: PasswordPolicy,
    /// Other settings.
    pub settings: TenantSettings,
}

/// How long a tenant read by slug is kept before it is read again.
pub const TENANT_CACHE_TTL: Duration = Duration::from_secs(1);

/// Tenants by slug, each with the moment it was read. Only tenants that
/// exist are kept, so its size is the number of tenants.
#[derive(Debug, Default)]
pub(crate) struct TenantCache(Mutex<HashMap<String, (Instant, Tenant)>>);

impl TenantCache {
    fn get(&self, slug: &str) -> Option<Tenant> {
        let map = self.0.lock().ok()?;
        let (read_at, tenant) = map.get(slug)?;
        (read_at.elapsed() < TENANT_CACHE_TTL).then(|| tenant.clone())
    }

    fn put(&self, tenant: &Tenant) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(tenant.slug.clone(), (Instant::now(), tenant.clone()));
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }
}

const COLUMNS: &str = "id, slug, name, policy, settings, created_at";

fn tenant_from_row(row: &AnyRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: int(row, "id")?,
        slug: text(row, "slug")?,
        name: text(row, "name")?,
        policy: json(row, "policy")?,
        settings: json(row, "settings")?,
        created_at: Timestamp(int(row, "created_at")?),
    })
}

impl Store {
    /// Creates a tenant; [`StoreError::Conflict`] if the slug is taken.
    pub async fn create_tenant(
        &self,
        new: &NewTenant,
        now: Timestamp,
    ) -> Result<Tenant, StoreError> {
        let mut w = self.writer().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO tenants (slug, name, policy, settings, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ))
        .bind(new.slug.as_str())
        .bind(new.name.as_str())
        .bind(to_json(&new.policy)?)
        .bind(to_json(&new.settings)?)
        .bind(now.0)
        .fetch_one(&mut *w)
        .await
        .map_err(conflict_as("tenant slug"))?;
        w.commit().await?;
        tenant_from_row(&row)
    }

    /// Finds a tenant by slug. Every request names its tenant, so the
    /// answer is kept for [`TENANT_CACHE_TTL`]: a change through this
    /// store is seen at once, one through another process (the CLI, another
    /// instance) within that time.
    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        if let Some(tenant) = self.tenants.get(slug) {
            return Ok(Some(tenant));
        }
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        let tenant = row.as_ref().map(tenant_from_row).transpose()?;
        if let Some(t) = &tenant {
            self.tenants.put(t);
        }
        Ok(tenant)
    }

    /// Finds a tenant by id.
    pub async fn tenant_by_id(&self, id: i64) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    /// Every tenant, by slug.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants ORDER BY slug"))
            .fetch_all(&mut *self.read().await?)
            .await?;
        rows.iter().map(tenant_from_row).collect()
    }

    /// Replaces a tenant's settings.
    pub async fn set_tenant_settings(
        &self,
        tenant_id: i64,
        settings: &TenantSettings,
    ) -> Result<(), StoreError> {
        let mut w = self.writer().await?;
        let done = sqlx::query("UPDATE tenants SET settings = $1 WHERE id = $2")
            .bind(to_json(settings)?)
            .bind(tenant_id)
            .execute(&mut *w)
            .await?;
        w.commit().await?;
        self.tenants.clear();
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("tenant"));
        }
        Ok(())
    }

    /// Replaces a tenant's default policy.
    pub async fn set_tenant_policy(
        &self,
        tenant_id: i64,
        policy: &PasswordPolicy,
    ) -> Result<(), StoreError> {
        let mut w = self.writer().await?;
        let done = sqlx::query("UPDATE tenants SET policy = $1 WHERE id = $2")
            .bind(to_json(policy)?)
            .bind(tenant_id)
            .execute(&mut *w)
            .await?;
        w.commit().await?;
        self.tenants.clear();
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("tenant"));
        }
        Ok(())
    }
}
