//! Which verification methods an account is offered (DESIGN §3).
//!
//! The rules of the real platforms, in one place so every caller agrees:
//! a code goes only to a verified contact; `external_identity` and `face`
//! need a completed identity verification, and prove the owner for an
//! individual but the enterprise (its external account, its legal
//! representative's face) for an enterprise; `admin_approval` exists only
//! inside an enterprise organization, never for an individual's tree; and a
//! tenant can switch any method off.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Method;
use crate::account::{AccountKind, Position};

/// What an account has set up, as far as recovery cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Setup {
    /// A verified email is bound.
    pub verified_email: bool,
    /// A verified phone is bound.
    pub verified_phone: bool,
    /// Security questions with answers.
    pub security_questions: u32,
    /// The identity record (KYC) is complete.
    pub identity_verified: bool,
    /// Verified emergency contacts.
    pub emergency_contacts: u32,
    /// Administrators who could approve (an admin above the account, or a
    /// fellow admin of its parent), other than the account itself.
    pub approvers: u32,
}

/// Where the account sits: its own position and its tree's root kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Root (with its kind) or sub-account (with its role).
    pub position: Position,
    /// The kind of the root of its tree (its own kind for a root).
    pub root_kind: AccountKind,
}

/// A tenant's (or subtree's) choice of methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MethodSettings {
    /// Methods the tenant offers at all.
    pub enabled: BTreeSet<Method>,
    /// Questions asked in one recovery (at least 2).
    pub questions_asked: u32,
    /// Knowledge is weak evidence: after the questions, an account that has
    /// another method must pass it too.
    pub second_method_after_questions: bool,
}

impl Default for MethodSettings {
    fn default() -> Self {
        MethodSettings {
            enabled: Method::ALL.iter().copied().collect(),
            questions_asked: 2,
            second_method_after_questions: false,
        }
    }
}

/// Whose identity a method checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proves {
    /// Control of a contact, knowledge, or a vouching person: no identity.
    Account,
    /// The owner, a natural person (personal external account, own face).
    Owner,
    /// The enterprise: its enterprise external account, or its legal
    /// representative's face.
    Enterprise,
}

/// A method the account may use, and whose identity it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligible {
    /// The method.
    pub method: Method,
    /// Whose identity.
    pub proves: Proves,
}

