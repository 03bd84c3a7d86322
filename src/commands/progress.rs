//! Progress of long commands: a bar on a terminal, plain lines otherwise
//! (a log file or CI output gets one line per tenth, not a redrawn bar).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// One stage of work with a known number of steps.
pub struct Progress {
    label: &'static str,
    total: u64,
    bar: Option<ProgressBar>,
    next_line_at: u64,
}

impl Progress {
    /// Starts a stage of `total` steps, reported on standard error.
    pub fn new(label: &'static str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:>12} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label);
            bar
        });
        Progress {
            label,
            total,
            bar,
            next_line_at: 0,
        }
    }

    /// `done` steps of the stage are finished.
    pub fn set(&mut self, done: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None => {
                if done >= self.next_line_at || done == self.total {
                    eprintln!("{}: {done}/{}", self.label, self.total);
                    self.next_line_at = done + (self.total / 10).max(1);
                }
            }
        }
    }

    /// The stage is over.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish();
        }
    }
}
