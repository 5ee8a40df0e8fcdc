//! A fake Telegram Bot API on `127.0.0.1:0`: `POST /bot<TOKEN>/sendMessage` (form-encoded)
//! is recorded and answered `{"ok":true,...}`, or with queued answers (a 429 with
//! `retry_after`, a 500) first. `getMe` answers for the token it was started with.
//!
//! ```ignore
//! let tg = FakeTelegram::start("123:abc");
//! tg.answer_next(429, r#"{"ok":false,"error_code":429,"parameters":{"retry_after":1}}"#);
//! // NXR_TELEGRAM_API_URL = tg.base_url()
//! assert_eq!(tg.messages().len(), 1);
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tiny_http::{Header, Response};

/// One `sendMessage` as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub token: String,
    pub fields: BTreeMap<String, String>,
    /// What the fake answered (200, or a queued status).
    pub status: u16,
}

impl Message {
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }
}

#[derive(Default)]
struct State {
    messages: Vec<Message>,
    queued: VecDeque<(u16, String)>,
}

pub struct FakeTelegram {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// `application/x-www-form-urlencoded` decoding.
pub fn form_decode(body: &str) -> BTreeMap<String, String> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

impl FakeTelegram {
    pub fn start() -> FakeTelegram {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let addr = server.server_addr().to_ip().expect("an IP listener");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, state, stop) = (server.clone(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok(mut rq) = server.recv() else { continue };
                    let url = rq.url().to_string();
                    let mut body = String::new();
                    let _ = rq.as_reader().read_to_string(&mut body);
                    let json_header =
                        Header::from_bytes("Content-Type", "application/json").expect("header");
                    let Some(rest) = url.strip_prefix("/bot") else {
                        let _ = rq.respond(Response::from_string("{}").with_status_code(404));
                        continue;
                    };
                    let (token, method) = rest.split_once('/').unwrap_or((rest, ""));
                    if method == "getMe" {
                        let _ = rq.respond(
                            Response::from_string(
                                r#"{"ok":true,"result":{"id":1,"is_bot":true,"username":"nxr_test_bot"}}"#,
                            )
                            .with_header(json_header),
                        );
                        continue;
                    }
                    if method != "sendMessage" {
                        let _ = rq.respond(Response::from_string("{}").with_status_code(404));
                        continue;
                    }
                    let (status, answer) = {
                        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                        let (status, answer) = s.queued.pop_front().unwrap_or((
                            200,
                            r#"{"ok":true,"result":{"message_id":1}}"#.to_string(),
                        ));
                        s.messages.push(Message {
                            token: token.to_string(),
                            fields: form_decode(&body),
                            status,
                        });
                        (status, answer)
                    };
                    let _ = rq.respond(
                        Response::from_string(answer)
                            .with_status_code(status)
                            .with_header(json_header),
                    );
                }
            })
        };
        FakeTelegram {
            addr,
            state,
            server,
            stop,
            thread: Some(thread),
        }
    }

    /// What `NXR_TELEGRAM_API_URL` is set to.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `sendMessage` gets this answer instead of a 200.
    pub fn answer_next(&self, status: u16, body: &str) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .queued
            .push_back((status, body.to_string()));
    }

    /// Every `sendMessage` received, in order (including refused ones).
    pub fn requests(&self) -> Vec<Message> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .messages
            .clone()
    }

    /// The messages that got through (answered 200).
    pub fn messages(&self) -> Vec<Message> {
        self.requests()
            .into_iter()
            .filter(|m| m.status == 200)
            .collect()
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
