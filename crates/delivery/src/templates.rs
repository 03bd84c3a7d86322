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
        /// The account has no emergency contact: suggest naming one, so
        /// the next recovery is easier.
        suggest_emergency_contact: bool,
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
    /// To an emergency contact: someone recovering `account` will ask you
    /// for this code.
    RelayCode {
        /// The account being recovered.
        account: String,
        /// The six digits.
        code: String,
        /// Minutes it stays valid.
        minutes: i64,
    },
    /// To an administrator: a person asks you to vouch for them.
    ApprovalRequested {
        /// The account being recovered.
        account: String,
        /// The request's id, for the approvals API or console.
        request: i64,
        /// Hours it stays open.
        hours: i64,
    },
    /// To the person: the administrator approved or denied.
    ApprovalDecided {
        /// The account being recovered.
        account: String,
        /// Approved (else denied).
        approved: bool,
        /// The administrator's reason for a denial.
        reason: String,
    },
    /// To an appeal's new contact: a code that proves it.
    AppealCode {
        /// The six digits.
        code: String,
        /// Minutes it stays valid.
        minutes: i64,
    },
    /// To an appeal's contact: support approved; here is the link.
    AppealApproved {
        /// The account.
        account: String,
        /// The reset link (token in the fragment).
        link: String,
        /// Hours it stays valid.
        hours: i64,
    },
    /// To an appeal's contact: support denied, with the reason.
    AppealDenied {
        /// The appeal's id.
        appeal: i64,
        /// Why.
        reason: String,
    },
    /// To a person named as an emergency contact: confirm with this code.
    EmergencyContactSetup {
        /// The account that named them.
        account: String,
        /// The six digits.
        code: String,
        /// Minutes it stays valid.
        minutes: i64,
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
        (Template::PasswordChanged { account, suggest_emergency_contact }, Locale::En) => (
            "Your password was changed".to_string(),
            format!(
                "The password of {account} was just changed, and every session was signed out. If this was not you, recover your account at once or contact your administrator.{}",
                if *suggest_emergency_contact {
                    " To make your next recovery easier, name an emergency contact in your account settings: someone you trust who can relay a code to you."
                } else {
                    ""
                }
            ),
        ),
        (Template::PasswordChanged { account, suggest_emergency_contact }, Locale::ZhCn) => (
            "您的密码已修改".to_string(),
            format!(
                "账号 {account} 的密码刚刚被修改，所有会话均已退出。如果这不是您本人的操作，请立即找回账号或联系管理员。{}",
                if *suggest_emergency_contact {
                    "为便于下次找回，请在账号设置中添加紧急联系人：一位可为您转达验证码的信任之人。"
                } else {
                    ""
                }
            ),
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
        (Template::RelayCode { account, code, minutes }, Locale::En) => (
            "Someone you know needs a code".to_string(),
            format!("You are an emergency contact of {account}, who is recovering the account. Give them the code only if you are sure it is them asking, in person or on a call. The code is {code}; it expires in {minutes} minutes."),
        ),
        (Template::RelayCode { account, code, minutes }, Locale::ZhCn) => (
            "您的亲友需要一个验证码".to_string(),
            format!("您是账号 {account} 的紧急联系人，该账号正在找回密码。请仅在确认是本人（当面或通话）向您索取时告知验证码。验证码是 {code}，{minutes} 分钟内有效。"),
        ),
        (Template::ApprovalRequested { account, request, hours }, Locale::En) => (
            "A member of your organization asks for your approval".to_string(),
            format!("{account} is recovering the account and asks you to confirm it is them. Check with them directly, then approve or deny request {request} in the admin console within {hours} hours."),
        ),
        (Template::ApprovalRequested { account, request, hours }, Locale::ZhCn) => (
            "组织成员请求您的审批".to_string(),
            format!("{account} 正在找回账号，请求您确认其身份。请先直接与其核实，然后在 {hours} 小时内于管理控制台批准或拒绝申请 {request}。"),
        ),
        (Template::ApprovalDecided { account, approved: true, .. }, Locale::En) => (
            "Your administrator approved your recovery".to_string(),
            format!("Your administrator confirmed it is you: go back to the recovery of {account} to set a new password."),
        ),
        (Template::ApprovalDecided { account, approved: true, .. }, Locale::ZhCn) => (
            "管理员已批准您的找回申请".to_string(),
            format!("管理员已确认您的身份，请回到账号 {account} 的找回页面设置新密码。"),
        ),
        (Template::ApprovalDecided { account, approved: false, reason }, Locale::En) => (
            "Your administrator denied your recovery".to_string(),
            format!("Your administrator did not approve the recovery of {account}: {reason}"),
        ),
        (Template::ApprovalDecided { account, approved: false, reason }, Locale::ZhCn) => (
            "管理员拒绝了您的找回申请".to_string(),
            format!("管理员未批准账号 {account} 的找回申请：{reason}"),
        ),
        (Template::AppealCode { code, minutes }, Locale::En) => (
            "Confirm the contact of your appeal".to_string(),
            format!("Your verification code is {code}. Enter it within {minutes} minutes to submit your appeal."),
        ),
        (Template::AppealCode { code, minutes }, Locale::ZhCn) => (
            "确认申诉联系方式".to_string(),
            format!("您的验证码是 {code}，请在 {minutes} 分钟内输入以提交申诉。"),
        ),
        (Template::AppealApproved { account, link, hours }, Locale::En) => (
            "Your appeal was approved".to_string(),
            format!("Support approved your appeal for {account}. Open this link within {hours} hours to set a new password; it works once, and this contact will be bound to the account: {link}"),
        ),
        (Template::AppealApproved { account, link, hours }, Locale::ZhCn) => (
            "您的申诉已通过".to_string(),
            format!("客服已通过您对账号 {account} 的申诉。请在 {hours} 小时内打开以下链接设置新密码，链接仅可使用一次，此联系方式将绑定到该账号：{link}"),
        ),
        (Template::AppealDenied { appeal, reason }, Locale::En) => (
            "Your appeal was denied".to_string(),
            format!("Support could not approve appeal {appeal}: {reason}"),
        ),
        (Template::AppealDenied { appeal, reason }, Locale::ZhCn) => (
            "您的申诉未通过".to_string(),
            format!("客服未能通过申诉 {appeal}：{reason}"),
        ),
        (Template::EmergencyContactSetup { account, code, minutes }, Locale::En) => (
            "You were named as an emergency contact".to_string(),
            format!("{account} named you as an emergency contact, to help recover the account one day. If you agree, give them the code within {minutes} minutes. The code is {code}. If you do not know them, ignore this message."),
        ),
        (Template::EmergencyContactSetup { account, code, minutes }, Locale::ZhCn) => (
            "您被设为紧急联系人".to_string(),
            format!("{account} 将您设为紧急联系人，以便日后协助找回账号。如您同意，请在 {minutes} 分钟内将验证码告知对方，验证码是 {code}。如您不认识对方，请忽略本消息。"),
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
                suggest_emergency_contact: false,
            },
            Template::PasswordChanged {
                account: "acme/bob".into(),
                suggest_emergency_contact: true,
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
            Template::RelayCode {
                account: "acme/bob".into(),
                code: "123456".into(),
                minutes: 15,
            },
            Template::ApprovalRequested {
                account: "acme/bob".into(),
                request: 7,
                hours: 24,
            },
            Template::ApprovalDecided {
                account: "acme/bob".into(),
                approved: true,
                reason: String::new(),
            },
            Template::ApprovalDecided {
                account: "acme/bob".into(),
                approved: false,
                reason: "call me".into(),
            },
            Template::AppealCode {
                code: "123456".into(),
                minutes: 15,
            },
            Template::AppealApproved {
                account: "acme/bob".into(),
                link: "https://id.example.com/x".into(),
                hours: 24,
            },
            Template::AppealDenied {
                appeal: 3,
                reason: "no evidence".into(),
            },
            Template::EmergencyContactSetup {
                account: "acme/bob".into(),
                code: "123456".into(),
                minutes: 15,
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
