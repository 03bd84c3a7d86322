//! The recovery state machine:
//!
//! ```text
//! started ─challenge─▶ challenged ─verify─▶ verified ─reset─▶ completed
//!    │                     │ wrong codes / typed contacts, expiry
//!    └─────────────────────┴─▶ failed | expired
//! ```
//!
//! Pure: the caller loads a [`Flow`], applies one transition with the
//! current time and the tenant's settings, and stores the result. A resend
//! never resets the count of wrong tries; nothing here logs anyone in.

use serde::{Deserialize, Serialize};

use super::{contact_matches, Method, Offer, RecoverySettings};
use crate::clock::Timestamp;

/// Where a flow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowState {
    /// Methods offered, none chosen yet.
    Started,
    /// A code was sent (or, on a decoy, pretended to be).
    Challenged,
    /// The code was right: a reset token was issued.
    Verified,
    /// The password was reset.
    Completed,
    /// Too many wrong tries.
    Failed,
    /// Past its lifetime.
    Expired,
}

impl FlowState {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Started => "started",
            FlowState::Challenged => "challenged",
            FlowState::Verified => "verified",
            FlowState::Completed => "completed",
            FlowState::Failed => "failed",
            FlowState::Expired => "expired",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<FlowState> {
        [
            FlowState::Started,
            FlowState::Challenged,
            FlowState::Verified,
            FlowState::Completed,
            FlowState::Failed,
            FlowState::Expired,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The flow is past its lifetime.
    #[error("this recovery has expired; start again")]
    Expired,
    /// Too many wrong tries.
    #[error("too many wrong attempts; start again or submit an appeal")]
    Failed,
    /// The step does not apply in the flow's state.
    #[error("this step does not apply now")]
    WrongState,
    /// The method is not offered by this flow.
    #[error("this method is not available for this account")]
    MethodNotOffered,
    /// The typed contact is not the one behind the hint.
    #[error("the phone number or email address you entered does not match")]
    ContactMismatch {
        /// Tries left before the flow fails.
        tries_left: u32,
    },
    /// Too soon after the last message.
    #[error("wait before asking for another code")]
    Cooldown {
        /// Seconds to wait.
        retry_after: i64,
    },
    /// The flow sent as many messages as it may.
    #[error("no more codes can be sent in this recovery; start again later")]
    TooManyMessages,
    /// The code is wrong.
    #[error("the code is wrong")]
    WrongCode {
        /// Tries left before the flow fails.
        tries_left: u32,
    },
    /// The code was right once but is past its lifetime.
    #[error("the code has expired; ask for a new one")]
    CodeExpired,
    /// An external step (an administrator's approval, the identity
    /// provider, the KYC provider) has not answered yet.
    #[error("the verification is not complete yet; check again later")]
    Pending,
}

/// What a method has gathered beyond a code (stored as one JSON value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    /// `security_questions`: the positions asked in this flow (picked once).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub asked: Vec<u32>,
    /// Methods passed already, when the tenant wants a second one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proven: Vec<Method>,
    /// The external step passed (approval given, identity matched).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub passed: bool,
    /// Why the flow ended (an administrator's denial), shown to the person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The external step's reference (approval id, provider session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Where the person goes for the external step (the identity or KYC
    /// provider's page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The result of a successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The flow is verified: issue the reset token.
    Verified,
    /// Knowledge alone is not enough here: choose one more method.
    AnotherMethod,
}

/// A flow's state, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Where it stands.
    pub state: FlowState,
    /// A decoy for an unknown identifier: it sends nothing and never verifies.
    pub decoy: bool,
    /// The methods offered.
    pub offers: Vec<Offer>,
    /// The chosen method.
    pub method: Option<Method>,
    /// Where the code went (`None` on a decoy).
    pub destination: Option<String>,
    /// When the current code stops working.
    pub code_expires_at: Option<Timestamp>,
    /// Wrong codes and wrong typed contacts so far.
    pub wrong_tries: u32,
    /// Messages sent by this flow.
    pub messages_sent: u32,
    /// When the last message was sent.
    pub last_sent_at: Option<Timestamp>,
    /// When the flow ends.
    pub expires_at: Timestamp,
    /// When the reset token stops working.
    pub reset_expires_at: Option<Timestamp>,
    /// What non-code methods gathered.
    pub progress: Progress,
}

