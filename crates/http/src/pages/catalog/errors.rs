//! Errors and policy violations, by their stable codes.

/// `(key, English, Chinese)`: errors by their API codes and policy
/// violations by theirs.
pub(super) const MESSAGES: &[(&str, &str, &str)] = &[
    // Errors, by their API codes.
    (
        "err_invalid_credentials",
        "The name or the password is wrong.",
        "登录名或密码错误。",
    ),
    (
        "err_too_many_attempts",
        "Too many attempts. Wait a few minutes and try again.",
        "尝试次数过多，请稍后再试。",
    ),
    (
        "err_captcha_invalid",
        "The characters do not match the picture. Try the new one.",
        "字符与图片不符，请重试。",
    ),
    ("err_code_invalid", "The code is wrong.", "验证码错误。"),
    (
        "err_answers_invalid",
        "The answers do not match.",
        "答案不正确。",
    ),
    (
        "err_code_expired",
        "The code has expired; ask for a new one.",
        "验证码已过期，请重新获取。",
    ),
    (
        "err_flow_failed",
        "Too many wrong attempts. Start again, or submit an appeal.",
        "错误次数过多，请重新开始或提交申诉。",
    ),
    (
        "err_flow_expired",
        "This recovery has expired. Start again.",
        "本次找回已过期，请重新开始。",
    ),
    (
        "err_flow_not_found",
        "This recovery has ended. Start again.",
        "本次找回已结束，请重新开始。",
    ),
    (
        "err_resend_cooldown",
        "Wait a moment before asking for another code.",
        "请稍候再重新获取验证码。",
    ),
    (
        "err_too_many_messages",
        "No more codes can be sent now. Try later.",
        "暂时无法再发送验证码，请稍后再试。",
    ),
    (
        "err_passwords_differ",
        "The two passwords differ.",
        "两次输入的密码不一致。",
    ),
    (
        "err_reset_token_invalid",
        "This step has expired. Start again.",
        "此步骤已失效，请重新开始。",
    ),
    (
        "err_csrf",
        "The form expired. Please send it again.",
        "表单已过期，请重新提交。",
    ),
    (
        "err_password_policy_violation",
        "The password does not meet the rules.",
        "密码不符合要求。",
    ),
    (
        "err_other",
        "Something went wrong. Please try again.",
        "出现问题，请重试。",
    ),
    (
        "err_tenant_not_found",
        "There is no such service.",
        "不存在该服务。",
    ),
    (
        "err_account_disabled",
        "This account is disabled. Ask your administrator.",
        "此账号已停用，请联系管理员。",
    ),
    (
        "err_account_not_found",
        "There is no such account.",
        "账号不存在。",
    ),
    (
        "err_account_required",
        "This needs an account.",
        "此操作需要账号。",
    ),
    (
        "err_answer_invalid",
        "Each answer needs at least a few characters.",
        "每个答案都需要至少几个字符。",
    ),
    (
        "err_appeal_no_account",
        "The appeal names no account: it can only be denied.",
        "该申诉未对应任何账号，只能驳回。",
    ),
    (
        "err_appeal_not_found",
        "There is no such appeal, or it is not yours.",
        "申诉不存在或不属于您。",
    ),
    (
        "err_appeal_wrong_state",
        "The appeal has moved on; this step no longer applies.",
        "申诉状态已变化，此步骤不再适用。",
    ),
    (
        "err_approval_decided",
        "This request was already decided.",
        "该请求已处理。",
    ),
    (
        "err_approval_expired",
        "This request has lapsed.",
        "该请求已过期。",
    ),
    (
        "err_approval_not_found",
        "There is no such request.",
        "请求不存在。",
    ),
    (
        "err_attachment_size",
        "The file is too large.",
        "文件过大。",
    ),
    (
        "err_attachment_type",
        "Attach a PNG or JPEG picture or a PDF.",
        "请上传 PNG、JPEG 图片或 PDF 文件。",
    ),
    (
        "err_busy",
        "The service is busy. Try again in a moment.",
        "服务繁忙，请稍后再试。",
    ),
    (
        "err_captcha_not_builtin",
        "This service uses another CAPTCHA.",
        "此服务使用其他验证码。",
    ),
    (
        "err_concurrent_update",
        "Someone changed this at the same time. Try again.",
        "其他人同时修改了此项，请重试。",
    ),
    ("err_conflict", "That name is taken.", "该名称已被使用。"),
    (
        "err_contact_is_own",
        "An emergency contact must be someone else's address.",
        "紧急联系人必须是他人的联系方式。",
    ),
    (
        "err_contact_limit_reached",
        "This contact is used by too many accounts.",
        "该联系方式绑定的账号过多。",
    ),
    (
        "err_contact_mismatch",
        "That is not the full contact we have on file.",
        "与记录的完整联系方式不符。",
    ),
    (
        "err_contact_not_found",
        "There is no such contact.",
        "联系方式不存在。",
    ),
    (
        "err_description_invalid",
        "Describe what happened (at most 4,000 characters).",
        "请描述发生了什么（最多 4000 字）。",
    ),
    (
        "err_evidence_invalid",
        "The evidence is too long (at most 4,000 characters).",
        "证明材料过长（最多 4000 字）。",
    ),
    (
        "err_flow_wrong_state",
        "This step does not apply now. Go on from where you were.",
        "当前无法执行此步骤，请从上一步继续。",
    ),
    (
        "err_forbidden",
        "You may not do this.",
        "您无权执行此操作。",
    ),
    (
        "err_id_token_invalid",
        "The external account's answer could not be trusted.",
        "无法信任外部账号返回的结果。",
    ),
    (
        "err_identity_claims_missing",
        "The external account did not share the identity we need.",
        "外部账号未提供所需的身份信息。",
    ),
    (
        "err_identity_invalid",
        "The identity details are not valid.",
        "身份信息无效。",
    ),
    (
        "err_identity_mismatch",
        "The identity does not match this account.",
        "身份与此账号不符。",
    ),
    (
        "err_internal_error",
        "Something went wrong on our side. Please try again.",
        "服务出现问题，请重试。",
    ),
    (
        "err_invalid_display_name",
        "The display name is not valid.",
        "显示名称无效。",
    ),
    (
        "err_invalid_email",
        "That is not an email address.",
        "邮箱地址格式不正确。",
    ),
    (
        "err_invalid_identifier",
        "Enter a username, account/user, email or phone number.",
        "请输入用户名、主账号/子用户、邮箱或手机号。",
    ),
    (
        "err_invalid_locale",
        "That language is not supported.",
        "不支持该语言。",
    ),
    ("err_invalid_name", "The name is not valid.", "名称无效。"),
    (
        "err_invalid_phone",
        "Write the phone number with its country code, such as +8613800138000.",
        "请填写带国家代码的手机号，例如 +8613800138000。",
    ),
    (
        "err_invalid_placement",
        "That account cannot be placed there.",
        "不能在此位置创建该账号。",
    ),
    (
        "err_invalid_policy",
        "The policy is not valid.",
        "策略无效。",
    ),
    (
        "err_invalid_slug",
        "The name may hold lower-case letters, digits and dashes.",
        "名称只能包含小写字母、数字和连字符。",
    ),
    (
        "err_invalid_staff_role",
        "There is no such staff role.",
        "不存在该职员角色。",
    ),
    (
        "err_invalid_username",
        "A username holds lower-case letters, digits, dots, dashes and underscores.",
        "用户名只能包含小写字母、数字、点、连字符和下划线。",
    ),
    (
        "err_method_not_available",
        "That way is not available for this account.",
        "此账号不支持该方式。",
    ),
    (
        "err_name_invalid",
        "Give the contact's name.",
        "请填写联系人姓名。",
    ),
    (
        "err_no_pending_code",
        "No code is waiting. Ask for a new one.",
        "没有待验证的验证码，请重新获取。",
    ),
    (
        "err_no_pending_contact",
        "No change is waiting for confirmation.",
        "没有待确认的更改。",
    ),
    (
        "err_no_verified_contact",
        "The account has no verified contact to send a link to.",
        "该账号没有可接收链接的已验证联系方式。",
    ),
    (
        "err_not_a_sub_account",
        "Only sub-accounts can do this.",
        "只有子账号可以执行此操作。",
    ),
    (
        "err_oidc_exchange_failed",
        "The external account could not be reached. Try again.",
        "无法连接外部账号，请重试。",
    ),
    (
        "err_oidc_not_configured",
        "External accounts are not set up here.",
        "此处未配置外部账号。",
    ),
    (
        "err_oidc_provider_error",
        "The external account refused the request.",
        "外部账号拒绝了请求。",
    ),
    (
        "err_oidc_state_invalid",
        "This sign-in answer is not expected. Start again.",
        "此登录结果无效，请重新开始。",
    ),
    (
        "err_parent_not_found",
        "The parent account does not exist.",
        "上级账号不存在。",
    ),
    (
        "err_password_change_required",
        "Change your password to continue.",
        "请先修改密码。",
    ),
    ("err_password_empty", "Enter the password.", "请输入密码。"),
    (
        "err_password_invalid_character",
        "The password holds a character that cannot be typed.",
        "密码包含无法输入的字符。",
    ),
    (
        "err_password_too_long",
        "The password is too long.",
        "密码过长。",
    ),
    (
        "err_provider_unavailable",
        "The identity check service cannot be reached. Try later.",
        "身份核验服务暂不可用，请稍后再试。",
    ),
    (
        "err_question_invalid",
        "Each question needs a few words.",
        "每个问题都需要填写内容。",
    ),
    (
        "err_question_repeated",
        "Ask each question once.",
        "问题不能重复。",
    ),
    (
        "err_questions_count",
        "Set the number of questions asked for.",
        "请按要求设置问题数量。",
    ),
    ("err_reason_required", "Give a reason.", "请填写原因。"),
    (
        "err_reauth_required",
        "Confirm your password first.",
        "请先确认您的密码。",
    ),
    (
        "err_too_many_attachments",
        "No more files can be attached.",
        "无法再添加附件。",
    ),
    ("err_unauthenticated", "Log on first.", "请先登录。"),
    (
        "err_verification_pending",
        "Still waiting for the answer.",
        "仍在等待结果。",
    ),
    (
        "err_webhook_invalid",
        "The notification is malformed.",
        "通知格式错误。",
    ),
    (
        "err_webhook_replayed",
        "The notification was already received.",
        "该通知已处理。",
    ),
    (
        "err_webhook_session_unknown",
        "The notification names no known check.",
        "通知未对应任何核验。",
    ),
    (
        "err_webhook_signature_invalid",
        "The notification's signature is wrong.",
        "通知签名错误。",
    ),
    (
        "err_webhook_stale",
        "The notification is too old.",
        "通知已过期。",
    ),
    // Policy violations, by their codes.
    ("v_too_short", "Too short.", "太短。"),
    ("v_too_long", "Too long.", "太长。"),
    (
        "v_disallowed_character",
        "Use only letters, digits and punctuation.",
        "只能使用字母、数字和标点。",
    ),
    ("v_contains_space", "Do not use spaces.", "不能包含空格。"),
    (
        "v_too_few_classes",
        "Mix more kinds of characters.",
        "请混合使用更多种类的字符。",
    ),
    (
        "v_contains_username",
        "Do not include your username.",
        "不能包含用户名。",
    ),
    (
        "v_contains_email",
        "Do not include your email address.",
        "不能包含邮箱地址。",
    ),
    (
        "v_contains_weak_keyword",
        "Do not include easily guessed words such as the organization's name.",
        "不能包含易猜词语（如组织名称）。",
    ),
    (
        "v_reused_password",
        "Choose a password you have not used recently.",
        "不能使用近期用过的密码。",
    ),
    (
        "v_common_password",
        "This password is too common.",
        "此密码过于常见。",
    ),
    (
        "v_too_weak",
        "This password is too easy to guess.",
        "此密码太容易被猜到。",
    ),
];
