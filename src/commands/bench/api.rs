//! The requests of a recovery journey and a login, as a client sends them.
//! Each client has its own address (sent through a trusted proxy header),
//! as real traffic comes from many addresses.

use reqwest::Client;
use serde_json::{json, Value};

/// The tenant's API, seen from one machine.
#[derive(Clone)]
pub struct Api {
    http: Client,
    base: String,
    tenant: String,
}

/// The forwarded address of client number `client`.
fn address(client: usize) -> String {
    format!(
        "10.{}.{}.{}",
        (client >> 16) & 255,
        (client >> 8) & 255,
        client & 255
    )
}

impl Api {
    /// The API of `tenant` on the server at `addr`.
    pub fn new(http: Client, addr: &str, tenant: &str) -> Api {
        Api {
            http,
            base: format!("http://{addr}/api/v1/t/{tenant}"),
            tenant: tenant.to_string(),
        }
    }

    /// The tenant's slug.
    pub fn tenant(&self) -> String {
        self.tenant.clone()
    }

    async fn post(
        &self,
        client: usize,
        path: &str,
        body: Value,
        expect: u16,
    ) -> Result<Value, u16> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-forwarded-for", address(client))
            .json(&body)
            .send()
            .await
            .map_err(|_| 0u16)?;
        let status = response.status().as_u16();
        if status != expect {
            return Err(status);
        }
        response.json::<Value>().await.map_err(|_| status)
    }

    /// Starts a recovery; the flow id.
    pub async fn start(&self, client: usize, identifier: &str) -> Result<String, u16> {
        let body = self
            .post(client, "/recovery", json!({"identifier": identifier}), 201)
            .await?;
        body["flow_id"].as_str().map(String::from).ok_or(201)
    }

    /// Asks for an email code.
    pub async fn challenge(&self, client: usize, flow: &str) -> Result<(), u16> {
        self.post(
            client,
            &format!("/recovery/{flow}/challenge"),
            json!({"method": "email_code"}),
            200,
        )
        .await
        .map(|_| ())
    }

    /// Redeems the code; the reset token.
    pub async fn verify(&self, client: usize, flow: &str, code: &str) -> Result<String, u16> {
        let body = self
            .post(
                client,
                &format!("/recovery/{flow}/verify"),
                json!({"code": code}),
                200,
            )
            .await?;
        body["reset_token"].as_str().map(String::from).ok_or(200)
    }

    /// Sets the new password.
    pub async fn reset(
        &self,
        client: usize,
        flow: &str,
        token: &str,
        password: &str,
    ) -> Result<(), u16> {
        self.post(
            client,
            &format!("/recovery/{flow}/reset"),
            json!({"reset_token": token, "new_password": password, "confirm_password": password}),
            200,
        )
        .await
        .map(|_| ())
    }

    /// Logs in.
    pub async fn login(&self, client: usize, identifier: &str, password: &str) -> Result<(), u16> {
        self.post(
            client,
            "/sessions",
            json!({"identifier": identifier, "password": password}),
            201,
        )
        .await
        .map(|_| ())
    }
}
