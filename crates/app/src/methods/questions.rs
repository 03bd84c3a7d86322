//! Security questions: a logged-in person sets them (with a recent
//! password); recovery asks N of them, picked at random once per flow.
//! Answers are normalized, then hashed and checked like passwords.

use regain_domain::password::Password;
use regain_domain::recovery::answers::{normalize_answer, MAX_TEXT_CHARS, MIN_ANSWER_CHARS};
use regain_store::{AuditEvent, Tenant};

use crate::admin::Actor;
use crate::auth::Client;
use crate::{App, AppError};

/// Most questions an account keeps.
pub const MAX_QUESTIONS: usize = 5;

fn invalid(code: &'static str, message: String) -> AppError {
    AppError::Invalid { code, message }
}

/// `n` distinct positions out of `0..total`, from the OS random source.
pub(crate) fn pick(total: u32, n: u32) -> Result<Vec<u32>, AppError> {
    let mut pool: Vec<u32> = (0..total).collect();
    let mut picked = Vec::new();
    while picked.len() < n as usize && !pool.is_empty() {
        let mut buf = [0u8; 4];
        getrandom::fill(&mut buf)
            .map_err(|e| AppError::internal(format!("OS random source failed: {e}")))?;
        // The bias of a modulo over at most five items is negligible.
        let i = (u32::from_le_bytes(buf) as usize) % pool.len();
        picked.push(pool.swap_remove(i));
    }
    picked.sort_unstable();
    Ok(picked)
}

impl App {
    /// Replaces the actor's own security questions. Each needs a question
    /// and an answer; at least as many as the tenant asks in a recovery.
    pub async fn set_security_questions(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account_id: i64,
        questions: Vec<(String, String)>,
        client: &Client,
    ) -> Result<usize, AppError> {
        let account = self.own_account(tenant, actor, account_id).await?;
        let needed = tenant.settings.recovery.methods.questions_asked.max(2) as usize;
        if questions.len() < needed || questions.len() > MAX_QUESTIONS {
            return Err(invalid(
                "questions_count",
                format!("set between {needed} and {MAX_QUESTIONS} questions"),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut hashed = Vec::new();
        for (question, answer) in questions {
            let question = question.split_whitespace().collect::<Vec<_>>().join(" ");
            if question.is_empty() || question.chars().count() > MAX_TEXT_CHARS {
                return Err(invalid(
                    "question_invalid",
                    format!("each question needs 1 to {MAX_TEXT_CHARS} characters"),
                ));
            }
            if !seen.insert(normalize_answer(&question)) {
                return Err(invalid(
                    "question_repeated",
                    "each question may be asked once".into(),
                ));
            }
            let answer = normalize_answer(&answer);
            let length = answer.chars().count();
            if !(MIN_ANSWER_CHARS..=MAX_TEXT_CHARS).contains(&length) {
                return Err(invalid(
                    "answer_invalid",
                    format!("each answer needs {MIN_ANSWER_CHARS} to {MAX_TEXT_CHARS} characters"),
                ));
            }
            let hash = self.hasher.hash(Password::parse(answer)?).await?;
            hashed.push((question, hash));
        }
        let count = hashed.len();
        let mut event = AuditEvent::new(
            Some(tenant.id),
            "credentials.security_questions",
            &format!("account:{}", account.id),
            &format!("account:{}", account.id),
            &client.ip.to_string(),
            "success",
        );
        event.detail = serde_json::json!({ "count": count }).to_string();
        self.store
            .set_security_questions(account.id, &hashed, &event, self.clock.now())
            .await?;
        Ok(count)
    }

    /// The actor's own questions (never the answers).
    pub async fn security_questions(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account_id: i64,
    ) -> Result<Vec<String>, AppError> {
        let account = self.own_account(tenant, actor, account_id).await?;
        Ok(self
            .store
            .security_questions(account.id)
            .await?
            .into_iter()
            .map(|q| q.question)
            .collect())
    }

    /// The texts of the questions at `positions`.
    pub(crate) async fn questions_at(
        &self,
        account_id: i64,
        positions: &[u32],
    ) -> Result<Vec<String>, AppError> {
        Ok(self
            .store
            .security_questions(account_id)
            .await?
            .into_iter()
            .filter(|q| positions.contains(&q.position))
            .map(|q| q.question)
            .collect())
    }

    /// Whether `answers` (in the order asked) match the questions at
    /// `positions`. Every answer is checked, right or wrong, so the time
    /// taken does not tell which one was wrong.
    pub(crate) async fn answers_match(
        &self,
        account_id: i64,
        positions: &[u32],
        answers: &[String],
    ) -> Result<bool, AppError> {
        let stored = self.store.security_questions(account_id).await?;
        let asked: Vec<_> = stored
            .into_iter()
            .filter(|q| positions.contains(&q.position))
            .collect();
        let mut all = asked.len() == positions.len() && answers.len() == asked.len();
        for (i, q) in asked.iter().enumerate() {
            let given = answers
                .get(i)
                .map(|a| normalize_answer(a))
                .unwrap_or_default();
            // An empty or unusable answer is still checked against a dummy
            // hash, at the same cost.
            let (password, hash) = match Password::parse(given) {
                Ok(p) => (p, Some(q.answer_hash.clone())),
                Err(_) => (Password::parse("-".to_string())?, None),
            };
            let verified = self.hasher.verify(password, hash).await?;
            all &= verified.matches;
        }
        Ok(all)
    }

    /// The actor's own account: credentials of knowledge are set by their
    /// owner only, with a recent password.
    pub(crate) async fn own_account(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account_id: i64,
    ) -> Result<regain_store::Account, AppError> {
        match actor {
            Actor::Account(a) if a.account.id == account_id => {
                self.target(
                    tenant,
                    actor,
                    account_id,
                    crate::admin::Reach::SelfOrManaged,
                    true,
                )
                .await
            }
            Actor::Account(_) => Err(AppError::Forbidden),
            Actor::Operator => self
                .store
                .account(tenant.id, account_id)
                .await?
                .ok_or_else(AppError::account_not_found),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_distinct_sorted_and_in_range() {
        for _ in 0..50 {
            let p = pick(3, 2).unwrap();
            assert_eq!(p.len(), 2);
            assert!(p[0] < p[1] && p[1] < 3);
        }
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(pick(3, 2).unwrap());
        }
        assert_eq!(seen.len(), 3, "every pair of three comes up");
    }
}
