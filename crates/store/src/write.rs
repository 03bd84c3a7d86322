//! Write transactions, and the one-writer gate that SQLite needs.
//!
//! SQLite admits one writer at a time. When several connections of the pool
//! race for it, the losers get SQLITE_BUSY and SQLite's busy handler makes
//! them sleep in steps of up to 100 ms: under load, a write that takes a
//! fraction of a millisecond can wait for hundreds. So this process queues
//! its writers itself, in arrival order, on an async mutex held from
//! `BEGIN IMMEDIATE` to the commit: the database never sees two writers of
//! ours at once. (Another process, such as `regain backup`, still meets the
//! busy timeout.) PostgreSQL needs no gate.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The gate: `Some` on SQLite.
pub(crate) type Gate = Option<Arc<Mutex<()>>>;

/// A transaction that holds the write gate until it ends. Dereferences to
/// the connection, like `sqlx::Transaction`.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) fn new(tx: Transaction<'static, Any>, gate: Option<OwnedMutexGuard<()>>) -> Self {
        WriteTx { tx, _gate: gate }
    }

    /// Commits, then opens the gate.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// Waits for the gate, if there is one.
pub(crate) async fn enter(gate: &Gate) -> Option<OwnedMutexGuard<()>> {
    match gate {
        Some(m) => Some(m.clone().lock_owned().await),
        None => None,
    }
}
