//! The HTTP side: tiny_http on a pool of worker threads, each running core's async functions
//! on a tokio runtime handle. Security checks (bind address, access token, per-run form token,
//! Origin/Referer, Host, size limits) happen here before anything reaches a session.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Handle;

use super::form;
use super::page::{self, PageCtx};
use super::picker;
use super::sessions::{self, Entry, SHARED, Sessions};
use crate::core::action::Action;
use crate::core::session::{PICKER_CHROME, Session};
use crate::core::view::{Body, Overlay, Screen, Tab};
use crate::core::{Core, CoreError, Result};

pub const DEFAULT_ADDR: &str = "127.0.0.1:8765";
/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// Largest total size of the request headers, and their number.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
pub const MAX_HEADERS: usize = 64;
/// A body declared larger than this is not drained after a 413: the connection is dropped.
const MAX_DRAIN: usize = 1024 * 1024;
/// Sessions kept (browsers; each holds its own picker and wizard).
const MAX_SESSIONS: usize = 64;
/// Rows of the picker shown on a page.
const PICKER_ROWS: u16 = 40;

/// `nxr serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Where to listen. Any address but loopback needs an access token.
    #[arg(long, default_value = DEFAULT_ADDR)]
    pub addr: String,
    /// Access token required from every client (cookie after `/?token=...`, or bearer).
    #[arg(long, env = "NXR_WEB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Worker threads answering requests (two per core measured best on 2 cores).
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: String,
    pub token: Option<String>,
    pub workers: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: "127.0.0.1:0".into(),
            token: None,
            workers: 4,
        }
    }
}

