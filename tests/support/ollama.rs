//! A fake Ollama on `127.0.0.1:0`: `GET /api/tags` lists the models it was given in the
//! shape the real server uses, `GET /api/version` answers a version. The model list can be
//! changed while it runs, and it counts requests per path.
//!
//! ```ignore
//! let ollama = FakeOllama::start(&["qwen3:8b", "llama3.2:3b"]);
//! env.set("NXR_OLLAMA_URL", &ollama.url());
//! assert_eq!(ollama.hits("/api/tags"), 1);
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tiny_http::{Header, Response};

pub const VERSION: &str = "0.12.6";

struct State {
    models: Vec<String>,
    hits: BTreeMap<String, usize>,
}

pub struct FakeOllama {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeOllama {
    /// Starts serving `models` (names such as `qwen3:8b`).
    pub fn start(models: &[&str]) -> FakeOllama {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let addr = server.server_addr().to_ip().expect("an IP listener");
        let state = Arc::new(Mutex::new(State {
            models: models.iter().map(|m| m.to_string()).collect(),
            hits: BTreeMap::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, state, stop) = (server.clone(), state.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("fake-ollama-{}", addr.port()))
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let Ok(rq) = server.recv() else { continue };
                        handle(rq, &state);
                    }
                })
                .expect("spawn server thread")
        };
        FakeOllama {
            addr,
            state,
            server,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: what `NXR_OLLAMA_URL` is set to.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lists these models from now on.
    pub fn set_models(&self, models: &[&str]) {
        self.state().models = models.iter().map(|m| m.to_string()).collect();
    }

    /// How many requests arrived for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.state().hits.get(path).copied().unwrap_or(0)
    }
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One `/api/tags` entry as Ollama writes it.
fn tag(name: &str) -> serde_json::Value {
    let family = name.split(':').next().unwrap_or(name);
    let size = name.split(':').nth(1).unwrap_or("latest").to_uppercase();
    serde_json::json!({
        "name": name,
        "model": name,
        "modified_at": "2026-10-01T09:30:00.000000000Z",
        "size": 5_225_376_047u64,
        "digest": format!("{:0>64}", name.len()),
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": size,
            "quantization_level": "Q4_K_M"
        }
    })
}

fn handle(rq: tiny_http::Request, state: &Mutex<State>) {
    let path = rq.url().split('?').next().unwrap_or("").to_string();
    let models = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        *s.hits.entry(path.clone()).or_default() += 1;
        s.models.clone()
    };
    let (status, body) = match (rq.method(), path.as_str()) {
        (tiny_http::Method::Get, "/api/tags") => (
            200,
            serde_json::json!({ "models": models.iter().map(|m| tag(m)).collect::<Vec<_>>() }),
        ),
        (tiny_http::Method::Get, "/api/version") => {
            (200, serde_json::json!({ "version": VERSION }))
        }
        _ => (404, serde_json::json!({ "error": "404 page not found" })),
    };
    let header = Header::from_bytes(
        &b"Content-Type"[..],
        &b"application/json; charset=utf-8"[..],
    )
    .expect("valid header");
    let _ = rq.respond(
        Response::from_data(body.to_string().into_bytes())
            .with_status_code(status)
            .with_header(header),
    );
}
