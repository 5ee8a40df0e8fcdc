//! The web mirror's HTTP plumbing: hyper (HTTP/1.1) on a tokio runtime of its own thread, and
//! a fixed pool of worker threads that answer requests (core's local database calls block, so
//! they run off the connection runtime). What a request means is [`super::server`]'s business.
//!
//! Resources stay bounded whatever clients do:
//! - threads: one for connections, `workers` answering, one watching the database; never one
//!   per connection;
//! - connections: at most `max_connections` open at once; more wait in the kernel's backlog;
//! - a request's head must arrive within `head_timeout` of the connection opening or of the
//!   previous answer (so this is also the keep-alive idle deadline), its body within
//!   `body_timeout`, and an answer the client does not read times out like a head;
//! - a body is read only after the Host, access token, Origin and API token checks passed, and
//!   only up to [`MAX_BODY`]; a larger declared body gets 413 at once and the connection closes;
//! - when `accept` fails (out of descriptors) it is tried again every 10 ms: the connection
//!   waits in the backlog, and the mirror answers as soon as descriptors free up.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};

use super::server::{self, App, MAX_BODY, MAX_HEADER_BYTES, MAX_HEADERS, Reply, Req};
use super::sessions::{self, Sessions};
use crate::core::runtime::Runtime;
use crate::core::{Core, CoreError, Result};

pub const DEFAULT_ADDR: &str = "127.0.0.1:8765";
/// Sessions kept (browsers; each holds its own picker and wizard).
const MAX_SESSIONS: usize = 64;
/// Requests accepted but not yet taken by a worker; more get 503.
const QUEUE: usize = 256;
/// How soon a failed `accept` (no descriptors left) is tried again.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);
/// Page buffers kept for reuse.
const POOLED_BUFFERS: usize = 16;

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
    /// Connections open at once; more wait until one closes.
    #[arg(long, default_value_t = Limits::DEFAULT.max_connections)]
    pub max_connections: usize,
    /// Milliseconds a client has to send a request's head, counted from the connection
    /// opening or the previous answer (the keep-alive idle time), and to read an answer.
    #[arg(long, default_value_t = Limits::DEFAULT.head_timeout.as_millis() as u64)]
    pub head_timeout_ms: u64,
    /// Milliseconds a client has to send a request's body.
    #[arg(long, default_value_t = Limits::DEFAULT.body_timeout.as_millis() as u64)]
    pub body_timeout_ms: u64,
}

/// The connection bounds (see the module comment).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub head_timeout: Duration,
    pub body_timeout: Duration,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_connections: 2048,
        head_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(10),
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: String,
    pub token: Option<String>,
    pub workers: usize,
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: "127.0.0.1:0".into(),
            token: None,
            workers: 4,
            limits: Limits::default(),
        }
    }
}