/// A running mirror. Dropping it stops the workers (they finish the request in hand).
pub struct Running {
    pub url: String,
    pub addr: SocketAddr,
    /// The per-run form/API token (also the bearer token for `POST /api/...`).
    pub csrf: String,
    stop: Arc<AtomicBool>,
    server: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops and waits for the worker threads.
    pub fn stop(mut self) {
        self.signal();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    fn signal(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.signal();
    }
}

pub(crate) struct App {
    pub core: Core,
    pub rt: Handle,
    pub csrf: String,
    pub token: Option<String>,
    /// Hosts a browser may name in `Host` (loopback binds; DNS rebinding defence).
    pub hosts: Option<Vec<String>>,
    pub sessions: Sessions,
    /// The newest database change mark seen (polled every 100 ms and after each write).
    pub mark: AtomicI64,
    pub url: String,
    /// The shared session's screens by tab, with the change mark they were built at: a
    /// cookie-less read renders the cached view struct while nothing changed (the TUI, too,
    /// only rebuilds its screen on a change). The Models tab is never cached (config.yaml
    /// can change on disk without a database write).
    pub shared_screens: std::sync::Mutex<Vec<(Tab, i64, Arc<Screen>)>>,
    /// Whether an onboarding flow has finished, with the change mark it was read at.
    pub onboarded: std::sync::Mutex<Option<(i64, bool)>>,
}

/// `nxr serve`: starts the mirror on this runtime and serves until Ctrl-C or SIGTERM.
pub async fn serve(core: Core, args: ServeArgs) -> Result<()> {
    let running = start(
        core,
        Config {
            addr: args.addr,
            token: args.token,
            workers: args.workers,
        },
        Handle::current(),
    )?;
    println!("{}", running.url);
    eprintln!(
        "nxr: web mirror on {} (Ctrl-C stops it); API bearer token for this run: {}",
        running.url, running.csrf
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| CoreError::io("signal", e))?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("nxr: web mirror stopping");
    tokio::task::spawn_blocking(move || running.stop())
        .await
        .map_err(|e| CoreError::Conflict(e.to_string()))?;
    Ok(())
}

/// Starts the mirror inside an already running program (the TUI) on a free loopback port,
/// or at `addr`; returns the running server, whose `url` the caller shows. Needs a tokio
/// runtime.
pub fn start_in_process(core: Core, addr: Option<&str>) -> Result<Running> {
    let rt = Handle::try_current()
        .map_err(|_| CoreError::usage("the web mirror needs a tokio runtime"))?;
    start(
        core,
        Config {
            addr: addr.unwrap_or("127.0.0.1:0").to_string(),
            ..Config::default()
        },
        rt,
    )
}

/// Binds and starts the worker threads.
pub fn start(core: Core, config: Config, rt: Handle) -> Result<Running> {
    let addr = config
        .addr
        .to_socket_addrs()
        .map_err(|e| CoreError::usage(format!("bad --addr {:?}: {e}", config.addr)))?
        .next()
        .ok_or_else(|| CoreError::usage(format!("bad --addr {:?}", config.addr)))?;
    let token = config.token.filter(|t| !t.trim().is_empty());
    if let Some(t) = &token
        && (t.len() < 8 || t.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        return Err(CoreError::usage(
            "the access token must be at least 8 characters, without spaces",
        ));
    }
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(CoreError::usage(format!(
            "refusing to serve on {addr} without an access token: anyone who can reach it could \
             change your agents. Pass --token TOKEN or set NXR_WEB_TOKEN, or bind 127.0.0.1"
        )));
    }
    let listener = listen(addr)?;
    let local = listener
        .local_addr()
        .map_err(|e| CoreError::io("listener", e))?;
    let server = tiny_http::Server::from_listener(listener, None)
        .map_err(|e| CoreError::Conflict(format!("cannot serve on {local}: {e}")))?;
    let server = Arc::new(server);
    let host = match local.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    let url = format!("http://{host}:{}/", local.port());
    let hosts = (token.is_none()).then(|| {
        let p = local.port();
        vec![
            format!("127.0.0.1:{p}"),
            format!("localhost:{p}"),
            format!("[::1]:{p}"),
            format!("{host}:{p}"),
        ]
    });
    // The watcher thread reads the real mark at once (no blocking here: callers are async).
    let mark = 0;
    let app = Arc::new(App {
        core,
        rt,
        csrf: sessions::random_hex(16),
        token,
        hosts,
        sessions: Sessions::new(MAX_SESSIONS),
        mark: AtomicI64::new(mark),
        url: url.clone(),
        shared_screens: std::sync::Mutex::new(Vec::new()),
        onboarded: std::sync::Mutex::new(None),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for i in 0..config.workers.clamp(1, 64) {
        let (server, app, stop) = (server.clone(), app.clone(), stop.clone());
        let t = std::thread::Builder::new()
            .name(format!("nxr-web-{i}"))
            .spawn(move || worker(&server, &app, &stop))
            .map_err(|e| CoreError::io("thread", e))?;
        threads.push(t);
    }
    {
        let (app, stop) = (app.clone(), stop.clone());
        let t = std::thread::Builder::new()
            .name("nxr-web-watch".into())
            .spawn(move || watch(&app, &stop))
            .map_err(|e| CoreError::io("thread", e))?;
        threads.push(t);
    }
    tracing::info!(%url, "web mirror started");
    Ok(Running {
        url,
        addr: local,
        csrf: app.csrf.clone(),
        stop,
        server,
        threads,
    })
}

/// The listening socket. No read timeout on it: Linux would apply it to `accept` too, and
/// tiny_http stops accepting for good on the first accept error.
fn listen(addr: SocketAddr) -> Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let io = |e| CoreError::io(format!("listen on {addr}"), e);
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(io)?;
    socket.set_reuse_address(true).map_err(io)?;
    socket.set_tcp_nodelay(true).map_err(io)?;
    socket.bind(&addr.into()).map_err(io)?;
    socket.listen(1024).map_err(io)?;
    Ok(socket.into())
}

fn worker(server: &tiny_http::Server, app: &App, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(Duration::from_millis(250)) {
            Ok(Some(req)) => handle(app, req),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "web mirror: accept failed");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Polls the database's change mark so pages and `/api/changes` see other processes' writes.
fn watch(app: &App, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        if let Ok(m) = app.rt.block_on(app.core.change_mark()) {
            app.mark.fetch_max(m, Ordering::SeqCst);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- requests and replies ----

pub(crate) struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    /// The body, after `gap` bytes kept free for the response head.
    pub body: Vec<u8>,
    pub gap: usize,
    pub headers: Vec<(String, String)>,
    /// A huge declared body: answer, then abandon the connection instead of draining it.
    pub abandon: bool,
}

/// Bytes kept in front of a rendered page for the response head, so head and page leave in
/// one write (one TCP segment train, no copy).
const HEAD_GAP: usize = 1024;

thread_local! {
    /// This worker's page buffer. A page renders into it and it comes back after the
    /// answer is written, so a render allocates no large blocks: freeing ~50 KB per request
    /// made glibc trim its heap and flush TLBs on the other core.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The `Date` header value and the second it was made for.
    static DATE: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
}

impl Reply {
    pub fn html(status: u16, markup: maud::Markup) -> Reply {
        Reply {
            status,
            content_type: "text/html; charset=utf-8",
            body: markup.into_string().into_bytes(),
            gap: 0,
            headers: Vec::new(),
            abandon: false,
        }
    }

    /// A page rendered by `render` into this worker's reused buffer.
    pub fn page(status: u16, render: impl FnOnce(&mut String)) -> Reply {
        let mut buf = BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
        buf.clear();
        buf.resize(HEAD_GAP, b' ');
        // Spaces are UTF-8, so this cannot fail; a fresh buffer is the fallback anyway.
        let mut out = String::from_utf8(buf).unwrap_or_else(|_| " ".repeat(HEAD_GAP));
        out.reserve(64 * 1024);
        render(&mut out);
        Reply {
            status,
            content_type: "text/html; charset=utf-8",
            body: out.into_bytes(),
            gap: HEAD_GAP,
            headers: Vec::new(),
            abandon: false,
        }
    }

    pub fn json(status: u16, value: &impl serde::Serialize) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()),
            gap: 0,
            headers: Vec::new(),
            abandon: false,
        }
    }

