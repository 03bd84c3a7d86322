//! Reading a password without it ever appearing in argv: a prompt on a
//! terminal, otherwise the first line of standard input.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use regain_domain::password::Password;

pub fn read_password(what: &str) -> anyhow::Result<Password> {
    let raw = if std::io::stdin().is_terminal() {
        let first =
            rpassword::prompt_password(format!("{what}: ")).context("reading the password")?;
        let again = rpassword::prompt_password(format!("{what} (again): "))
            .context("reading the password")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    Ok(Password::parse(raw)?)
}
