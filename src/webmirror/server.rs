//! What a request means: the security checks on its head, then the URL-to-screen state (the
//! browser's session brought to what the URL says, then its screen) and the form posts that
//! become [`Action`]s. The HTTP side (connections, deadlines, workers) is in
//! [`super::http`]; nothing here knows which HTTP server carries it.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::runtime::Handle;

use super::form;
use super::page::{self, PageCtx};
use super::picker;
use super::sessions::{self, Entry, SHARED, Sessions};
use crate::core::action::Intent;
use crate::core::session::{PICKER_CHROME, Session};
use crate::core::view::{Body, Overlay, Screen, Tab};
use crate::core::{Core, CoreError, Result};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// Largest total size of the request headers, and their number.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
pub const MAX_HEADERS: usize = 64;
/// Longest request target (path and query).
const MAX_TARGET: usize = 8192;
/// Rows of the picker shown on a page.
const PICKER_ROWS: u16 = 40;

pub(crate) struct App {
    pub core: Core,
    /// The process's one runtime: scans started from pages and the API run there.
    pub runtime: crate::core::runtime::Runtime,
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

// ---- requests and replies ----

pub(crate) struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// The body is a reused page buffer (given back once written).
    pub pooled: bool,
    /// Close the connection after this answer (a body left unread).
    pub close: bool,
}

impl Reply {
    fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type,
            body,
            headers: Vec::new(),
            pooled: false,
            close: false,
        }
    }

    pub fn html(status: u16, markup: maud::Markup) -> Reply {
        Reply::new(
            status,
            "text/html; charset=utf-8",
            markup.into_string().into_bytes(),
        )
    }

    /// A page rendered by `render` into a reused buffer.
    pub fn page(status: u16, render: impl FnOnce(&mut String)) -> Reply {
        // An empty buffer is valid UTF-8, so this cannot fail; a fresh one is the fallback.
        let mut out = String::from_utf8(super::http::page_buffer()).unwrap_or_default();
        out.reserve(64 * 1024);
        render(&mut out);
        let mut r = Reply::new(status, "text/html; charset=utf-8", out.into_bytes());
        r.pooled = true;
        r
    }

    pub fn json(status: u16, value: &impl serde::Serialize) -> Reply {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Reply::new(status, "application/json", body)
    }

    pub fn json_error(status: u16, message: &str) -> Reply {
        Reply::json(status, &serde_json::json!({ "error": message }))
    }

    pub fn redirect(to: &str) -> Reply {
        Reply::new(303, "text/plain; charset=utf-8", b"see other".to_vec())
            .with("Location", to.to_string())
    }

    pub fn with(mut self, k: &str, v: String) -> Reply {
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
    /// The length of the request target (path and query) as sent.
    pub target_len: usize,
}

impl Req {
    /// A request from its method, target (`/path?query`) and headers.
    pub fn new(method: &str, target: &str, headers: Vec<(String, String)>) -> Req {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Req {
            method: method.to_ascii_uppercase(),
            api: path.starts_with("/api/") || path == "/api",
            path: path.to_string(),
            query: form::pairs(query.as_bytes()),
            headers,
            target_len: target.len(),
        }
    }

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
        408 => "Request timeout",
        409 => "Conflict",
        413 => "Request body too large",
        431 => "Request headers too large",
        500 => "Internal error",
        502 => "Upstream error",
        503 => "Busy",
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

/// What can be answered from the request's head alone, before any body is read: the head's
/// size, the Host (DNS rebinding), the access token, the method, where a post comes from, the
/// API token, a declared body over [`MAX_BODY`]; and the answers that need no worker (the
/// static files, `/api/changes`). `None`: read the body (for a POST) and [`answer`].
pub(crate) fn early(app: &App, req: &Req, declared: Option<u64>) -> Option<Reply> {
    let header_bytes: usize = req.headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    if req.headers.len() > MAX_HEADERS
        || header_bytes > MAX_HEADER_BYTES
        || req.target_len > MAX_TARGET
    {
        return Some(req.error(431, "request headers too large"));
    }
    if let Some(hosts) = &app.hosts {
        let host = req.header("host").unwrap_or("");
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Some(req.error(403, "unexpected Host header"));
        }
    }
    if let Some(token) = &app.token {
        if let Some(given) = req.query.iter().find(|(k, _)| k == "token").map(|(_, v)| v) {
            if !same(given, token) {
                return Some(req.error(401, "wrong access token"));
            }
            let rest: Vec<(String, String)> = req
                .query
                .iter()
                .filter(|(k, _)| k != "token")
                .cloned()
                .collect();
            return Some(Reply::redirect(&page::build_url(&req.path, &rest)).with(
                "Set-Cookie",
                format!("nxr_token={token}; Path=/; HttpOnly; SameSite=Strict"),
            ));
        }
        let ok = req.cookie("nxr_token").is_some_and(|c| same(&c, token))
            || req.bearer().is_some_and(|b| same(b, token));
        if !ok {
            return Some(req.error(
                401,
                "this mirror needs its access token: open it once with ?token=TOKEN, or send \
                 Authorization: Bearer TOKEN",
            ));
        }
    }
    match req.method.as_str() {
        "GET" | "HEAD" => {
            (req.path.starts_with("/static/") || req.path == "/api/changes").then(|| get(app, req))
        }
        "POST" => {
            if let Some(r) = check_origin(req) {
                return Some(r);
            }
            if req.api {
                let bearer = req.bearer().or_else(|| req.header("x-csrf-token"));
                let ok = bearer.is_some_and(|b| {
                    same(b, &app.csrf) || app.token.as_deref().is_some_and(|t| same(b, t))
                });
                if !ok {
                    return Some(Reply::json_error(
                        403,
                        "missing or wrong token: send Authorization: Bearer <the token nxr \
                         serve printed>",
                    ));
                }
            }
            if declared.is_some_and(|n| n > MAX_BODY as u64) {
                // Not read: the connection closes after the answer.
                let mut r = req.error(413, &format!("request body over {MAX_BODY} bytes"));
                r.close = true;
                return Some(r);
            }
            None
        }
        _ => Some(
            req.error(405, "use GET or POST")
                .with("Allow", "GET, HEAD, POST".into()),
        ),
    }
}

