//! A fake OpenRouter on `127.0.0.1:0` that speaks the real API and serves the recorded
//! fixtures: `GET /api/v1/models`, `/api/v1/key` (and the older `/api/v1/auth/key`),
//! `/api/v1/credits`, with OpenRouter's own error bodies. Everything is switchable while it
//! runs: which catalog it serves, which key document, whether credits are forbidden, and
//! faults per path (hang, dropped connection, garbage, truncated or HTML bodies, any status
//! with any headers). It counts requests per path.
//!
//! ```ignore
//! let server = FakeOpenRouter::start();
//! server.serve_models("models-2026-03-31.json");
//! server.fail("/api/v1/models", Fault::rate_limited("error-429-free-models-per-min.json"));
//! // NXR_OPENROUTER_URL = server.base_url()
//! assert_eq!(server.hits("/api/v1/models"), 1);
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tiny_http::{Header, Request, Response};

/// The key the fake accepts unless told otherwise (`set_valid_keys`).
pub const VALID_KEY: &str = "sk-or-v1-nxr-test-0000000000000000000000000000000000000000000000000";

pub const MODELS: &str = "/api/v1/models";
pub const KEY: &str = "/api/v1/key";
pub const AUTH_KEY: &str = "/api/v1/auth/key";
pub const CREDITS: &str = "/api/v1/credits";
/// `POST` a chat completion: what Hermes sends when `OPENROUTER_BASE_URL` points here.
pub const CHAT: &str = "/api/v1/chat/completions";

/// What to do instead of answering normally.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Accept the request and say nothing for this long (then answer normally).
    Hang(Duration),
    /// Close the connection without sending a byte.
    Drop,
    /// Send the status line, headers and half of the body, then close the connection.
    DropMidBody,
    /// 200 with a JSON content type and bytes that are not JSON.
    Garbage,
    /// 200 with the first half of the normal body (a complete HTTP response).
    Truncated,
    /// 200 with an HTML page (a captive portal or a proxy's error page).
    Html,
    /// 200 with an empty body.
    EmptyBody,
    /// Any status with any body and headers.
    Status {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
}

