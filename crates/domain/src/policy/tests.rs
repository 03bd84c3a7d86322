use proptest::prelude::*;

use super::presets::Preset;
use super::*;

fn codes(policy: &PasswordPolicy, pw: &str, subject: Subject<'_>) -> Vec<&'static str> {
    policy
        .check(pw, subject)
        .iter()
        .map(Violation::code)
        .collect()
}

fn none() -> Subject<'static> {
    Subject::default()
}

#[test]
fn length_edges_count_scalars_after_nfkc() {
    let p = Preset::Cloud.policy();
    assert_eq!(codes(&p, "Kx7#mQ2", none()), vec!["too_short"]);
    assert!(codes(&p, "Kx7#mQ2v", none()).is_empty());
    let at_max = format!("Kx7#{}", "q".repeat(124));
    assert!(codes(&p, &at_max, none()).is_empty());
    let over_max = format!("Kx7#{}", "q".repeat(125));
    assert_eq!(codes(&p, &over_max, none()), vec!["too_long"]);
    // "ﬁ" (one scalar) becomes "fi" (two) under NFKC: 7 + 1 -> 9 chars.
    let mut nist = Preset::Nist.policy();
    nist.reject_common = false;
    assert!(codes(&nist, "ﬁzzbuz!", none()).is_empty());
    assert_eq!(codes(&nist, "zzbuz!x", none()), vec!["too_short"]);
    // Multi-byte characters count once each.
    assert!(codes(&nist, "密码密码密码密码", none()).is_empty());
    assert_eq!(codes(&nist, "密码密码密码密", none()), vec!["too_short"]);
}

#[test]
fn character_classes() {
    let mut p = Preset::Mail.policy();
    p.weak_keywords.clear();
    assert_eq!(codes(&p, "lowercaseonly", none()), vec!["too_few_classes"]);
    assert_eq!(codes(&p, "lowerUPPERxy", none()), vec!["too_few_classes"]);
    assert!(codes(&p, "lowerUPPER42", none()).is_empty());
    assert!(codes(&p, "lower.punct42", none()).is_empty());
    assert!(codes(&p, "UPPER.PUNCT42", none()).is_empty());
    let cloud = Preset::Cloud.policy();
    assert_eq!(codes(&cloud, "zqxvbnmkwp", none()), vec!["too_few_classes"]);
    assert!(codes(&cloud, "zqxvbnmkw7", none()).is_empty());
}

#[test]
fn spaces_and_character_set() {
    let p = Preset::Cloud.policy();
    assert_eq!(codes(&p, "Kx7#m Q2v", none()), vec!["contains_space"]);
    assert_eq!(codes(&p, "Kx7#mQ2vé", none()), vec!["disallowed_character"]);
    let nist = Preset::Nist.policy();
    assert!(codes(&nist, "purple monkey dishwasher", none()).is_empty());
}

#[test]
fn context_rules_are_case_insensitive() {
    let p = Preset::Mail.policy();
    let email = Email::parse("Alice.Smith@Example.com").unwrap();
    let subject = Subject {
        username: Some("alice"),
        email: Some(&email),
    };
    assert_eq!(codes(&p, "XALICEx9!", subject), vec!["contains_username"]);
    // the email's local part in another case, and the whole email
    assert_eq!(
        codes(
            &p,
            "9!aLiCe.SmItH",
            Subject {
                username: None,
                ..subject
            }
        ),
        vec!["contains_email"]
    );
    assert_eq!(
        codes(
            &p,
            "1!alice.smith@EXAMPLE.com",
            Subject {
                username: None,
                ..subject
            }
        ),
        vec!["contains_email"]
    );
    assert!(codes(&p, "Kx7#mQ2v", subject).is_empty());
    // identifiers shorter than 3 characters are not searched for
    assert!(codes(
        &p,
        "Kx7#mQ2vab",
        Subject {
            username: Some("ab"),
            email: None
        }
    )
    .is_empty());
}

#[test]
fn weak_keywords() {
    let mut p = Preset::Mail.policy();
    p.weak_keywords = vec!["Acme".into(), "  ".into()];
    assert_eq!(
        codes(&p, "xACMEx9!Q", none()),
        vec!["contains_weak_keyword"]
    );
    assert!(codes(&p, "Kx7#mQ2v", none()).is_empty());
    let msg = Violation::ContainsWeakKeyword.message();
    assert!(!msg.to_lowercase().contains("acme"));
}

