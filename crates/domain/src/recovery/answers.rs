//! Security-question answers are compared after normalization, so the
//! person who set "Main Street" is not refused for typing "main  street"
//! or full-width letters: NFKC (width and compatibility forms), lower
//! case, and runs of whitespace as one space, trimmed.

use unicode_normalization::UnicodeNormalization;

/// Shortest answer accepted, in characters after normalization.
pub const MIN_ANSWER_CHARS: usize = 2;
/// Longest question or answer accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// The form an answer is hashed and compared in.
pub fn normalize_answer(raw: &str) -> String {
    let folded: String = raw.nfkc().collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_width_and_spacing_do_not_matter() {
        let set = normalize_answer("Main Street 12");
        assert_eq!(normalize_answer("  main   STREET\t12 "), set);
        assert_eq!(normalize_answer("Ｍａｉｎ Ｓｔｒｅｅｔ １２"), set);
        assert_eq!(normalize_answer("上海　市"), "上海 市");
        assert_ne!(normalize_answer("Main Street 13"), set);
    }
}