/// A running mirror. Dropping it stops it (workers finish the request in hand).
pub struct Running {
    pub url: String,
    pub addr: SocketAddr,
    /// The per-run form/API token (also the bearer token for `POST /api/...`).
    pub csrf: String,
    stop: watch::Sender<bool>,
    watching: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops and waits for the threads.
    pub fn stop(mut self) {
        self.signal();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    fn signal(&self) {
        let _ = self.stop.send(true);
        self.watching.store(false, Ordering::SeqCst);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.signal();
    }
}

/// `nxr serve`: starts the mirror on this runtime and serves until Ctrl-C or SIGTERM.
pub async fn serve(core: Core, args: ServeArgs) -> Result<()> {
    let runtime = Runtime::new(core)?;
    crate::core::schedule::start(&runtime);
    let running = start(
        runtime,
        Config {
            addr: args.addr,
            token: args.token,
            workers: args.workers,
            limits: Limits {
                max_connections: args.max_connections,
                head_timeout: Duration::from_millis(args.head_timeout_ms),
                body_timeout: Duration::from_millis(args.body_timeout_ms),
            },
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
pub fn start_in_process(runtime: Runtime, addr: Option<&str>) -> Result<Running> {
    let rt = Handle::try_current()
        .map_err(|_| CoreError::usage("the web mirror needs a tokio runtime"))?;
    start(
        runtime,
        Config {
            addr: addr.unwrap_or("127.0.0.1:0").to_string(),
            ..Config::default()
        },
        rt,
    )
}

/// Binds and starts the threads. `rt` runs core's async calls (the program's runtime);
/// `runtime` runs the jobs pages and the API start (the TUI's own when it hosts the mirror).
pub fn start(runtime: Runtime, config: Config, rt: Handle) -> Result<Running> {
    let core = runtime.core().clone();
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
    let limits = config.limits;
    if limits.max_connections == 0 || limits.head_timeout.is_zero() || limits.body_timeout.is_zero()
    {
        return Err(CoreError::usage(
            "--max-connections and the timeouts must be above 0",
        ));
    }
    let listener = listen(addr)?;
    let local = listener
        .local_addr()
        .map_err(|e| CoreError::io("listener", e))?;
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
    let app = Arc::new(App {
        core,
        runtime,
        rt,
        csrf: sessions::random_hex(16),
        token,
        hosts,
        sessions: Sessions::new(MAX_SESSIONS),
        // The watcher thread reads the real mark at once (no blocking here: callers are async).
        mark: AtomicI64::new(0),
        url: url.clone(),
        shared_screens: Mutex::new(Vec::new()),
        onboarded: Mutex::new(None),
    });
    let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name)
            .spawn(f)
            .map_err(|e| CoreError::io("thread", e))
    };
    let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
    let queue = Arc::new(Mutex::new(queue));
    let mut threads = Vec::new();
    for i in 0..config.workers.clamp(1, 64) {
        let (app, queue) = (app.clone(), queue.clone());
        threads.push(spawn(
            format!("nxr-web-{i}"),
            Box::new(move || worker(i, &app, &queue)),
        )?);
    }
    let (stop, stopped) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        app: app.clone(),
        jobs,
        limits,
        slots: Arc::new(Semaphore::new(limits.max_connections)),
    });
    threads.push(spawn(
        "nxr-web-io".into(),
        Box::new(move || connections(listener, ctx, stopped)),
    )?);
    let watching = Arc::new(AtomicBool::new(true));
    {
        let (app, watching) = (app.clone(), watching.clone());
        threads.push(spawn(
            "nxr-web-watch".into(),
            Box::new(move || watch_changes(&app, &watching)),
        )?);
    }
    tracing::info!(%url, "web mirror started");
    Ok(Running {
        url,
        addr: local,
        csrf: app.csrf.clone(),
        stop,
        watching,
        threads,
    })
}

/// The listening socket, made with socket2 for the backlog and address reuse.
fn listen(addr: SocketAddr) -> Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let io = |e| CoreError::io(format!("listen on {addr}"), e);
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(io)?;
    socket.set_reuse_address(true).map_err(io)?;
    socket.bind(&addr.into()).map_err(io)?;
    socket.listen(1024).map_err(io)?;
    socket.set_nonblocking(true).map_err(io)?;
    Ok(socket.into())
}

/// Polls the database's change mark so pages and `/api/changes` see other processes' writes.
fn watch_changes(app: &App, watching: &AtomicBool) {
    while watching.load(Ordering::SeqCst) {
        if let Ok(m) = app.rt.block_on(app.core.change_mark()) {
            app.mark.fetch_max(m, Ordering::SeqCst);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- workers ----

/// A request whose head and body have arrived, for a worker to answer.
struct Job {
    req: Req,
    body: Vec<u8>,
    answer: oneshot::Sender<Reply>,
}

/// Answers jobs until the connection thread goes away (it owns the only sender).
fn worker(index: usize, app: &App, queue: &Mutex<mpsc::Receiver<Job>>) {
    server::set_worker(index);
    loop {
        let job = sessions::lock(queue).recv();
        let Ok(job) = job else { return };
        let reply = std::panic::catch_unwind(AssertUnwindSafe(|| {
            server::answer(app, &job.req, &job.body)
        }))
        .unwrap_or_else(|_| {
            tracing::error!(path = %job.req.path, "web mirror: a request panicked");
            job.req.error(500, "internal error")
        });
        let _ = job.answer.send(reply);
    }
}

// ---- connections ----

struct Ctx {
    app: Arc<App>,
    jobs: mpsc::SyncSender<Job>,
    limits: Limits,
    /// One permit per open connection.
    slots: Arc<Semaphore>,
}

/// The connection thread: accepts and serves every connection on a runtime of its own, so
/// the mirror keeps answering whatever the program's own runtime is busy with.
fn connections(listener: std::net::TcpListener, ctx: Arc<Ctx>, stop: watch::Receiver<bool>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "web mirror: cannot start its runtime");
            return;
        }
    };
    rt.block_on(async move {
        match TcpListener::from_std(listener) {
            Ok(listener) => accept(listener, ctx, stop).await,
            Err(e) => tracing::error!(error = %e, "web mirror: cannot listen"),
        }
    });
    // Dropping the runtime drops every open connection, and with them the job sender: the
    // workers end.
}