impl Fault {
    pub fn status(status: u16, body: impl Into<String>) -> Fault {
        Fault::Status {
            status,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// 500 with an OpenRouter-style error body.
    pub fn server_error() -> Fault {
        Fault::status(
            500,
            r#"{"error":{"code":500,"message":"Internal Server Error"}}"#,
        )
    }

    /// 429 with the body of `examples/<example>` and the `X-RateLimit-*` headers it records
    /// (`error.metadata.headers`); a body without them gets a one-minute window.
    pub fn rate_limited(example: &str) -> Fault {
        let body = super::example(example);
        let v: serde_json::Value = serde_json::from_str(&body).expect("429 example is JSON");
        let mut headers: Vec<(String, String)> = v
            .pointer("/error/metadata/headers")
            .and_then(|h| h.as_object())
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if headers.is_empty() {
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 60_000)
                .unwrap_or(0);
            headers = vec![
                ("X-RateLimit-Limit".into(), "20".into()),
                ("X-RateLimit-Remaining".into(), "0".into()),
                ("X-RateLimit-Reset".into(), reset.to_string()),
            ];
        }
        Fault::Status {
            status: 429,
            body,
            headers,
        }
    }

    /// A 429 from `examples/<example>` whose limit resets at `reset_ms` (unix milliseconds),
    /// in both the `X-RateLimit-Reset` header and the body's `error.metadata.headers`.
    pub fn rate_limited_until(example: &str, reset_ms: u128) -> Fault {
        let mut v: serde_json::Value =
            serde_json::from_str(&super::example(example)).expect("429 example is JSON");
        let reset = reset_ms.to_string();
        if let Some(h) = v.pointer_mut("/error/metadata/headers") {
            h["X-RateLimit-Reset"] = serde_json::Value::String(reset.clone());
        }
        let limit = v
            .pointer("/error/metadata/headers/X-RateLimit-Limit")
            .and_then(|l| l.as_str())
            .unwrap_or("20")
            .to_string();
        Fault::Status {
            status: 429,
            body: v.to_string(),
            headers: vec![
                ("X-RateLimit-Limit".into(), limit),
                ("X-RateLimit-Remaining".into(), "0".into()),
                ("X-RateLimit-Reset".into(), reset),
            ],
        }
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

struct Rule {
    /// An exact path, or `*` for every path.
    path: String,
    fault: Fault,
    /// How many more requests it applies to; `None` = until cleared.
    remaining: Option<usize>,
}

struct State {
    models: Arc<Vec<u8>>,
    key_body: String,
    valid_keys: Vec<String>,
    credits_forbidden: bool,
    /// `/credits`' body instead of the credits example.
    credits_body: Option<String>,
    rules: Vec<Rule>,
    hits: BTreeMap<String, usize>,
    seen: Vec<Seen>,
}

pub struct FakeOpenRouter {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeOpenRouter {
    /// Starts serving `models-2026-05-01.json`, the free-account key document and the
    /// credits example, with [`VALID_KEY`] as the only valid key.
    pub fn start() -> FakeOpenRouter {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let addr = server.server_addr().to_ip().expect("an IP listener");
        let state = Arc::new(Mutex::new(State {
            models: Arc::new(super::fixture("models-2026-05-01.json").into_bytes()),
            key_body: super::example("key-free-account-shape.json"),
            valid_keys: vec![VALID_KEY.to_string()],
            credits_forbidden: false,
            credits_body: None,
            rules: Vec::new(),
            hits: BTreeMap::new(),
            seen: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, state, stop) = (server.clone(), state.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("fake-openrouter-{}", addr.port()))
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let Ok(rq) = server.recv() else { continue };
                        let (state, stop) = (state.clone(), stop.clone());
                        // One thread per request so a hanging answer blocks nothing else.
                        std::thread::spawn(move || handle(rq, &state, &stop, addr));
                    }
                })
                .expect("spawn server thread")
        };
        FakeOpenRouter {
            addr,
            state,
            server,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/api/v1`: what `NXR_OPENROUTER_URL` is set to.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves `tests/fixtures/openrouter/<fixture>` from `/models` from now on.
    pub fn serve_models(&self, fixture: &str) {
        self.serve_models_body(super::fixture(fixture));
    }

    /// Serves these exact bytes from `/models` from now on.
    pub fn serve_models_body(&self, body: impl Into<Vec<u8>>) {
        self.state().models = Arc::new(body.into());
    }

    /// Answers a valid key's `/key` with `examples/<example>`.
    pub fn serve_key(&self, example: &str) {
        self.state().key_body = super::example(example);
    }

    /// Answers a valid key's `/key` with this body.
    pub fn serve_key_body(&self, body: impl Into<String>) {
        self.state().key_body = body.into();
    }

    pub fn set_valid_keys(&self, keys: &[&str]) {
        self.state().valid_keys = keys.iter().map(|k| k.to_string()).collect();
    }

    /// `/credits` answers 403 "management key required" (as for an ordinary key) when true.
    pub fn forbid_credits(&self, forbidden: bool) {
        self.state().credits_forbidden = forbidden;
    }

    /// Answers a valid key's `/credits` with these credits (bought, used) from now on.
    pub fn serve_credits(&self, total_credits: f64, total_usage: f64) {
        self.state().credits_body = Some(format!(
            r#"{{"data":{{"total_credits":{total_credits},"total_usage":{total_usage}}}}}"#
        ));
    }

    /// Applies `fault` to every request for `path` (or `*`) until cleared.
    pub fn fail(&self, path: &str, fault: Fault) {
        self.add_rule(path, fault, None);
    }

    /// Applies `fault` to the next `times` requests for `path`, then answers normally again.
    pub fn fail_times(&self, path: &str, fault: Fault, times: usize) {
        self.add_rule(path, fault, Some(times));
    }

    fn add_rule(&self, path: &str, fault: Fault, remaining: Option<usize>) {
        let mut s = self.state();
        s.rules.retain(|r| r.path != path);
        s.rules.push(Rule {
            path: path.to_string(),
            fault,
            remaining,
        });
    }

    pub fn clear_faults(&self) {
        self.state().rules.clear();
    }

    /// How many requests arrived for `path` (query strings ignored).
    pub fn hits(&self, path: &str) -> usize {
        self.state().hits.get(path).copied().unwrap_or(0)
    }

    pub fn total_hits(&self) -> usize {
        self.state().hits.values().sum()
    }

    /// Every request so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }
}

impl Drop for FakeOpenRouter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn json(status: u16, body: impl Into<Vec<u8>>) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_data(body.into())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

fn handle(mut rq: Request, state: &Mutex<State>, stop: &AtomicBool, local: SocketAddr) {
    let path = rq.url().split('?').next().unwrap_or("").to_string();
    let mut body = Vec::new();
    if rq.method() == &tiny_http::Method::Post {
        let _ = std::io::Read::read_to_end(rq.as_reader(), &mut body);
    }
    let authorization = rq
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string());
    let (fault, models, key_body, valid, credits_forbidden, credits_body) = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        *s.hits.entry(path.clone()).or_default() += 1;
        s.seen.push(Seen {
            method: rq.method().as_str().to_string(),
            path: path.clone(),
            authorization: authorization.clone(),
        });
        let mut fault = None;
        if let Some(i) = s
            .rules
            .iter()
            .position(|r| r.path == path)
            .or_else(|| s.rules.iter().position(|r| r.path == "*"))
        {
            fault = Some(s.rules[i].fault.clone());
            if let Some(n) = s.rules[i].remaining.as_mut() {
                *n -= 1;
                if *n == 0 {
                    s.rules.remove(i);
                }
            }
        }
        let key_ok = authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(|k| s.valid_keys.iter().any(|v| v == k.trim()));
        (
            fault,
            s.models.clone(),
            s.key_body.clone(),
            key_ok,
            s.credits_forbidden,
            s.credits_body.clone(),
        )
    };

    // The normal answer, which some faults need too (half of it, or after a hang).
    let normal = || -> (u16, Vec<u8>) {
        let unauthorized = |valid: Option<bool>| match valid {
            None => Some((401, super::example("error-401-no-auth-header.json"))),
            Some(false) => Some((401, super::example("error-401-invalid-key.json"))),
            Some(true) => None,
        };
        if rq.method() == &tiny_http::Method::Post && path == CHAT {
            return (200, chat_completion(&body));
        }
        if rq.method() != &tiny_http::Method::Get {
            return (
                405,
                br#"{"error":{"code":405,"message":"Method Not Allowed"}}"#.to_vec(),
            );
        }
        match path.as_str() {
            MODELS => (200, models.to_vec()),
            KEY | AUTH_KEY => match unauthorized(valid) {
                Some((s, b)) => (s, b.into_bytes()),
                None => (200, key_body.clone().into_bytes()),
            },
            CREDITS => match unauthorized(valid) {
                Some((s, b)) => (s, b.into_bytes()),
                None if credits_forbidden => (
                    403,
                    super::example("error-403-management-key-required.json").into_bytes(),
                ),
                None => (
                    200,
                    credits_body
                        .clone()
                        .unwrap_or_else(|| super::example("credits-spec-example.json"))
                        .into_bytes(),
                ),
            },
            _ => (
                404,
                br#"{"error":{"code":404,"message":"Not Found"}}"#.to_vec(),
            ),
        }
    };

    let result = match fault {
        None if path == CHAT => {
            let (status, body) = normal();
            let sse = status == 200 && String::from_utf8_lossy(&body).starts_with("data: ");
            let kind = if sse {
                "text/event-stream"
            } else {
                "application/json"
            };
            rq.respond(
                Response::from_data(body)
                    .with_status_code(status)
                    .with_header(header("Content-Type", kind)),
            )
        }
        None => {
            let (status, body) = normal();
            rq.respond(json(status, body))
        }
        Some(Fault::Hang(d)) => {
            let until = Instant::now() + d;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let (status, body) = normal();
            rq.respond(json(status, body))
        }
        Some(Fault::Drop) => {
            drop_connection(rq, local, None);
            Ok(())
        }
        Some(Fault::DropMidBody) => {
            let (status, body) = normal();
            drop_connection(rq, local, Some((status, body)));
            Ok(())
        }
        Some(Fault::Garbage) => rq.respond(json(
            200,
            b"\x00\xff\xfe{{{ \"data\": [ not json at all \x1b[31m".to_vec(),
        )),
        Some(Fault::Truncated) => {
            let (status, body) = normal();
            rq.respond(json(status, body[..body.len() / 2].to_vec()))
        }
        Some(Fault::Html) => rq.respond(
            Response::from_string(
                "<!DOCTYPE html><html><head><title>Sign in to the network</title></head>\
                 <body><h1>Welcome</h1><p>Accept the terms to continue.</p></body></html>\n",
            )
            .with_status_code(200)
            .with_header(header("Content-Type", "text/html; charset=utf-8")),
        ),
        Some(Fault::EmptyBody) => rq.respond(json(200, Vec::new())),
        Some(Fault::Status {
            status,
            body,
            headers,
        }) => {
            let mut r = json(status, body.into_bytes());
            for (k, v) in &headers {
                r.add_header(header(k, v));
            }
            rq.respond(r)
        }
    };
    let _ = result;
}

/// A chat completion for a request body: one short assistant reply, with `usage` (tokens and
/// a zero cost, as for a free model). With `"stream": true`, as server-sent events whose last
/// chunk carries `usage`, then `[DONE]`; else one JSON object.
fn chat_completion(request: &[u8]) -> Vec<u8> {
    let req: serde_json::Value = serde_json::from_slice(request).unwrap_or_default();
    let model = req["model"]
        .as_str()
        .unwrap_or("openrouter/free")
        .to_string();
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let id = format!("gen-fake-{created}");
    let usage = serde_json::json!({
        "prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15, "cost": 0
    });
    let text = "Hello from the fake OpenRouter.";
    if req["stream"].as_bool() != Some(true) {
        return serde_json::json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": usage,
        })
        .to_string()
        .into_bytes();
    }
    let chunk =
        |delta: serde_json::Value, finish: Option<&str>, usage: Option<&serde_json::Value>| {
            let mut c = serde_json::json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            });
            if let Some(u) = usage {
                c["usage"] = u.clone();
            }
            format!("data: {c}\n\n")
        };
    let mut out = String::new();
    if let Some(call) = kanban_complete_call(&req) {
        // A kanban worker finishes its task the way a model would: with the tool call.
        out.push_str(&chunk(
            serde_json::json!({"role": "assistant", "tool_calls": [call]}),
            None,
            None,
        ));
        out.push_str(&chunk(
            serde_json::json!({}),
            Some("tool_calls"),
            Some(&usage),
        ));
        out.push_str("data: [DONE]\n\n");
        return out.into_bytes();
    }
    out.push_str(&chunk(
        serde_json::json!({"role": "assistant", "content": text}),
        None,
        None,
    ));
    out.push_str(&chunk(serde_json::json!({}), Some("stop"), Some(&usage)));
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}

/// For a Hermes kanban worker's first request (the `kanban_complete` tool is offered and
/// no tool has answered yet): the call that completes its task.
fn kanban_complete_call(req: &serde_json::Value) -> Option<serde_json::Value> {
    let offered = req["tools"]
        .as_array()?
        .iter()
        .any(|t| t.pointer("/function/name").and_then(|n| n.as_str()) == Some("kanban_complete"));
    let answered = req["messages"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
    (offered && !answered).then(|| {
        serde_json::json!({
            "index": 0, "id": "call_fake_complete", "type": "function",
            "function": {"name": "kanban_complete",
                         "arguments": "{\"summary\": \"done by the fake OpenRouter\"}"},
        })
    })
}

/// Ends a request's TCP connection abruptly, optionally after a partial response.
///
/// tiny_http keeps a connection open for the next request whatever the handler does, so
/// the socket is found among this process's descriptors (its peer is the client's address
/// and its local end is this server) and shut down in both directions. tiny_http still owns
/// and closes the descriptor.
fn drop_connection(rq: Request, local: SocketAddr, partial: Option<(u16, Vec<u8>)>) {
    let peer = rq.remote_addr().copied();
    let mut writer = rq.into_writer();
    if let Some((status, body)) = partial {
        let head = format!(
            "HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&body[..body.len() / 2]);
        let _ = writer.flush();
    }
    if let Some(peer) = peer {
        shutdown_socket(peer, local);
    }
    drop(writer);
}

fn shutdown_socket(peer: SocketAddr, local: SocketAddr) -> bool {
    use nix::sys::socket::{Shutdown, SockaddrStorage, getpeername, getsockname, shutdown};
    let as_std = |s: SockaddrStorage| s.as_sockaddr_in().map(|a| SocketAddr::from(*a));
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return false;
    };
    let mut done = false;
    for entry in fds.flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let matches = getpeername::<SockaddrStorage>(fd).ok().and_then(as_std) == Some(peer)
            && getsockname::<SockaddrStorage>(fd).ok().and_then(as_std) == Some(local);
        if matches && shutdown(fd, Shutdown::Both).is_ok() {
            done = true;
        }
    }
    done
}
