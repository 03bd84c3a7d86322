//! The manual appeal (DESIGN §3): when no method works, the person gives
//! the identifier, a new contact (proven by a code before the appeal
//! reaches the queue), a description, evidence and attachments. Support
//! reviewers (tenant staff with the `support` role) claim, approve (a reset
//! link goes to the new contact, which is bound once the password is set)
//! or deny with a reason.
//!
//! Enumeration-safe: an identifier that names no account gets the same
//! answers; the reviewer sees that no account matched.

use base64::Engine;
use regain_delivery::templates::{Locale, Template};
use regain_domain::identifiers::{Email, LoginIdentifier, Phone};
use regain_domain::recovery::{Flow, FlowState};
use regain_store::{
    Appeal, Attachment, AuditEvent, Channel, ContactKind, FlowRecord, StoreError, Tenant,
};

use crate::auth::{Authenticated, Client};
use crate::keys::{hmac_hex, hmac_matches, same, six_digit_code};
use crate::messages::message;
use crate::methods::mask_contact;
use crate::tokens::{random_token, token_hash};
use crate::{App, AppError};

/// How long the contact code is valid.
const CODE_SECS: i64 = 15 * 60;
/// Wrong contact codes before the appeal is abandoned.
const MAX_CODE_TRIES: i64 = 5;
/// How long an approved appeal's reset link works.
const LINK_SECS: i64 = 24 * 3600;
/// Longest description or evidence text, in characters.
const MAX_TEXT_CHARS: usize = 4000;
/// Attachments per appeal.
pub const MAX_ATTACHMENTS: i64 = 5;
/// Largest attachment any tenant may allow, in bytes (each tenant sets its
/// own limit below it: `appeal_max_attachment_bytes`).
pub const MAX_ATTACHMENT_BYTES: usize = 4 * 1024 * 1024;

/// The tenant staff roles.
pub const STAFF_ROLES: [&str; 2] = ["support", "operator"];

/// What a person files.
pub struct NewAppeal<'a> {
    /// Their username, `root/sub`, email or phone.
    pub identifier: &'a str,
    /// The new contact's kind.
    pub contact_kind: ContactKind,
    /// The new contact.
    pub contact_value: &'a str,
    /// What happened.
    pub description: &'a str,
    /// Evidence as text (order numbers, last login place, …).
    pub evidence: &'a str,
}

/// The answer to filing: keep the token, it reads the status.
#[derive(Debug, Clone)]
pub struct Filed {
    /// The appeal's id.
    pub id: i64,
    /// Reads the status; shown once.
    pub status_token: String,
    /// Where the code went (masked).
    pub contact_hint: String,
}

/// An appeal as support sees it.
#[derive(Debug, Clone)]
pub struct Review {
    /// The appeal.
    pub appeal: Appeal,
    /// The account it names, if any.
    pub account: Option<String>,
    /// Its attachments.
    pub attachments: Vec<Attachment>,
}

fn not_found() -> AppError {
    AppError::NotFound {
        code: "appeal_not_found",
        message: "no such appeal",
    }
}

fn wrong_state() -> AppError {
    AppError::WrongState {
        code: "appeal_wrong_state",
        message: "this step does not apply to the appeal now",
    }
}

fn text_field(raw: &str, field: &'static str, required: bool) -> Result<String, AppError> {
    let text = raw.trim();
    if (required && text.is_empty()) || text.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::Invalid {
            code: field,
            message: format!(
                "{} needs {} to {MAX_TEXT_CHARS} characters",
                field.trim_end_matches("_invalid"),
                u8::from(required)
            ),
        });
    }
    Ok(text.to_string())
}

/// The type of a file from its first bytes: only images and PDFs are
/// accepted as evidence, and the declared type must be the real one.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

fn code_parts<'a>(id: &'a str, value: &'a str, code: &'a str) -> [&'a [u8]; 4] {
    [b"appeal", id.as_bytes(), value.as_bytes(), code.as_bytes()]
}

