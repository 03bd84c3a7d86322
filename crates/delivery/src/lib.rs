//! Message delivery for Regain: the transactional outbox and its senders
//! (file, SMTP, SMS gateway).
//!
//! Nothing is sent yet: the foundation has no flow that sends a message.
//! The recovery flows bring the outbox table (written in the same
//! transaction as the state change that causes a message) and the worker
//! that delivers it with retries; this crate is where they live.
#![deny(missing_docs)]
