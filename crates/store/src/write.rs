//! Writes, and the one writer connection that SQLite gets.
//!
//! SQLite admits one writer at a time. When several connections race for
//! it, the losers get SQLITE_BUSY and SQLite's busy handler makes them
//! sleep in steps of up to 100 ms. So on SQLite every write of this process
//! goes through one dedicated connection, taken in arrival order behind an
//! async mutex (fair: first come, first served); its statements run in
//! place ([`crate::lite`]), so a write holds it only for SQLite's own work.
//! (Another process, such as the CLI, still meets the busy timeout.)
//!
//! **Group commit.** Most of a small write's cost is its `COMMIT`: the
//! changed pages written to the WAL, and now and then a checkpoint with an
//! fsync. So the writer keeps one transaction open across the writes that
//! arrive while it is busy: each write runs inside a savepoint of it (its
//! failure or drop rolls back only its own part), and its `commit` waits
//! until the whole group is committed, so nobody answers for data that is
//! not on disk and every later read sees it. The group is committed by a
//! task of its own that queues for the writer like everyone else: all the
//! writes that were waiting before it are in the group. A write that finds
//! nobody else waiting for the writer commits the group itself, at once:
//! there is nothing to gather, and handing the commit to the task would
//! cost a task switch or two thread wake-ups (under no load, each write's
//! commit). So under no load a group is one write; under load the cost of
//! a commit is shared. A write
//! of a single statement ([`WriteTx::single`]) joins the group too: run
//! in autocommit it would first have to commit the group open ahead of it,
//! two commits where none is needed.
//!
//! The writer also knows the audit chain's last hash while no other
//! connection has committed ([`WriteTx::audit_tail`]), which saves a read
//! per audited write.
//!
//! PostgreSQL needs none of this: its writes use the pool, one transaction
//! each.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Executor, Row};
use tokio::sync::{oneshot, Notify};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::lite::Conn;

/// A value bound to a statement built at run time ([`WriteTx::run`]).
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

/// At most this many writes wait in one group: a write that would make
/// it bigger commits it itself.
const GROUP_MAX: usize = 256;

/// The SQLite writer: its connection, the group transaction open on it,
/// and what it knows of the audit chain's last row.
pub(crate) struct Writer {
    conn: Conn,
    /// Whether the group transaction is open.
    open: bool,
    /// Whether a write's savepoint is open inside it.
    member: bool,
    /// The hash of the audit chain's last row as of this connection's last
    /// commit, with the database's `data_version` then. SQLite changes
    /// `data_version` whenever another connection (another process: the
    /// CLI, a backup restore) commits; while it is unchanged, no row was
    /// appended but ours, and the append skips reading the tail.
    audit_tail: Option<(i64, String)>,
    /// During the group transaction: the chain's last hash when known, and
    /// the `data_version` read at its start.
    tx_tail: Option<String>,
    tx_version: i64,
    /// `tx_tail` when the current write began (back to it if the write
    /// rolls back).
    member_tail: Option<String>,
    /// The writes done and waiting for the group's commit.
    waiting: Vec<oneshot::Sender<Result<(), String>>>,
    /// Wakes the group's committer.
    due: Arc<Notify>,
    /// Group commits so far ([`Group::commits`]).
    commits: Arc<AtomicU64>,
    /// [`Group::queued`]: whether a write waits behind the one finishing.
    queued: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("open", &self.open)
            .field("waiting", &self.waiting.len())
            .finish()
    }
}

/// SQLite's writer and the task that commits its groups; the task ends
/// when the last store holding this goes.
pub(crate) struct Group {
    writer: Arc<Mutex<Writer>>,
    due: Arc<Notify>,
    /// Writes waiting for the writer right now ([`WriteTx::begin`]).
    queued: Arc<AtomicUsize>,
    commits: Arc<AtomicU64>,
}

impl Group {
    /// Group commits so far: what the checkpointer paces itself by
    /// ([`crate::checkpoint`]).
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.due.notify_one();
    }
}

/// `Some` on SQLite.
pub(crate) type Gate = Option<Arc<Group>>;

/// Wraps SQLite's writer connection (already set up) for [`Gate`] and
/// starts its committer (on the current runtime).
pub(crate) fn gate(conn: Conn) -> Arc<Group> {
    let due = Arc::new(Notify::new());
    let queued = Arc::new(AtomicUsize::new(0));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = Arc::new(Mutex::new(Writer {
        conn,
        open: false,
        member: false,
        audit_tail: None,
        tx_tail: None,
        tx_version: 0,
        member_tail: None,
        waiting: Vec::new(),
        due: due.clone(),
        commits: commits.clone(),
        queued: queued.clone(),
    }));
    let group = Arc::new(Group {
        writer: writer.clone(),
        due: due.clone(),
        queued,
        commits,
    });
    let weak = Arc::downgrade(&writer);
    drop(writer);
    tokio::spawn(committer(weak, due));
    group
}