impl App {
    /// Files an appeal behind the CAPTCHA and sends a code to its contact.
    pub async fn file_appeal(
        &self,
        tenant: &Tenant,
        new: NewAppeal<'_>,
        captcha: (Option<&str>, Option<&str>),
        client: &Client,
    ) -> Result<Filed, AppError> {
        let s = &tenant.settings.recovery;
        let identifier = LoginIdentifier::parse(new.identifier)?;
        let description = text_field(new.description, "description_invalid", true)?;
        let evidence = text_field(new.evidence, "evidence_invalid", false)?;
        let contact = match new.contact_kind {
            ContactKind::Email => Email::parse(new.contact_value)?.as_str().to_string(),
            ContactKind::Phone => Phone::parse(new.contact_value)?.as_str().to_string(),
        };
        self.count_recovery_request(tenant, client).await?;
        self.check_captcha(tenant, captcha.0, captcha.1).await?;
        self.count_destination(
            &format!("dest:{}:{}", tenant.id, contact.to_lowercase()),
            s.max_messages_per_destination_per_hour,
        )
        .await?;
        let account = self.find_login_account(tenant, &identifier).await?;
        let status_token = random_token()?;
        let code = six_digit_code()?;
        let now = self.clock.now();
        // The code is keyed by the status token's hash: the appeal id is
        // not known before the insert.
        let token_hashed = token_hash(&status_token);
        let appeal = Appeal {
            id: 0,
            tenant_id: tenant.id,
            account_id: account.as_ref().map(|a| a.id),
            identifier: new.identifier.trim().chars().take(200).collect(),
            contact_kind: new.contact_kind,
            contact_value: contact.clone(),
            code_hmac: Some(hmac_hex(
                &self.secret,
                &code_parts(&token_hashed, &contact, &code),
            )),
            code_tries: 0,
            description,
            evidence,
            state: "unconfirmed".into(),
            status_token_hash: token_hashed,
            claimed_by: None,
            reason: None,
            created_at: now,
            updated_at: now,
        };
        let channel = match new.contact_kind {
            ContactKind::Email => Channel::Email,
            ContactKind::Phone => Channel::Sms,
        };
        let m = message(
            tenant.id,
            channel,
            &contact,
            &Template::AppealCode {
                code,
                minutes: CODE_SECS / 60,
            },
            account
                .as_ref()
                .map_or(Locale::En, |a| Locale::parse(&a.locale)),
        )?;
        let event = AuditEvent::new(
            Some(tenant.id),
            "appeal.filed",
            "anonymous",
            "appeal",
            &client.ip.to_string(),
            "success",
        );
        let id = self.store.create_appeal(&appeal, &m, &event, now).await?;
        self.outbox_wake.notify_one();
        Ok(Filed {
            id,
            status_token,
            contact_hint: mask_contact(new.contact_kind, &contact),
        })
    }

    /// The appeal behind `status_token` (the same answer for a wrong token
    /// and an unknown id).
    async fn appeal_with_token(
        &self,
        tenant: &Tenant,
        id: i64,
        status_token: &str,
    ) -> Result<Appeal, AppError> {
        let appeal = self
            .store
            .appeal(tenant.id, id)
            .await?
            .ok_or_else(not_found)?;
        if status_token.is_empty()
            || status_token.len() > 128
            || !same(&appeal.status_token_hash, &token_hash(status_token))
        {
            return Err(not_found());
        }
        Ok(appeal)
    }

