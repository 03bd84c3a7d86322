//! Writes, and the one writer connection that SQLite gets.
//!
//! SQLite admits one writer at a time. When several connections of a pool
//! race for it, the losers get SQLITE_BUSY and SQLite's busy handler makes
//! them sleep in steps of up to 100 ms: under load, a write that takes a
//! fraction of a millisecond can wait for hundreds. So on SQLite every write
//! of this process goes through one dedicated connection, taken in arrival
//! order behind an async mutex: the database never sees two writers of ours
//! at once. (Another process, such as `regain backup`, still meets the busy
//! timeout.)
//!
//! One connection for all writes also keeps its page cache: in WAL mode a
//! connection drops its whole cache when another connection wrote since its
//! last transaction, so writes spread over a pool re-read their pages every
//! time. And it skips the pool's check-in round trip to the connection's
//! thread after each write. Reads still use the pool, concurrently.
//!
//! The writer is held across every statement of a write, and each statement
//! is a round trip to the connection's thread, so the SQLite writer saves
//! round trips where it safely can: it knows the audit chain's last hash
//! while no other connection has committed ([`WriteTx::audit_tail`]),
//! attempt counters go several statements at a time (`throttles`), and the
//! writes nothing later in the transaction reads back (audit rows, history
//! entries, cleared counters, queued notices) travel with the `COMMIT`
//! ([`WriteTx::at_commit`]).
//!
//! PostgreSQL needs none of this: its writes use the pool.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::any::AnyArguments;
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Executor, Row, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::sql::joined;

/// A value bound to a statement that may run later ([`WriteTx::at_commit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bind {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
}

impl From<i64> for Bind {
    fn from(v: i64) -> Bind {
        Bind::Int(v)
    }
}

impl From<Option<i64>> for Bind {
    fn from(v: Option<i64>) -> Bind {
        Bind::OptInt(v)
    }
}

impl From<&str> for Bind {
    fn from(v: &str) -> Bind {
        Bind::Text(v.to_string())
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Bind {
        Bind::Text(v)
    }
}

impl From<Option<&str>> for Bind {
    fn from(v: Option<&str>) -> Bind {
        Bind::OptText(v.map(str::to_string))
    }
}

/// `q` with `binds` bound in order.
fn bound<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    binds: &'q [Bind],
) -> Query<'q, Any, AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Int(v) => q.bind(*v),
            Bind::OptInt(v) => q.bind(*v),
            Bind::Text(v) => q.bind(v.as_str()),
            Bind::OptText(v) => q.bind(v.as_deref()),
        };
    }
    q
}

/// A statement held back until the commit: its SQL, numbered `$1…$n` for
/// its `n` values.
#[derive(Debug)]
struct Later {
    sql: Cow<'static, str>,
    binds: Vec<Bind>,
}

/// The SQLite writer: its connection, whether a transaction was left open
/// on it (by a write dropped before its commit, or a failed commit), and
/// what it knows of the audit chain's last row.
pub(crate) struct Writer {
    conn: AnyConnection,
    open: bool,
    /// The hash of the audit chain's last row as of this connection's last
    /// commit, with the database's `data_version` then. SQLite changes
    /// `data_version` whenever another connection (another process: the
    /// CLI, a backup restore) commits; while it is unchanged, no row was
    /// appended but ours, and the append skips reading the tail.
    audit_tail: Option<(i64, String)>,
    /// During a transaction: the chain's last hash when known, and the
    /// `data_version` read at its start.
    tx_tail: Option<String>,
    tx_version: i64,
    /// The transaction's statements held for its commit.
    later: Vec<Later>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("open", &self.open).finish()
    }
}

/// `Some` on SQLite.
pub(crate) type Gate = Option<Arc<Mutex<Writer>>>;

/// Wraps SQLite's writer connection (already set up) for [`Gate`].
pub(crate) fn gate(conn: AnyConnection) -> Arc<Mutex<Writer>> {
    Arc::new(Mutex::new(Writer {
        conn,
        open: false,
        audit_tail: None,
        tx_tail: None,
        tx_version: 0,
        later: Vec::new(),
    }))
}

