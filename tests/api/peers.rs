//! Real peers on loopback for the tests: an SMTP server that keeps what it
//! receives, an SMS gateway that checks signatures, and a siteverify-style
//! CAPTCHA service. No mocks: Regain talks to them over TCP as it would to
//! the real ones.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A minimal SMTP server: enough of RFC 5321 for a real client to deliver.
pub struct SmtpSink {
    pub port: u16,
    pub messages: Arc<Mutex<Vec<String>>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let task = Some(tokio::spawn(serve_smtp(listener, messages.clone())));
        SmtpSink {
            port,
            messages,
            task,
        }
    }

    /// Stops accepting and drops every open connection.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same port, keeping what was received.
    pub async fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot listen again on {}: {e}", self.port),
            }
        };
        self.task = Some(tokio::spawn(serve_smtp(listener, self.messages.clone())));
    }

    /// Waits until a message to `to` arrives (or 10 s pass).
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.to(to);
            if found.len() >= count || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Every message received for `to`.
    pub fn to(&self, to: &str) -> Vec<String> {
        let needle = format!("to: {to}").to_lowercase();
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.lines().any(|l| l.to_lowercase() == needle))
            .cloned()
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve_smtp(listener: TcpListener, messages: Arc<Mutex<Vec<String>>>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        let messages = messages.clone();
        connections.spawn(async move {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            let _ = write.write_all(b"220 sink ESMTP\r\n").await;
            while let Ok(Some(line)) = lines.next_line().await {
                let verb = line
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" | "HELO" => b"250 sink\r\n",
                    "DATA" => {
                        let _ = write.write_all(b"354 end with .\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(l.strip_prefix('.').unwrap_or(&l));
                            data.push('\n');
                        }
                        messages.lock().unwrap().push(decoded(&data));
                        b"250 queued\r\n"
                    }
                    "QUIT" => {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    }
                    _ => b"250 ok\r\n",
                };
                if write.write_all(reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The message with its body decoded from quoted-printable or base64, so
/// tests read the text a mail client would show.
fn decoded(raw: &str) -> String {
    use base64::Engine;
    let Some((headers, body)) = raw.split_once("\n\n") else {
        return raw.to_string();
    };
    let lower = headers.to_lowercase();
    let bytes = if lower.contains("content-transfer-encoding: quoted-printable") {
        let joined = body.replace("=\n", "");
        let mut out = Vec::new();
        let b = joined.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'=' && i + 2 < b.len() {
                if let Ok(v) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        out
    } else if lower.contains("content-transfer-encoding: base64") {
        let joined: String = body.lines().collect();
        base64::engine::general_purpose::STANDARD
            .decode(joined.trim())
            .unwrap_or_default()
    } else {
        return raw.to_string();
    };
    let headers: Vec<&str> = headers
        .lines()
        .filter(|l| !l.to_lowercase().starts_with("content-transfer-encoding:"))
        .collect();
    format!(
        "{}\n\n{}",
        headers.join("\n"),
        String::from_utf8_lossy(&bytes)
    )
}

/// The first six-digit run after "code is" (English) or "验证码是" in a text.
pub fn code_in(text: &str) -> String {
    let at = text
        .find("code is ")
        .map(|i| i + 8)
        .or_else(|| text.find("验证码是 ").map(|i| i + "验证码是 ".len()));
    let rest = &text[at.expect("a code in the message")..];
    rest.chars().take_while(|c| c.is_ascii_digit()).collect()
}

/// The `flow` and `token` of a reset link's fragment.
pub fn link_parts(text: &str) -> (String, String) {
    let at = text.find("#flow=").expect("a reset link") + 6;
    let rest = &text[at..];
    let (flow, rest) = rest.split_once("&token=").unwrap();
    let token: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (flow.to_string(), token)
}

/// The Message-ID header of an email.
pub fn message_id(email: &str) -> String {
    email
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .unwrap_or_default()
        .to_string()
}

/// An SMS gateway that accepts only correctly signed requests.
pub struct SmsGateway {
    pub url: String,
    pub secret: String,
    pub received: Arc<Mutex<Vec<Value>>>,
    pub rejected: Arc<AtomicUsize>,
}

impl SmsGateway {
    pub async fn start() -> SmsGateway {
        let secret = "gateway-secret-for-tests".to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let rejected = Arc::new(AtomicUsize::new(0));
        let (key, store, refused) = (secret.clone(), received.clone(), rejected.clone());
        let app = Router::new().route(
            "/sms",
            post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (key, store, refused) = (key.clone(), store.clone(), refused.clone());
                async move {
                    let timestamp = headers
                        .get("x-regain-timestamp")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let signature = headers
                        .get("x-regain-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let expected = regain_delivery::senders::sign(key.as_bytes(), timestamp, &body);
                    if timestamp.is_empty() || signature != expected {
                        refused.fetch_add(1, Ordering::SeqCst);
                        return StatusCode::UNAUTHORIZED;
                    }
                    match serde_json::from_slice::<Value>(&body) {
                        Ok(v) => {
                            store.lock().unwrap().push(v);
                            StatusCode::OK
                        }
                        Err(_) => StatusCode::BAD_REQUEST,
                    }
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        SmsGateway {
            url,
            secret,
            received,
            rejected,
        }
    }

    /// Waits until `count` messages to `to` arrived (or 10 s pass).
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found: Vec<Value> = self
                .received
                .lock()
                .unwrap()
                .iter()
                .filter(|m| m["to"] == to)
                .cloned()
                .collect();
            if found.len() >= count || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A siteverify-style CAPTCHA service: `response=good-token` with the right
/// secret succeeds.
pub async fn captcha_provider() -> String {
    let app = Router::new().route(
        "/siteverify",
        post(
            |Form(form): Form<std::collections::HashMap<String, String>>| async move {
                let ok = form.get("secret").map(String::as_str) == Some("provider-secret")
                    && form.get("response").map(String::as_str) == Some("good-token");
                Json(json!({"success": ok}))
            },
        ),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/siteverify", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    url
}

/// A KYC/liveness provider: creates sessions for Regain (checking its API
/// key) and, when the test says so, posts a signed result to Regain's
/// webhook as the real provider would. Its session page (`/verify/{id}`)
/// stands for the person passing the check in a browser: it posts a
/// `pass` for the document set with [`KycPeer::set_document`].
pub struct KycPeer {
    /// Where Regain creates sessions.
    pub session_url: String,
    /// The API key Regain must present.
    pub api_key: String,
    /// Signs the results.
    pub webhook_secret: String,
    /// The session requests received.
    pub sessions: Arc<Mutex<Vec<Value>>>,
    /// The document a browser visit to the session page reports.
    document: Arc<Mutex<String>>,
}

impl KycPeer {
    pub async fn start() -> KycPeer {
        let api_key = "kyc-api-key-for-tests".to_string();
        let webhook_secret = "kyc-webhook-secret-for-tests".to_string();
        let sessions: Arc<Mutex<Vec<Value>>> = Arc::new(Mutex::new(Vec::new()));
        let document = Arc::new(Mutex::new(String::new()));
        let (key, store) = (api_key.clone(), sessions.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let page = base.clone();
        let visit = {
            let (store, document, secret) =
                (sessions.clone(), document.clone(), webhook_secret.clone());
            move |axum::extract::Path(id): axum::extract::Path<String>| {
                let (store, document, secret) = (store.clone(), document.clone(), secret.clone());
                async move {
                    let n: usize = id.trim_start_matches("kyc-session-").parse().unwrap_or(0);
                    let callback = store
                        .lock()
                        .unwrap()
                        .get(n.wrapping_sub(1))
                        .map(|s| s["callback_url"].as_str().unwrap_or_default().to_string());
                    let Some(callback) = callback else {
                        return (StatusCode::NOT_FOUND, "no such session".to_string());
                    };
                    let body = json!({"session_id": id, "result": "pass",
                        "document_number": document.lock().unwrap().clone()});
                    let raw = serde_json::to_vec(&body).unwrap();
                    // The provider's own clock signs the call.
                    #[allow(clippy::disallowed_methods)]
                    let ts = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs()
                        .to_string();
                    let signature = regain_delivery::senders::sign(secret.as_bytes(), &ts, &raw);
                    let status = reqwest::Client::new()
                        .post(&callback)
                        .header("content-type", "application/json")
                        .header("x-regain-timestamp", ts)
                        .header("x-regain-signature", signature)
                        .body(raw)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    (
                        StatusCode::OK,
                        format!("check done ({status}); go back to the service"),
                    )
                }
            }
        };
        let app = Router::new()
            .route(
                "/sessions",
                post(move |headers: HeaderMap, Json(body): Json<Value>| {
                    let (key, store, page) = (key.clone(), store.clone(), page.clone());
                    async move {
                        let auth = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        if auth != format!("Bearer {key}") {
                            return (StatusCode::UNAUTHORIZED, Json(json!({})));
                        }
                        let mut all = store.lock().unwrap();
                        all.push(body);
                        let id = format!("kyc-session-{}", all.len());
                        (
                            StatusCode::CREATED,
                            Json(json!({"session_id": id, "url": format!("{page}/verify/{id}")})),
                        )
                    }
                }),
            )
            .route("/verify/{id}", axum::routing::get(visit));
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        KycPeer {
            session_url: format!("{base}/sessions"),
            api_key,
            webhook_secret,
            sessions,
            document,
        }
    }

    /// The document number the session page reports as checked.
    pub fn set_document(&self, number: &str) {
        *self.document.lock().unwrap() = number.into();
    }

    /// Posts `body` to `webhook` signed at `timestamp`, with `secret` (the
    /// right one, or a forger's); returns status and body.
    pub async fn post_result(
        &self,
        http: &reqwest::Client,
        webhook: &str,
        timestamp: i64,
        secret: &str,
        body: &Value,
    ) -> (u16, Value) {
        let raw = serde_json::to_vec(body).unwrap();
        let ts = timestamp.to_string();
        let signature = regain_delivery::senders::sign(secret.as_bytes(), &ts, &raw);
        let res = http
            .post(webhook)
            .header("content-type", "application/json")
            .header("x-regain-timestamp", ts)
            .header("x-regain-signature", signature)
            .body(raw)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// How the OpenID Connect peer misbehaves, to test that Regain refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OidcMode {
    /// A correct provider.
    Honest,
    /// The ID token carries another sign-in's nonce.
    WrongNonce,
    /// The ID token is issued to another client.
    WrongAudience,
    /// The ID token is signed with a key not in the JWKS.
    UnknownKey,
}

struct OidcState {
    mode: OidcMode,
    id_number: String,
    account_type: String,
    /// code → (nonce, PKCE challenge)
    codes: std::collections::HashMap<String, (String, String)>,
}

/// An OpenID Connect provider: discovery, JWKS, an authorization endpoint
/// that signs the person in at once and redirects back, and a token
/// endpoint that checks PKCE and the client secret and returns an ID token
/// signed RS256 with its test key.
pub struct OidcPeer {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    state: Arc<Mutex<OidcState>>,
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign_jwt(key: &rsa::RsaPrivateKey, kid: &str, claims: &Value) -> String {
    use rsa::sha2::{Digest, Sha256};
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let digest = Sha256::digest(input.as_bytes());
    let signature = key
        .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
        .unwrap();
    format!("{input}.{}", b64url(&signature))
}

impl OidcPeer {
    pub async fn start() -> OidcPeer {
        use rsa::traits::PublicKeyParts;
        let mut rng = rsa::rand_core::OsRng;
        let key = Arc::new(rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap());
        let stranger = Arc::new(rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let (client_id, client_secret) = (
            "regain-client".to_string(),
            "client-secret-for-tests".to_string(),
        );
        let state = Arc::new(Mutex::new(OidcState {
            mode: OidcMode::Honest,
            id_number: String::new(),
            account_type: "individual".into(),
            codes: Default::default(),
        }));
        let jwk = json!({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
            "n": b64url(&key.n().to_bytes_be()), "e": b64url(&key.e().to_bytes_be())}]});
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        let authorize = {
            let state = state.clone();
            move |axum::extract::Query(q): axum::extract::Query<
                std::collections::HashMap<String, String>,
            >| {
                let state = state.clone();
                async move {
                    let code = format!("code-{}", crate::helpers::random_hex(8));
                    state.lock().unwrap().codes.insert(
                        code.clone(),
                        (
                            q["nonce"].clone(),
                            q.get("code_challenge").cloned().unwrap_or_default(),
                        ),
                    );
                    let back = format!("{}?code={code}&state={}", q["redirect_uri"], q["state"]);
                    (StatusCode::FOUND, [(axum::http::header::LOCATION, back)])
                }
            }
        };
        let token = {
            let (state, iss, id, secret) = (
                state.clone(),
                issuer.clone(),
                client_id.clone(),
                client_secret.clone(),
            );
            move |headers: HeaderMap,
                  Form(form): Form<std::collections::HashMap<String, String>>| {
                let (state, iss, id, secret) =
                    (state.clone(), iss.clone(), id.clone(), secret.clone());
                let (key, stranger) = (key.clone(), stranger.clone());
                async move {
                    use base64::Engine;
                    use rsa::sha2::{Digest, Sha256};
                    let basic = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
                    );
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    if auth != basic {
                        return (
                            StatusCode::UNAUTHORIZED,
                            Json(json!({"error": "invalid_client"})),
                        );
                    }
                    let mut s = state.lock().unwrap();
                    let Some((nonce, challenge)) = s
                        .codes
                        .remove(form.get("code").map(String::as_str).unwrap_or(""))
                    else {
                        return (
                            StatusCode::BAD_REQUEST,
                            Json(json!({"error": "invalid_grant"})),
                        );
                    };
                    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                    if b64url(&Sha256::digest(verifier.as_bytes())) != challenge {
                        return (
                            StatusCode::BAD_REQUEST,
                            Json(json!({"error": "invalid_grant", "error_description": "PKCE"})),
                        );
                    }
                    // A provider is another party with its own wall clock
                    // (and openidconnect checks `exp` against the wall clock).
                    #[allow(clippy::disallowed_methods)]
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs();
                    let claims = json!({
                        "iss": iss,
                        "sub": "external-user-1",
                        "aud": if s.mode == OidcMode::WrongAudience { "another-client".to_string() } else { id.clone() },
                        "exp": now + 300,
                        "iat": now,
                        "nonce": if s.mode == OidcMode::WrongNonce { "someone-elses-nonce".to_string() } else { nonce },
                        "id_number": s.id_number,
                        "account_type": s.account_type,
                    });
                    let id_token = if s.mode == OidcMode::UnknownKey {
                        sign_jwt(&stranger, "k1", &claims)
                    } else {
                        sign_jwt(&key, "k1", &claims)
                    };
                    (
                        StatusCode::OK,
                        Json(
                            json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}),
                        ),
                    )
                }
            }
        };
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || async move { Json(discovery) }),
            )
            .route(
                "/jwks",
                axum::routing::get(move || async move { Json(jwk) }),
            )
            .route("/authorize", axum::routing::get(authorize))
            .route("/token", post(token));
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        OidcPeer {
            issuer,
            client_id,
            client_secret,
            state,
        }
    }

    /// Who the person is at the provider, and how the provider behaves.
    pub fn set(&self, id_number: &str, account_type: &str, mode: OidcMode) {
        let mut s = self.state.lock().unwrap();
        s.id_number = id_number.into();
        s.account_type = account_type.into();
        s.mode = mode;
    }
}