    pub fn json_error(status: u16, message: &str) -> Reply {
        Reply::json(status, &serde_json::json!({ "error": message }))
    }

    pub fn redirect(to: &str) -> Reply {
        Reply {
            status: 303,
            content_type: "text/plain; charset=utf-8",
            body: b"see other".to_vec(),
            gap: 0,
            headers: vec![("Location".into(), to.to_string())],
            abandon: false,
        }
    }

    fn with(mut self, k: &str, v: String) -> Reply {
        self.headers.push((k.to_string(), v));
        self
    }
}

/// What the routes need to know about a request.
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub api: bool,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    pub fn bearer(&self) -> Option<&str> {
        let v = self.header("authorization")?;
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }

    /// An error in the request's language (JSON for the API, a small page otherwise).
    pub fn error(&self, status: u16, message: &str) -> Reply {
        if self.api {
            Reply::json_error(status, message)
        } else {
            Reply::html(status, page::plain_page(&status_text(status), message))
        }
    }
}

pub fn status_text(status: u16) -> String {
    let s = match status {
        400 => "Bad request",
        401 => "Access token required",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        413 => "Request body too large",
        431 => "Request headers too large",
        500 => "Internal error",
        502 => "Upstream error",
        _ => "Error",
    };
    format!("{status} {s}")
}

/// The HTTP status for a core error.
pub fn status_of(e: &CoreError) -> u16 {
    match e {
        CoreError::Usage(_) | CoreError::Catalog(_) => 400,
        CoreError::NotFound { .. } => 404,
        CoreError::Conflict(_) => 409,
        CoreError::Network(_) => 502,
        CoreError::Db(_)
        | CoreError::NewerSchema { .. }
        | CoreError::Io { .. }
        | CoreError::Yaml { .. } => 500,
    }
}

/// Constant-time comparison of tokens.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn handle(app: &App, mut req: tiny_http::Request) {
    let reply = match std::panic::catch_unwind(AssertUnwindSafe(|| route(app, &mut req))) {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(url = %req.url(), "web mirror: a request panicked");
            Reply::json_error(500, "internal error")
        }
    };
    respond(req, reply);
}

/// Headers every answer carries.
const FIXED_HEADERS: &str = "Cache-Control: no-store\r\n\
X-Content-Type-Options: nosniff\r\n\
X-Frame-Options: DENY\r\n\
Referrer-Policy: same-origin\r\n\
Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; \
connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; \
frame-ancestors 'none'\r\n";

