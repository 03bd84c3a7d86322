//! WAL checkpoints away from the writer.
//!
//! SQLite copies the WAL back into the database file (a checkpoint, with an
//! fsync) inside the `COMMIT` that finds the WAL past 1,000 pages: on the
//! writer, so every write behind it waits for the disk. The writer turns
//! that off (`wal_autocheckpoint = 0`), and a task checkpoints from a
//! connection of its own, on a blocking thread, a few times a second: a
//! `PASSIVE` checkpoint copies what no reader still needs, and neither
//! waits for nor blocks the writer. Once it has copied everything, the next
//! write starts the WAL from its beginning again.

use std::path::PathBuf;
use std::sync::Weak;
use std::time::Duration;

use crate::lite::LiteConn;
use crate::write::Group;

/// How often the WAL is copied back.
const EVERY: Duration = Duration::from_millis(200);

/// Checkpoints the database at `path` until the writer's `group` is gone.
pub(crate) async fn run(path: PathBuf, group: Weak<Group>) {
    let mut conn: Option<LiteConn> = None;
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if group.strong_count() == 0 {
            return;
        }
        let path = path.clone();
        let taken = conn.take();
        let done = tokio::task::spawn_blocking(move || {
            let mut c = match taken {
                Some(c) => c,
                None => crate::open_sqlite(&path)?,
            };
            c.run("PRAGMA wal_checkpoint(PASSIVE)", &[])?;
            Ok::<_, sqlx::Error>(c)
        })
        .await;
        match done {
            Ok(Ok(c)) => conn = Some(c),
            Ok(Err(e)) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint stopped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_copied_back_by_the_checkpointer_not_by_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::temp_sqlite_store(&dir).await;
        let file = dir.path().join("t.db");
        let size = || std::fs::metadata(&file).unwrap().len();

        let off: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut *store.writer().await.unwrap())
            .await
            .unwrap();
        assert_eq!(off, 0, "the writer must not checkpoint");

        // About 1 MiB of writes: the WAL holds them until a checkpoint.
        let before = size();
        let pad = "x".repeat(1000);
        for i in 0..1000 {
            let mut tx = store.begin().await.unwrap();
            tx.run(
                "INSERT INTO throttles (key, failures, window_start, locked_until) \
                 VALUES ($1, 1, 0, 0)",
                vec![format!("{i:04}{pad}").into()],
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
        let mut waited = Duration::ZERO;
        while size() < before + 500_000 {
            assert!(waited < Duration::from_secs(5), "never copied back");
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
    }
}
