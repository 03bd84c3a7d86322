//! Accounts as a tree inside a tenant, and who may manage whom.

mod rights;

pub use rights::can_manage;

use serde::{Deserialize, Serialize};

/// What a root account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A person.
    Individual,
    /// An organization: its sub-accounts are employees or members.
    Enterprise,
}

/// A sub-account's standing in its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages its siblings' subtrees (never its parent, never a peer admin).
    Admin,
    /// Manages only its own descendants.
    Member,
}

impl AccountKind {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Individual => "individual",
            AccountKind::Enterprise => "enterprise",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "individual" => Some(AccountKind::Individual),
            "enterprise" => Some(AccountKind::Enterprise),
            _ => None,
        }
    }
}

impl Role {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// Where an account sits: a root has a kind, a sub-account a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A top-level account.
    Root(AccountKind),
    /// A sub-account with its role in its parent.
    Sub(Role),
}

/// The facts about an account that rights depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountNode {
    /// The tenant the account belongs to.
    pub tenant_id: i64,
    /// Ids from the root down to and including this account.
    pub path: Vec<i64>,
    /// Root kind or sub-account role.
    pub position: Position,
    /// A disabled account can neither log in nor manage anyone.
    pub disabled: bool,
}

impl AccountNode {
    /// This account's id.
    pub fn id(&self) -> i64 {
        self.path.last().copied().unwrap_or_default()
    }

    /// The parent's id, `None` for a root.
    pub fn parent_id(&self) -> Option<i64> {
        self.path.len().checked_sub(2).map(|i| self.path[i])
    }

    /// True when `self` is a strict ancestor of `other` (same tenant).
    pub fn is_ancestor_of(&self, other: &AccountNode) -> bool {
        self.tenant_id == other.tenant_id
            && self.path.len() < other.path.len()
            && other.path.starts_with(&self.path)
    }

    /// Parses a stored path such as `"1/5/9"`.
    pub fn parse_path(text: &str) -> Option<Vec<i64>> {
        text.split('/').map(|p| p.parse().ok()).collect()
    }

    /// Renders a path for storage, the inverse of [`Self::parse_path`].
    pub fn format_path(path: &[i64]) -> String {
        let parts: Vec<String> = path.iter().map(i64::to_string).collect();
        parts.join("/")
    }
}