/// Writes the answer: head and body in one write through the connection's writer (tiny_http
/// would copy the body in 8 KB pieces, one send each), then gives the page buffer back.
fn respond(req: tiny_http::Request, mut reply: Reply) {
    if reply.abandon {
        // tiny_http drains an unread body on drop with a buffer the size of the declared
        // length; for a huge declared body that would exhaust memory. Answer through the
        // upgrade path and leak the connection instead (one parked thread per such request).
        let mut resp = tiny_http::Response::from_data(reply.body.split_off(reply.gap))
            .with_status_code(reply.status)
            .with_chunked_threshold(usize::MAX);
        for (k, v) in [
            ("Content-Type", reply.content_type),
            ("Connection", "close"),
        ] {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                resp.add_header(h);
            }
        }
        let stream = req.upgrade("close", resp);
        std::mem::forget(stream);
        return;
    }
    let head = head(&req, &reply);
    let head_only = *req.method() == tiny_http::Method::Head;
    let gap = reply.gap;
    let mut w = req.into_writer();
    let written = if head_only {
        w.write_all(head.as_bytes())
    } else if head.len() <= gap {
        let start = gap - head.len();
        reply.body[start..gap].copy_from_slice(head.as_bytes());
        w.write_all(&reply.body[start..])
    } else {
        w.write_all(head.as_bytes())
            .and_then(|()| w.write_all(&reply.body[gap..]))
    };
    if let Err(e) = written.and_then(|()| w.flush()) {
        tracing::debug!(error = %e, "web mirror: client went away");
    }
    drop(w);
    if gap > 0 {
        BUFFER.with(|b| {
            let mut b = b.borrow_mut();
            if reply.body.capacity() >= b.capacity() {
                *b = reply.body;
            }
        });
    }
}

/// The status line and headers of an answer.
fn head(req: &tiny_http::Request, reply: &Reply) -> String {
    use std::fmt::Write as _;
    let version = req.http_version();
    let http10 = (version.0, version.1) == (1, 0);
    let wants_close = req.headers().iter().any(|h| {
        h.field.equiv("Connection")
            && h.value
                .as_str()
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"))
    });
    let keep_alive_10 = req.headers().iter().any(|h| {
        h.field.equiv("Connection") && h.value.as_str().eq_ignore_ascii_case("keep-alive")
    });
    let mut head = String::with_capacity(640);
    let reason = tiny_http::StatusCode(reply.status).default_reason_phrase();
    let _ = write!(
        head,
        "HTTP/1.{} {} {reason}\r\nDate: ",
        if http10 { 0 } else { 1 },
        reply.status
    );
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        let now = jiff::Timestamp::now();
        if d.0 != now.as_second() {
            d.0 = now.as_second();
            d.1 = now
                .to_zoned(jiff::tz::TimeZone::UTC)
                .strftime("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
        }
        head.push_str(&d.1);
    });
    let _ = write!(
        head,
        "\r\nContent-Type: {}\r\nContent-Length: {}\r\n{FIXED_HEADERS}",
        reply.content_type,
        reply.body.len() - reply.gap
    );
    for (k, v) in &reply.headers {
        let bad = |s: &str| s.is_empty() || s.chars().any(|c| c.is_control());
        if bad(k) || v.chars().any(|c| c.is_control()) || k.contains(':') {
            continue;
        }
        let _ = write!(head, "{k}: {v}\r\n");
    }
    if wants_close || (http10 && !keep_alive_10) {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    head
}

fn route(app: &App, raw: &mut tiny_http::Request) -> Reply {
    let url = raw.url().to_string();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (url.clone(), String::new()),
    };
    let headers: Vec<(String, String)> = raw
        .headers()
        .iter()
        .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
        .collect();
    let req = Req {
        method: raw.method().as_str().to_ascii_uppercase(),
        api: path.starts_with("/api/") || path == "/api",
        path,
        query: form::pairs(query.as_bytes()),
        headers,
    };
    let header_bytes: usize = req.headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    if req.headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES || url.len() > 8192 {
        return req.error(431, "request headers too large");
    }
    if let Some(hosts) = &app.hosts {
        let host = req.header("host").unwrap_or("");
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return req.error(403, "unexpected Host header");
        }
    }
    if let Some(token) = &app.token {
        if let Some(given) = req.query.iter().find(|(k, _)| k == "token").map(|(_, v)| v) {
            if !same(given, token) {
                return req.error(401, "wrong access token");
            }
            let rest: Vec<(String, String)> = req
                .query
                .iter()
                .filter(|(k, _)| k != "token")
                .cloned()
                .collect();
            return Reply::redirect(&page::build_url(&req.path, &rest)).with(
                "Set-Cookie",
                format!("nxr_token={token}; Path=/; HttpOnly; SameSite=Strict"),
            );
        }
        let ok = req.cookie("nxr_token").is_some_and(|c| same(&c, token))
            || req.bearer().is_some_and(|b| same(b, token));
        if !ok {
            return req.error(
                401,
                "this mirror needs its access token: open it once with ?token=TOKEN, or send \
                 Authorization: Bearer TOKEN",
            );
        }
    }
    match req.method.as_str() {
        "GET" | "HEAD" => get(app, &req),
        "POST" => {
            let body = match read_body(raw) {
                Ok(b) => b,
                Err(BodyError::TooLarge { declared }) => {
                    let mut r = req.error(413, &format!("request body over {MAX_BODY} bytes"));
                    r.abandon = declared.is_some_and(|d| d > MAX_DRAIN);
                    return r;
                }
                Err(BodyError::Bad(e)) => return req.error(400, &format!("cannot read body: {e}")),
            };
            if let Some(r) = check_origin(&req) {
                return r;
            }
            post(app, &req, &body)
        }
        _ => req
            .error(405, "use GET or POST")
            .with("Allow", "GET, HEAD, POST".into()),
    }
}