/// A write transaction: a pool transaction (PostgreSQL), or SQLite's writer
/// inside `BEGIN IMMEDIATE … COMMIT`, held until the transaction ends.
/// Dereferences to the connection, like `sqlx::Transaction`. Dropped
/// without a commit, it rolls back.
pub(crate) enum WriteTx {
    Pool(Option<Transaction<'static, Any>>),
    Sqlite(Option<OwnedMutexGuard<Writer>>),
}

impl WriteTx {
    /// Starts a transaction: on SQLite, waits for the writer and takes the
    /// database's write lock at once (`BEGIN IMMEDIATE`: a deferred
    /// transaction that reads and then writes can fail with "database is
    /// locked" when another process wrote in between).
    pub(crate) async fn begin(gate: &Gate, pool: &sqlx::AnyPool) -> Result<WriteTx, sqlx::Error> {
        let Some(gate) = gate else {
            return Ok(WriteTx::Pool(Some(pool.begin().await?)));
        };
        let mut writer = gate.clone().lock_owned().await;
        writer.settle().await;
        // One round trip for both: every statement is a hop to the
        // connection's thread, and the writer is held across all of them.
        writer.open = true;
        let rows = sqlx::query("BEGIN IMMEDIATE; PRAGMA data_version")
            .fetch_all(&mut writer.conn)
            .await?;
        let version: i64 = rows.first().ok_or(sqlx::Error::RowNotFound)?.try_get(0)?;
        writer.tx_version = version;
        writer.tx_tail = match writer.audit_tail.take() {
            Some((v, hash)) if v == version => Some(hash),
            _ => None,
        };
        Ok(WriteTx::Sqlite(Some(writer)))
    }

    /// Commits, then lets the next writer in.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        match &mut self {
            WriteTx::Pool(tx) => match tx.take() {
                Some(tx) => tx.commit().await,
                None => Ok(()),
            },
            WriteTx::Sqlite(writer) => {
                let Some(w) = writer.as_mut() else {
                    return Ok(());
                };
                let later = std::mem::take(&mut w.later);
                if later.is_empty() {
                    w.conn.execute("COMMIT").await?;
                } else {
                    // One round trip: a failing statement stops the rest,
                    // COMMIT included, and the drop rolls back.
                    let sql = joined(
                        later
                            .iter()
                            .map(|l| (l.sql.as_ref(), l.binds.len()))
                            .chain(std::iter::once(("COMMIT", 0))),
                    );
                    let binds: Vec<Bind> = later.into_iter().flat_map(|l| l.binds).collect();
                    bound(sqlx::query(&sql), &binds)
                        .execute(&mut w.conn)
                        .await?;
                }
                w.open = false;
                // Our own commit leaves this connection's data_version as
                // it was.
                w.audit_tail = w.tx_tail.take().map(|hash| (w.tx_version, hash));
                Ok(())
            }
        }
    }

    /// Runs `sql` (numbered `$1…$n` for the `n` values of `binds`) as part
    /// of this transaction, for a write that nothing later in the
    /// transaction reads back: SQLite's writer holds it and sends it with
    /// the `COMMIT`, in the order given, saving its round trip; a pool
    /// transaction runs it at once. Its error, if any, comes from the
    /// commit, and nothing of the transaction is written.
    pub(crate) async fn at_commit(
        &mut self,
        sql: impl Into<Cow<'static, str>>,
        binds: Vec<Bind>,
    ) -> Result<(), sqlx::Error> {
        let sql = sql.into();
        match self {
            WriteTx::Sqlite(Some(w)) => {
                w.later.push(Later { sql, binds });
                Ok(())
            }
            _ => {
                bound(sqlx::query(&sql), &binds)
                    .execute(&mut **self)
                    .await?;
                Ok(())
            }
        }
    }

    /// Whether this is SQLite's writer (which takes several statements in
    /// one round trip).
    pub(crate) fn is_sqlite(&self) -> bool {
        matches!(self, WriteTx::Sqlite(_))
    }

    /// The audit chain's last hash, when the SQLite writer knows it.
    pub(crate) fn audit_tail(&self) -> Option<&str> {
        match self {
            WriteTx::Sqlite(Some(w)) => w.tx_tail.as_deref(),
            _ => None,
        }
    }

    /// Records the hash of the row just appended to the audit chain.
    pub(crate) fn appended_audit(&mut self, hash: &str) {
        if let WriteTx::Sqlite(Some(w)) = self {
            w.tx_tail = Some(hash.to_string());
        }
    }
}

