//! Bulk import of accounts from another system (CSV or JSON lines).
//!
//! Every row is validated before anything is written, and every bad row is
//! reported with its line number, so an operator fixes the file in one pass.
//! The accounts are then written in one transaction: all of them or none
//! (unless the operator asks to skip the invalid rows). Password hashes from
//! the old system (Argon2, bcrypt, PBKDF2) are kept as they are and upgraded
//! to Argon2id at each account's first login; a row without a hash creates
//! an account that must recover or be reset before it can log in. Contacts
//! are bound as verified: the operator vouches for the old system's data.

use std::collections::{HashMap, HashSet};

use regain_domain::account::{AccountKind, Role};
use regain_domain::identifiers::{Email, Phone, QualifiedName, Username};
use regain_store::{AuditEvent, NewAccount, Placement, Tenant};
use serde::Deserialize;

use crate::accounts::{parse_display_name, parse_locale};
use crate::hashing::foreign;
use crate::{App, AppError};

/// The formats an import file may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header line naming the columns.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl Format {
    /// The format a file name suggests: `.csv`, or `.jsonl`/`.ndjson`/`.json`.
    pub fn from_file_name(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else if [".jsonl", ".ndjson", ".json"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            Some(Format::JsonLines)
        } else {
            None
        }
    }
}

/// One row as written in the file. Blank fields count as absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Qualified name of the parent; absent for a root account.
    #[serde(default)]
    pub parent: Option<String>,
    /// Name among siblings.
    pub username: String,
    /// `individual` (default) or `enterprise`, for a root account.
    #[serde(default)]
    pub kind: Option<String>,
    /// `member` (default) or `admin`, for a sub-account.
    #[serde(default)]
    pub role: Option<String>,
    /// Human name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Email, bound as verified.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone in international form, bound as verified.
    #[serde(default)]
    pub phone: Option<String>,
    /// `en` (default) or `zh-CN`.
    #[serde(default)]
    pub locale: Option<String>,
    /// The old system's hash (Argon2 PHC, bcrypt, PBKDF2 PHC), or none.
    #[serde(default)]
    pub password_hash: Option<String>,
}

/// A row and the line of the file it starts on.
#[derive(Debug, Clone)]
pub struct Numbered {
    /// 1-based line number.
    pub line: u64,
    /// The row.
    pub row: Row,
}

/// What is wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong, never echoing a password hash.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads rows from `text`. Lines that cannot be read at all (bad CSV quoting,
/// bad JSON, unknown columns) are reported with the rest.
pub fn parse(text: &str, format: Format) -> (Vec<Numbered>, Vec<LineError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    match format {
        Format::JsonLines => {
            for (index, line) in text.lines().enumerate() {
                let line_no = index as u64 + 1;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Row>(line) {
                    Ok(row) => rows.push(Numbered { line: line_no, row }),
                    Err(e) => errors.push(LineError {
                        line: line_no,
                        message: format!("not a valid JSON row: {}", strip_position(&e)),
                    }),
                }
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let headers = match reader.headers() {
                Ok(h) => h.clone(),
                Err(e) => {
                    errors.push(LineError {
                        line: 1,
                        message: format!("unreadable header line: {e}"),
                    });
                    return (rows, errors);
                }
            };
            for record in reader.records() {
                match record {
                    Ok(record) => {
                        let line = record.position().map_or(0, csv::Position::line);
                        match record.deserialize::<Row>(Some(&headers)) {
                            Ok(row) => rows.push(Numbered { line, row }),
                            Err(e) => errors.push(LineError {
                                line,
                                message: format!("unreadable row: {}", csv_reason(&e)),
                            }),
                        }
                    }
                    Err(e) => errors.push(LineError {
                        line: e.position().map_or(0, csv::Position::line),
                        message: format!("unreadable row: {}", csv_reason(&e)),
                    }),
                }
            }
        }
    }
    for numbered in &mut rows {
        numbered.row.blank_to_none();
    }
    (rows, errors)
}

/// serde_json appends "at line 1 column 7"; the line number is ours.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.find(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => e.to_string(),
    }
}

impl Row {
    fn blank_to_none(&mut self) {
        for field in [
            &mut self.parent,
            &mut self.kind,
            &mut self.role,
            &mut self.display_name,
            &mut self.email,
            &mut self.phone,
            &mut self.locale,
            &mut self.password_hash,
        ] {
            if field.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *field = None;
            }
        }
    }
}

/// How an import ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Accounts written.
    pub imported: usize,
    /// Rows left out (only with `skip_invalid`), with their reasons.
    pub skipped: Vec<LineError>,
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Some rows are invalid; every one is listed, in line order.
    #[error("{} invalid row(s); nothing was imported", .0.len())]
    Invalid(Vec<LineError>),
    /// The write failed (e.g. a name taken meanwhile); nothing was imported.
    #[error(transparent)]
    App(#[from] AppError),
}