/// What a challenge or resend asks the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// The method.
    pub method: Method,
    /// Where to send a fresh code; `None` on a decoy (send nothing).
    pub destination: Option<String>,
}

impl Flow {
    /// A new flow offering `offers`.
    pub fn start(offers: Vec<Offer>, decoy: bool, now: Timestamp, s: &RecoverySettings) -> Flow {
        Flow {
            state: FlowState::Started,
            decoy,
            offers,
            method: None,
            destination: None,
            code_expires_at: None,
            wrong_tries: 0,
            messages_sent: 0,
            last_sent_at: None,
            expires_at: now.plus_secs(s.flow_ttl_secs),
            reset_expires_at: None,
            progress: Progress::default(),
        }
    }

    /// The state as seen at `now` (a live flow past its lifetime is expired).
    pub fn state_at(&self, now: Timestamp) -> FlowState {
        match self.state {
            FlowState::Completed | FlowState::Failed => self.state,
            _ if now >= self.expires_at => FlowState::Expired,
            s => s,
        }
    }

    fn live(&self, now: Timestamp) -> Result<(), FlowError> {
        match self.state_at(now) {
            FlowState::Expired => Err(FlowError::Expired),
            FlowState::Failed => Err(FlowError::Failed),
            FlowState::Completed => Err(FlowError::WrongState),
            _ => Ok(()),
        }
    }

    /// Tries left before the flow fails.
    pub fn tries_left(&self, s: &RecoverySettings) -> u32 {
        s.max_wrong_tries.saturating_sub(self.wrong_tries)
    }

    /// When the next message may be sent.
    pub fn resend_available_at(&self, s: &RecoverySettings) -> Option<Timestamp> {
        self.last_sent_at
            .map(|t| t.plus_secs(s.resend_cooldown_secs))
    }

    /// Counts a wrong try; the last allowed one fails the flow, so the next
    /// attempt is refused with [`FlowError::Failed`].
    fn wrong_try(&mut self, s: &RecoverySettings) {
        self.wrong_tries += 1;
        if self.wrong_tries >= s.max_wrong_tries {
            self.state = FlowState::Failed;
        }
    }

    fn send(&mut self, now: Timestamp, s: &RecoverySettings) -> Result<(), FlowError> {
        if let Some(at) = self.resend_available_at(s) {
            if now < at {
                return Err(FlowError::Cooldown {
                    retry_after: now.secs_until(at).max(1),
                });
            }
        }
        if self.messages_sent >= s.max_messages_per_flow {
            return Err(FlowError::TooManyMessages);
        }
        self.messages_sent += 1;
        self.last_sent_at = Some(now);
        self.code_expires_at = Some(now.plus_secs(s.code_ttl_secs));
        self.state = FlowState::Challenged;
        Ok(())
    }

    /// Chooses `method` (the first offer of it) and sends a code. See
    /// [`Flow::choose`].
    pub fn challenge(
        &mut self,
        method: Method,
        typed_contact: Option<&str>,
        now: Timestamp,
        s: &RecoverySettings,
    ) -> Result<Send, FlowError> {
        self.choose(method, None, typed_contact, now, s)
    }

