//! The single decision of who may manage whom (DESIGN §2): rights flow down
//! the tree only; an `admin` sub-account also manages its siblings' subtrees
//! under the same parent, but never the parent and never a peer admin's own
//! credentials. Nothing crosses trees or tenants.

use super::{AccountNode, Position, Role};

/// May `actor` administer `target` (reset its password, disable it, change
/// its contacts or policy)? Acting on oneself goes through the self-service
/// endpoints, so it is not "managing".
pub fn can_manage(actor: &AccountNode, target: &AccountNode) -> bool {
    if actor.disabled || actor.tenant_id != target.tenant_id || actor.path.is_empty() {
        return false;
    }
    if actor.path == target.path {
        return false;
    }
    if actor.is_ancestor_of(target) {
        return true;
    }
    let Position::Sub(Role::Admin) = actor.position else {
        return false;
    };
    // An admin acts for its parent over the parent's other children.
    let parent_len = actor.path.len() - 1;
    if target.path.len() <= parent_len || !target.path.starts_with(&actor.path[..parent_len]) {
        return false; // the parent itself, anything above it, or another tree
    }
    let is_peer = target.path.len() == actor.path.len();
    !(is_peer && target.position == Position::Sub(Role::Admin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountKind, Position};

    fn node(tenant: i64, path: &[i64], position: Position) -> AccountNode {
        AccountNode {
            tenant_id: tenant,
            path: path.to_vec(),
            position,
            disabled: false,
        }
    }

    const ENT: Position = Position::Root(AccountKind::Enterprise);
    const IND: Position = Position::Root(AccountKind::Individual);
    const ADMIN: Position = Position::Sub(Role::Admin);
    const MEMBER: Position = Position::Sub(Role::Member);

    /// Tenant 1: enterprise 1 with admins 2, 3 and members 4, 5; member 4 has
    /// child 6; admin 2 has child 7. Mail domain 10 (member of 1) with
    /// postmaster 11 (admin) and employees 12, 13; employee 12 has child 14.
    /// Individual root 20 with member 21. Tenant 2 mirrors enterprise 1 as 1.
    #[test]
    fn rights_table() {
        let ent = node(1, &[1], ENT);
        let admin2 = node(1, &[1, 2], ADMIN);
        let admin3 = node(1, &[1, 3], ADMIN);
        let member4 = node(1, &[1, 4], MEMBER);
        let member5 = node(1, &[1, 5], MEMBER);
        let child6 = node(1, &[1, 4, 6], MEMBER);
        let child7 = node(1, &[1, 2, 7], MEMBER);
        let domain10 = node(1, &[1, 10], MEMBER);
        let postmaster11 = node(1, &[1, 10, 11], ADMIN);
        let emp12 = node(1, &[1, 10, 12], MEMBER);
        let emp13 = node(1, &[1, 10, 13], MEMBER);
        let sub14 = node(1, &[1, 10, 12, 14], MEMBER);
        let ind20 = node(1, &[20], IND);
        let sub21 = node(1, &[20, 21], MEMBER);
        let other_tenant_ent = node(2, &[1], ENT);
        let other_tenant_member = node(2, &[1, 4], MEMBER);
        let mut disabled_admin2 = admin2.clone();
        disabled_admin2.disabled = true;

        let table: &[(&str, &AccountNode, &AccountNode, bool)] = &[
            // downward: a root manages its whole tree
            ("root → admin", &ent, &admin2, true),
            ("root → member", &ent, &member4, true),
            ("root → grandchild", &ent, &child6, true),
            ("root → postmaster", &ent, &postmaster11, true),
            ("root → deep employee child", &ent, &sub14, true),
            ("member → own child", &member4, &child6, true),
            ("domain → postmaster", &domain10, &postmaster11, true),
            ("domain → employee", &domain10, &emp12, true),
            ("individual → its sub", &ind20, &sub21, true),
            // admins: siblings' subtrees under the same parent
            ("admin → sibling member", &admin2, &member4, true),
            ("admin → sibling's child", &admin2, &child6, true),
            ("admin → own child", &admin2, &child7, true),
            ("admin → peer admin's child", &admin3, &child7, true),
            ("admin → sibling mail domain", &admin2, &domain10, true),
            ("admin → employee two levels down", &admin2, &emp12, true),
            ("postmaster → employee", &postmaster11, &emp12, true),
            ("postmaster → employee's child", &postmaster11, &sub14, true),
            // upward denials
            ("admin ↛ parent", &admin2, &ent, false),
            ("postmaster ↛ its domain", &postmaster11, &domain10, false),
            (
                "postmaster ↛ the enterprise root",
                &postmaster11,
                &ent,
                false,
            ),
            ("child ↛ parent", &child6, &member4, false),
            ("member ↛ root", &member4, &ent, false),
            // sideways denials
            ("admin ↛ peer admin", &admin2, &admin3, false),
            ("member ↛ sibling member", &member4, &member5, false),
            ("member ↛ sibling admin", &member4, &admin2, false),
            ("employee ↛ peer employee", &emp12, &emp13, false),
            ("employee ↛ postmaster", &emp12, &postmaster11, false),
            (
                "postmaster ↛ sibling of its domain",
                &postmaster11,
                &member4,
                false,
            ),
            (
                "postmaster ↛ enterprise admin",
                &postmaster11,
                &admin2,
                false,
            ),
            // nobody manages themselves through admin rights
            ("root ↛ itself", &ent, &ent, false),
            ("admin ↛ itself", &admin2, &admin2, false),
            // cross-tree and cross-tenant denials
            ("enterprise ↛ other root", &ent, &ind20, false),
            ("individual ↛ other tree's member", &ind20, &member4, false),
            ("admin ↛ other tree", &admin2, &sub21, false),
            (
                "root ↛ same ids in another tenant",
                &ent,
                &other_tenant_member,
                false,
            ),
            (
                "other tenant root ↛ this tenant",
                &other_tenant_ent,
                &member4,
                false,
            ),
            (
                "admin ↛ other tenant's twin",
                &admin2,
                &other_tenant_member,
                false,
            ),
            // a disabled account manages no one
            (
                "disabled admin ↛ sibling",
                &disabled_admin2,
                &member4,
                false,
            ),
        ];
        assert!(table.len() >= 25);
        for (name, actor, target, expected) in table {
            assert_eq!(can_manage(actor, target), *expected, "{name}");
        }
    }

    #[test]
    fn paths_round_trip() {
        let path = vec![1, 22, 333];
        assert_eq!(
            AccountNode::parse_path(&AccountNode::format_path(&path)),
            Some(path)
        );
        assert_eq!(AccountNode::parse_path("1/x"), None);
    }
}
