//! Message delivery for Regain.
//!
//! Messages are rendered from [`templates`] in the recipient's language and
//! written to the outbox table in the same transaction as the change that
//! causes them (see `regain_store::outbox`). The [`worker`] claims due
//! messages, hands them to the configured [`senders`], and records the
//! outcome: sent, retry later with backoff, or failed after the retry
//! horizon. Every message carries an idempotency key (the SMTP Message-ID,
//! the SMS gateway's `id`) so a receiver can drop the duplicate that a crash
//! between "sent" and "recorded" could cause.
#![deny(missing_docs)]

pub mod config;
pub mod senders;
pub mod templates;
pub mod worker;

pub use config::DeliveryConfig;
pub use senders::{ErrorClass, SendError, Senders};
pub use worker::Worker;
