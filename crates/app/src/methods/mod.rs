//! The verification methods beyond a code to a bound contact (DESIGN §3):
//! which ones an account is offered, and each method's set-up and check.
//! The rules of eligibility are the domain's
//! (`regain_domain::recovery::eligibility`); this module gathers the facts
//! they need from storage and turns the result into offers with hints.

pub mod approval;
pub mod emergency;
pub mod identity;
pub mod kyc;
pub mod oidc;
pub mod questions;

use regain_domain::account::{AccountKind, Position};
use regain_domain::identifiers::{Email, Phone};
use regain_domain::recovery::eligibility::{offered, Placement, Setup};
use regain_domain::recovery::{mask_email, mask_phone, Method, Offer};
use regain_store::{Account, ContactKind, SetupCounts, Tenant};

use crate::{App, AppError};

/// The masked form of a contact value of either kind.
pub fn mask_contact(kind: ContactKind, value: &str) -> String {
    match kind {
        ContactKind::Email => Email::parse(value).map_or_else(|_| "***".into(), |e| mask_email(&e)),
        ContactKind::Phone => Phone::parse(value).map_or_else(|_| "***".into(), |p| mask_phone(&p)),
    }
}

/// An account name shown to someone who has not logged in: the tree is
/// visible, the last name masked (`acme/o***n`).
pub(crate) fn mask_name(qualified_name: &str) -> String {
    let (prefix, last) = match qualified_name.rsplit_once('/') {
        Some((p, l)) => (format!("{p}/"), l),
        None => (String::new(), qualified_name),
    };
    let chars: Vec<char> = last.chars().collect();
    let masked = match chars.as_slice() {
        [] => String::new(),
        [one] => format!("{one}***"),
        [first, .., last] => format!("{first}***{last}"),
    };
    format!("{prefix}{masked}")
}

/// Whether the account has a verified contact a notice can reach.
pub(crate) fn reachable(account: &Account) -> bool {
    (account.email.is_some() && account.email_verified)
        || (account.phone.is_some() && account.phone_verified)
}

fn code_offers(account: &Account, method: Method) -> Option<Offer> {
    match method {
        Method::SmsCode => account
            .phone
            .as_deref()
            .filter(|_| account.phone_verified)
            .and_then(|p| Phone::parse(p).ok())
            .map(|p| Offer::sms(&p)),
        Method::EmailCode => account
            .email
            .as_deref()
            .filter(|_| account.email_verified)
            .and_then(|e| Email::parse(e).ok())
            .map(|e| Offer::email(&e)),
        _ => None,
    }
}

fn offer(method: Method, hint: String, destination: Option<String>) -> Offer {
    Offer {
        method,
        hint,
        destination,
        expected: None,
    }
}

impl App {
    /// The administrators who may vouch for `account`: enabled accounts
    /// above it in its tree, and admins beside it, that a notice can reach.
    pub(crate) async fn approvers_of(&self, account: &Account) -> Result<Vec<Account>, AppError> {
        let Some(parent_id) = account.parent_id else {
            return Ok(Vec::new());
        };
        let mut found = self.store.lineage(account).await?;
        found.retain(|a| a.id != account.id);
        found.extend(
            self.store
                .admins_beside(account.tenant_id, parent_id, account.id)
                .await?,
        );
        found.retain(|a| !a.disabled && reachable(a));
        Ok(found)
    }

    /// The methods `account` is offered in `tenant`, with their hints;
    /// several offers of one method (emergency contacts, administrators)
    /// are told apart by their hints.
    pub(crate) async fn offers_for(
        &self,
        tenant: &Tenant,
        account: &Account,
        counts: SetupCounts,
    ) -> Result<Vec<Offer>, AppError> {
        let methods = &tenant.settings.recovery.methods;
        let is_sub = account.parent_id.is_some();
        let root_kind = match account.position {
            Position::Root(kind) => kind,
            Position::Sub(_) => {
                // The root is the first of the path.
                let root_id = account.path.first().copied().unwrap_or(account.id);
                match self.store.account(tenant.id, root_id).await? {
                    Some(Account {
                        position: Position::Root(kind),
                        ..
                    }) => kind,
                    _ => AccountKind::Individual,
                }
            }
        };
        let approvers = if is_sub
            && root_kind == AccountKind::Enterprise
            && methods
                .enabled
                .contains(&regain_domain::recovery::Method::AdminApproval)
        {
            self.approvers_of(account).await?
        } else {
            Vec::new()
        };
        let setup = Setup {
            verified_email: account.email.is_some() && account.email_verified,
            verified_phone: account.phone.is_some() && account.phone_verified,
            security_questions: counts.questions,
            identity_verified: counts.identity_verified,
            emergency_contacts: counts.emergency_contacts,
            approvers: u32::try_from(approvers.len()).unwrap_or(u32::MAX),
        };
        let placement = Placement {
            position: account.position,
            root_kind,
        };
        let mut offers = Vec::new();
        for eligible in offered(placement, &setup, methods) {
            match eligible.method {
                m @ (Method::SmsCode | Method::EmailCode) => offers.extend(code_offers(account, m)),
                Method::SecurityQuestions => offers.push(offer(
                    Method::SecurityQuestions,
                    format!("{}/{}", methods.questions_asked.max(2), counts.questions),
                    None,
                )),
                Method::EmergencyContact => {
                    for c in self.store.emergency_contacts(account.id).await? {
                        if c.verified {
                            offers.push(offer(
                                Method::EmergencyContact,
                                mask_contact(c.kind, &c.value),
                                Some(c.value),
                            ));
                        }
                    }
                }
                Method::AdminApproval => {
                    for a in &approvers {
                        offers.push(offer(
                            Method::AdminApproval,
                            mask_name(&a.qualified_name),
                            Some(a.id.to_string()),
                        ));
                    }
                }
                // Offered once their provider is configured.
                Method::Face => {
                    if tenant.settings.kyc.is_some() {
                        offers.push(offer(Method::Face, kyc::subject_of(account).into(), None));
                    }
                }
                Method::ExternalIdentity => {
                    if let Some(p) = &tenant.settings.oidc {
                        offers.push(offer(Method::ExternalIdentity, p.name.clone(), None));
                    }
                }
            }
        }
        Ok(offers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked_below_the_tree() {
        assert_eq!(mask_name("acme/ops-admin"), "acme/o***n");
        assert_eq!(mask_name("acme/mail/x"), "acme/mail/x***");
        assert_eq!(mask_name("alice"), "a***e");
    }
}
