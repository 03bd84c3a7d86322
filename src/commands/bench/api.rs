//! The requests of a recovery journey and a login, as a client sends them.
//! Each client has its own address (sent through a trusted proxy header),
//! as real traffic comes from many addresses.

use reqwest::{Client, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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

    /// Sends `body` to `path`; the response if it has the `expect`ed
    /// status.
    async fn send(
        &self,
        client: usize,
        path: &str,
        body: &impl Serialize,
        expect: u16,
    ) -> Result<Response, u16> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-forwarded-for", address(client))
            .json(body)
            .send()
            .await
            .map_err(|_| 0u16)?;
        let status = response.status().as_u16();
        if status != expect {
            return Err(status);
        }
        Ok(response)
    }

    /// The fields of the answer that the client needs, read as a typed
    /// value (not a whole JSON tree: the benchmark's own work per request
    /// is kept small, so that the two cores go to the server).
    async fn post<T: DeserializeOwned>(
        &self,
        client: usize,
        path: &str,
        body: &impl Serialize,
        expect: u16,
    ) -> Result<T, u16> {
        let response = self.send(client, path, body, expect).await?;
        response.json::<T>().await.map_err(|_| expect)
    }

    /// Sends `body` and reads the answer to its end (so that the
    /// connection is reused) without parsing it.
    async fn post_only(
        &self,
        client: usize,
        path: &str,
        body: &impl Serialize,
        expect: u16,
    ) -> Result<(), u16> {
        let response = self.send(client, path, body, expect).await?;
        response.bytes().await.map(drop).map_err(|_| expect)
    }

    /// Starts a recovery; the flow id.
    pub async fn start(&self, client: usize, identifier: &str) -> Result<String, u16> {
        let started: Started = self
            .post(client, "/recovery", &StartRequest { identifier }, 201)
            .await?;
        Ok(started.flow_id)
    }

    /// Asks for an email code.
    pub async fn challenge(&self, client: usize, flow: &str) -> Result<(), u16> {
        self.post_only(
            client,
            &format!("/recovery/{flow}/challenge"),
            &ChallengeRequest {
                method: "email_code",
            },
            200,
        )
        .await
    }

    /// Redeems the code; the reset token.
    pub async fn verify(&self, client: usize, flow: &str, code: &str) -> Result<String, u16> {
        let verified: Verified = self
            .post(
                client,
                &format!("/recovery/{flow}/verify"),
                &VerifyRequest { code },
                200,
            )
            .await?;
        Ok(verified.reset_token)
    }

    /// Sets the new password.
    pub async fn reset(
        &self,
        client: usize,
        flow: &str,
        token: &str,
        password: &str,
    ) -> Result<(), u16> {
        self.post_only(
            client,
            &format!("/recovery/{flow}/reset"),
            &ResetRequest {
                reset_token: token,
                new_password: password,
                confirm_password: password,
            },
            200,
        )
        .await
    }

    /// Logs in.
    pub async fn login(&self, client: usize, identifier: &str, password: &str) -> Result<(), u16> {
        self.post_only(
            client,
            "/sessions",
            &LoginRequest {
                identifier,
                password,
            },
            201,
        )
        .await
    }
}

#[derive(Serialize)]
struct StartRequest<'a> {
    identifier: &'a str,
}

#[derive(Deserialize)]
struct Started {
    flow_id: String,
}

#[derive(Serialize)]
struct ChallengeRequest {
    method: &'static str,
}

#[derive(Serialize)]
struct VerifyRequest<'a> {
    code: &'a str,
}

#[derive(Deserialize)]
struct Verified {
    reset_token: String,
}

#[derive(Serialize)]
struct ResetRequest<'a> {
    reset_token: &'a str,
    new_password: &'a str,
    confirm_password: &'a str,
}

#[derive(Serialize)]
struct LoginRequest<'a> {
    identifier: &'a str,
    password: &'a str,
}