    /// Proves the appeal's contact with its code: the appeal joins the
    /// queue (an older open appeal of the account is merged into it).
    pub async fn confirm_appeal(
        &self,
        tenant: &Tenant,
        id: i64,
        status_token: &str,
        code: &str,
        client: &Client,
    ) -> Result<Appeal, AppError> {
        let appeal = self.appeal_with_token(tenant, id, status_token).await?;
        if appeal.state != "unconfirmed" {
            return Err(wrong_state());
        }
        let now = self.clock.now();
        if now.0 - appeal.created_at.0 > CODE_SECS {
            return Err(AppError::Recovery(
                regain_domain::recovery::FlowError::CodeExpired,
            ));
        }
        let ok = appeal.code_hmac.as_deref().is_some_and(|h| {
            hmac_matches(
                &self.secret,
                &code_parts(
                    &appeal.status_token_hash,
                    &appeal.contact_value,
                    code.trim(),
                ),
                h,
            )
        });
        if !ok {
            self.store
                .appeal_wrong_code(appeal.id, MAX_CODE_TRIES, now)
                .await?;
            let left = u32::try_from((MAX_CODE_TRIES - appeal.code_tries - 1).max(0)).unwrap_or(0);
            return Err(AppError::Recovery(
                regain_domain::recovery::FlowError::WrongCode { tries_left: left },
            ));
        }
        let event = AuditEvent::new(
            Some(tenant.id),
            "appeal.confirmed",
            "anonymous",
            &format!("appeal:{}", appeal.id),
            &client.ip.to_string(),
            "success",
        );
        self.store
            .confirm_appeal(&appeal, &event, now)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => wrong_state(),
                other => other.into(),
            })?;
        Ok(Appeal {
            state: "open".into(),
            code_hmac: None,
            ..appeal
        })
    }

    /// Adds an attachment (an image or a PDF, checked by its bytes) while
    /// the appeal waits.
    pub async fn attach_to_appeal(
        &self,
        tenant: &Tenant,
        id: i64,
        status_token: &str,
        name: &str,
        declared_type: &str,
        data: &[u8],
    ) -> Result<Attachment, AppError> {
        let appeal = self.appeal_with_token(tenant, id, status_token).await?;
        if !matches!(appeal.state.as_str(), "unconfirmed" | "open" | "claimed") {
            return Err(wrong_state());
        }
        let limit =
            (tenant.settings.appeal_max_attachment_bytes as usize).min(MAX_ATTACHMENT_BYTES);
        if data.is_empty() || data.len() > limit {
            return Err(AppError::Invalid {
                code: "attachment_size",
                message: format!("an attachment holds 1 to {limit} bytes"),
            });
        }
        let kind = sniff(data).ok_or(AppError::Invalid {
            code: "attachment_type",
            message: "attach a PNG or JPEG image, or a PDF".into(),
        })?;
        let declared = declared_type.split(';').next().unwrap_or_default().trim();
        if !declared.eq_ignore_ascii_case(kind) {
            return Err(AppError::Invalid {
                code: "attachment_type",
                message: format!("the file is {kind}, not {declared}"),
            });
        }
        let name: String = name
            .chars()
            .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
            .take(100)
            .collect();
        let name = if name.trim().is_empty() {
            "attachment".to_string()
        } else {
            name
        };
        let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        let attachment_id = self
            .store
            .add_attachment(appeal.id, &name, kind, &encoded, size, MAX_ATTACHMENTS)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => AppError::Invalid {
                    code: "too_many_attachments",
                    message: format!("at most {MAX_ATTACHMENTS} attachments"),
                },
                other => other.into(),
            })?;
        Ok(Attachment {
            id: attachment_id,
            name,
            content_type: kind.to_string(),
            size,
        })
    }

    /// The status, for the person holding the token.
    pub async fn appeal_status(
        &self,
        tenant: &Tenant,
        id: i64,
        status_token: &str,
    ) -> Result<Appeal, AppError> {
        self.appeal_with_token(tenant, id, status_token).await
    }

    /// The files attached to the appeal behind `status_token` (names, types
    /// and sizes; the person sees what support will see).
    pub async fn appeal_files(
        &self,
        tenant: &Tenant,
        id: i64,
        status_token: &str,
    ) -> Result<Vec<Attachment>, AppError> {
        let appeal = self.appeal_with_token(tenant, id, status_token).await?;
        Ok(self.store.attachments(appeal.id).await?)
    }

    /// Grants (or with `None` withdraws) a tenant staff role: `support`
    /// reviews appeals, `operator` reads the whole tenant's audit log. Only
    /// an operator at the command line grants these.
    pub async fn set_staff_role(
        &self,
        tenant: &Tenant,
        account_id: i64,
        role: Option<&str>,
    ) -> Result<(), AppError> {
        if let Some(r) = role {
            if !STAFF_ROLES.contains(&r) {
                return Err(AppError::Invalid {
                    code: "invalid_staff_role",
                    message: format!("a staff role is one of {}", STAFF_ROLES.join(", ")),
                });
            }
        }
        let account = self
            .store
            .account(tenant.id, account_id)
            .await?
            .ok_or_else(AppError::account_not_found)?;
        let mut event = AuditEvent::new(
            Some(tenant.id),
            "account.staff_role",
            "operator",
            &format!("account:{}", account.id),
            "-",
            "success",
        );
        event.detail = serde_json::json!({ "role": role }).to_string();
        self.store
            .set_staff_role(account.id, role, &event, self.clock.now())
            .await?;
        Ok(())
    }

    /// Refuses anyone but the tenant's support staff.
    async fn support(&self, reviewer: &Authenticated) -> Result<(), AppError> {
        match self.store.staff_role(reviewer.account.id).await?.as_deref() {
            Some("support") => Ok(()),
            _ => Err(AppError::Forbidden),
        }
    }

    /// Appeals in `state` (default `open`), for support.
    pub async fn appeal_queue(
        &self,
        tenant: &Tenant,
        reviewer: &Authenticated,
        state: &str,
        after_id: i64,
    ) -> Result<Vec<Review>, AppError> {
        self.support(reviewer).await?;
        let mut out = Vec::new();
        for appeal in self
            .store
            .appeal_queue(tenant.id, state, after_id, 50)
            .await?
        {
            out.push(self.review_of(tenant, appeal).await?);
        }
        Ok(out)
    }

    async fn review_of(&self, tenant: &Tenant, appeal: Appeal) -> Result<Review, AppError> {
        let account = match appeal.account_id {
            Some(id) => self
                .store
                .account(tenant.id, id)
                .await?
                .map(|a| a.qualified_name),
            None => None,
        };
        let attachments = self.store.attachments(appeal.id).await?;
        Ok(Review {
            appeal,
            account,
            attachments,
        })
    }

    /// One appeal with its evidence, for support.
    pub async fn review_appeal(
        &self,
        tenant: &Tenant,
        reviewer: &Authenticated,
        id: i64,
    ) -> Result<Review, AppError> {
        self.support(reviewer).await?;
        let appeal = self
            .store
            .appeal(tenant.id, id)
            .await?
            .ok_or_else(not_found)?;
        self.review_of(tenant, appeal).await
    }

    /// An attachment's type and bytes, for support.
    pub async fn appeal_attachment(
        &self,
        tenant: &Tenant,
        reviewer: &Authenticated,
        id: i64,
        attachment_id: i64,
    ) -> Result<(String, Vec<u8>), AppError> {
        self.support(reviewer).await?;
        self.store
            .appeal(tenant.id, id)
            .await?
            .ok_or_else(not_found)?;
        let (kind, data) = self
            .store
            .attachment_data(id, attachment_id)
            .await?
            .ok_or_else(not_found)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| AppError::internal("a stored attachment is not base64"))?;
        Ok((kind, bytes))
    }

    /// A reviewer takes an open appeal.
    pub async fn claim_appeal(
        &self,
        tenant: &Tenant,
        reviewer: &Authenticated,
        id: i64,
        client: &Client,
    ) -> Result<Review, AppError> {
        self.support(reviewer).await?;
        let event = AuditEvent::new(
            Some(tenant.id),
            "appeal.claimed",
            &format!("account:{}", reviewer.account.id),
            &format!("appeal:{id}"),
            &client.ip.to_string(),
            "success",
        );
        self.store
            .appeal(tenant.id, id)
            .await?
            .ok_or_else(not_found)?;
        self.store
            .claim_appeal(id, reviewer.account.id, &event, self.clock.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => wrong_state(),
                other => other.into(),
            })?;
        self.review_appeal(tenant, reviewer, id).await
    }

    /// Approves (a reset link to the appeal's contact, which is bound
    /// once the password is set) or denies with a reason.
    pub async fn decide_appeal(
        &self,
        tenant: &Tenant,
        reviewer: &Authenticated,
        id: i64,
        approve: bool,
        reason: Option<&str>,
        client: &Client,
    ) -> Result<Review, AppError> {
        self.support(reviewer).await?;
        let appeal = self
            .store
            .appeal(tenant.id, id)
            .await?
            .ok_or_else(not_found)?;
        if !matches!(appeal.state.as_str(), "open" | "claimed") {
            return Err(wrong_state());
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if !approve && reason.is_none() {
            return Err(AppError::Invalid {
                code: "reason_required",
                message: "say why the appeal is denied".into(),
            });
        }
        let now = self.clock.now();
        let channel = match appeal.contact_kind {
            ContactKind::Email => Channel::Email,
            ContactKind::Phone => Channel::Sms,
        };
        let (flow, template, locale) = if approve {
            let account_id = appeal.account_id.ok_or(AppError::WrongState {
                code: "appeal_no_account",
                message: "the appeal names no account: deny it with a reason",
            })?;
            let account = self
                .store
                .account(tenant.id, account_id)
                .await?
                .ok_or_else(AppError::account_not_found)?;
            let flow_id = random_token()?;
            let token = random_token()?;
            let link = self.reset_link(tenant, &flow_id, &token);
            let mut flow = Flow::start(Vec::new(), false, now, &tenant.settings.recovery);
            flow.state = FlowState::Verified;
            flow.expires_at = now.plus_secs(LINK_SECS);
            flow.reset_expires_at = Some(now.plus_secs(LINK_SECS));
            flow.progress.reference = Some(format!("appeal:{}", appeal.id));
            let record = FlowRecord {
                id_hash: token_hash(&flow_id),
                tenant_id: tenant.id,
                account_id: Some(account.id),
                contact: Some(appeal.contact_value.clone()),
                flow,
                code_hmac: None,
                last_message_id: None,
                reset_token_hash: Some(token_hash(&token)),
                version: 0,
                created_at: now,
                account_locale: None,
            };
            (
                Some(record),
                Template::AppealApproved {
                    account: account.qualified_name.clone(),
                    link,
                    hours: LINK_SECS / 3600,
                },
                Locale::parse(&account.locale),
            )
        } else {
            (
                None,
                Template::AppealDenied {
                    appeal: appeal.id,
                    reason: reason.unwrap_or_default().to_string(),
                },
                Locale::En,
            )
        };
        let notice = message(tenant.id, channel, &appeal.contact_value, &template, locale)?;
        let mut event = AuditEvent::new(
            Some(tenant.id),
            "appeal.decided",
            &format!("account:{}", reviewer.account.id),
            &appeal.account_id.map_or_else(
                || format!("appeal:{}", appeal.id),
                |a| format!("account:{a}"),
            ),
            &client.ip.to_string(),
            if approve { "approved" } else { "denied" },
        );
        event.detail = serde_json::json!({ "appeal": appeal.id }).to_string();
        self.store
            .decide_appeal(
                appeal.id,
                approve,
                reason,
                reviewer.account.id,
                flow.as_ref(),
                &[notice],
                &event,
                now,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => wrong_state(),
                other => other.into(),
            })?;
        self.outbox_wake.notify_one();
        self.review_appeal(tenant, reviewer, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_typed_by_their_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff(b"<script>"), None);
        assert_eq!(sniff(b"MZ\x90\x00"), None);
    }
}
