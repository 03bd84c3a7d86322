//! The account's verified identity (KYC record) that the `face` and
//! `external_identity` methods compare against. Document numbers are kept
//! only as HMACs under the server key, after normalization, so a provider's
//! "110101 1990…" and a record's "1101011990…" match.

use regain_domain::account::{AccountKind, Position};
use regain_store::{Account, AuditEvent, IdentityRecord, Tenant};

use crate::keys::hmac_hex;
use crate::{App, AppError};

/// What an operator records after an identity verification.
pub struct IdentityInput<'a> {
    /// The verified name (a person's, or the enterprise's).
    pub name: &'a str,
    /// The document number (ID card, passport, business licence).
    pub document: &'a str,
    /// An enterprise's legal representative: name and document number.
    pub representative: Option<(&'a str, &'a str)>,
}

/// Upper case, without spaces, dashes or dots.
fn normalized_document(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '/'))
        .flat_map(char::to_uppercase)
        .collect()
}

impl App {
    /// The keyed hash of a document number, as stored and compared.
    pub(crate) fn document_hmac(&self, raw: &str) -> String {
        hmac_hex(
            &self.secret,
            &[b"identity-document", normalized_document(raw).as_bytes()],
        )
    }

    /// Records the identity of a root account (an individual, or an
    /// enterprise with its legal representative). Operators only.
    pub async fn set_identity_record(
        &self,
        tenant: &Tenant,
        account: &Account,
        input: IdentityInput<'_>,
    ) -> Result<(), AppError> {
        let invalid = |message: &str| AppError::Invalid {
            code: "identity_invalid",
            message: message.into(),
        };
        let kind = match account.position {
            Position::Root(kind) => kind,
            Position::Sub(_) => AccountKind::Individual,
        };
        if input.name.trim().is_empty() || normalized_document(input.document).is_empty() {
            return Err(invalid(
                "a verified identity needs a name and a document number",
            ));
        }
        let representative = match (kind, input.representative) {
            (AccountKind::Enterprise, Some((name, doc)))
                if !name.trim().is_empty() && !normalized_document(doc).is_empty() =>
            {
                Some((name.trim().to_string(), self.document_hmac(doc)))
            }
            (AccountKind::Enterprise, _) => {
                return Err(invalid(
                    "an enterprise's identity names its legal representative",
                ))
            }
            (AccountKind::Individual, Some(_)) => {
                return Err(invalid("an individual has no legal representative"))
            }
            (AccountKind::Individual, None) => None,
        };
        let record = IdentityRecord {
            subject_type: kind.as_str().to_string(),
            verified_name: input.name.trim().to_string(),
            document_hmac: self.document_hmac(input.document),
            representative_name: representative.as_ref().map(|(n, _)| n.clone()),
            representative_document_hmac: representative.map(|(_, h)| h),
            verified_at: self.clock.now(),
        };
        let event = AuditEvent::new(
            Some(tenant.id),
            "credentials.identity",
            "operator",
            &format!("account:{}", account.id),
            "-",
            "success",
        );
        self.store
            .set_identity_record(account.id, &record, &event, self.clock.now())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::normalized_document;

    #[test]
    fn document_numbers_compare_without_separators_or_case() {
        assert_eq!(
            normalized_document("1101 0119-90x"),
            "110101199 0X".replace(' ', "")
        );
        assert_eq!(normalized_document(" 91-110.000/abc "), "91110000ABC");
    }
}
