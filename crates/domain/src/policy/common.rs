//! Common-password detection and strength estimation, backed by the zxcvbn
//! dictionaries (about 30,000 leaked passwords plus English words, names and
//! film titles), so no list of our own has to be kept current.

use zxcvbn::matching::patterns::MatchPattern;

/// The longest entry of the leaked-passwords dictionary, in characters
/// (three entries of zxcvbn 3's list, `q1w2e3r4t5y6u7i8o9p0` among them).
/// A dictionary match covers exactly its entry's characters — case,
/// reversal and l33t substitution each replace one character by one — so a
/// longer password cannot be common, and the estimator, whose cost grows
/// with the square of the length, need not run to say so.
pub(super) const LONGEST_COMMON: usize = 20;

pub(super) struct Estimate {
    /// The whole password is one entry of the leaked-passwords dictionary,
    /// allowing for case, reversal and l33t substitutions.
    pub is_common: bool,
    /// zxcvbn's 0–4 score.
    pub score: u8,
}

pub(super) fn estimate(password: &str) -> Estimate {
    let entropy = zxcvbn::zxcvbn(password, &[]);
    let sequence = entropy.sequence();
    let is_common = matches!(sequence, [only]
        if only.i == 0
            && only.j + 1 == password.chars().count()
            && matches!(&only.pattern, MatchPattern::Dictionary(d)
                // The dictionary type is not exported by name; its Debug
                // form is its name. A unit test pins this down.
                if format!("{:?}", d.dictionary_name) == "Passwords"));
    Estimate {
        is_common,
        score: u8::from(entropy.score()),
    }
}
