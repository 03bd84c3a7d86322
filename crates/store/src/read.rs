//! Reads, and the reader connections SQLite gets.
//!
//! On SQLite, reads use a small set of connections of our own whose
//! statements run in place ([`crate::lite`]), handed out and taken back
//! without a check: they are file handles in this process, with nothing
//! between to go stale (sqlx's pool pings every connection it takes back,
//! one more round trip to the connection's thread after every read).
//! PostgreSQL's reads use the pool, whose check catches a server that went
//! away.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::lite::Conn;

/// SQLite's reader connections: at most `permits` at once, opened when
/// first needed and kept.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").finish_non_exhaustive()
    }
}

impl Readers {
    /// Up to `max` connections to the database file at `path`.
    pub(crate) fn new(path: PathBuf, max: u32) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(usize::try_from(max.max(1)).unwrap_or(1)),
        }
    }

    fn take_idle(&self) -> Option<Conn> {
        self.idle.lock().ok()?.pop()
    }
}

/// A connection for reads: one of SQLite's readers, or a pool connection.
/// Dereferences to the connection.
pub(crate) enum ReadConn<'a> {
    Pool(Conn),
    Sqlite {
        conn: Option<Conn>,
        readers: &'a Readers,
        _permit: SemaphorePermit<'a>,
    },
}

impl<'a> ReadConn<'a> {
    /// Waits for a reader (SQLite) or takes a pool connection.
    pub(crate) async fn acquire(
        readers: Option<&'a Readers>,
        pool: &sqlx::AnyPool,
    ) -> Result<ReadConn<'a>, sqlx::Error> {
        let Some(readers) = readers else {
            return Ok(ReadConn::Pool(Conn::Pooled(pool.acquire().await?)));
        };
        let permit = readers
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let conn = match readers.take_idle() {
            Some(conn) => conn,
            None => Conn::Lite(crate::open_sqlite(&readers.path)?),
        };
        Ok(ReadConn::Sqlite {
            conn: Some(conn),
            readers,
            _permit: permit,
        })
    }
}

impl Drop for ReadConn<'_> {
    fn drop(&mut self) {
        // Back to the idle ones before the permit goes: whoever gets the
        // permit next finds it there. A statement always ran to its end
        // (in place), so there is nothing to reset.
        if let ReadConn::Sqlite { conn, readers, .. } = self {
            if let (Some(conn), Ok(mut idle)) = (conn.take(), readers.idle.lock()) {
                idle.push(conn);
            }
        }
    }
}

impl Deref for ReadConn<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        match self {
            ReadConn::Pool(c) => c,
            ReadConn::Sqlite { conn, .. } => conn.as_ref().unwrap_or_else(|| gone()),
        }
    }
}

impl DerefMut for ReadConn<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        match self {
            ReadConn::Pool(c) => c,
            ReadConn::Sqlite { conn, .. } => conn.as_mut().unwrap_or_else(|| gone()),
        }
    }
}

/// The connection leaves a reader only when it is dropped.
fn gone() -> ! {
    unreachable!("a reader used after it was given back")
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::time::Duration;

    use crate::Store;

    async fn one(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *store.read().await.unwrap())
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_are_kept_shared_out_and_read_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::temp_sqlite_store(&dir).await;
        let readers = store.readers.clone().unwrap();
        let idle = || readers.idle.lock().unwrap().len();

        // One after another: one connection, taken back each time.
        for _ in 0..5 {
            assert_eq!(one(&store).await, 1);
        }
        assert_eq!(idle(), 1);

        // At most two at once: a third waits for one to come back.
        let a = store.read().await.unwrap();
        let b = store.read().await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), store.read())
                .await
                .is_err()
        );
        drop(a);
        drop(store.read().await.unwrap());
        drop(b);
        assert_eq!(idle(), 2);

        // A read runs to its end where it is awaited: its future is ready
        // at the first poll, so it cannot be abandoned halfway.
        let mut conn = store.read().await.unwrap();
        let slow =
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) \
                    SELECT COUNT(*) FROM c";
        let read = sqlx::query_scalar::<_, i64>(slow).fetch_one(&mut *conn);
        let mut read = std::pin::pin!(read);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(matches!(
            read.as_mut().poll(&mut cx),
            std::task::Poll::Ready(Ok(200000))
        ));
    }
}