enum BodyError {
    TooLarge { declared: Option<usize> },
    Bad(String),
}

fn read_body(raw: &mut tiny_http::Request) -> std::result::Result<Vec<u8>, BodyError> {
    if let Some(n) = raw.body_length()
        && n > MAX_BODY
    {
        return Err(BodyError::TooLarge { declared: Some(n) });
    }
    let mut buf = Vec::new();
    raw.as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| BodyError::Bad(e.to_string()))?;
    if buf.len() > MAX_BODY {
        return Err(BodyError::TooLarge { declared: None });
    }
    Ok(buf)
}

/// A state-changing request that says where it comes from must come from this server.
fn check_origin(req: &Req) -> Option<Reply> {
    let host = req.header("host").unwrap_or("");
    let from = match (req.header("origin"), req.header("referer")) {
        (Some(o), _) => Some(o),
        (None, Some(r)) => Some(r),
        (None, None) => None,
    }?;
    let authority = from
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    if authority.is_empty() || !authority.eq_ignore_ascii_case(host) {
        return Some(req.error(403, "cross-origin request refused"));
    }
    None
}

fn get(app: &App, req: &Req) -> Reply {
    if req.api {
        return super::api::get(app, req);
    }
    match req.path.as_str() {
        "/" => match onboarded(app) {
            Ok(false) => Reply::redirect("/setup"),
            Ok(true) | Err(_) => Reply::redirect("/hermes"),
        },
        "/setup" | "/setup/" => super::setup::get(app, req),
        "/static/live.js" => Reply {
            status: 200,
            content_type: "text/javascript; charset=utf-8",
            body: page::SCRIPT.as_bytes().to_vec(),
            gap: 0,
            headers: Vec::new(),
            abandon: false,
        },
        "/static/style.css" => Reply {
            status: 200,
            content_type: "text/css; charset=utf-8",
            body: page::STYLE.as_bytes().to_vec(),
            gap: 0,
            headers: Vec::new(),
            abandon: false,
        },
        path => match tab_of(path) {
            Some(tab) => page_get(app, req, tab),
            None => req.error(404, "no such page"),
        },
    }
}

pub fn tab_of(path: &str) -> Option<Tab> {
    let path = path.trim_end_matches('/');
    Tab::ALL.into_iter().find(|t| t.path() == path)
}

fn post(app: &App, req: &Req, body: &[u8]) -> Reply {
    if req.api {
        let bearer = req.bearer().or_else(|| req.header("x-csrf-token"));
        let ok = bearer.is_some_and(|b| {
            same(b, &app.csrf) || app.token.as_deref().is_some_and(|t| same(b, t))
        });
        if !ok {
            return Reply::json_error(
                403,
                "missing or wrong token: send Authorization: Bearer <the token nxr serve printed>",
            );
        }
        return super::api::post(app, req, body);
    }
    match req.path.trim_end_matches('/') {
        "/setup" => return super::setup::post(app, req, body),
        "/setup/step" => return super::setup::step(app, req, body),
        _ => {}
    }
    let Some(tab) = tab_of(&req.path) else {
        return req.error(404, "no such page");
    };
    let form = match form::decode(body) {
        Ok(f) => f,
        Err(e) => {
            if form::pairs(body)
                .iter()
                .all(|(k, v)| k != "csrf" || !same(v, &app.csrf))
            {
                return req.error(403, "missing or wrong form token (reload the page)");
            }
            return req.error(400, &e);
        }
    };
    if !form.csrf.as_deref().is_some_and(|c| same(c, &app.csrf)) {
        return req.error(403, "missing or wrong form token (reload the page)");
    }
    let (key, cookie) = session_key(req, false);
    let entry = app.sessions.get(&key);
    let mut guard = sessions::lock(&entry);
    let ctx = PageCtx::new(&req.path, req.query.clone(), &app.csrf);
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        app.rt.block_on(async {
            let s = ensure_session(app, &mut guard).await?;
            if s.tab() != tab {
                s.apply(Action::SwitchTab { tab }).await;
            }
            let mut ok = true;
            for a in form.actions {
                if s.try_apply(a).await.is_err() {
                    ok = false;
                    break;
                }
            }
            if ok && form.close && s.view().overlay.is_some() {
                s.apply(Action::Cancel).await;
            }
            if let Ok(m) = s.core().change_mark().await {
                app.mark.fetch_max(m, Ordering::SeqCst);
            }
            let now = s.tab();
            Ok::<_, CoreError>(now)
        })
    }));
    drop(guard);
    let now = match result {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return req.error(status_of(&e), &e.to_string()),
        Err(_) => {
            app.sessions.drop_session(&key);
            return req.error(500, "internal error");
        }
    };
    let to = if now != tab {
        now.path().to_string()
    } else {
        form.back.unwrap_or_else(|| ctx.url())
    };
    with_cookie(Reply::redirect(&to), cookie)
}

