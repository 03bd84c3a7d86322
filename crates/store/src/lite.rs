//! SQLite statements run in place, and the connection type every query of
//! the store goes through.
//!
//! sqlx runs each SQLite connection on a thread of its own and sends it
//! every statement over a channel: two thread wake-ups per statement, and
//! the task that sent it then waits in the runtime's queue to run again.
//! Under load that hop costs far more than SQLite's own work (a point read
//! or a small write takes microseconds), and while SQLite's one writer
//! waits for its holder to be scheduled again, every other write waits
//! too. So the SQLite backend runs its statements right where they are
//! awaited, through rusqlite, on connections of its own (one writer, a few
//! readers): the future is ready at once, and a write transaction holds the
//! writer only for SQLite's work. The SQL, its `$n` parameters and the rows
//! are sqlx's `Any` ones, so every query of the store stays the same for
//! both backends; PostgreSQL keeps sqlx's connections.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use futures_util::future::{self, BoxFuture};
use futures_util::stream::{self, BoxStream, StreamExt};
use rusqlite::types::{ToSqlOutput, ValueRef};
use sqlx::any::{AnyQueryResult, AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValue};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Either, Execute, Executor, Transaction};
use sqlx_core::any::{AnyColumn, AnyValueKind};
use sqlx_core::ext::ustr::UStr;

/// A connection of the store: one of PostgreSQL's (a pool connection, or
/// one inside a transaction) or one of SQLite's, run in place.
pub(crate) enum Conn {
    /// A PostgreSQL write transaction.
    Tx(Transaction<'static, Any>),
    /// A PostgreSQL pool connection.
    Pooled(PoolConnection<Any>),
    /// A SQLite connection of our own.
    Lite(LiteConn),
}

impl Conn {
    /// Whether this is SQLite's: SQLite answers a `RETURNING` clause
    /// through a temporary table it opens on every run, which costs a
    /// small write a fifth of its time; where it matters, a statement reads
    /// its row back instead (or takes the new row id).
    pub(crate) fn is_lite(&self) -> bool {
        matches!(self, Conn::Lite(_))
    }

    /// `sql` with `RETURNING columns` on PostgreSQL, as it is on SQLite
    /// (see [`Conn::is_lite`]).
    pub(crate) fn returning(&self, sql: &'static str, columns: &str) -> Cow<'static, str> {
        if self.is_lite() {
            Cow::Borrowed(sql)
        } else {
            Cow::Owned(format!("{sql} RETURNING {columns}"))
        }
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Tx(_) => "Conn::Tx",
            Conn::Pooled(_) => "Conn::Pooled",
            Conn::Lite(_) => "Conn::Lite",
        })
    }
}

/// A SQLite connection whose statements run on the calling thread.
pub(crate) struct LiteConn {
    conn: rusqlite::Connection,
    /// The shape of each statement run so far, by its text. (A fast hash:
    /// the texts run to hundreds of bytes, and with SipHash finding a
    /// shape cost some 800 instructions of a statement's 15,000.)
    shapes: rustc_hash::FxHashMap<String, Arc<Shape>>,
}

/// What a statement's text decides, worked out on its first run rather than
/// on every one: the value each parameter takes and the rows' column names
/// (the store's statements name their columns, so these cannot change
/// under it).
struct Shape {
    /// Per parameter, in order: `Some(n)` for `$n`, `None` for the next
    /// value.
    params: Vec<Option<usize>>,
    /// The columns of a row.
    names: Vec<UStr>,
    /// Each column's position by name, shared by every row.
    index: Arc<sqlx_core::HashMap<UStr, usize>>,
}

impl Shape {
    fn of(stmt: &rusqlite::Statement<'_>) -> Shape {
        let params = (1..=stmt.parameter_count())
            .map(|i| match stmt.parameter_name(i).and_then(|n| n.get(1..)) {
                Some(digits)
                    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    digits.parse::<usize>().ok()
                }
                _ => None,
            })
            .collect();
        let names: Vec<UStr> = stmt.column_names().into_iter().map(UStr::new).collect();
        let index = Arc::new(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i))
                .collect(),
        );
        Shape {
            params,
            names,
            index,
        }
    }
}

/// Distinct statements a connection keeps prepared: the store has a few
/// dozen hot ones.
const STATEMENT_CACHE: usize = 256;