/// Commits each group once the writes queued before it are in.
async fn committer(writer: Weak<Mutex<Writer>>, due: Arc<Notify>) {
    loop {
        due.notified().await;
        let Some(writer) = writer.upgrade() else {
            return;
        };
        writer.lock().await.commit_group();
    }
}

/// A write transaction: a pool transaction (PostgreSQL), or a savepoint in
/// SQLite's group transaction, holding the writer until it ends.
/// Dereferences to the connection, like `sqlx::Transaction`. Dropped
/// without a commit, it rolls back.
pub(crate) enum WriteTx {
    Pool(Option<Conn>),
    Sqlite(Option<OwnedMutexGuard<Writer>>),
}

impl WriteTx {
    /// Starts a transaction: on SQLite, waits for the writer, opens the
    /// group transaction if none is open (`BEGIN IMMEDIATE`: the database's
    /// write lock at once; a deferred transaction that reads and then
    /// writes can fail with "database is locked" when another process
    /// wrote in between) and a savepoint for this write.
    pub(crate) async fn begin(gate: &Gate, pool: &sqlx::AnyPool) -> Result<WriteTx, sqlx::Error> {
        let Some(gate) = gate else {
            return Ok(WriteTx::Pool(Some(Conn::Tx(pool.begin().await?))));
        };
        let mut writer = {
            let _in_line = crate::Waiting::enter(&gate.queued);
            gate.writer.clone().lock_owned().await
        };
        writer.settle();
        if !writer.open {
            let rows = sqlx::query("BEGIN IMMEDIATE; PRAGMA data_version")
                .fetch_all(&mut writer.conn)
                .await?;
            writer.open = true;
            let version: i64 = rows.first().ok_or(sqlx::Error::RowNotFound)?.try_get(0)?;
            writer.tx_version = version;
            writer.tx_tail = match writer.audit_tail.take() {
                Some((v, hash)) if v == version => Some(hash),
                _ => None,
            };
        }
        writer.conn.execute("SAVEPOINT write").await?;
        writer.member = true;
        writer.member_tail = writer.tx_tail.clone();
        Ok(WriteTx::Sqlite(Some(writer)))
    }

    /// A write of a single statement: on PostgreSQL a pool connection in
    /// autocommit (no `BEGIN` and `COMMIT` round trips), on SQLite a write
    /// of the group like any other. [`WriteTx::commit`] ends it either way.
    pub(crate) async fn single(gate: &Gate, pool: &sqlx::AnyPool) -> Result<WriteTx, sqlx::Error> {
        match gate {
            None => Ok(WriteTx::Pool(Some(Conn::Pooled(pool.acquire().await?)))),
            Some(_) => WriteTx::begin(gate, pool).await,
        }
    }

