//! Every word the pages show, in English and Simplified Chinese: one
//! catalog, so no template or handler holds a user-visible literal. Error
//! and policy messages are looked up by their stable codes.

use std::collections::BTreeMap;

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The `lang` attribute and cookie value.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The language the switcher offers.
    pub(crate) fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// Parses a cookie or query value.
    pub(crate) fn parse(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "zh-CN" | "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header.
    pub(crate) fn from_accept(header: &str) -> Lang {
        for part in header.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_lowercase();
            if tag.starts_with("zh") {
                return Lang::Zh;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::En
    }
}

mod consoles;
mod errors;
mod self_service;
mod wizard;

/// Every part of the catalog.
const PARTS: [&[(&str, &str, &str)]; 4] = [
    wizard::MESSAGES,
    self_service::MESSAGES,
    consoles::MESSAGES,
    errors::MESSAGES,
];

fn all() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    PARTS.iter().flat_map(|part| part.iter())
}

/// The messages of `lang`, by key, for the templates.
pub(crate) fn messages(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    all()
        .map(|(k, en, zh)| (*k, if lang == Lang::Zh { *zh } else { *en }))
        .collect()
}

/// One message; an unknown key falls back to the generic error.
pub(crate) fn message(lang: Lang, key: &str) -> &'static str {
    let pick =
        |(_, en, zh): &(&str, &'static str, &'static str)| if lang == Lang::Zh { *zh } else { *en };
    all()
        .find(|(k, _, _)| *k == key)
        .or_else(|| all().find(|(k, _, _)| *k == "err_other"))
        .map(pick)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages_and_keys_are_unique() {
        let mut keys = std::collections::BTreeSet::new();
        for (k, en, zh) in all() {
            assert!(keys.insert(k), "{k} twice");
            assert!(!en.is_empty() && !zh.is_empty(), "{k}");
            assert_eq!(
                en.contains("{n}"),
                zh.contains("{n}"),
                "{k}: same placeholders"
            );
        }
        assert_eq!(Lang::from_accept("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::from_accept("fr-FR,en;q=0.5"), Lang::En);
        assert_eq!(message(Lang::Zh, "err_code_invalid"), "验证码错误。");
        assert_eq!(
            message(Lang::En, "err_unheard_of"),
            message(Lang::En, "err_other")
        );
    }

    /// Every error code the use cases can answer has a message in both
    /// languages: codes are read from the app crate's sources, so a new
    /// code without a message fails here.
    #[test]
    fn every_error_code_has_a_message() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut sources = Vec::new();
        let mut dirs = vec![root.join("app/src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| unreachable!("{e}")) {
                let path = entry.unwrap_or_else(|e| unreachable!("{e}")).path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    sources.push(path);
                }
            }
        }
        sources.push(root.join("domain/src/identifiers.rs"));
        let quoted_after = |text: &str, marker: &str| -> Vec<String> {
            text.match_indices(marker)
                .filter_map(|(i, _)| {
                    let rest = text[i + marker.len()..].trim_start();
                    let rest = rest.strip_prefix('"')?;
                    let end = rest.find('"')?;
                    let code = &rest[..end];
                    code.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_')
                        .then(|| code.to_string())
                })
                .collect()
        };
        let mut codes = std::collections::BTreeSet::new();
        for path in &sources {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| unreachable!("{e}"));
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            codes.extend(quoted_after(text, "code: "));
            codes.extend(quoted_after(text, "invalid("));
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name == "error.rs" || name == "identifiers.rs" {
                codes.extend(quoted_after(text, "=> "));
            }
            if name == "appeals.rs" {
                codes.extend(["description_invalid".into(), "evidence_invalid".into()]);
            }
        }
        assert!(codes.len() > 60, "the scan finds the codes: {codes:?}");
        let missing: Vec<_> = codes
            .iter()
            .filter(|c| !all().any(|(k, _, _)| k.strip_prefix("err_") == Some(c.as_str())))
            .collect();
        assert!(missing.is_empty(), "no message for {missing:?}");
    }
}
