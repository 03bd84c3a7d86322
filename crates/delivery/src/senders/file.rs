//! The file sender: one JSON object per line, appended to a file. The
//! default, so a demo works with no mail server; also what tests and
//! operators read to see exactly what would have been sent.

use std::io::Write;
use std::path::PathBuf;

use regain_store::OutboxMessage;
use tokio::sync::Mutex;

use super::{ErrorClass, SendError};

pub(super) struct FileSender {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileSender {
    pub(super) fn new(path: PathBuf) -> Self {
        FileSender {
            path,
            lock: Mutex::new(()),
        }
    }

    pub(super) async fn send(&self, m: &OutboxMessage) -> Result<(), SendError> {
        self.send_all(&[m]).await
    }

    /// Appends all of `messages` with one write and one sync: each sync
    /// waits for the disk, and a busy queue would otherwise pay it per
    /// message.
    pub(super) async fn send_all(&self, messages: &[&OutboxMessage]) -> Result<(), SendError> {
        let mut lines = String::new();
        for m in messages {
            let line = serde_json::json!({
                "id": m.idempotency_key,
                "channel": m.channel.as_str(),
                "to": m.recipient,
                "subject": m.subject,
                "body": m.body,
                "created_at": m.created_at.0,
            });
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path)?;
            file.write_all(lines.as_bytes())?;
            file.sync_data()
        })
        .await
        .map_err(|e| SendError::new(ErrorClass::Configuration, false, e.to_string()))?
        .map_err(|e| {
            SendError::new(
                ErrorClass::Configuration,
                false,
                format!("outbox file: {e}"),
            )
        })
    }
}
