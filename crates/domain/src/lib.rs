//! Regain's domain: the pure rules of the product.
//!
//! Nothing here performs I/O, awaits, or knows about SQL or HTTP. Input from
//! the outside world is parsed into the types of [`identifiers`] at the edge;
//! rights over the account tree are decided by [`account::can_manage`]; the
//! password rules live in [`policy`]. Time comes in through [`clock::Clock`]
//! so every expiry is testable without sleeping.
#![deny(missing_docs)]

pub mod account;
pub mod branding;
pub mod clock;
pub mod identifiers;
pub mod password;
pub mod policy;
pub mod recovery;
pub mod tenant;
