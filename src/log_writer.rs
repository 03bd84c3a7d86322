//! The server's log lines, written by a thread of their own in batches.
//!
//! A request never writes to stderr itself (a full pipe or a busy journal
//! would stall it): it appends its formatted line to a shared buffer, and a
//! writer thread writes whatever has gathered, [`GATHER`] after the first
//! line of a batch, in one `write`. The thread sleeps on a condition
//! variable in between, so a line costs its sender one lock and, for the
//! first line of a batch only, one wake-up.
//!
//! `tracing-appender`'s non-blocking writer, used before, hands lines over
//! a channel whose receiver spins and yields the core four times before it
//! sleeps, once per batch: while the hashing pool keeps both cores busy, a
//! few lines a request became about three context switches a request for
//! that thread alone (two of them `sched_yield`s), each taking a core from a
//! hash (BENCHMARKS.md).
//!
//! Nothing is dropped: past [`MAX_WAITING`] bytes waiting, a sender waits
//! for the thread to take them.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the thread lets lines gather after the first of a batch.
/// Nobody reading a log can tell 50 ms; at 10,000 requests a second it
/// makes one write of a few hundred lines.
const GATHER: Duration = Duration::from_millis(50);

/// A batch this big is written at once, without waiting out [`GATHER`].
const EAGER: usize = 256 * 1024;

/// Past this many bytes waiting, senders wait for the thread.
const MAX_WAITING: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct State {
    waiting: Vec<u8>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// The thread waits here for a first line, or for a batch to fill.
    lines: Condvar,
    /// Senders over [`MAX_WAITING`] wait here for the thread.
    taken: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A sender that panicked while holding the lock left whole lines:
        // the buffer is still good.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where tracing writes the server's lines (a [`MakeWriter`]).
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Keep it until exit: dropping it writes what is left and stops the
/// thread.
#[must_use = "dropping the guard stops the log thread"]
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the thread `name`, writing to `sink`.
pub fn start(
    sink: impl Write + Send + 'static,
    name: &str,
) -> std::io::Result<(BatchedWriter, FlushGuard)> {
    let shared = Arc::new(Shared::default());
    let for_thread = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || write_batches(&for_thread, sink))?;
    Ok((
        BatchedWriter {
            shared: Arc::clone(&shared),
        },
        FlushGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_batches(shared: &Shared, mut sink: impl Write) {
    let mut batch = Vec::new();
    loop {
        let closed = {
            let state = shared.lock();
            let state = shared
                .lines
                .wait_while(state, |s| s.waiting.is_empty() && !s.closed)
                .unwrap_or_else(|p| p.into_inner());
            let (mut state, _) = shared
                .lines
                .wait_timeout_while(state, GATHER, |s| s.waiting.len() < EAGER && !s.closed)
                .unwrap_or_else(|p| p.into_inner());
            std::mem::swap(&mut batch, &mut state.waiting);
            state.closed
        };
        shared.taken.notify_all();
        if !batch.is_empty() {
            // Nowhere to report a failing stderr; the lines are lost.
            let _ = sink.write_all(&batch).and_then(|()| sink.flush());
            batch.clear();
        }
        if closed && shared.lock().waiting.is_empty() {
            return;
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.lines.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One event's writer: appends what it is given to the waiting lines.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut state = self.shared.lock();
        while state.waiting.len() >= MAX_WAITING && !state.closed {
            state = self
                .shared
                .taken
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
        let first = state.waiting.is_empty();
        state.waiting.extend_from_slice(bytes);
        let full = state.waiting.len() >= EAGER;
        drop(state);
        if first || full {
            self.shared.lines.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that records each write it is given.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn line(writer: &BatchedWriter, text: &str) {
        writer.make_writer().write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_burst_of_lines_is_written_whole_in_order_in_a_few_writes() {
        let sink = Recorder::default();
        let (writer, guard) = start(sink.clone(), "log-test").unwrap();
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        line(&writer, &format!("thread {t} line {i}\n"));
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        drop(guard);
        let writes = sink.0.lock().unwrap().clone();
        let text = String::from_utf8(writes.concat()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2000, "every line, none torn");
        for t in 0..4 {
            let own: Vec<String> = lines
                .iter()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .map(|l| l.to_string())
                .collect();
            let expected: Vec<String> = (0..500).map(|i| format!("thread {t} line {i}")).collect();
            assert_eq!(own, expected, "each sender's lines in its order");
        }
        assert!(
            writes.len() < 100,
            "2,000 lines in {} writes: not batched",
            writes.len()
        );
    }

    #[test]
    fn a_lone_line_is_written_soon_without_waiting_for_more() {
        let sink = Recorder::default();
        let (writer, _guard) = start(sink.clone(), "log-test").unwrap();
        line(&writer, "alone\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.0.lock().unwrap().concat(), b"alone\n");
    }

    #[test]
    fn lines_sent_just_before_the_guard_is_dropped_are_written() {
        let sink = Recorder::default();
        let (writer, guard) = start(sink.clone(), "log-test").unwrap();
        for i in 0..10 {
            line(&writer, &format!("{i}\n"));
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().concat()).unwrap();
        assert_eq!(text, (0..10).map(|i| format!("{i}\n")).collect::<String>());
    }

    /// A sink that takes its time, so that lines pile up behind it.
    struct Slow(Recorder);

    impl Write for Slow {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_millis(20));
            self.0.write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn past_the_limit_a_sender_waits_rather_than_dropping_lines() {
        let sink = Recorder::default();
        let (writer, guard) = start(Slow(sink.clone()), "log-test").unwrap();
        // Three times the limit in big lines: senders must wait for the
        // slow sink, and everything arrives.
        let big = "x".repeat(64 * 1024 - 1) + "\n";
        let count = 3 * MAX_WAITING / big.len();
        for _ in 0..count {
            line(&writer, &big);
        }
        drop(guard);
        let written: usize = sink.0.lock().unwrap().iter().map(Vec::len).sum();
        assert_eq!(written, count * big.len());
    }
}