/// The methods offered to an account, in a stable order.
pub fn offered(placement: Placement, setup: &Setup, settings: &MethodSettings) -> Vec<Eligible> {
    let enterprise_identity = matches!(placement.position, Position::Root(AccountKind::Enterprise));
    let identity = if enterprise_identity {
        Proves::Enterprise
    } else {
        Proves::Owner
    };
    let asked = settings.questions_asked.max(2);
    Method::ALL
        .iter()
        .copied()
        .filter(|m| settings.enabled.contains(m))
        .filter_map(|method| {
            let (available, proves) = match method {
                Method::EmailCode => (setup.verified_email, Proves::Account),
                Method::SmsCode => (setup.verified_phone, Proves::Account),
                Method::SecurityQuestions => (setup.security_questions >= asked, Proves::Account),
                Method::ExternalIdentity | Method::Face => (setup.identity_verified, identity),
                Method::AdminApproval => (
                    matches!(placement.position, Position::Sub(_))
                        && placement.root_kind == AccountKind::Enterprise
                        && setup.approvers > 0,
                    Proves::Account,
                ),
                Method::EmergencyContact => (setup.emergency_contacts > 0, Proves::Account),
            };
            available.then_some(Eligible { method, proves })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Role;

    fn root(kind: AccountKind) -> Placement {
        Placement {
            position: Position::Root(kind),
            root_kind: kind,
        }
    }

    fn sub(role: Role, root_kind: AccountKind) -> Placement {
        Placement {
            position: Position::Sub(role),
            root_kind,
        }
    }

    fn everything() -> Setup {
        Setup {
            verified_email: true,
            verified_phone: true,
            security_questions: 3,
            identity_verified: true,
            emergency_contacts: 1,
            approvers: 2,
        }
    }

    fn names(
        placement: Placement,
        setup: &Setup,
        settings: &MethodSettings,
    ) -> Vec<(&'static str, Proves)> {
        offered(placement, setup, settings)
            .into_iter()
            .map(|e| (e.method.as_str(), e.proves))
            .collect()
    }

    /// What, where, set up how, under which settings, offered what.
    type Case<'a> = (
        &'a str,
        Placement,
        &'a Setup,
        &'a MethodSettings,
        Vec<(&'a str, Proves)>,
    );

    #[test]
    fn the_offered_methods_follow_kind_setup_and_tenant_settings() {
        use AccountKind::{Enterprise, Individual};
        use Proves::{Account, Enterprise as Ent, Owner};
        let all = MethodSettings::default();
        let full = everything();
        let admins_only = Setup {
            approvers: 1,
            ..Setup::default()
        };
        let none = Setup::default();
        let only_email = Setup {
            verified_email: true,
            ..Setup::default()
        };
        let no_kyc = Setup {
            identity_verified: false,
            ..everything()
        };
        let one_question = Setup {
            security_questions: 1,
            ..Setup::default()
        };
        let no_approver = Setup {
            approvers: 0,
            ..everything()
        };
        let three_asked = MethodSettings {
            questions_asked: 3,
            ..MethodSettings::default()
        };
        let mut no_questions = MethodSettings::default();
        no_questions.enabled.remove(&Method::SecurityQuestions);
        no_questions.enabled.remove(&Method::Face);
        let full_individual = vec![
            ("sms_code", Account),
            ("email_code", Account),
            ("security_questions", Account),
            ("external_identity", Owner),
            ("face", Owner),
            ("emergency_contact", Account),
        ];
        let cases: Vec<Case<'_>> = vec![
            (
                "individual, everything set up: never admin approval",
                root(Individual),
                &full,
                &all,
                full_individual.clone(),
            ),
            (
                "enterprise root: the enterprise's identity, no admin approval",
                root(Enterprise),
                &full,
                &all,
                vec![
                    ("sms_code", Account),
                    ("email_code", Account),
                    ("security_questions", Account),
                    ("external_identity", Ent),
                    ("face", Ent),
                    ("emergency_contact", Account),
                ],
            ),
            (
                "enterprise member: admin approval, the person's own identity",
                sub(Role::Member, Enterprise),
                &full,
                &all,
                vec![
                    ("sms_code", Account),
                    ("email_code", Account),
                    ("security_questions", Account),
                    ("external_identity", Owner),
                    ("face", Owner),
                    ("admin_approval", Account),
                    ("emergency_contact", Account),
                ],
            ),
            (
                "enterprise admin: approval by an admin above",
                sub(Role::Admin, Enterprise),
                &full,
                &all,
                vec![
                    ("sms_code", Account),
                    ("email_code", Account),
                    ("security_questions", Account),
                    ("external_identity", Owner),
                    ("face", Owner),
                    ("admin_approval", Account),
                    ("emergency_contact", Account),
                ],
            ),
            (
                "an individual's IAM user: no admin approval",
                sub(Role::Member, Individual),
                &full,
                &all,
                full_individual,
            ),
            (
                "enterprise member with nobody to approve",
                sub(Role::Member, Enterprise),
                &no_approver,
                &all,
                vec![
                    ("sms_code", Account),
                    ("email_code", Account),
                    ("security_questions", Account),
                    ("external_identity", Owner),
                    ("face", Owner),
                    ("emergency_contact", Account),
                ],
            ),
            (
                "identity not verified: no external identity, no face",
                root(Individual),
                &no_kyc,
                &all,
                vec![
                    ("sms_code", Account),
                    ("email_code", Account),
                    ("security_questions", Account),
                    ("emergency_contact", Account),
                ],
            ),
            (
                "enterprise without KYC",
                root(Enterprise),
                &no_kyc,
                &all,
                vec![
                    ("sms_code", Account),
                    ("email_code", Account),
                    ("security_questions", Account),
                    ("emergency_contact", Account),
                ],
            ),
            (
                "only a verified email",
                root(Individual),
                &only_email,
                &all,
                vec![("email_code", Account)],
            ),
            (
                "nothing set up: nothing (ask the administrator, or appeal)",
                root(Individual),
                &none,
                &all,
                vec![],
            ),
            (
                "an IAM user with nothing but admins above",
                sub(Role::Member, Enterprise),
                &admins_only,
                &all,
                vec![("admin_approval", Account)],
            ),
            (
                "fewer questions than asked",
                root(Individual),
                &one_question,
                &all,
                vec![],
            ),
            (
                "three asked, three set",
                root(Individual),
                &full,
                &three_asked,
                vec![
                    ("sms_code", Account),
                    ("email_code", Account),
                    ("security_questions", Account),
                    ("external_identity", Owner),
                    ("face", Owner),
                    ("emergency_contact", Account),
                ],
            ),
            (
                "tenant switched questions and face off",
                root(Enterprise),
                &full,
                &no_questions,
                vec![
                    ("sms_code", Account),
                    ("email_code", Account),
                    ("external_identity", Ent),
                    ("emergency_contact", Account),
                ],
            ),
        ];
        for (what, placement, setup, settings, expected) in cases {
            assert_eq!(names(placement, setup, settings), expected, "{what}");
        }
    }

    #[test]
    fn at_least_two_questions_are_asked_whatever_the_setting() {
        let settings = MethodSettings {
            questions_asked: 1,
            ..MethodSettings::default()
        };
        let setup = Setup {
            security_questions: 1,
            ..Setup::default()
        };
        assert!(offered(root(AccountKind::Individual), &setup, &settings).is_empty());
    }

    #[test]
    fn settings_read_from_json_keep_their_defaults() {
        let s: MethodSettings =
            serde_json::from_str(r#"{"enabled": ["email_code", "admin_approval"]}"#).unwrap();
        assert_eq!(s.questions_asked, 2);
        assert!(
            s.enabled.contains(&Method::AdminApproval) && !s.enabled.contains(&Method::SmsCode)
        );
    }
}