/// Answers a request that passed [`early`], with its body (empty for a GET).
pub(crate) fn answer(app: &App, req: &Req, body: &[u8]) -> Reply {
    match req.method.as_str() {
        "POST" => post(app, req, body),
        _ => get(app, req),
    }
}

thread_local! {
    /// Which worker thread this is (each has a scratch session of its own).
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Names this thread's worker number.
pub(crate) fn set_worker(index: usize) {
    WORKER.with(|w| w.set(index));
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
        "/static/live.js" => Reply::new(
            200,
            "text/javascript; charset=utf-8",
            page::SCRIPT.as_bytes().to_vec(),
        ),
        "/static/style.css" => Reply::new(
            200,
            "text/css; charset=utf-8",
            page::STYLE.as_bytes().to_vec(),
        ),
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
        // The bearer token was checked before the body was read (`early`).
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
                s.apply(Intent::SwitchTab { tab }).await;
            }
            let mut ok = true;
            for a in form.actions {
                if s.try_apply(a).await.is_err() {
                    ok = false;
                    break;
                }
            }
            if ok && form.close && s.view().overlay.is_some() {
                s.apply(Intent::Cancel).await;
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
            // A cookie-less read builds no session of its own (a cross-site page can make a
            // browser send any number of them: the SameSite cookie stays home). It reads
            // through the shared session, or, when the URL carries state, through this
            // worker's scratch session; the cookie names a session made on its first post.
            let id = sessions::new_id();
            if !read_only {
                (id.clone(), Some(id))
            } else if req.query.is_empty() {
                (SHARED.to_string(), Some(id))
            } else {
                (sessions::scratch(WORKER.with(|w| w.get())), Some(id))
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
        s.apply(Intent::Resize {
            width: 160,
            height: PICKER_ROWS + PICKER_CHROME,
        })
        .await;
        s.web_url = Some(app.url.clone());
        s.set_runtime(app.runtime.clone());
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
            s.apply(Intent::SwitchTab { tab }).await;
        }
        if s.tab() == Tab::Models {
            // config.yaml may have changed on disk without a database write.
            s.poll().await;
        }
        if sessions::is_scratch(key) {
            // A scratch session serves one cookie-less URL after another: a picker one URL
            // opened does not stay open for the next.
            for _ in 0..3 {
                if !s.picker_open() {
                    break;
                }
                s.apply(Intent::Cancel).await;
            }
        }
        let mut tried: Vec<Intent> = Vec::new();
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
pub fn wanted(screen: &Screen, ctx: &PageCtx) -> Option<Intent> {
    let picker = match &screen.overlay {
        Some(Overlay::Picker(p)) => Some(p),
        _ => None,
    };
    match &screen.body {
        Body::Agents(v) => {
            let a = ctx.param("agent")?;
            let current = v.rows.get(v.selected).map(|r| r.name.as_str());
            (current != Some(a) && v.rows.iter().any(|r| r.name == a)).then(|| {
                Intent::SelectAgent {
                    agent: a.to_string(),
                }
            })
        }
        Body::Models(v) => {
            if let Some(a) = ctx.param("agent")
                && v.agent.as_deref() != Some(a)
                && v.agents.iter().any(|x| x == a)
            {
                return Some(Intent::SelectAgent {
                    agent: a.to_string(),
                });
            }
            let all = ctx.param("all").is_some_and(|v| v == "1");
            if ctx.param("agent").is_some() && v.show_all != all && screen.overlay.is_none() {
                return Some(Intent::ToggleAllSlots);
            }
            if let Some(slot) = ctx.param("slot")
                && let Some(i) = v.slots.iter().position(|s| s.key == slot)
            {
                let target = format!("{} · {slot}", v.agent.as_deref().unwrap_or(""));
                match &screen.overlay {
                    Some(Overlay::Picker(p)) if p.target == target => {}
                    Some(_) => return Some(Intent::Cancel),
                    None if v.selected != i => return Some(Intent::SelectRow { index: i }),
                    None => return Some(Intent::OpenPicker),
                }
            }
            picker.and_then(|p| picker_wanted(p, ctx))
        }
        Body::Create(_) => picker.and_then(|p| picker_wanted(p, ctx)),
        Body::Hermes(_) | Body::Budget(_) | Body::Notifications(_) => None,
    }
}

fn picker_wanted(p: &crate::core::view::PickerView, ctx: &PageCtx) -> Option<Intent> {
    if let Some(f) = picker::url_filters(ctx)
        && f != p.filters
    {
        return Some(Intent::SetPickerFilters { filters: f });
    }
    if let Some(q) = ctx.param("q") {
        let q: String = q.chars().filter(|c| !c.is_control()).take(200).collect();
        if q != p.query {
            return Some(Intent::SetPickerQuery { query: q });
        }
    }
    if let Some(sel) = ctx.param("sel").and_then(|s| s.parse::<usize>().ok()) {
        let cursor = p.selected.map(|i| p.offset + i);
        if cursor != Some(sel) && sel < p.matched {
            return Some(Intent::SelectRow { index: sel });
        }
    }
    None
}