impl LiteConn {
    /// Opens the database file at `path` (created if missing) and applies
    /// `setup`.
    pub(crate) fn open(path: &Path, setup: &str) -> Result<LiteConn, sqlx::Error> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let mut lite = LiteConn {
            conn,
            shapes: rustc_hash::FxHashMap::default(),
        };
        lite.run(setup, &[])?;
        Ok(lite)
    }

    /// Runs every statement of `sql` with `args` (`$n` is the n-th value,
    /// a bare `?` the next one), collecting each statement's rows and then
    /// its result, as sqlx's drivers stream them. Each statement is
    /// prepared once and kept: parsing costs more than running most of
    /// them.
    pub(crate) fn run(
        &mut self,
        sql: &str,
        args: &[AnyValueKind<'_>],
    ) -> Result<Vec<Either<AnyQueryResult, AnyRow>>, sqlx::Error> {
        let mut out = Vec::new();
        let mut next = 0;
        for piece in statements(sql) {
            let mut stmt = self.conn.prepare_cached(piece).map_err(db_error)?;
            let shape = match self.shapes.get(piece) {
                Some(shape) => shape.clone(),
                None => {
                    if self.shapes.len() >= STATEMENT_CACHE {
                        self.shapes.clear();
                    }
                    let shape = Arc::new(Shape::of(&stmt));
                    self.shapes.insert(piece.to_owned(), shape.clone());
                    shape
                }
            };
            step(&self.conn, &mut stmt, &shape, args, &mut next, &mut out)?;
        }
        Ok(out)
    }

    /// Whether a transaction is open (SQLite ends one by itself after some
    /// errors).
    pub(crate) fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Runs `query` as sqlx would hand it to a driver.
    fn run_query<'q, E: Execute<'q, Any>>(
        &mut self,
        mut query: E,
    ) -> Result<Vec<Either<AnyQueryResult, AnyRow>>, sqlx::Error> {
        let args = query.take_arguments().map_err(sqlx::Error::Encode)?;
        let values = args.map(|a| a.values.0).unwrap_or_default();
        self.run(query.sql(), &values)
    }
}

