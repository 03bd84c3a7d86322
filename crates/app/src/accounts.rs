//! Tenants and accounts: creation, lookup, and the policy an account must meet.

use regain_domain::account::{AccountKind, Role};
use regain_domain::identifiers::{Email, Phone, QualifiedName, TenantSlug, Username};
use regain_domain::password::Password;
use regain_domain::policy::overrides::{resolve, PolicyError, PolicyOverride, Resolved};
use regain_domain::policy::presets::Preset;
use regain_domain::policy::{PasswordPolicy, Subject, Violation};
use regain_domain::tenant::TenantSettings;
use regain_store::{Account, AuditEvent, NewAccount, NewTenant, Placement, Tenant};

use crate::{App, AppError};

/// A request to create an account, as typed by an operator or an admin.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    /// `None` for a root account, else the parent's qualified name.
    pub parent: Option<String>,
    /// Kind of a root account.
    pub kind: Option<AccountKind>,
    /// Role of a sub-account.
    pub role: Option<Role>,
    /// Name among siblings.
    pub username: String,
    /// Optional human name.
    pub display_name: Option<String>,
    /// Email to bind (verified: an operator vouches for it).
    pub email: Option<String>,
    /// Phone to bind (verified: an operator vouches for it).
    pub phone: Option<String>,
    /// Initial password; it must meet the policy in force.
    pub password: Option<Password>,
    /// Force a change at first login.
    pub must_change_password: bool,
    /// Language of messages (`en`, `zh-CN`); `None` means English.
    pub locale: Option<String>,
    /// Bind the email and phone as verified: only when an operator vouches
    /// for them. Administrators bind unverified contacts, which become
    /// verified through the contact's code.
    pub contacts_verified: bool,
}

impl App {
    /// Finds a tenant by slug or answers `tenant_not_found`.
    pub async fn tenant(&self, slug: &str) -> Result<Tenant, AppError> {
        let slug = TenantSlug::parse(slug).map_err(|_| AppError::tenant_not_found())?;
        self.store
            .tenant_by_slug(slug.as_str())
            .await?
            .ok_or_else(AppError::tenant_not_found)
    }

