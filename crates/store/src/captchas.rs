//! CAPTCHA challenges: stored as a keyed hash of the answer, taken (deleted)
//! on first use, so each one can be tried once.

use regain_domain::clock::Timestamp;

use crate::rows::text;
use crate::{Store, StoreError};

impl Store {
    /// Records a challenge whose id hashes to `id_hash`.
    pub async fn create_captcha(
        &self,
        id_hash: &str,
        tenant_id: i64,
        answer_hmac: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM captchas WHERE expires_at <= $1")
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO captchas (id_hash, tenant_id, answer_hmac, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id_hash)
            .bind(tenant_id)
            .bind(answer_hmac)
            .bind(expires_at.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Consumes a live challenge of the tenant and returns its answer's
    /// hash; `None` when it does not exist, expired, or was used.
    pub async fn take_captcha(
        &self,
        id_hash: &str,
        tenant_id: i64,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let mut w = self.writer().await?;
        let row = sqlx::query(
            "DELETE FROM captchas WHERE id_hash = $1 AND tenant_id = $2 RETURNING answer_hmac, expires_at",
        )
        .bind(id_hash)
        .bind(tenant_id)
        .fetch_optional(&mut *w)
        .await?;
        w.commit().await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at = crate::rows::int(&row, "expires_at")?;
        if expires_at <= now.0 {
            return Ok(None);
        }
        Ok(Some(text(&row, "answer_hmac")?))
    }
}