/// The statements of `sql`: split at each `;` outside quotes, empty ones
/// left out. (No trigger bodies: those are in the migrations, which sqlx
/// runs.)
fn statements(sql: &str) -> impl Iterator<Item = &str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    // Nearly every statement has no `;` at all, which a byte search finds
    // without walking each character of its text for quotes, as every run
    // of every statement did.
    if sql.contains(';') {
        let mut quote = None;
        for (i, c) in sql.char_indices() {
            match (quote, c) {
                (None, '\'' | '"' | '`') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, ';') => {
                    pieces.push(&sql[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    pieces.push(&sql[start..]);
    pieces.into_iter().map(str::trim).filter(|p| !p.is_empty())
}

/// Binds, runs and reads one statement.
fn step(
    conn: &rusqlite::Connection,
    stmt: &mut rusqlite::Statement<'_>,
    shape: &Shape,
    args: &[AnyValueKind<'_>],
    next: &mut usize,
    out: &mut Vec<Either<AnyQueryResult, AnyRow>>,
) -> Result<(), sqlx::Error> {
    for (i, numbered) in shape.params.iter().enumerate() {
        let n = numbered.unwrap_or_else(|| {
            *next += 1;
            *next
        });
        let value = args
            .get(n.wrapping_sub(1))
            .ok_or_else(|| protocol(format!("no value for parameter {n}")))?;
        stmt.raw_bind_parameter(i + 1, bindable(value))
            .map_err(db_error)?;
    }
    let names = &shape.names;
    let readonly = stmt.readonly();
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(db_error)? {
        let mut columns = Vec::with_capacity(names.len());
        let mut values = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let kind = value_of(row.get_ref(i).map_err(db_error)?)?;
            columns.push(AnyColumn {
                ordinal: i,
                name: name.clone(),
                type_info: AnyTypeInfo {
                    kind: kind_of(&kind),
                },
            });
            values.push(AnyValue { kind });
        }
        out.push(Either::Right(AnyRow {
            column_names: shape.index.clone(),
            columns,
            values,
        }));
    }
    drop(rows);
    out.push(Either::Left(AnyQueryResult {
        rows_affected: if readonly { 0 } else { conn.changes() },
        last_insert_id: Some(conn.last_insert_rowid()),
    }));
    Ok(())
}

fn bindable<'a>(value: &'a AnyValueKind<'_>) -> ToSqlOutput<'a> {
    ToSqlOutput::Borrowed(match value {
        AnyValueKind::Bool(b) => ValueRef::Integer(i64::from(*b)),
        AnyValueKind::SmallInt(i) => ValueRef::Integer(i64::from(*i)),
        AnyValueKind::Integer(i) => ValueRef::Integer(i64::from(*i)),
        AnyValueKind::BigInt(i) => ValueRef::Integer(*i),
        AnyValueKind::Real(f) => ValueRef::Real(f64::from(*f)),
        AnyValueKind::Double(f) => ValueRef::Real(*f),
        AnyValueKind::Text(t) => ValueRef::Text(t.as_bytes()),
        AnyValueKind::Blob(b) => ValueRef::Blob(b),
        _ => ValueRef::Null,
    })
}

fn value_of(v: ValueRef<'_>) -> Result<AnyValueKind<'static>, sqlx::Error> {
    Ok(match v {
        ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
        ValueRef::Integer(i) => AnyValueKind::BigInt(i),
        ValueRef::Real(f) => AnyValueKind::Double(f),
        ValueRef::Text(t) => AnyValueKind::Text(Cow::Owned(
            std::str::from_utf8(t)
                .map_err(|e| sqlx::Error::Decode(e.into()))?
                .to_owned(),
        )),
        ValueRef::Blob(b) => AnyValueKind::Blob(Cow::Owned(b.to_vec())),
    })
}

fn kind_of(v: &AnyValueKind<'_>) -> AnyTypeInfoKind {
    match v {
        AnyValueKind::BigInt(_) => AnyTypeInfoKind::BigInt,
        AnyValueKind::Double(_) => AnyTypeInfoKind::Double,
        AnyValueKind::Text(_) => AnyTypeInfoKind::Text,
        AnyValueKind::Blob(_) => AnyTypeInfoKind::Blob,
        _ => AnyTypeInfoKind::Null,
    }
}

fn protocol(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Protocol(e.to_string())
}

/// An error SQLite reported, as sqlx's drivers report theirs (so a unique
/// violation reads the same on both backends).
#[derive(Debug)]
struct LiteError {
    code: i32,
    message: String,
}

impl std::fmt::Display for LiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for LiteError {}

impl DatabaseError for LiteError {
    fn message(&self) -> &str {
        &self.message
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> ErrorKind {
        use rusqlite::ffi;
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

fn db_error(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(f, message) => sqlx::Error::Database(Box::new(LiteError {
            code: f.extended_code,
            message: message.unwrap_or_else(|| f.to_string()),
        })),
        other => protocol(other),
    }
}

fn unsupported(what: &str) -> sqlx::Error {
    protocol(format!(
        "{what} is not supported on the store's SQLite connections"
    ))
}

impl<'c> Executor<'c> for &'c mut Conn {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Conn::Tx(tx) => (&mut **tx).fetch_many(query),
            Conn::Pooled(c) => (&mut **c).fetch_many(query),
            Conn::Lite(lite) => match lite.run_query(query) {
                Ok(steps) => stream::iter(steps.into_iter().map(Ok)).boxed(),
                Err(e) => stream::once(future::ready(Err(e))).boxed(),
            },
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Conn::Tx(tx) => (&mut **tx).fetch_optional(query),
            Conn::Pooled(c) => (&mut **c).fetch_optional(query),
            Conn::Lite(lite) => {
                let first = lite
                    .run_query(query)
                    .map(|steps| steps.into_iter().find_map(Either::right));
                Box::pin(future::ready(first))
            }
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<sqlx::any::AnyStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        match self {
            Conn::Tx(tx) => (&mut **tx).prepare_with(sql, parameters),
            Conn::Pooled(c) => (&mut **c).prepare_with(sql, parameters),
            Conn::Lite(_) => Box::pin(future::ready(Err(unsupported("prepare")))),
        }
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<sqlx_core::describe::Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        match self {
            Conn::Tx(tx) => (&mut **tx).describe(sql),
            Conn::Pooled(c) => (&mut **c).describe(sql),
            Conn::Lite(_) => Box::pin(future::ready(Err(unsupported("describe")))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    fn conn(dir: &tempfile::TempDir) -> Conn {
        Conn::Lite(LiteConn::open(&dir.path().join("t.db"), "PRAGMA journal_mode = WAL").unwrap())
    }

    #[test]
    fn statements_are_split_at_semicolons_outside_quotes() {
        let got: Vec<&str> =
            statements("SELECT ';'; UPDATE \"a;b\" SET x = 'it''s;' ;; PRAGMA x;").collect();
        assert_eq!(
            got,
            ["SELECT ';'", "UPDATE \"a;b\" SET x = 'it''s;'", "PRAGMA x"]
        );
    }

    /// The build settings of `.cargo/config.toml` reached the SQLite in
    /// this binary: no page cache shared by every connection behind one
    /// mutex, no allocation counting behind another.
    #[tokio::test]
    async fn sqlite_is_built_without_its_process_wide_memory_locks() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = conn(&dir);
        let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
            .fetch_all(&mut c)
            .await
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    #[tokio::test]
    async fn runs_sqlx_queries_in_place_with_numbered_parameters_and_any_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = conn(&dir);
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, note TEXT)")
            .execute(&mut c)
            .await
            .unwrap();
        // `$2` before `$1`, and a NULL.
        let done = sqlx::query("INSERT INTO t (name, id, note) VALUES ($2, $1, $3), ($4, 7, NULL)")
            .bind(5_i64)
            .bind("five")
            .bind(Some("n"))
            .bind("seven")
            .execute(&mut c)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 2);
        let rows = sqlx::query("SELECT id, name, note FROM t WHERE id >= $1 ORDER BY id")
            .bind(1_i64)
            .fetch_all(&mut c)
            .await
            .unwrap();
        let got: Vec<(i64, String, Option<String>)> = rows
            .iter()
            .map(|r| (r.get("id"), r.get("name"), r.get("note")))
            .collect();
        assert_eq!(
            got,
            vec![
                (5, "five".into(), Some("n".into())),
                (7, "seven".into(), None)
            ]
        );
        // A read changes nothing, whatever the write before it changed.
        let read = sqlx::query("SELECT 1").execute(&mut c).await.unwrap();
        assert_eq!(read.rows_affected(), 0);

        // Several statements share the numbered values; rows of each come
        // in order.
        let rows =
            sqlx::query("UPDATE t SET note = $1 WHERE id = $2; SELECT note FROM t WHERE id = $2")
                .bind("changed")
                .bind(7_i64)
                .fetch_all(&mut c)
                .await
                .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<String, _>("note"), "changed");

        // A unique violation reads as sqlx's drivers report it.
        let err = sqlx::query("INSERT INTO t (name) VALUES ($1)")
            .bind("five")
            .execute(&mut c)
            .await
            .unwrap_err();
        assert!(err.as_database_error().unwrap().is_unique_violation());
        let err = sqlx::query("SELECT nope FROM t")
            .execute(&mut c)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        assert!(
            sqlx::query_scalar::<_, i64>("SELECT id FROM t WHERE id = 99")
                .fetch_optional(&mut c)
                .await
                .unwrap()
                .is_none()
        );
    }

    /// What is kept from a text's first run (its prepared statements and
    /// their shapes) serves its later runs: with each run's own values,
    /// after a run that failed, past the number of texts kept; and a piece
    /// may use what an earlier piece of the same text created.
    #[tokio::test]
    async fn kept_statements_run_again_with_each_runs_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = conn(&dir);
        let rows = sqlx::query(
            "CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT UNIQUE); \
             INSERT INTO k (v) VALUES ($1); SELECT v FROM k",
        )
        .bind("first")
        .fetch_all(&mut c)
        .await
        .unwrap();
        assert_eq!(rows[0].get::<String, _>("v"), "first");

        const INSERT: &str = "INSERT INTO k (v) VALUES ($1)";
        const READ: &str = "SELECT v FROM k WHERE v = $1";
        for v in ["a", "b", "c"] {
            sqlx::query(INSERT).bind(v).execute(&mut c).await.unwrap();
        }
        // The same text failing (a unique violation) leaves its statement
        // ready for the next run.
        assert!(sqlx::query(INSERT).bind("a").execute(&mut c).await.is_err());
        sqlx::query(INSERT).bind("d").execute(&mut c).await.unwrap();
        for v in ["a", "b", "c", "d"] {
            let got: String = sqlx::query_scalar(READ)
                .bind(v)
                .fetch_one(&mut c)
                .await
                .unwrap();
            assert_eq!(got, v);
        }
        // More distinct texts than are kept: each still runs, and so do the
        // ones kept before.
        for i in 0..(STATEMENT_CACHE + 10) {
            let n: i64 = sqlx::query_scalar(&format!("SELECT {i} + $1"))
                .bind(1_i64)
                .fetch_one(&mut c)
                .await
                .unwrap();
            assert_eq!(n, i as i64 + 1);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM k")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(count, 5);
        let got: String = sqlx::query_scalar(READ)
            .bind("b")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(got, "b");
    }
}