    /// Creates a tenant whose default policy is `preset`.
    pub async fn create_tenant(
        &self,
        slug: &str,
        name: &str,
        preset: Preset,
    ) -> Result<Tenant, AppError> {
        let slug = TenantSlug::parse(slug)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(AppError::Invalid {
                code: "invalid_name",
                message: "a tenant name is 1 to 200 printable characters".into(),
            });
        }
        let new = NewTenant {
            slug,
            name: name.to_string(),
            policy: preset.policy(),
            settings: TenantSettings::default(),
        };
        Ok(self.store.create_tenant(&new, self.clock.now()).await?)
    }

    /// Finds an account by its qualified name (`root` or `root/sub/…`).
    pub async fn account_by_name(&self, tenant: &Tenant, name: &str) -> Result<Account, AppError> {
        let name = if name.contains('/') {
            QualifiedName::parse(name)?.to_string()
        } else {
            Username::parse(name)?.to_string()
        };
        self.store
            .account_by_qualified_name(tenant.id, &name)
            .await?
            .ok_or_else(AppError::account_not_found)
    }

    /// Creates an account after checking its initial password against the
    /// policy that will apply to it.
    pub async fn create_account(
        &self,
        tenant: &Tenant,
        spec: AccountSpec,
    ) -> Result<Account, AppError> {
        let username = Username::parse(&spec.username)?;
        let email = spec.email.as_deref().map(Email::parse).transpose()?;
        let phone = spec.phone.as_deref().map(Phone::parse).transpose()?;
        let display_name = parse_display_name(spec.display_name)?;
        let (placement, lineage) = match (&spec.parent, spec.kind, spec.role) {
            (None, Some(kind), None) => (Placement::Root(kind), Vec::new()),
            (Some(parent), None, Some(role)) => {
                let parent = self
                    .account_by_name(tenant, parent)
                    .await
                    .map_err(|e| match e {
                        AppError::NotFound { .. } => AppError::NotFound {
                            code: "parent_not_found",
                            message: "the parent account does not exist",
                        },
                        other => other,
                    })?;
                let lineage = self.store.lineage(&parent).await?;
                (
                    Placement::Sub {
                        parent_id: parent.id,
                        role,
                    },
                    lineage,
                )
            }
            _ => {
                return Err(AppError::Invalid {
                    code: "invalid_placement",
                    message: "a root account needs a kind (individual or enterprise) and no role; \
                              a sub-account needs a parent and a role (admin or member)"
                        .into(),
                })
            }
        };
        let password_hash = match &spec.password {
            Some(password) => {
                let policy = resolve_for(&tenant.policy, &lineage).policy;
                Some(
                    self.hash_under_policy(&policy, username.as_str(), email.clone(), password)
                        .await?,
                )
            }
            None => None,
        };
        let new = NewAccount {
            tenant_id: tenant.id,
            placement,
            username,
            display_name,
            email_verified: email.is_some() && spec.contacts_verified,
            email,
            phone_verified: phone.is_some() && spec.contacts_verified,
            phone,
            password_hash,
            must_change_password: spec.must_change_password,
            locale: parse_locale(spec.locale.as_deref())?,
        };
        Ok(self
            .store
            .create_account(
                &new,
                tenant.settings.max_accounts_per_contact,
                self.clock.now(),
            )
            .await?)
    }

    /// The policy `account` must meet, and where each field comes from.
    pub async fn effective_policy(
        &self,
        tenant: &Tenant,
        account: &Account,
    ) -> Result<Resolved, AppError> {
        let lineage = self.store.lineage(account).await?;
        Ok(resolve_for(&tenant.policy, &lineage))
    }

    /// Replaces a tenant's policy after checking that some password can meet it.
    pub async fn set_tenant_policy(
        &self,
        tenant: &Tenant,
        policy: &PasswordPolicy,
    ) -> Result<(), AppError> {
        policy.validate().map_err(invalid_policy)?;
        self.store.set_tenant_policy(tenant.id, policy).await?;
        let event = AuditEvent::new(
            Some(tenant.id),
            "policy.set",
            "operator",
            &format!("tenant:{}", tenant.id),
            "-",
            "success",
        );
        Ok(self.store.audit(&event, self.clock.now()).await?)
    }

    /// Sets (or clears) the override of `account`'s subtree as the
    /// operator, after checking that the policy it produces for the account
    /// can still be met.
    pub async fn set_policy_override(
        &self,
        tenant: &Tenant,
        account: &Account,
        policy_override: Option<PolicyOverride>,
    ) -> Result<(), AppError> {
        self.set_policy_override_by(tenant, account, policy_override, "operator")
            .await
    }

    /// [`App::set_policy_override`], audited as done by `actor`.
    pub(crate) async fn set_policy_override_by(
        &self,
        tenant: &Tenant,
        account: &Account,
        policy_override: Option<PolicyOverride>,
        actor: &str,
    ) -> Result<(), AppError> {
        let mut lineage = self.store.lineage(account).await?;
        if let Some(own) = lineage.iter_mut().find(|a| a.id == account.id) {
            own.policy_override = policy_override.clone();
        }
        resolve_for(&tenant.policy, &lineage)
            .policy
            .validate()
            .map_err(invalid_policy)?;
        // Every deeper override must still give a policy someone can meet.
        for below in self.store.overrides_below(account).await? {
            let mut chain = self.store.lineage(&below).await?;
            if let Some(changed) = chain.iter_mut().find(|a| a.id == account.id) {
                changed.policy_override = policy_override.clone();
            }
            if let Err(e) = resolve_for(&tenant.policy, &chain).policy.validate() {
                return Err(AppError::Invalid {
                    code: "invalid_policy",
                    message: format!(
                        "{e} for {} (its own override conflicts)",
                        below.qualified_name
                    ),
                });
            }
        }
        let event = AuditEvent::new(
            Some(tenant.id),
            "policy.set",
            actor,
            &format!("account:{}", account.id),
            "-",
            "success",
        );
        Ok(self
            .store
            .set_policy_override_audited(
                account.id,
                policy_override.as_ref(),
                &event,
                self.clock.now(),
            )
            .await?)
    }

    /// The hash of `password` once it meets the policy's rules (all but
    /// history), or [`AppError::Policy`] with every rule it breaks. The
    /// check runs on the hashing pool in the same job as the hash: the
    /// strength estimate can take tens of milliseconds of CPU (see
    /// [`crate::hashing`]), which must not stall the executor.
    pub(crate) async fn hash_under_policy(
        &self,
        policy: &PasswordPolicy,
        username: &str,
        email: Option<Email>,
        password: &Password,
    ) -> Result<String, AppError> {
        self.hash_checked(policy, username, email, password, None)
            .await
    }

    /// The hash of a new `password` for `account` under `policy` (the
    /// account's effective one, which the caller has at hand), or
    /// [`AppError::Policy`] with every rule it breaks, history included.
    ///
    /// `refuse_current`: a change by the account itself or an
    /// administrator must change something, so the current password is
    /// refused whatever the history depth. A recovery does not: the person
    /// forgot it, and refusing it would tell whoever completed the recovery
    /// whether a guess *was* the old password (an oracle for passwords
    /// reused elsewhere) at the price of a hash. There only the policy's
    /// history counts, and with none no hash is checked.
    pub async fn hash_new_password(
        &self,
        policy: &PasswordPolicy,
        account: &Account,
        password: &Password,
        refuse_current: bool,
    ) -> Result<String, AppError> {
        let depth = if refuse_current {
            policy.history_depth.max(1)
        } else {
            policy.history_depth
        };
        let reused = if depth > 0 {
            let hashes = self.store.password_history(account.id, depth).await?;
            self.hasher.matches_any(password.clone(), hashes).await?
        } else {
            false
        };
        self.hash_checked(
            policy,
            &account.username,
            account.email_parsed(),
            password,
            reused.then_some(Violation::Reused { depth }),
        )
        .await
    }

    /// The policy's rules, then `also` (found before), then the hash when
    /// nothing was found: one job on the pool.
    async fn hash_checked(
        &self,
        policy: &PasswordPolicy,
        username: &str,
        email: Option<Email>,
        password: &Password,
        also: Option<Violation>,
    ) -> Result<String, AppError> {
        let (policy, username) = (policy.clone(), username.to_owned());
        self.hasher
            .hash_unless(password.clone(), move |password| {
                let subject = Subject {
                    username: Some(&username),
                    email: email.as_ref(),
                };
                let mut violations = policy.check(password.expose(), subject);
                violations.extend(also);
                violations
            })
            .await?
            .map_err(AppError::Policy)
    }
}