    /// Commits: on SQLite, adds this write to the group, lets the next
    /// writer in and waits for the group's commit.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let done = match &mut self {
            WriteTx::Pool(tx) => {
                return match tx.take() {
                    Some(Conn::Tx(tx)) => tx.commit().await,
                    _ => Ok(()),
                }
            }
            WriteTx::Sqlite(writer) => {
                let Some(mut w) = writer.take() else {
                    return Ok(());
                };
                if let Err(e) = w.conn.execute("RELEASE write").await {
                    w.roll_back_member();
                    return Err(e);
                }
                w.member = false;
                let (tx, rx) = oneshot::channel();
                w.waiting.push(tx);
                // Nobody else in line: nothing to gather, so the group is
                // committed now rather than by the committer a task switch
                // (or two thread wake-ups) later.
                if w.waiting.len() >= GROUP_MAX || w.queued.load(Ordering::Acquire) == 0 {
                    w.commit_group();
                } else {
                    w.due.notify_one();
                }
                rx
            }
        };
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(sqlx::Error::Protocol(e)),
            Err(_) => Err(sqlx::Error::Protocol(
                "the writer stopped before the commit".into(),
            )),
        }
    }

    /// Runs `sql` (numbered `$1…$n` for the `n` values of `binds`) as part
    /// of this transaction: for statements built at run time.
    pub(crate) async fn run(
        &mut self,
        sql: impl Into<Cow<'static, str>>,
        binds: Vec<Bind>,
    ) -> Result<(), sqlx::Error> {
        let sql = sql.into();
        bound(sqlx::query(&sql), &binds)
            .execute(&mut **self)
            .await?;
        Ok(())
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
    fn lite(&mut self) -> Option<&mut crate::lite::LiteConn> {
        match &mut self.conn {
            Conn::Lite(lite) => Some(lite),
            _ => None,
        }
    }

    /// Runs `sql` in place, its error reduced to a message.
    fn exec(&mut self, sql: &str) -> Result<(), String> {
        match self.lite() {
            Some(lite) => lite.run(sql, &[]).map(drop).map_err(|e| e.to_string()),
            None => Err("not a SQLite connection".into()),
        }
    }

    /// Rolls back what a write left open (dropped before its commit).
    fn settle(&mut self) {
        if self.member {
            self.roll_back_member();
        }
    }

    /// Undoes the current write's own part of the group. If SQLite undid
    /// the whole transaction (it does after some errors, such as a full
    /// disk), the writes waiting in it fail too.
    fn roll_back_member(&mut self) {
        self.member = false;
        self.tx_tail = self.member_tail.take();
        let undone = self.exec("ROLLBACK TO write; RELEASE write");
        let gone = self.lite().is_some_and(|l| !l.in_transaction());
        if undone.is_err() || gone {
            let _ = self.exec("ROLLBACK");
            self.end_group(Err("the transaction was rolled back".into()));
        }
    }

    /// Commits the group transaction, if one is open, and tells its writes.
    fn commit_group(&mut self) {
        if !self.open {
            return;
        }
        let result = self.exec("COMMIT");
        if result.is_err() {
            let _ = self.exec("ROLLBACK");
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.end_group(result);
    }

    fn end_group(&mut self, result: Result<(), String>) {
        self.open = false;
        self.member = false;
        // Our own commit leaves this connection's data_version as it was.
        self.audit_tail = match &result {
            Ok(()) => self.tx_tail.take().map(|hash| (self.tx_version, hash)),
            Err(_) => None,
        };
        self.tx_tail = None;
        for w in self.waiting.drain(..) {
            let _ = w.send(result.clone());
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        // A write that ends without its commit (an error, a cancelled
        // request) rolls back its part before the next writer gets in.
        if let WriteTx::Sqlite(Some(w)) = self {
            w.settle();
        }
    }
}

impl Deref for WriteTx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        match self {
            WriteTx::Pool(Some(tx)) => tx,
            WriteTx::Sqlite(Some(w)) => &w.conn,
            WriteTx::Pool(None) | WriteTx::Sqlite(None) => unreachable_writer(),
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Conn {
        match self {
            WriteTx::Pool(Some(tx)) => tx,
            WriteTx::Sqlite(Some(w)) => &mut w.conn,
            WriteTx::Pool(None) | WriteTx::Sqlite(None) => unreachable_writer(),
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
            .fetch_all(&mut *store.read().await.unwrap())
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_arriving_together_commit_together_and_each_undoes_only_its_own_part() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::temp_sqlite_store(&dir).await;

        // Sixty writes at once, every other one a single statement; every
        // fifth is dropped before its commit. The writer is held while they
        // arrive, so all of them are waiting when it is free: a loaded
        // machine cannot spread them out in time.
        let hold = store.begin().await.unwrap();
        let writes: Vec<_> = (0..60)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let key = format!("k{i:02}");
                    let mut tx = if i % 2 == 0 {
                        store.begin().await.unwrap()
                    } else {
                        store.writer().await.unwrap()
                    };
                    tx.run(INSERT, vec![key.as_str().into()]).await.unwrap();
                    if i % 5 == 0 {
                        return None;
                    }
                    tx.commit().await.unwrap();
                    // Committed when the commit returns: another connection
                    // sees it.
                    assert_eq!(keys(&store).await.iter().filter(|k| **k == key).count(), 1);
                    Some(key)
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        hold.commit().await.unwrap();
        let mut kept = Vec::new();
        for w in writes {
            kept.extend(w.await.unwrap());
        }
        kept.sort();
        assert_eq!(keys(&store).await, kept);
        assert_eq!(kept.len(), 48);
        let commits = store.writers.as_ref().unwrap().commits();
        assert!(commits < 24, "{commits} commits for 48 writes: few groups");

        // A write that fails halfway undoes its own part; the group's
        // other writes stay.
        let mut tx = store.begin().await.unwrap();
        tx.run(INSERT, vec!["x".into()]).await.unwrap();
        assert!(tx.run(INSERT, vec!["k01".into()]).await.is_err());
        drop(tx);
        let mut tx = store.begin().await.unwrap();
        tx.run(INSERT, vec!["y".into()]).await.unwrap();
        tx.commit().await.unwrap();
        let all = keys(&store).await;
        assert!(all.contains(&"y".to_string()) && !all.contains(&"x".to_string()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_with_nobody_behind_it_commits_in_its_own_commit_call() {
        use futures_util::FutureExt;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::temp_sqlite_store(&dir).await;
        let before = store.writers.as_ref().unwrap().commits();

        // On one thread the committer task cannot run while this one does
        // not yield: the commit is done before the call's first poll ends.
        let mut tx = store.begin().await.unwrap();
        tx.run(INSERT, vec!["alone".into()]).await.unwrap();
        let done = tx.commit().now_or_never();
        assert!(matches!(done, Some(Ok(()))), "{done:?}");
        assert_eq!(keys(&store).await, ["alone"]);
        let after = store.writers.as_ref().unwrap().commits();
        assert_eq!(after, before + 1);
    }
}