/// Which stage a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Checking rows against the file and the database.
    Validating,
    /// Writing accounts.
    Writing,
}

impl App {
    /// Validates every row, then writes them all in one transaction.
    /// With `skip_invalid`, invalid rows (and rows below them) are left out
    /// and reported instead of stopping the import. `progress` is told the
    /// stage and how many rows of it are done.
    pub async fn import_accounts(
        &self,
        tenant: &Tenant,
        rows: Vec<Numbered>,
        earlier_errors: Vec<LineError>,
        skip_invalid: bool,
        progress: &mut dyn FnMut(Stage, usize),
    ) -> Result<Report, ImportError> {
        let mut errors = earlier_errors;
        let mut known = self.prefetch(tenant, &rows).await?;
        let mut accepted = Vec::with_capacity(rows.len());
        for (done, numbered) in rows.into_iter().enumerate() {
            match validate_row(tenant, numbered.row, &mut known) {
                Ok(new) => accepted.push(new),
                Err(message) => errors.push(LineError {
                    line: numbered.line,
                    message,
                }),
            }
            progress(Stage::Validating, done + 1);
        }
        errors.sort_by_key(|e| e.line);
        if !errors.is_empty() && !skip_invalid {
            return Err(ImportError::Invalid(errors));
        }
        let mut event = AuditEvent::new(
            Some(tenant.id),
            "account.import",
            "operator",
            &format!("tenant:{}", tenant.id),
            "-",
            "success",
        );
        event.detail = serde_json::json!({
            "imported": accepted.len(),
            "skipped": errors.len(),
        })
        .to_string();
        let mut report = |n| progress(Stage::Writing, n);
        self.store
            .import_accounts(
                tenant.id,
                &accepted,
                tenant.settings.max_accounts_per_contact,
                &event,
                self.clock.now(),
                &mut report,
            )
            .await
            .map_err(AppError::from)?;
        Ok(Report {
            imported: accepted.len(),
            skipped: errors,
        })
    }

    /// What the database already holds about the file's names and contacts,
    /// fetched in a few batched queries rather than several per row.
    async fn prefetch(&self, tenant: &Tenant, rows: &[Numbered]) -> Result<Known, AppError> {
        let mut names = Vec::new();
        let mut emails = Vec::new();
        let mut phones = Vec::new();
        for Numbered { row, .. } in rows {
            if let Some(parent) = row.parent.as_deref().and_then(canonical_name) {
                if let Ok(username) = Username::parse(&row.username) {
                    names.push(format!("{parent}/{username}"));
                }
                names.push(parent);
            } else if let Ok(username) = Username::parse(&row.username) {
                names.push(username.to_string());
            }
            if let Some(Ok(email)) = row.email.as_deref().map(Email::parse) {
                emails.push(email.key());
            }
            if let Some(Ok(phone)) = row.phone.as_deref().map(Phone::parse) {
                phones.push(phone.as_str().to_string());
            }
        }
        for list in [&mut names, &mut emails, &mut phones] {
            list.sort_unstable();
            list.dedup();
        }
        let existing = self
            .store
            .existing_qualified_names(tenant.id, &names)
            .await?;
        let mut contacts = HashMap::new();
        for (email, values, prefix) in [(true, emails, "email:"), (false, phones, "phone:")] {
            let counts = self
                .store
                .verified_contact_counts(tenant.id, email, &values)
                .await?;
            for (value, n) in counts {
                contacts.insert(
                    format!("{prefix}{value}"),
                    u32::try_from(n).unwrap_or(u32::MAX),
                );
            }
        }
        Ok(Known {
            existing,
            in_file: HashSet::new(),
            contacts,
        })
    }
}

/// Names and contact counts, from the database and the valid rows so far.
struct Known {
    existing: HashSet<String>,
    in_file: HashSet<String>,
    contacts: HashMap<String, u32>,
}

/// A parent name as stored: a root username or a `root/sub` path.
fn canonical_name(raw: &str) -> Option<String> {
    QualifiedName::parse(raw)
        .map(|q| q.to_string())
        .or_else(|_| Username::parse(raw).map(|u| u.to_string()))
        .ok()
}