    /// Chooses `method`, and among several offers of it (emergency
    /// contacts, administrators) the one shown as `hint`. Methods that
    /// message someone count against the flow's messages and cooldown; the
    /// others open an answer window of the code's lifetime. When the tenant
    /// requires it, the person must type the full contact behind a code
    /// hint; a mismatch counts as a wrong try.
    pub fn choose(
        &mut self,
        method: Method,
        hint: Option<&str>,
        typed_contact: Option<&str>,
        now: Timestamp,
        s: &RecoverySettings,
    ) -> Result<Send, FlowError> {
        self.live(now)?;
        if !matches!(self.state, FlowState::Started | FlowState::Challenged) {
            return Err(FlowError::WrongState);
        }
        let offer = self
            .offers
            .iter()
            .find(|o| o.method == method && hint.is_none_or(|h| h == o.hint))
            .cloned()
            .ok_or(FlowError::MethodNotOffered)?;
        if s.require_full_contact && method.sends_code() {
            let typed = typed_contact.unwrap_or_default();
            // A decoy accepts exactly what a real flow would: the contact
            // the person started from (and nothing for invented hints).
            let ok = match (&offer.destination, &offer.expected) {
                (Some(d), _) | (None, Some(d)) => contact_matches(method, d, typed),
                (None, None) => false,
            };
            if !ok {
                self.wrong_try(s);
                return Err(FlowError::ContactMismatch {
                    tries_left: self.tries_left(s),
                });
            }
        }
        if method == Method::AdminApproval {
            // The administrator has a day to answer.
            self.expires_at = self.expires_at.max(now.plus_secs(super::APPROVAL_TTL_SECS));
        }
        if method.messages_someone() {
            self.send(now, s)?;
        } else {
            self.state = FlowState::Challenged;
            self.code_expires_at = Some(now.plus_secs(s.code_ttl_secs));
        }
        if self.method != Some(method) || self.destination != offer.destination {
            // A new choice starts its external step afresh.
            self.progress.passed = false;
            self.progress.reference = None;
            self.progress.url = None;
        }
        self.method = Some(method);
        self.destination = offer.destination;
        Ok(Send {
            method,
            destination: self.destination.clone(),
        })
    }

    /// Sends a new code by the chosen method. The count of wrong tries
    /// stays as it is.
    pub fn resend(&mut self, now: Timestamp, s: &RecoverySettings) -> Result<Send, FlowError> {
        self.live(now)?;
        let (FlowState::Challenged, Some(method)) = (self.state, self.method) else {
            return Err(FlowError::WrongState);
        };
        self.send(now, s)?;
        Ok(Send {
            method,
            destination: self.destination.clone(),
        })
    }

    /// Checks the evidence of the chosen method: `matches` is the caller's
    /// constant-time comparison of a code or of the answers; for a method
    /// with an external step it is ignored and the step must have passed
    /// ([`Flow::pass`]). A decoy never verifies. After knowledge answers,
    /// `second_after_questions` asks for one more method when the flow
    /// offers another.
    pub fn verify(
        &mut self,
        matches: bool,
        now: Timestamp,
        s: &RecoverySettings,
    ) -> Result<Verdict, FlowError> {
        self.live(now)?;
        if self.state != FlowState::Challenged {
            return Err(FlowError::WrongState);
        }
        let method = self.method.ok_or(FlowError::WrongState)?;
        if method.has_external_step() {
            if !self.progress.passed || self.decoy {
                return Err(FlowError::Pending);
            }
        } else {
            let expired = self.code_expires_at.is_none_or(|t| now >= t);
            if !matches || self.decoy || expired {
                self.wrong_try(s);
                return Err(if matches && expired && !self.decoy {
                    FlowError::CodeExpired
                } else {
                    FlowError::WrongCode {
                        tries_left: self.tries_left(s),
                    }
                });
            }
        }
        self.code_expires_at = None;
        let others = self.offers.iter().any(|o| o.method != method);
        if method == Method::SecurityQuestions && s.methods.second_method_after_questions && others
        {
            self.progress.proven.push(method);
            self.offers.retain(|o| o.method != method);
            self.state = FlowState::Started;
            self.method = None;
            self.destination = None;
            return Ok(Verdict::AnotherMethod);
        }
        self.state = FlowState::Verified;
        let reset_until = now.plus_secs(s.reset_token_ttl_secs);
        self.reset_expires_at = Some(reset_until);
        // The token keeps its full lifetime even late in the flow.
        self.expires_at = self.expires_at.max(reset_until);
        Ok(Verdict::Verified)
    }

