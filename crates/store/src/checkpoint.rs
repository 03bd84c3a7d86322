//! WAL checkpoints away from the writer.
//!
//! SQLite copies the WAL back into the database file (a checkpoint, with an
//! fsync) inside the `COMMIT` that finds the WAL past 1,000 pages: on the
//! writer, so every write behind it waits for the disk. The writer turns
//! that off (`wal_autocheckpoint = 0`), and a task checkpoints from a
//! connection of its own, on a blocking thread: a `PASSIVE` checkpoint
//! copies what no reader still needs, and neither waits for nor blocks the
//! writer. Once it has copied everything, the next write starts the WAL
//! from its beginning again.
//!
//! **Paced by the commits.** A checkpoint costs about the same whether it
//! copies the pages of a few commits or of hundreds: the pages hot writes
//! touch again and again (a table's last leaf, an index's) are copied once
//! either way, and its syncs write the file back. So the checkpointer looks
//! at the writer's commit count every [`TICK`] and copies back once
//! [`COMMITS`] have piled up, or once the oldest commit not copied back has
//! waited [`AT_MOST`]. Under a stream of small writes (thousands a second)
//! that is every tick, as before; during a run of resets (some 150 commits
//! a second) every second or two instead of five times a second, which
//! took nearly half off what a reset costs the blocking threads (74–79
//! µs to 42–44, BENCHMARKS.md); an idle server does nothing at all.

use std::path::PathBuf;
use std::sync::Weak;
use std::time::{Duration, Instant};

use sqlx::{Either, Row};

use crate::lite::LiteConn;
use crate::write::Group;

/// How often the checkpointer looks at the writer's commits.
const TICK: Duration = Duration::from_millis(200);

/// Commits that make a checkpoint due at the next tick: with a few pages
/// each, a WAL of some megabytes.
const COMMITS: u64 = 250;

/// The longest a commit waits to be copied back (and a checkpoint that
/// left pages behind, for readers that still needed them, to be tried
/// again).
const AT_MOST: Duration = Duration::from_secs(2);

/// Whether to checkpoint now: `commits` made since the last checkpoint
/// began, the last one having left `left_behind` pages in the WAL, and
/// `waited` since it began.
fn due(commits: u64, left_behind: bool, waited: Duration) -> bool {
    commits >= COMMITS || ((commits > 0 || left_behind) && waited >= AT_MOST)
}

/// Checkpoints the database at `path` until the writer's `group` is gone.
pub(crate) async fn run(path: PathBuf, group: Weak<Group>) {
    let mut conn: Option<LiteConn> = None;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut copied_up_to, mut left_behind, mut last) = (0, false, Instant::now());
    loop {
        tick.tick().await;
        let Some(commits) = group.upgrade().map(|g| g.commits()) else {
            return;
        };
        if !due(commits - copied_up_to, left_behind, last.elapsed()) {
            continue;
        }
        let path = path.clone();
        let taken = conn.take();
        let done = tokio::task::spawn_blocking(move || {
            let mut c = match taken {
                Some(c) => c,
                None => crate::open_sqlite(&path)?,
            };
            let rows = c.run("PRAGMA wal_checkpoint(PASSIVE)", &[])?;
            Ok::<_, sqlx::Error>((c, pages_left(&rows)))
        })
        .await;
        (copied_up_to, last) = (commits, Instant::now());
        match done {
            Ok(Ok((c, left))) => {
                conn = Some(c);
                left_behind = left;
            }
            Ok(Err(e)) => {
                left_behind = true;
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
            Err(e) => {
                left_behind = true;
                tracing::warn!(error = %e, "WAL checkpoint stopped");
            }
        }
    }
}

/// Whether a checkpoint's answer (`busy`, pages in the WAL, pages copied)
/// says it left pages in the WAL.
fn pages_left(rows: &[Either<sqlx::any::AnyQueryResult, sqlx::any::AnyRow>]) -> bool {
    let row = rows.iter().find_map(|r| match r {
        Either::Right(row) => Some(row),
        Either::Left(_) => None,
    });
    match row.map(|r| (r.try_get::<i64, _>(1), r.try_get::<i64, _>(2))) {
        Some((Ok(log), Ok(copied))) => copied < log,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{due, AT_MOST, COMMITS};

    #[test]
    fn a_checkpoint_waits_for_enough_commits_or_for_the_oldest_to_have_waited() {
        let soon = Duration::from_millis(200);
        // Nothing written, nothing left behind: never, however long.
        assert!(!due(0, false, Duration::from_secs(3600)));
        // A few commits wait, up to the limit.
        assert!(!due(COMMITS - 1, false, soon));
        assert!(due(COMMITS - 1, false, AT_MOST));
        assert!(due(1, false, AT_MOST));
        // Many are copied back at once.
        assert!(due(COMMITS, false, soon));
        // Pages a reader kept in the WAL are tried again, commits or not.
        assert!(!due(0, true, soon));
        assert!(due(0, true, AT_MOST));
    }

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