async fn accept(listener: TcpListener, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut warned: Option<Instant> = None;
    loop {
        let permit = tokio::select! {
            _ = stop.changed() => return,
            p = ctx.slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let stream = loop {
            tokio::select! {
                _ = stop.changed() => return,
                r = listener.accept() => match r {
                    Ok((s, _)) => break s,
                    Err(e) => {
                        // EMFILE and the like: the client waits in the backlog until a
                        // descriptor frees up. Said once a minute, not 100 times a second.
                        if warned.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                            tracing::warn!(error = %e, "web mirror: accept failed; retrying");
                            warned = Some(Instant::now());
                        }
                        tokio::time::sleep(ACCEPT_RETRY).await;
                    }
                },
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, ctx.clone(), permit));
    }
}

async fn serve_connection(stream: TcpStream, ctx: Arc<Ctx>, _slot: OwnedSemaphorePermit) {
    let io = TokioIo::new(WriteDeadline::new(stream, ctx.limits.head_timeout));
    let service = {
        let ctx = ctx.clone();
        service_fn(move |req| {
            let ctx = ctx.clone();
            async move { Ok::<_, Infallible>(handle(&ctx, req).await) }
        })
    };
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.limits.head_timeout)
        .max_headers(MAX_HEADERS)
        // Room for the largest head accepted; a bigger one gets 431 from hyper.
        .max_buf_size(MAX_HEADER_BYTES + 8192)
        .serve_connection(io, service);
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "web mirror: connection ended");
    }
}

async fn handle(ctx: &Ctx, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let req = Req::new(parts.method.as_str(), target, headers);
    let declared = body.size_hint().exact();
    if let Some(reply) = server::early(&ctx.app, &req, declared) {
        return response(reply);
    }
    let body = if req.method == "POST" {
        match read_body(body, ctx.limits.body_timeout).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return response(req.error(413, &format!("request body over {MAX_BODY} bytes")));
            }
            Err(BodyError::Slow) => {
                return response(req.error(408, "the request body came too slowly"));
            }
            Err(BodyError::Bad(e)) => {
                return response(req.error(400, &format!("cannot read body: {e}")));
            }
        }
    } else {
        Vec::new()
    };
    let (answer, answered) = oneshot::channel();
    let job = Job { req, body, answer };
    let reply = match ctx.jobs.try_send(job) {
        Ok(()) => match answered.await {
            Ok(reply) => reply,
            Err(_) => Reply::json_error(500, "internal error"),
        },
        Err(mpsc::TrySendError::Full(job) | mpsc::TrySendError::Disconnected(job)) => job
            .req
            .error(503, "the mirror is busy; try again in a moment")
            .with("Retry-After", "1".into()),
    };
    response(reply)
}

enum BodyError {
    TooLarge,
    Slow,
    Bad(String),
}

/// The body, read against the deadline and the size limit.
async fn read_body(body: Incoming, within: Duration) -> std::result::Result<Vec<u8>, BodyError> {
    let read = Limited::new(body, MAX_BODY).collect();
    match tokio::time::timeout(within, read).await {
        Err(_) => Err(BodyError::Slow),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Ok(Err(e)) => Err(BodyError::Bad(e.to_string())),
    }
}

/// Headers every answer carries.
const FIXED_HEADERS: [(&str, &str); 5] = [
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
];

fn response(reply: Reply) -> Response<Full<Bytes>> {
    let body = if reply.pooled {
        Bytes::from_owner(Pooled(reply.body))
    } else {
        Bytes::from(reply.body)
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    for (k, v) in FIXED_HEADERS {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    for (k, v) in &reply.headers {
        // A value with a line break cannot reach the wire: http refuses to build it.
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v)) {
            h.append(k, v);
        }
    }
    if reply.close {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

// ---- page buffers ----

/// Page buffers come back here once the answer is written, so a render allocates no large
/// blocks: freeing ~50 KB per request made glibc trim its heap and flush TLBs on the other
/// core.
static BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer for a page, reused when one is free.
pub(crate) fn page_buffer() -> Vec<u8> {
    let mut b = sessions::lock(&BUFFERS).pop().unwrap_or_default();
    b.clear();
    b
}

/// A page on its way out; gives its buffer back when hyper is done with it.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let b = std::mem::take(&mut self.0);
        let mut pool = sessions::lock(&BUFFERS);
        if pool.len() < POOLED_BUFFERS {
            pool.push(b);
        }
    }
}

// ---- a deadline on writes ----

/// A connection whose writes fail once they have waited `limit` for the client to read:
/// a client that asks and never reads cannot hold a connection forever.
struct WriteDeadline {
    io: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteDeadline {
    fn new(io: TcpStream, limit: Duration) -> WriteDeadline {
        WriteDeadline {
            io,
            limit,
            stalled: None,
        }
    }

    /// Passes a write's result on, starting the clock when it must wait.
    fn timed<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read the answer",
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.timed(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.timed(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.timed(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