/// Whether an onboarding flow has finished (read again only when the change mark moved).
pub(crate) fn onboarded(app: &App) -> Result<bool> {
    let mark = app.mark.load(Ordering::SeqCst);
    if let Some((m, done)) = *sessions::lock(&app.onboarded)
        && m == mark
    {
        return Ok(done);
    }
    let done = app
        .rt
        .block_on(crate::core::onboarding::completed(&app.core))?;
    *sessions::lock(&app.onboarded) = Some((mark, done));
    Ok(done)
}

/// The session a request uses, and a cookie to set when it is new.
pub(crate) fn session_key(req: &Req, read_only: bool) -> (String, Option<String>) {
    match req.cookie("nxr_sid").filter(|s| sessions::valid_id(s)) {
        Some(s) => (s, None),
        None => {
            let id = sessions::new_id();
            if read_only && req.query.is_empty() {
                (SHARED.to_string(), Some(id))
            } else {
                (id.clone(), Some(id))
            }
        }
    }
}

pub(crate) fn with_cookie(r: Reply, cookie: Option<String>) -> Reply {
    match cookie {
        Some(id) => r.with(
            "Set-Cookie",
            format!("nxr_sid={id}; Path=/; HttpOnly; SameSite=Strict"),
        ),
        None => r,
    }
}

pub(crate) async fn ensure_session<'a>(
    app: &App,
    guard: &'a mut std::sync::MutexGuard<'_, Entry>,
) -> Result<&'a mut Session> {
    if guard.session.is_none() {
        let mark = app.mark.load(Ordering::SeqCst);
        let mut s = Session::new(app.core.clone()).await?;
        s.apply(Action::Resize {
            width: 160,
            height: PICKER_ROWS + PICKER_CHROME,
        })
        .await;
        s.web_url = Some(app.url.clone());
        guard.seen = mark;
        guard.session = Some(s);
    }
    let mark = app.mark.load(Ordering::SeqCst);
    let poll = guard.seen != mark;
    guard.seen = mark;
    let s = guard
        .session
        .as_mut()
        .ok_or_else(|| CoreError::Conflict("no session".into()))?;
    if poll {
        s.poll().await;
    }
    Ok(s)
}

/// Renders a page: the browser's session brought to what the URL asks for, then its screen.
fn page_get(app: &App, req: &Req, tab: Tab) -> Reply {
    let (key, cookie) = session_key(req, true);
    let ctx = PageCtx::new(&req.path, req.query.clone(), &app.csrf)
        .with_setup_needed(!onboarded(app).unwrap_or(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        if key == SHARED && tab != Tab::Models {
            shared_screen(app, tab, &ctx)
        } else {
            screen_for(app, &key, tab, &ctx).map(Arc::new)
        }
    }));
    match result {
        Ok(Ok(screen)) => with_cookie(
            Reply::page(200, |out| page::render_screen_into(&screen, &ctx, out)),
            cookie,
        ),
        Ok(Err(e)) => req.error(status_of(&e), &e.to_string()),
        Err(_) => {
            app.sessions.drop_session(&key);
            req.error(500, "internal error")
        }
    }
}

