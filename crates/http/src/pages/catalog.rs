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

/// `(key, English, Chinese)`.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("lang_switch", "中文", "English"),
    ("skip", "Skip to the form", "跳到表单"),
    ("login_title", "Log on", "登录"),
    ("identifier", "Username, account/user, email or phone", "用户名、主账号/子用户、邮箱或手机号"),
    ("password", "Password", "密码"),
    ("log_in", "Log on", "登录"),
    ("forgot_password", "Forgot password?", "忘记密码？"),
    ("forgot_title", "Reset your password", "找回密码"),
    ("forgot_intro", "Enter the name you log on with. We will show the ways you can prove it is you.", "请输入您的登录名，我们将列出可以证明您身份的方式。"),
    ("captcha", "Characters in the picture", "图中字符"),
    ("captcha_refresh", "New picture", "换一张"),
    ("continue", "Continue", "继续"),
    ("method_title", "Choose how to prove it is you", "选择验证方式"),
    ("method_email_code", "A code by email to", "发送验证码到邮箱"),
    ("method_sms_code", "A code by SMS to", "发送验证码到手机"),
    ("method_emergency_contact", "A code to your emergency contact", "发送验证码给紧急联系人"),
    ("method_security_questions", "Answer your security questions", "回答安全问题"),
    ("method_other", "Other ways (administrator approval, identity check) are available through the API.", "其他方式（管理员审批、身份核验）可通过 API 使用。"),
    ("answers_title", "Answer your security questions", "回答安全问题"),
    ("send_code", "Continue", "继续"),
    ("code_title", "Enter the code", "输入验证码"),
    ("code_sent_to", "We sent a 6-digit code to", "我们已将 6 位验证码发送至"),
    ("code", "Code", "验证码"),
    ("verify", "Verify", "验证"),
    ("resend", "Send a new code", "重新发送"),
    ("resend_in", "You can ask for a new code in", "可重新获取验证码的剩余时间"),
    ("seconds", "s", "秒"),
    ("no_code", "Didn't get the code?", "没有收到验证码？"),
    ("delivery_state", "Delivery of the last message", "最近一条消息的发送状态"),
    ("delivery_queued", "queued: it leaves in a moment", "排队中：即将发出"),
    ("delivery_sent", "sent: check your spam folder, or that the address is yours", "已发送：请检查垃圾邮件，或确认联系方式无误"),
    ("delivery_failed", "failed: ask for a new code, or choose another way", "发送失败：请重新获取或换一种方式"),
    ("attempts_left", "Attempts left", "剩余尝试次数"),
    ("new_password_title", "Choose a new password", "设置新密码"),
    ("new_password", "New password", "新密码"),
    ("confirm_password", "New password again", "再次输入新密码"),
    ("requirements", "Your password must", "密码要求"),
    ("req_min", "have at least {n} characters", "至少 {n} 个字符"),
    ("req_max", "have at most {n} characters", "至多 {n} 个字符"),
    ("req_classes", "use {n} of: upper case, lower case, digits, punctuation", "包含大写字母、小写字母、数字、标点中的至少 {n} 类"),
    ("req_no_space", "contain no spaces", "不含空格"),
    ("req_match", "be typed the same twice", "两次输入一致"),
    ("set_password", "Set the password", "设置密码"),
    ("reset_link_text", "Continue to choose a new password.", "继续设置新密码。"),
    ("reset_link_noscript", "Opening a reset link needs JavaScript: the link's secret stays in your browser until it is exchanged.", "打开重置链接需要启用 JavaScript：链接中的密钥在兑换前只保存在您的浏览器中。"),
    ("done_title", "Your password was changed", "密码已修改"),
    ("done_text", "Every session was signed out. Log on with the new password.", "所有会话均已退出，请使用新密码登录。"),
    ("ask_admin_title", "Ask your administrator", "请联系管理员"),
    ("ask_admin_text", "This account has no way to recover by itself. Its administrator can reset the password for you.", "此账号无法自助找回，请联系管理员为您重置密码。"),
    ("start_again", "Start again", "重新开始"),
    ("change_title", "Change your password", "修改密码"),
    ("change_intro", "Your administrator set a temporary password. Choose your own to continue.", "管理员为您设置了临时密码，请设置您自己的密码后继续。"),
    ("current_password", "Current (temporary) password", "当前（临时）密码"),
    ("home_title", "Signed in", "已登录"),
    ("signed_in_as", "You are signed in as", "当前登录账号"),
    ("log_out", "Log out", "退出登录"),
    ("error_heading", "Please check", "请检查"),
    // Errors, by their API codes.
    ("err_invalid_credentials", "The name or the password is wrong.", "登录名或密码错误。"),
    ("err_too_many_attempts", "Too many attempts. Wait a few minutes and try again.", "尝试次数过多，请稍后再试。"),
    ("err_captcha_invalid", "The characters do not match the picture. Try the new one.", "字符与图片不符，请重试。"),
    ("err_code_invalid", "The code is wrong.", "验证码错误。"),
    ("err_answers_invalid", "The answers do not match.", "答案不正确。"),
    ("err_code_expired", "The code has expired; ask for a new one.", "验证码已过期，请重新获取。"),
    ("err_flow_failed", "Too many wrong attempts. Start again, or submit an appeal.", "错误次数过多，请重新开始或提交申诉。"),
    ("err_flow_expired", "This recovery has expired. Start again.", "本次找回已过期，请重新开始。"),
    ("err_flow_not_found", "This recovery has ended. Start again.", "本次找回已结束，请重新开始。"),
    ("err_resend_cooldown", "Wait a moment before asking for another code.", "请稍候再重新获取验证码。"),
    ("err_too_many_messages", "No more codes can be sent now. Try later.", "暂时无法再发送验证码，请稍后再试。"),
    ("err_passwords_differ", "The two passwords differ.", "两次输入的密码不一致。"),
    ("err_reset_token_invalid", "This step has expired. Start again.", "此步骤已失效，请重新开始。"),
    ("err_csrf", "The form expired. Please send it again.", "表单已过期，请重新提交。"),
    ("err_password_policy_violation", "The password does not meet the rules.", "密码不符合要求。"),
    ("err_other", "Something went wrong. Please try again.", "出现问题，请重试。"),
    ("err_tenant_not_found", "There is no such service.", "不存在该服务。"),
    // Policy violations, by their codes.
    ("v_too_short", "Too short.", "太短。"),
    ("v_too_long", "Too long.", "太长。"),
    ("v_disallowed_character", "Use only letters, digits and punctuation.", "只能使用字母、数字和标点。"),
    ("v_contains_space", "Do not use spaces.", "不能包含空格。"),
    ("v_too_few_classes", "Mix more kinds of characters.", "请混合使用更多种类的字符。"),
    ("v_contains_username", "Do not include your username.", "不能包含用户名。"),
    ("v_contains_email", "Do not include your email address.", "不能包含邮箱地址。"),
    ("v_contains_weak_keyword", "Do not include easily guessed words such as the organization's name.", "不能包含易猜词语（如组织名称）。"),
    ("v_reused_password", "Choose a password you have not used recently.", "不能使用近期用过的密码。"),
    ("v_common_password", "This password is too common.", "此密码过于常见。"),
    ("v_too_weak", "This password is too easy to guess.", "此密码太容易被猜到。"),
];

/// The messages of `lang`, by key, for the templates.
pub(crate) fn messages(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    MESSAGES
        .iter()
        .map(|(k, en, zh)| (*k, if lang == Lang::Zh { *zh } else { *en }))
        .collect()
}

/// One message; an unknown key falls back to the generic error.
pub(crate) fn message(lang: Lang, key: &str) -> &'static str {
    let pick =
        |(_, en, zh): &(&str, &'static str, &'static str)| if lang == Lang::Zh { *zh } else { *en };
    MESSAGES
        .iter()
        .find(|(k, _, _)| *k == key)
        .or_else(|| MESSAGES.iter().find(|(k, _, _)| *k == "err_other"))
        .map(pick)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages_and_keys_are_unique() {
        let mut keys = std::collections::BTreeSet::new();
        for (k, en, zh) in MESSAGES {
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
}