    /// Records that the external step of the chosen method passed (an
    /// approval, a matching identity); the person then calls `verify`.
    pub fn pass(&mut self, now: Timestamp) -> Result<(), FlowError> {
        self.live(now)?;
        match (self.state, self.method) {
            (FlowState::Challenged, Some(m)) if m.has_external_step() => {
                self.progress.passed = true;
                Ok(())
            }
            _ => Err(FlowError::WrongState),
        }
    }

    /// Ends the flow because its external step said no (a denial, a
    /// mismatched identity), with the reason the person will see.
    pub fn deny(&mut self, reason: &str, now: Timestamp) -> Result<(), FlowError> {
        self.live(now)?;
        if self.state != FlowState::Challenged {
            return Err(FlowError::WrongState);
        }
        self.state = FlowState::Failed;
        self.progress.reason = Some(reason.chars().take(500).collect());
        Ok(())
    }

    /// Whether a reset may be redeemed at `now`.
    pub fn can_reset(&self, now: Timestamp) -> bool {
        self.state_at(now) == FlowState::Verified && self.reset_expires_at.is_some_and(|t| now < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifiers::{Email, Phone};

    const T0: Timestamp = Timestamp(1_000_000);

    fn flow(s: &RecoverySettings) -> Flow {
        let offers = vec![
            Offer::email(&Email::parse("alice@example.com").unwrap()),
            Offer::sms(&Phone::parse("+8613812341234").unwrap()),
        ];
        Flow::start(offers, false, T0, s)
    }

    #[test]
    fn happy_path() {
        let s = RecoverySettings::default();
        let mut f = flow(&s);
        let send = f.challenge(Method::SmsCode, None, T0, &s).unwrap();
        assert_eq!(send.destination.as_deref(), Some("+8613812341234"));
        assert_eq!(f.state, FlowState::Challenged);
        f.verify(true, T0.plus_secs(10), &s).unwrap();
        assert_eq!(f.state, FlowState::Verified);
        assert!(f.can_reset(T0.plus_secs(10)));
        assert!(!f.can_reset(T0.plus_secs(10 + s.reset_token_ttl_secs)));
    }

    #[test]
    fn five_wrong_codes_fail_the_flow_and_resend_keeps_the_count() {
        let s = RecoverySettings::default();
        let mut f = flow(&s);
        f.challenge(Method::EmailCode, None, T0, &s).unwrap();
        for left in [4, 3] {
            assert_eq!(
                f.verify(false, T0, &s),
                Err(FlowError::WrongCode { tries_left: left })
            );
        }
        f.resend(T0.plus_secs(60), &s).unwrap();
        assert_eq!(f.wrong_tries, 2, "a resend does not reset the count");
        assert_eq!(
            f.verify(false, T0.plus_secs(61), &s),
            Err(FlowError::WrongCode { tries_left: 2 })
        );
        assert_eq!(
            f.verify(false, T0.plus_secs(61), &s),
            Err(FlowError::WrongCode { tries_left: 1 })
        );
        assert_eq!(
            f.verify(false, T0.plus_secs(61), &s),
            Err(FlowError::WrongCode { tries_left: 0 })
        );
        assert_eq!(f.state, FlowState::Failed, "five wrong tries fail the flow");
        assert_eq!(
            f.verify(true, T0.plus_secs(62), &s),
            Err(FlowError::Failed),
            "the sixth is refused"
        );
    }

    #[test]
    fn codes_expire_and_resends_cool_down() {
        let s = RecoverySettings::default();
        let mut f = flow(&s);
        f.challenge(Method::EmailCode, None, T0, &s).unwrap();
        assert_eq!(
            f.resend(T0.plus_secs(59), &s),
            Err(FlowError::Cooldown { retry_after: 1 })
        );
        assert_eq!(
            f.verify(true, T0.plus_secs(15 * 60), &s),
            Err(FlowError::CodeExpired)
        );
        assert_eq!(f.wrong_tries, 1);
    }

    #[test]
    fn at_most_five_messages_per_flow() {
        let s = RecoverySettings::default();
        let mut f = flow(&s);
        f.challenge(Method::EmailCode, None, T0, &s).unwrap();
        for i in 1..5 {
            f.resend(T0.plus_secs(60 * i), &s).unwrap();
        }
        assert_eq!(
            f.resend(T0.plus_secs(600), &s),
            Err(FlowError::TooManyMessages)
        );
    }

    #[test]
    fn typed_contacts_must_match_when_required() {
        let s = RecoverySettings {
            require_full_contact: true,
            ..Default::default()
        };
        let mut f = flow(&s);
        assert_eq!(
            f.challenge(Method::SmsCode, None, T0, &s),
            Err(FlowError::ContactMismatch { tries_left: 4 })
        );
        assert_eq!(
            f.challenge(Method::SmsCode, Some("+86 138 1234 0000"), T0, &s),
            Err(FlowError::ContactMismatch { tries_left: 3 })
        );
        assert!(f
            .challenge(Method::SmsCode, Some("+86 138-1234-1234"), T0, &s)
            .is_ok());
        let mut g = flow(&s);
        assert!(g
            .challenge(Method::EmailCode, Some("ALICE@example.com"), T0, &s)
            .is_ok());
    }

    #[test]
    fn decoys_never_verify_and_fail_like_real_flows() {
        let s = RecoverySettings::default();
        let offers = vec![Offer {
            method: Method::EmailCode,
            hint: "a***e@gmail.com".into(),
            destination: None,
            expected: None,
        }];
        let mut d = Flow::start(offers, true, T0, &s);
        let send = d.challenge(Method::EmailCode, None, T0, &s).unwrap();
        assert_eq!(send.destination, None);
        assert_eq!(
            d.verify(true, T0, &s),
            Err(FlowError::WrongCode { tries_left: 4 })
        );
    }

    #[test]
    fn a_decoy_accepts_only_the_contact_it_was_started_from() {
        let s = RecoverySettings {
            require_full_contact: true,
            ..Default::default()
        };
        let offers = vec![Offer {
            method: Method::EmailCode,
            hint: "g***t@example.com".into(),
            destination: None,
            expected: Some("ghost@example.com".into()),
        }];
        let mut d = Flow::start(offers, true, T0, &s);
        assert!(
            matches!(
                d.challenge(Method::EmailCode, Some("grant@example.com"), T0, &s),
                Err(FlowError::ContactMismatch { .. })
            ),
            "fits the hint, but is not what a real flow would accept"
        );
        assert!(d
            .challenge(Method::EmailCode, Some("Ghost@Example.com"), T0, &s)
            .is_ok());
    }

    #[test]
    fn flows_expire() {
        let s = RecoverySettings::default();
        let mut f = flow(&s);
        assert_eq!(
            f.state_at(T0.plus_secs(s.flow_ttl_secs)),
            FlowState::Expired
        );
        assert_eq!(
            f.challenge(Method::SmsCode, None, T0.plus_secs(s.flow_ttl_secs), &s),
            Err(FlowError::Expired)
        );
        assert_eq!(
            f.challenge(Method::SmsCode, None, T0, &s).map(|_| ()),
            Ok(())
        );
        assert_eq!(FlowState::parse("verified"), Some(FlowState::Verified));
    }

    fn offer(method: Method, hint: &str) -> Offer {
        Offer {
            method,
            hint: hint.into(),
            destination: Some("7".into()),
            expected: None,
        }
    }

    #[test]
    fn an_external_step_verifies_only_once_it_passed() {
        let s = RecoverySettings::default();
        let mut f = Flow::start(vec![offer(Method::AdminApproval, "a***e")], false, T0, &s);
        f.choose(Method::AdminApproval, Some("a***e"), None, T0, &s)
            .unwrap();
        assert_eq!(f.messages_sent, 1, "asking an administrator is a message");
        assert!(
            f.expires_at >= T0.plus_secs(super::super::APPROVAL_TTL_SECS),
            "the flow waits a day for the answer"
        );
        assert_eq!(f.verify(true, T0, &s), Err(FlowError::Pending));
        assert_eq!(f.wrong_tries, 0, "waiting is not a wrong try");
        f.pass(T0).unwrap();
        assert_eq!(f.verify(false, T0, &s), Ok(Verdict::Verified));
        assert!(f.can_reset(T0));
    }

    #[test]
    fn a_denial_ends_the_flow_with_its_reason() {
        let s = RecoverySettings::default();
        let mut f = Flow::start(vec![offer(Method::Face, "owner")], false, T0, &s);
        assert_eq!(f.pass(T0), Err(FlowError::WrongState), "nothing chosen yet");
        f.choose(Method::Face, None, None, T0, &s).unwrap();
        assert_eq!(f.messages_sent, 0, "a provider session is no message");
        f.deny("no match", T0).unwrap();
        assert_eq!(f.state, FlowState::Failed);
        assert_eq!(f.progress.reason.as_deref(), Some("no match"));
        assert_eq!(f.verify(true, T0, &s), Err(FlowError::Failed));
    }

    #[test]
    fn answers_count_as_tries_and_can_require_a_second_method() {
        let mut s = RecoverySettings::default();
        s.methods.second_method_after_questions = true;
        let offers = vec![
            offer(Method::SecurityQuestions, "2/3"),
            Offer::email(&Email::parse("alice@example.com").unwrap()),
        ];
        let mut f = Flow::start(offers, false, T0, &s);
        f.choose(Method::SecurityQuestions, None, None, T0, &s)
            .unwrap();
        assert_eq!(
            f.verify(false, T0, &s),
            Err(FlowError::WrongCode {
                tries_left: s.max_wrong_tries - 1
            })
        );
        assert_eq!(f.verify(true, T0, &s), Ok(Verdict::AnotherMethod));
        assert_eq!(f.state, FlowState::Started);
        assert_eq!(f.progress.proven, vec![Method::SecurityQuestions]);
        assert_eq!(
            f.choose(Method::SecurityQuestions, None, None, T0, &s),
            Err(FlowError::MethodNotOffered)
        );
        f.challenge(Method::EmailCode, None, T0, &s).unwrap();
        assert_eq!(f.verify(true, T0, &s), Ok(Verdict::Verified));
        assert_eq!(f.wrong_tries, 1, "the count carries over");
    }

    #[test]
    fn several_offers_of_a_method_are_told_apart_by_hint() {
        let s = RecoverySettings::default();
        let mut a = offer(Method::EmergencyContact, "s***s@family.example");
        a.destination = Some("sis@family.example".into());
        let mut b = offer(Method::EmergencyContact, "138****0000");
        b.destination = Some("+8613800000000".into());
        let mut f = Flow::start(vec![a, b], false, T0, &s);
        let send = f
            .choose(Method::EmergencyContact, Some("138****0000"), None, T0, &s)
            .unwrap();
        assert_eq!(send.destination.as_deref(), Some("+8613800000000"));
        assert_eq!(
            f.choose(Method::EmergencyContact, Some("nobody"), None, T0, &s),
            Err(FlowError::MethodNotOffered)
        );
    }
}