/// The shared session's screen for `tab`, rebuilt only when the change mark moved.
fn shared_screen(app: &App, tab: Tab, ctx: &PageCtx) -> Result<Arc<Screen>> {
    let mark = app.mark.load(Ordering::SeqCst);
    if let Some((_, _, s)) = sessions::lock(&app.shared_screens)
        .iter()
        .find(|(t, m, _)| *t == tab && *m == mark)
    {
        return Ok(s.clone());
    }
    let screen = Arc::new(screen_for(app, SHARED, tab, ctx)?);
    let mut cache = sessions::lock(&app.shared_screens);
    cache.retain(|(t, _, _)| *t != tab);
    cache.push((tab, mark, screen.clone()));
    Ok(screen)
}

/// The screen of session `key` on `tab`, after following the URL's state.
pub(crate) fn screen_for(app: &App, key: &str, tab: Tab, ctx: &PageCtx) -> Result<Screen> {
    let entry = app.sessions.get(key);
    let mut guard = sessions::lock(&entry);
    app.rt.block_on(async {
        let s = ensure_session(app, &mut guard).await?;
        if s.tab() != tab {
            s.apply(Action::SwitchTab { tab }).await;
        }
        if s.tab() == Tab::Models {
            // config.yaml may have changed on disk without a database write.
            s.poll().await;
        }
        let mut tried: Vec<Action> = Vec::new();
        loop {
            s.settle();
            let screen = s.view();
            match wanted(&screen, ctx) {
                Some(a) if !tried.contains(&a) && tried.len() < 12 => {
                    tried.push(a.clone());
                    s.apply(a).await;
                }
                _ => return Ok(screen),
            }
        }
    })
}

/// The next action that brings the screen closer to what the URL says (agent, slot, picker
/// query, filters, highlighted row), or `None` when it already matches.
pub fn wanted(screen: &Screen, ctx: &PageCtx) -> Option<Action> {
    let picker = match &screen.overlay {
        Some(Overlay::Picker(p)) => Some(p),
        _ => None,
    };
    match &screen.body {
        Body::Agents(v) => {
            let a = ctx.param("agent")?;
            let current = v.rows.get(v.selected).map(|r| r.name.as_str());
            (current != Some(a) && v.rows.iter().any(|r| r.name == a)).then(|| {
                Action::SelectAgent {
                    agent: a.to_string(),
                }
            })
        }
        Body::Models(v) => {
            if let Some(a) = ctx.param("agent")
                && v.agent.as_deref() != Some(a)
                && v.agents.iter().any(|x| x == a)
            {
                return Some(Action::SelectAgent {
                    agent: a.to_string(),
                });
            }
            let all = ctx.param("all").is_some_and(|v| v == "1");
            if ctx.param("agent").is_some() && v.show_all != all && screen.overlay.is_none() {
                return Some(Action::ToggleAllSlots);
            }
            if let Some(slot) = ctx.param("slot")
                && let Some(i) = v.slots.iter().position(|s| s.key == slot)
            {
                let target = format!("{} · {slot}", v.agent.as_deref().unwrap_or(""));
                match &screen.overlay {
                    Some(Overlay::Picker(p)) if p.target == target => {}
                    Some(_) => return Some(Action::Cancel),
                    None if v.selected != i => return Some(Action::SelectRow { index: i }),
                    None => return Some(Action::OpenPicker),
                }
            }
            picker.and_then(|p| picker_wanted(p, ctx))
        }
        Body::Create(_) => picker.and_then(|p| picker_wanted(p, ctx)),
        Body::Hermes(_) | Body::Budget(_) | Body::Notifications(_) => None,
    }
}

fn picker_wanted(p: &crate::core::view::PickerView, ctx: &PageCtx) -> Option<Action> {
    if let Some(f) = picker::url_filters(ctx)
        && f != p.filters
    {
        return Some(Action::SetPickerFilters { filters: f });
    }
    if let Some(q) = ctx.param("q") {
        let q: String = q.chars().filter(|c| !c.is_control()).take(200).collect();
        if q != p.query {
            return Some(Action::SetPickerQuery { query: q });
        }
    }
    if let Some(sel) = ctx.param("sel").and_then(|s| s.parse::<usize>().ok()) {
        let cursor = p.selected.map(|i| p.offset + i);
        if cursor != Some(sel) && sel < p.matched {
            return Some(Action::SelectRow { index: sel });
        }
    }
    None
}
