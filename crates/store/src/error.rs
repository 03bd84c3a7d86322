//! Storage errors: what callers can act on, kept apart from "the database
//! failed", which they cannot.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value is taken (`what` names it, e.g. "username").
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// A row the operation depends on does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The verified contact is already bound to as many accounts as allowed.
    #[error("this contact is already bound to the maximum number of accounts")]
    ContactLimit,
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("the database URL must start with sqlite: or postgres://")]
    UnsupportedUrl,
    /// A stored value could not be understood (a bug or manual tampering).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database itself failed.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Migrations could not be applied.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn conflict_as(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}
