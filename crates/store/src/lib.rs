//! Regain's persistence: one storage API, [`Store`], over SQLite (the
//! embedded default) and PostgreSQL, chosen by the database URL.
//!
//! Both backends run the same SQL through sqlx's `Any` driver; only the
//! migrations differ (one folder per backend, kept in lockstep). Every
//! multi-row change runs in one transaction. Times are Unix seconds and flags
//! 0/1 integers, so the same queries mean the same thing on both backends.
#![deny(missing_docs)]

mod accounts;
pub mod appeals;
pub mod approvals;
pub mod audit;
mod captchas;
mod checkpoint;
pub mod contacts;
pub mod credentials;
mod error;
pub mod external;
mod import;
mod lite;
pub mod outbox;
mod read;
pub mod recovery;
mod rows;
mod sessions;
mod sql;
mod tenants;
mod throttles;
mod waiting;
mod write;

pub use accounts::{Account, AccountLookup, NewAccount, Placement};
pub use appeals::{Appeal, Attachment};
pub use approvals::Approval;
pub use audit::{AuditEvent, AuditFilter, AuditProblem, AuditRow};
pub use contacts::{ContactKind, PendingContact};
pub use credentials::{EmergencyContact, IdentityRecord, SecurityQuestion, SetupCounts};
pub use error::StoreError;
pub use external::{ExternalCheck, LinkRequest, LinkedIdentity};
pub use outbox::{Channel, DeliveryState, NewMessage, OutboxMessage};
pub use recovery::{CompletedReset, FlowRecord};
pub use sessions::{NewSession, Session};
pub use tenants::{NewTenant, Tenant, TENANT_CACHE_TTL};
pub use throttles::{Counted, ThrottleRule};
pub use waiting::Waiting;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Every SQLite connection's settings: WAL (readers never wait for the
/// writer), foreign keys, a busy timeout for other processes' writes, no
/// sync per commit (WAL keeps the database consistent; a power cut may lose
/// the last commits), a 16 MiB page cache and temporary files in memory:
/// each write of a group commit runs in a savepoint whose undo journal
/// would otherwise spill to a temporary file past 64 KiB (16 pages, which
/// a recovery step's write can touch), a `pwrite` for every page after.
///
/// The file is deliberately not memory-mapped (`mmap_size` stays 0): a
/// connection unmaps its whole mapping whenever another connection has
/// committed since its last transaction, so under a steady stream of writes
/// every read transaction unmaps and maps the file again. Each unmap sends
/// a TLB shootdown to every core running one of our threads, hashing ones
/// included, and the mapping faults its pages back in: with the file
/// mapped, logins reached 0.86 of the raw Argon2id limit, without it
/// 0.90–0.93 (BENCHMARKS.md).
const SQLITE_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
     PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; \
     PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;";

/// A SQLite connection of our own (the writer, a reader, the
/// checkpointer), set up as the pool's are; its statements run in place
/// (see [`lite`]).
fn open_sqlite(path: &std::path::Path) -> Result<lite::LiteConn, sqlx::Error> {
    lite::LiteConn::open(path, SQLITE_SETUP)
}

/// A store on a fresh SQLite file in `dir`, migrated: for the store's own
/// unit tests.
#[cfg(test)]
async fn temp_sqlite_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::connect(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (WAL mode).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}

/// The storage API used by the rest of Regain. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// One writer at a time on SQLite (see [`write`]).
    writers: write::Gate,
    /// SQLite's reader connections (see [`read`]).
    readers: Option<Arc<read::Readers>>,
    /// Tenants recently read by slug.
    tenants: Arc<tenants::TenantCache>,
    /// Reads begun so far (see [`Store::reads_begun`]).
    reads: Arc<AtomicU64>,
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`).
    /// SQLite connections get WAL, foreign keys and a busy timeout;
    /// SQLite's writes get a connection of their own
    /// (see [`write`]).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            // A SQLite connection is a file handle in this process: there is
            // no network between to check before each use.
            .test_before_acquire(backend == Backend::Postgres)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(SQLITE_SETUP).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await?;
        let (writers, readers) = match backend {
            Backend::Sqlite => {
                let path = SqliteConnectOptions::from_str(url)?
                    .get_filename()
                    .to_path_buf();
                // The writer leaves checkpoints to [`checkpoint`].
                let mut writer = open_sqlite(&path)?;
                writer.run("PRAGMA wal_autocheckpoint = 0", &[])?;
                let group = write::gate(lite::Conn::Lite(writer));
                tokio::spawn(checkpoint::run(path.clone(), Arc::downgrade(&group)));
                let readers = read::Readers::new(path, max_connections);
                (Some(group), Some(Arc::new(readers)))
            }
            Backend::Postgres => (None, None),
        };
        Ok(Store {
            pool,
            backend,
            writers,
            readers,
            tenants: Default::default(),
            reads: Default::default(),
        })
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.pool.execute("SELECT 1").await?;
        Ok(())
    }

    /// Starts a write transaction (on SQLite, on the writer connection,
    /// with the database's write lock taken at once; see [`write`]).
    pub(crate) async fn begin(&self) -> Result<write::WriteTx, StoreError> {
        Ok(write::WriteTx::begin(&self.writers, &self.pool).await?)
    }

    /// A connection for reads (on SQLite, one of its readers; see
    /// [`read`]).
    pub(crate) async fn read(&self) -> Result<read::ReadConn<'_>, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(read::ReadConn::acquire(self.readers.as_deref(), &self.pool).await?)
    }

    /// Reads begun by this store and its clones so far. Each read is a
    /// transaction of its own, and on SQLite one that first checks its
    /// connection's page cache against the writes since (and, after any,
    /// reads its pages again): a step's reads are a large part of its
    /// cost, and tests hold each step to the reads it needs.
    pub fn reads_begun(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// A write of a single statement, to be committed (on PostgreSQL in
    /// autocommit; on SQLite a write of the group, see [`write`]).
    pub(crate) async fn writer(&self) -> Result<write::WriteTx, StoreError> {
        Ok(write::WriteTx::single(&self.writers, &self.pool).await?)
    }

    /// Writes a consistent snapshot of an SQLite database to `path` (which
    /// must not exist) while the database is in use (`VACUUM INTO`).
    pub async fn backup_sqlite(&self, path: &str) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::UnsupportedUrl);
        }
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest migration applied to this database, and the newest this
    /// build knows.
    pub async fn schema_versions(&self) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS v FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&mut *self.read().await?)
        .await?;
        let known = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
        Ok((crate::rows::int(&row, "v")?, known))
    }

    /// Open and idle connections of the pool.
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
