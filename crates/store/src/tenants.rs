//! Tenants: create, find by slug, list, and change their policy.

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
        let row = sqlx::query(&format!(
            "INSERT INTO tenants (slug, name, policy, settings, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ))
        .bind(new.slug.as_str())
        .bind(new.name.as_str())
        .bind(to_json(&new.policy)?)
        .bind(to_json(&new.settings)?)
        .bind(now.0)
        .fetch_one(&self.pool)
        .await
        .map_err(conflict_as("tenant slug"))?;
        tenant_from_row(&row)
    }

    /// Finds a tenant by slug.
    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    /// Finds a tenant by id.
    pub async fn tenant_by_id(&self, id: i64) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    /// Every tenant, by slug.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants ORDER BY slug"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(tenant_from_row).collect()
    }

    /// Replaces a tenant's settings.
    pub async fn set_tenant_settings(
        &self,
        tenant_id: i64,
        settings: &TenantSettings,
    ) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let done = sqlx::query("UPDATE tenants SET settings = $1 WHERE id = $2")
            .bind(to_json(settings)?)
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
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
        let _turn = self.write_turn().await;
        let done = sqlx::query("UPDATE tenants SET policy = $1 WHERE id = $2")
            .bind(to_json(policy)?)
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("tenant"));
        }
        Ok(())
    }
}