/// Checks one row against the file so far and the database; the message
/// says what is wrong.
fn validate_row(tenant: &Tenant, row: Row, known: &mut Known) -> Result<NewAccount, String> {
    let text = |e: AppError| e.to_string();
    let username = Username::parse(&row.username).map_err(|e| AppError::from(e).to_string())?;
    let display_name = parse_display_name(row.display_name).map_err(text)?;
    let locale = parse_locale(row.locale.as_deref()).map_err(text)?;
    let email = row
        .email
        .as_deref()
        .map(Email::parse)
        .transpose()
        .map_err(|e| AppError::from(e).to_string())?;
    let phone = row
        .phone
        .as_deref()
        .map(Phone::parse)
        .transpose()
        .map_err(|e| AppError::from(e).to_string())?;
    if let Some(hash) = &row.password_hash {
        foreign::recognize(hash).map_err(|e| format!("password_hash: {e}"))?;
    }
    let (placement, qualified) = match row.parent {
        None => {
            if row.role.is_some() {
                return Err("a root account (no parent) has a kind, not a role".into());
            }
            let kind = match row.kind.as_deref() {
                None => AccountKind::Individual,
                Some(k) => AccountKind::parse(k)
                    .ok_or_else(|| "kind must be individual or enterprise".to_string())?,
            };
            (Placement::Root(kind), username.to_string())
        }
        Some(parent) => {
            if row.kind.is_some() {
                return Err("a sub-account has a role, not a kind".into());
            }
            let role = match row.role.as_deref() {
                None => Role::Member,
                Some(r) => {
                    Role::parse(r).ok_or_else(|| "role must be admin or member".to_string())?
                }
            };
            let parent = canonical_name(&parent)
                .ok_or_else(|| "parent is not a valid account name".to_string())?;
            if !known.in_file.contains(&parent) && !known.existing.contains(&parent) {
                return Err(format!(
                    "parent {parent:?} is neither in the tenant nor on an earlier valid line"
                ));
            }
            let qualified = format!("{parent}/{username}");
            (Placement::SubNamed { parent, role }, qualified)
        }
    };
    if known.in_file.contains(&qualified) {
        return Err(format!("{qualified:?} appears on an earlier line"));
    }
    if known.existing.contains(&qualified) {
        return Err(format!("{qualified:?} already exists in the tenant"));
    }
    let cap = tenant.settings.max_accounts_per_contact;
    let keys: Vec<String> = [
        email.as_ref().map(|e| format!("email:{}", e.key())),
        phone.as_ref().map(|p| format!("phone:{}", p.as_str())),
    ]
    .into_iter()
    .flatten()
    .collect();
    for key in &keys {
        if known.contacts.get(key).copied().unwrap_or(0) >= cap {
            let what = key.split_once(':').map_or("contact", |(kind, _)| kind);
            return Err(format!(
                "this {what} would be bound to more than {cap} accounts \
                 (the tenant's max_accounts_per_contact)"
            ));
        }
    }
    // Counted only once the row is known to be valid.
    for key in keys {
        *known.contacts.entry(key).or_insert(0) += 1;
    }
    known.in_file.insert(qualified);
    Ok(NewAccount {
        tenant_id: tenant.id,
        placement,
        username,
        display_name,
        email_verified: email.is_some(),
        email,
        phone_verified: phone.is_some(),
        phone,
        password_hash: row.password_hash,
        must_change_password: false,
        locale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_lines_give_the_same_rows_with_their_line_numbers() {
        let csv = "username,parent,role,email,password_hash\n\
                   acme,,,,\n\
                   \"bob\",acme,admin,bob@example.com,$2b$04$abc\n";
        let (rows, errors) = parse(csv, Format::Csv);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[1].line), (2, 3));
        assert_eq!(rows[0].row.parent, None, "a blank field is absent");
        assert_eq!(rows[1].row.parent.as_deref(), Some("acme"));
        assert_eq!(rows[1].row.role.as_deref(), Some("admin"));

        let jsonl = "{\"username\":\"acme\"}\n\n{\"username\":\"bob\",\"parent\":\"acme\"}\n";
        let (rows, errors) = parse(jsonl, Format::JsonLines);
        assert!(errors.is_empty());
        assert_eq!((rows[0].line, rows[1].line), (1, 3));
    }

    #[test]
    fn unreadable_lines_are_reported_by_number_and_the_rest_still_read() {
        let csv = "username,colour\nann,red\n";
        let (_, errors) = parse(csv, Format::Csv);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
        assert!(
            errors[0].message.contains("colour"),
            "{}",
            errors[0].message
        );

        let csv = "username,email\nann,a@example.com\nbob\ncid,c@example.com\n";
        let (rows, errors) = parse(csv, Format::Csv);
        assert_eq!(rows.len(), 2);
        assert_eq!(errors[0].line, 3);

        let jsonl = "{\"username\":\"ann\"}\n{\"username\":\n";
        let (rows, errors) = parse(jsonl, Format::JsonLines);
        assert_eq!(rows.len(), 1);
        assert_eq!(errors[0].line, 2);
        assert!(!errors[0].message.contains("at line"));
    }

    #[test]
    fn formats_follow_the_file_name() {
        assert_eq!(Format::from_file_name("a.CSV"), Some(Format::Csv));
        assert_eq!(Format::from_file_name("a.jsonl"), Some(Format::JsonLines));
        assert_eq!(Format::from_file_name("a.txt"), None);
    }
}