#[test]
fn common_passwords_are_refused_with_their_variants() {
    let mut p = Preset::Nist.policy();
    p.forbid_username = false;
    for pw in [
        "password1",
        "qwerty123",
        "P@ssw0rd",
        "iloveyou",
        "1qaz2wsx",
        "sunshine",
    ] {
        assert!(codes(&p, pw, none()).contains(&"common_password"), "{pw}");
    }
    for pw in [
        "Kx7#mQ2v",
        "tulip-ferry-oxide-42",
        "correct horse battery staple",
    ] {
        assert!(codes(&p, pw, none()).is_empty(), "{pw}");
    }
}

#[test]
fn the_longest_dictionary_entries_are_refused_and_longer_passwords_are_not_estimated() {
    let mut p = Preset::Nist.policy();
    p.forbid_username = false;
    // The longest entries, and one in l33t capitals: the estimator runs up
    // to `LONGEST_COMMON` characters and finds them.
    for pw in [
        "q1w2e3r4t5y6u7i8o9p0",
        "12345678900987654321",
        "Q1W2E3R4T5Y6U7I8O9P0",
    ] {
        assert_eq!(pw.chars().count(), super::common::LONGEST_COMMON, "{pw}");
        assert_eq!(codes(&p, pw, none()), vec!["common_password"], "{pw}");
    }
    // One character more is not one entry; with no strength score asked
    // the estimator is skipped, and what it would say agrees.
    let longer = "q1w2e3r4t5y6u7i8o9p0x";
    assert!(codes(&p, longer, none()).is_empty());
    assert!(!super::common::estimate(longer).is_common);
}

#[test]
fn strength_score() {
    let mut p = Preset::Nist.policy();
    p.reject_common = false;
    p.min_strength_score = 3;
    assert_eq!(codes(&p, "abcdefgh", none()), vec!["too_weak"]);
    assert!(codes(&p, "tulip-ferry-oxide-42", none()).is_empty());
}

#[test]
fn a_long_password_is_judged_on_its_first_64_characters() {
    let mut p = Preset::Nist.policy();
    p.reject_common = false;
    p.min_strength_score = 3;
    p.max_length = 300;
    let strong = "tulip-ferry-oxide-42";
    // A weak beginning padded out to 64 characters is weak, whatever follows.
    let padded = format!("{}{strong}", "a".repeat(64));
    assert_eq!(codes(&p, &padded, none()), vec!["too_weak"]);
    // Whereas the same characters within the first 64 make it strong.
    let within = format!("{}{strong}", "a".repeat(44));
    assert_eq!(within.chars().count(), 64);
    assert!(codes(&p, &within, none()).is_empty(), "{within}");
    // A strong beginning stays strong with anything after it.
    let tail = format!("{strong}{}", "a".repeat(200));
    assert!(codes(&p, &tail, none()).is_empty());
}

#[test]
fn all_violations_are_returned_at_once() {
    let p = Preset::Mail.policy();
    let email = Email::parse("bob@example.com").unwrap();
    let got = codes(
        &p,
        "bob admin",
        Subject {
            username: Some("bob"),
            email: Some(&email),
        },
    );
    assert_eq!(
        got,
        vec![
            "contains_space",
            "too_few_classes",
            "contains_username",
            "contains_email",
            "contains_weak_keyword"
        ]
    );
}

#[test]
fn max_age() {
    let mut p = Preset::Cloud.policy();
    assert!(!p.is_expired(Timestamp(0), Timestamp(10_000_000)));
    p.max_age_days = 90;
    assert!(!p.is_expired(Timestamp(0), Timestamp(90 * 86_400 - 1)));
    assert!(p.is_expired(Timestamp(0), Timestamp(90 * 86_400)));
}

