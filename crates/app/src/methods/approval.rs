//! Administrator approval: the person picks one of the organization's
//! administrators (shown masked); that administrator, or anyone above them
//! in the tree, approves or denies within 24 hours. An approval lets the
//! flow verify; a denial ends it with the reason.

use regain_delivery::templates::Template;
use regain_domain::account::can_manage;
use regain_domain::recovery::APPROVAL_TTL_SECS;
use regain_store::{Account, Approval, AuditEvent, FlowRecord, StoreError, Tenant};

use crate::auth::{Authenticated, Client};
use crate::messages::to_verified_contacts;
use crate::{App, AppError};

/// A pending request as an administrator sees it.
#[derive(Debug, Clone)]
pub struct PendingApproval {
    /// The request.
    pub approval: Approval,
    /// The account asking, by name.
    pub account: String,
    /// The administrator asked, by name.
    pub approver: String,
}

fn not_found() -> AppError {
    AppError::NotFound {
        code: "approval_not_found",
        message: "no such approval request",
    }
}

fn decided() -> AppError {
    AppError::WrongState {
        code: "approval_decided",
        message: "this request was decided already",
    }
}

impl App {
    /// Sends the request of the flow `r` to the approver `approver_id`.
    pub(crate) async fn request_approval(
        &self,
        tenant: &Tenant,
        mut r: FlowRecord,
        approver_id: i64,
        client: &Client,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let account_id = r.account_id.ok_or_else(not_found)?;
        let account = self
            .store
            .account(tenant.id, account_id)
            .await?
            .ok_or_else(AppError::account_not_found)?;
        let approver = self
            .store
            .account(tenant.id, approver_id)
            .await?
            .ok_or_else(not_found)?;
        let hours = APPROVAL_TTL_SECS / 3600;
        let name = account.qualified_name.clone();
        let mut notices_error = None;
        let event = AuditEvent::new(
            Some(tenant.id),
            "recovery.approval_requested",
            "anonymous",
            &format!("account:{}", account.id),
            &client.ip.to_string(),
            "success",
        );
        self.store
            .request_approval(
                &mut r,
                approver.id,
                now.plus_secs(APPROVAL_TTL_SECS),
                |id| {
                    to_verified_contacts(
                        &approver,
                        &Template::ApprovalRequested {
                            account: name,
                            request: id,
                            hours,
                        },
                    )
                    .unwrap_or_else(|e| {
                        notices_error = Some(e);
                        Vec::new()
                    })
                },
                &event,
                now,
            )
            .await?;
        if let Some(e) = notices_error {
            return Err(e);
        }
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// Whether `actor` may decide a request to `approver_id`: the approver
    /// itself, or an account above it.
    async fn may_decide(
        &self,
        tenant: &Tenant,
        actor: &Account,
        approval: &Approval,
    ) -> Result<bool, AppError> {
        if actor.id == approval.account_id {
            return Ok(false);
        }
        if actor.id == approval.approver_id {
            return Ok(true);
        }
        let approver = self.store.account(tenant.id, approval.approver_id).await?;
        Ok(approver.is_some_and(|a| {
            actor.path.len() < a.path.len() && can_manage(&actor.node(), &a.node())
        }))
    }

    /// Pending requests the actor may decide.
    pub async fn pending_approvals(
        &self,
        tenant: &Tenant,
        actor: &Authenticated,
    ) -> Result<Vec<PendingApproval>, AppError> {
        let me = &actor.account;
        // The actor and every account below it that could be asked.
        let mut approvers = vec![me.id];
        let below = self
            .store
            .accounts_below(me, 10_000)
            .await?
            .into_iter()
            .filter(|a| can_manage(&me.node(), &a.node()))
            .map(|a| a.id);
        approvers.extend(below);
        let mut out = Vec::new();
        for approval in self
            .store
            .pending_approvals(tenant.id, &approvers, self.clock.now())
            .await?
        {
            if approval.account_id == me.id {
                continue;
            }
            let name = |id| async move {
                self.store
                    .account(tenant.id, id)
                    .await
                    .map(|a| a.map(|a| a.qualified_name).unwrap_or_default())
            };
            out.push(PendingApproval {
                account: name(approval.account_id).await?,
                approver: name(approval.approver_id).await?,
                approval,
            });
        }
        Ok(out)
    }

    /// Approves or denies a pending request.
    pub async fn decide_approval(
        &self,
        tenant: &Tenant,
        actor: &Authenticated,
        id: i64,
        approve: bool,
        reason: Option<&str>,
        client: &Client,
    ) -> Result<Approval, AppError> {
        let now = self.clock.now();
        let approval = self
            .store
            .approval(tenant.id, id)
            .await?
            .ok_or_else(not_found)?;
        if !self.may_decide(tenant, &actor.account, &approval).await? {
            return Err(AppError::Forbidden);
        }
        if approval.state != "pending" {
            return Err(decided());
        }
        if now >= approval.expires_at {
            return Err(AppError::Gone {
                code: "approval_expired",
                message: "this request has expired; the person must start again",
            });
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if !approve && reason.is_none() {
            return Err(AppError::Invalid {
                code: "reason_required",
                message: "say why the request is denied".into(),
            });
        }
        let mut r = self
            .store
            .flow(tenant.id, &approval.flow_id_hash)
            .await?
            .ok_or_else(not_found)?;
        if r.flow.progress.reference.as_deref() != Some(&approval.id.to_string()) {
            return Err(decided());
        }
        if approve {
            r.flow.pass(now)?;
        } else {
            r.flow.deny(reason.unwrap_or_default(), now)?;
        }
        let account = self
            .store
            .account(tenant.id, approval.account_id)
            .await?
            .ok_or_else(AppError::account_not_found)?;
        let notices = to_verified_contacts(
            &account,
            &Template::ApprovalDecided {
                account: account.qualified_name.clone(),
                approved: approve,
                reason: reason.unwrap_or_default().to_string(),
            },
        )?;
        let mut event = AuditEvent::new(
            Some(tenant.id),
            "recovery.approval_decided",
            &format!("account:{}", actor.account.id),
            &format!("account:{}", account.id),
            &client.ip.to_string(),
            if approve { "approved" } else { "denied" },
        );
        event.detail = serde_json::json!({ "approval": approval.id }).to_string();
        self.store
            .decide_approval(
                approval.id,
                approve,
                reason,
                actor.account.id,
                &r,
                &notices,
                &event,
                now,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => decided(),
                other => other.into(),
            })?;
        self.outbox_wake.notify_one();
        Ok(Approval {
            state: if approve { "approved" } else { "denied" }.into(),
            reason: reason.map(str::to_string),
            decided_by: Some(actor.account.id),
            ..approval
        })
    }
}