fn invalid_policy(e: PolicyError) -> AppError {
    AppError::Invalid {
        code: "invalid_policy",
        message: e.to_string(),
    }
}

fn resolve_for(base: &PasswordPolicy, lineage: &[Account]) -> Resolved {
    let overrides: Vec<_> = lineage
        .iter()
        .filter_map(|a| a.policy_override.clone().map(|o| (a.id, o)))
        .collect();
    resolve(base, &overrides)
}

/// A display name: trimmed, at most 200 printable characters; blank is none.
pub(crate) fn parse_display_name(raw: Option<String>) -> Result<Option<String>, AppError> {
    let name = raw.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
    if name
        .as_ref()
        .is_some_and(|d| d.chars().count() > 200 || d.chars().any(char::is_control))
    {
        return Err(AppError::Invalid {
            code: "invalid_display_name",
            message: "a display name is at most 200 printable characters".into(),
        });
    }
    Ok(name)
}

/// The stored tag of a message language; none means English.
pub(crate) fn parse_locale(tag: Option<&str>) -> Result<String, AppError> {
    match tag {
        None => Ok("en".to_string()),
        Some(tag) => regain_delivery::templates::Locale::from_tag(tag)
            .map(|l| l.tag().to_string())
            .ok_or_else(|| AppError::Invalid {
                code: "invalid_locale",
                message: "the locale must be en or zh-CN".into(),
            }),
    }
}
