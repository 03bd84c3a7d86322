//! Integration tests: the real server on a random port, spoken to over HTTP,
//! on SQLite and (when REGAIN_TEST_DATABASE_URL is set) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod helpers;

mod admin;
mod appeals;
mod browser;
mod cli;
mod deploy;
mod health;
mod kyc;
mod login;
mod methods;
mod metrics;
mod oidc;
mod openapi;
mod password;
mod peers;
mod recovery;
mod robustness;
mod store_contract;
mod throttling;
