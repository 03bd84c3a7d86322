//! Reads codes as the file sender writes them, like a person reading their
//! mail: a background thread tails the outbox file and keeps the newest
//! code per recipient.
//!
//! The thread reads only while someone waits for a code. While the steps
//! that do not need one are measured (reset, login) it stays idle and
//! leaves both cores to the server; the lines written meanwhile are read
//! when a code is next asked for.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Codes by recipient, filled by the tailing thread.
#[derive(Clone)]
pub struct Outbox {
    codes: Arc<Mutex<HashMap<String, String>>>,
    /// Callers of [`Outbox::code_for`] now waiting.
    waiting: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Outbox {
    /// Starts tailing `path` (which may not exist yet).
    pub fn tail(path: PathBuf) -> Outbox {
        let codes = Arc::new(Mutex::new(HashMap::new()));
        let waiting = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (found, wanted, stopped) = (codes.clone(), waiting.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reader: Option<BufReader<File>> = None;
            let (mut line, mut partial) = (String::new(), String::new());
            while !stopped.load(Ordering::Relaxed) {
                if wanted.load(Ordering::Relaxed) == 0 {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                if reader.is_none() {
                    reader = File::open(&path).ok().map(BufReader::new);
                }
                // A BufReader at the end of the file reads on from there
                // when the file grows: no reopening, no seeking.
                while let Some(Ok(n)) = reader.as_mut().map(|r| r.read_line(&mut line)) {
                    if n == 0 {
                        break;
                    }
                    partial.push_str(&line);
                    line.clear();
                    if partial.ends_with('\n') {
                        record(&found, &partial);
                        partial.clear();
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Outbox {
            codes,
            waiting,
            stop,
        }
    }

    /// The code sent to `recipient`, waiting up to `timeout`; taken, so a
    /// later message to the same address is not confused with this one.
    pub async fn code_for(&self, recipient: &str, timeout: Duration) -> Option<String> {
        let _waiting = regain_store::Waiting::enter(&self.waiting);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.codes.lock().ok()?.remove(recipient) {
                return Some(code);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Stops the tailing thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn record(codes: &Mutex<HashMap<String, String>>, line: &str) {
    let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
        return;
    };
    let (Some(to), Some(body)) = (message["to"].as_str(), message["body"].as_str()) else {
        return;
    };
    if let Some(code) = six_digits(body) {
        if let Ok(mut map) = codes.lock() {
            map.insert(to.to_string(), code);
        }
    }
}

/// The first run of exactly six digits in `text`.
fn six_digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut start = None;
    for (i, b) in bytes.iter().chain(std::iter::once(&b' ')).enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s == 6 {
                    return Some(text[s..i].to_string());
                }
                start = None;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::six_digits;

    #[test]
    fn finds_the_code_and_not_longer_or_shorter_numbers() {
        assert_eq!(
            six_digits("Your code is 123456. It expires in 15 minutes."),
            Some("123456".into())
        );
        assert_eq!(
            six_digits("order 1234567 then 654321"),
            Some("654321".into())
        );
        assert_eq!(six_digits("15 minutes"), None);
    }
}