#[test]
fn codes_are_pinned() {
    // Clients depend on these strings: changing one is a breaking change.
    let all = [
        (Violation::TooShort { min: 8 }, "too_short"),
        (Violation::TooLong { max: 64 }, "too_long"),
        (Violation::DisallowedCharacter, "disallowed_character"),
        (Violation::ContainsSpace, "contains_space"),
        (Violation::TooFewClasses { required: 3 }, "too_few_classes"),
        (Violation::ContainsUsername, "contains_username"),
        (Violation::ContainsEmail, "contains_email"),
        (Violation::ContainsWeakKeyword, "contains_weak_keyword"),
        (Violation::Reused { depth: 3 }, "reused_password"),
        (Violation::CommonPassword, "common_password"),
        (Violation::TooWeak { min_score: 3 }, "too_weak"),
    ];
    for (v, code) in &all {
        assert_eq!(v.code(), *code);
        assert!(!v.message().is_empty());
    }
    assert!(Violation::TooShort { min: 12 }.message().contains("12"));
    assert_eq!(
        Violation::Reused { depth: 1 }.message(),
        "Choose a password other than your current one."
    );
}

#[test]
fn presets_are_valid() {
    for preset in Preset::ALL {
        preset.policy().validate().unwrap();
        assert_eq!(Preset::parse(preset.name()), Some(preset));
    }
}

fn arb_policy() -> impl Strategy<Value = PasswordPolicy> {
    (
        (1u32..20, 0u32..40, any::<bool>(), any::<bool>(), 0u8..=4),
        (
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec("[a-z]{2,5}", 0..3),
            any::<bool>(),
            0u8..=2,
        ),
    )
        .prop_map(
            |(
                (min, extra, ascii, spaces, classes),
                (forbid_user, forbid_email, keywords, common, score),
            )| {
                PasswordPolicy {
                    min_length: min,
                    max_length: min + extra,
                    allowed_characters: if ascii {
                        CharacterSet::PrintableAscii
                    } else {
                        CharacterSet::Any
                    },
                    allow_spaces: spaces,
                    min_character_classes: classes,
                    forbid_username: forbid_user,
                    forbid_email,
                    weak_keywords: keywords,
                    history_depth: 0,
                    max_age_days: 0,
                    reject_common: common,
                    min_strength_score: score,
                }
            },
        )
}

/// Leaked passwords the property test mixes in; none may pass a policy
/// that rejects common passwords.
const KNOWN_COMMON: &[&str] = &[
    "password1",
    "qwerty123",
    "iloveyou",
    "1qaz2wsx",
    "sunshine",
    "letmein1",
];

proptest! {
    /// Anything the engine accepts satisfies every rule, re-checked here
    /// independently of the engine's own code paths. Passwords are built to
    /// hit the rules: random text, sometimes wrapped around the username or
    /// the email's local part, sometimes a known leaked password.
    #[test]
    fn accepted_passwords_satisfy_every_rule(
        policy in arb_policy(),
        random in "\\PC{0,40}",
        wrap in 0u8..3,
        common in 0usize..KNOWN_COMMON.len(),
        use_common in any::<bool>(),
        user in "[a-z]{3,6}",
        local in "[a-z]{3,6}",
    ) {
        let email = Email::parse(&format!("{local}.x@example.com")).unwrap();
        let subject = Subject { username: Some(&user), email: Some(&email) };
        let pw = match (use_common, wrap) {
            (true, _) => KNOWN_COMMON[common].to_string(),
            (false, 1) => format!("{random}{}", user.to_uppercase()),
            (false, 2) => format!("{}{random}", email.local_part()),
            _ => random.clone(),
        };
        if policy.check(&pw, subject).is_empty() {
            let n: String = pw.nfkc().collect();
            let len = n.chars().count() as u32;
            prop_assert!(len >= policy.min_length && len <= policy.max_length);
            if policy.allowed_characters == CharacterSet::PrintableAscii {
                prop_assert!(n.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            }
            if !policy.allow_spaces {
                prop_assert!(!n.contains(char::is_whitespace));
            }
            let classes = [
                n.chars().any(char::is_uppercase),
                n.chars().any(char::is_lowercase),
                n.chars().any(char::is_numeric),
                n.chars().any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
            ].iter().filter(|b| **b).count() as u8;
            prop_assert!(classes >= policy.min_character_classes);
            let lower = n.to_lowercase();
            if policy.forbid_username {
                prop_assert!(!lower.contains(&user));
            }
            if policy.forbid_email {
                prop_assert!(!lower.contains(&email.local_part().to_lowercase()));
            }
            for k in &policy.weak_keywords {
                prop_assert!(!lower.contains(k.as_str()));
            }
            if policy.reject_common {
                prop_assert!(!KNOWN_COMMON.contains(&pw.as_str()));
            }
        }
    }
}