impl Writer {
    /// Rolls back what an earlier write left open (an error there means no
    /// transaction was open: a `BEGIN` that failed). What the writer knew
    /// of the audit chain goes with it.
    async fn settle(&mut self) {
        self.later.clear();
        if self.open {
            let _ = self.conn.execute("ROLLBACK").await;
            self.open = false;
            self.tx_tail = None;
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        // A write that ends without its commit (an error, a cancelled
        // request) rolls back before the next writer gets in; the guard
        // travels with the rollback. Without a runtime (shutdown), the next
        // `begin` rolls back instead.
        if let WriteTx::Sqlite(writer) = self {
            if let Some(mut w) = writer.take() {
                if w.open {
                    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                        runtime.spawn(async move {
                            w.settle().await;
                        });
                    }
                }
            }
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            WriteTx::Pool(Some(tx)) => tx,
            WriteTx::Sqlite(Some(w)) => &w.conn,
            WriteTx::Pool(None) | WriteTx::Sqlite(None) => unreachable_writer(),
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteTx::Pool(Some(tx)) => tx,
            WriteTx::Sqlite(Some(w)) => &mut w.conn,
            WriteTx::Pool(None) | WriteTx::Sqlite(None) => unreachable_writer(),
        }
    }
}

/// A single-statement write outside a transaction: a pool connection
/// (PostgreSQL) or SQLite's writer, in autocommit. Dereferences to the
/// connection.
pub(crate) enum WriteConn {
    Pool(PoolConnection<Any>),
    Sqlite(OwnedMutexGuard<Writer>),
}

impl WriteConn {
    /// Waits for SQLite's writer, or takes a pool connection.
    pub(crate) async fn acquire(
        gate: &Gate,
        pool: &sqlx::AnyPool,
    ) -> Result<WriteConn, sqlx::Error> {
        let Some(gate) = gate else {
            return Ok(WriteConn::Pool(pool.acquire().await?));
        };
        let mut writer = gate.clone().lock_owned().await;
        writer.settle().await;
        Ok(WriteConn::Sqlite(writer))
    }
}

impl Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            WriteConn::Pool(c) => c,
            WriteConn::Sqlite(w) => &w.conn,
        }
    }
}

impl DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteConn::Pool(c) => c,
            WriteConn::Sqlite(w) => &mut w.conn,
        }
    }
}

/// A committed or dropped [`WriteTx`] gave its writer away and can no
/// longer be used; the type system cannot see that `commit` consumes it.
fn unreachable_writer() -> ! {
    unreachable!("a write transaction used after its end")
}

#[cfg(test)]
mod tests {
    use crate::Store;

    const INSERT: &str =
        "INSERT INTO throttles (key, failures, window_start, locked_until) VALUES ($1, 1, 0, 0)";

    async fn keys(store: &Store) -> Vec<String> {
        sqlx::query_scalar("SELECT key FROM throttles ORDER BY key")
            .fetch_all(&store.pool)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn held_statements_go_with_the_commit_and_a_failing_one_undoes_the_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::temp_sqlite_store(&dir).await;

        // Held until the commit, in order, then all there.
        let mut tx = store.begin().await.unwrap();
        tx.at_commit(INSERT, vec!["b".into()]).await.unwrap();
        sqlx::query(INSERT)
            .bind("a")
            .execute(&mut *tx)
            .await
            .unwrap();
        let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM throttles WHERE key = 'b'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(seen, 0, "held, not yet run");
        tx.commit().await.unwrap();
        assert_eq!(keys(&store).await, ["a", "b"]);

        // A held statement that fails at the commit (a duplicate key) takes
        // the whole transaction with it, and the writer carries on.
        let mut tx = store.begin().await.unwrap();
        sqlx::query(INSERT)
            .bind("c")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.at_commit(INSERT, vec!["d".into()]).await.unwrap();
        tx.at_commit(INSERT, vec!["a".into()]).await.unwrap();
        assert!(tx.commit().await.is_err());
        let mut tx = store.begin().await.unwrap();
        tx.at_commit(INSERT, vec!["e".into()]).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(keys(&store).await, ["a", "b", "e"]);
    }
}
