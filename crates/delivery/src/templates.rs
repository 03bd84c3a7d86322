//! Message texts in English and Simplified Chinese. Every message kind has
//! a text in every language: the `match` below will not compile otherwise.

use serde::{Deserialize, Serialize};

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Locale {
    /// English.
    #[serde(rename = "en")]
    En,
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Locale {
    /// Parses a stored locale tag; anything unknown is English.
    pub fn parse(tag: &str) -> Locale {
        if tag.to_ascii_lowercase().starts_with("zh") {
            Locale::ZhCn
        } else {
            Locale::En
        }
    }

    /// Parses a tag strictly: `None` for an unsupported language.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        match tag.to_ascii_lowercase().as_str() {
            "en" => Some(Locale::En),
            "zh-cn" | "zh" | "zh-hans" => Some(Locale::ZhCn),
            _ => None,
        }
    }

    /// The tag stored with accounts.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// A one-time recovery code.
    RecoveryCode {
        /// The six digits.
        code: String,
        /// Minutes it stays valid.
        minutes: i64,
    },
    /// The password of an account was changed.
    PasswordChanged {
        /// The account's qualified name.
        account: String,
    },
    /// A code that proves control of a contact being bound.
    ContactVerification {
        /// The six digits.
        code: String,
        /// Minutes it stays valid.
        minutes: i64,
    },
    /// A contact was removed from (or replaced on) an account.
    ContactChanged {
        /// The account's qualified name.
        account: String,
    },
    /// An administrator sent a link to set a new password.
    ResetLink {
        /// The account's qualified name.
        account: String,
        /// The link (its token is in the fragment, never sent to a server
        /// by the browser).
        link: String,
        /// Hours it stays valid.
        hours: i64,
    },
    /// The usernames bound to a contact.
    UsernameReminder {
        /// Every qualified name bound to the contact.
        accounts: Vec<String>,
    },
}

/// A rendered message: subject (empty for SMS) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Email subject.
    pub subject: String,
    /// Plain-text body, also the SMS text.
    pub body: String,
}

/// Renders `template` in `locale`.
pub fn render(template: &Template, locale: Locale) -> Rendered {
    let (subject, body) = match (template, locale) {
        (Template::RecoveryCode { code, minutes }, Locale::En) => (
            "Your Regain verification code".to_string(),
            format!("Your verification code is {code}. It expires in {minutes} minutes. If you did not ask to reset your password, ignore this message; nobody can use the code without you."),
        ),
        (Template::RecoveryCode { code, minutes }, Locale::ZhCn) => (
            "您的 Regain 验证码".to_string(),
            format!("您的验证码是 {code}，{minutes} 分钟内有效。如果您没有申请重置密码，请忽略本消息，验证码不会被他人使用。"),
        ),
        (Template::PasswordChanged { account }, Locale::En) => (
            "Your password was changed".to_string(),
            format!("The password of {account} was just changed, and every session was signed out. If this was not you, recover your account at once or contact your administrator."),
        ),
        (Template::PasswordChanged { account }, Locale::ZhCn) => (
            "您的密码已修改".to_string(),
            format!("账号 {account} 的密码刚刚被修改，所有会话均已退出。如果这不是您本人的操作，请立即找回账号或联系管理员。"),
        ),
        (Template::ContactVerification { code, minutes }, Locale::En) => (
            "Confirm this contact for Regain".to_string(),
            format!("Your verification code is {code}. Enter it within {minutes} minutes to bind this contact to your account. If you did not ask for this, ignore this message."),
        ),
        (Template::ContactVerification { code, minutes }, Locale::ZhCn) => (
            "确认 Regain 联系方式".to_string(),
            format!("您的验证码是 {code}，请在 {minutes} 分钟内输入以绑定此联系方式。如果不是您本人操作，请忽略本消息。"),
        ),
        (Template::ContactChanged { account }, Locale::En) => (
            "A contact of your account changed".to_string(),
            format!("This address is no longer a verified contact of {account}. If this was not you, contact your administrator at once."),
        ),
        (Template::ContactChanged { account }, Locale::ZhCn) => (
            "账号联系方式已变更".to_string(),
            format!("此联系方式已不再是账号 {account} 的已验证联系方式。如果这不是您本人的操作，请立即联系管理员。"),
        ),
        (Template::ResetLink { account, link, hours }, Locale::En) => (
            "Set a new password".to_string(),
            format!("Your administrator asked for a new password on {account}. Open this link within {hours} hours to set one; it works once: {link}"),
        ),
        (Template::ResetLink { account, link, hours }, Locale::ZhCn) => (
            "设置新密码".to_string(),
            format!("管理员为账号 {account} 发起了密码重置。请在 {hours} 小时内打开以下链接设置新密码，链接仅可使用一次：{link}"),
        ),
        (Template::UsernameReminder { accounts }, Locale::En) => (
            "Your Regain usernames".to_string(),
            format!("These accounts use this contact to sign in: {}.", accounts.join(", ")),
        ),
        (Template::UsernameReminder { accounts }, Locale::ZhCn) => (
            "您的 Regain 用户名".to_string(),
            format!("以下账号绑定了此联系方式：{}。", accounts.join("，")),
        ),
    };
    Rendered { subject, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_exists_in_every_language_with_its_values() {
        let samples = [
            Template::RecoveryCode {
                code: "123456".into(),
                minutes: 15,
            },
            Template::PasswordChanged {
                account: "acme/bob".into(),
            },
            Template::UsernameReminder {
                accounts: vec!["acme/bob".into(), "alice".into()],
            },
            Template::ContactVerification {
                code: "123456".into(),
                minutes: 15,
            },
            Template::ContactChanged {
                account: "acme/bob".into(),
            },
            Template::ResetLink {
                account: "acme/bob".into(),
                link: "https://id.example.com/x".into(),
                hours: 24,
            },
        ];
        for t in &samples {
            let en = render(t, Locale::En);
            let zh = render(t, Locale::ZhCn);
            assert!(!en.subject.is_empty() && !zh.subject.is_empty());
            assert_ne!(en.body, zh.body);
            for needle in ["123456", "acme/bob"] {
                assert_eq!(
                    en.body.contains(needle),
                    zh.body.contains(needle),
                    "{needle} in both"
                );
            }
        }
        assert_eq!(Locale::parse("zh-CN"), Locale::ZhCn);
        assert_eq!(Locale::parse("fr"), Locale::En);
    }
}
