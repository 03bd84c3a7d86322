//! SQL text put together at run time: numbered parameter lists, and
//! several statements in one query for SQLite's writer, where each
//! statement saved is a round trip saved (see `write`).

/// `$first, $first+1, …` for `n` values (an `IN` list, rows of a bulk
/// insert).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One multi-statement query (SQLite) of `statements`, each given with its
/// number of parameters: they share one list of arguments, so each
/// statement's `$1`, `$2`, … are shifted past the ones before it.
pub(crate) fn joined<'a>(statements: impl Iterator<Item = (&'a str, usize)>) -> String {
    let mut by = 0;
    let mut parts = Vec::new();
    for (sql, parameters) in statements {
        parts.push(renumbered(sql, by));
        by += parameters;
    }
    parts.join("; ")
}

/// `sql` with its parameters `$1`, `$2`, … shifted by `by`.
fn renumbered(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits: String = rest[at + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&format!("${}", n + by)),
            Err(_) => out.push('$'),
        }
        rest = &rest[at + 1 + digits.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{joined, placeholders, renumbered};

    #[test]
    fn parameters_are_shifted_for_a_multi_statement_query() {
        assert_eq!(
            renumbered("a = $1 AND b = $2 OR c = $12", 3),
            "a = $4 AND b = $5 OR c = $15"
        );
        assert_eq!(renumbered("no parameters", 5), "no parameters");
        assert_eq!(renumbered("cost $ and $x", 1), "cost $ and $x");
        assert_eq!(
            joined([("a = $1", 1), ("b = $1 + $2", 2), ("c = $1", 1)].into_iter()),
            "a = $1; b = $2 + $3; c = $4"
        );
        assert_eq!(placeholders(3, 2), "$3, $4");
    }
}
