//! `nxr doctor`: checks everything nxr depends on and says what to do about each problem.
//!
//! Doctor changes nothing: it does not create or migrate the database (it opens an existing
//! file read-only), writes no profile and records no setting. It answers in about the time
//! of one remote timeout even when every remote hangs, because the remote checks run at
//! once, each under [`Options::remote_timeout`].

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::detect;
use super::hermes::{self, ConfigDoc, Profile};
use super::hermes_version::{self, Support};
use super::openrouter::{FreeTier, KeyInfo};
use super::paths::{self, Endpoints, Paths};
use super::secrets;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Not fine, but nxr works without it (an optional service, an unreachable remote).
    Warning,
    Failed,
}

impl Status {
    pub fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warning => "!",
            Status::Failed => "✗",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable id for scripts: `database`, `profile:pm`, `openrouter` ...
    pub id: String,
    pub label: String,
    pub status: Status,
    /// A failure here means nxr cannot work as it should (exit 1).
    pub needed: bool,
    pub detail: String,
    /// What to do, when something is wrong.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// True when every needed check passed.
    pub ok: bool,
    pub problems: usize,
    pub warnings: usize,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How long each remote (OpenRouter, Ollama, Telegram) and each child process may take.
    pub remote_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            remote_timeout: Duration::from_millis(1200),
        }
    }
}

fn check(id: &str, label: &str, status: Status, needed: bool, detail: String) -> Check {
    Check {
        id: id.to_string(),
        label: label.to_string(),
        status,
        needed,
        detail,
        fix: None,
    }
}

impl Check {
    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// Runs every check. Never fails: a check that cannot run is itself a failed check.
pub async fn run(paths: &Paths, endpoints: &Endpoints, opts: Options) -> Report {
    let t = opts.remote_timeout;
    let http = reqwest::Client::builder()
        .connect_timeout(t)
        .timeout(t)
        .user_agent(concat!("nxr/", env!("CARGO_PKG_VERSION"), " doctor"))
        .build()
        .ok();
    let (db, hermes_cli, tmux, ollama, openrouter, telegram) = tokio::join!(
        database(paths, endpoints),
        hermes_cli(t),
        tmux(t),
        within(t, "Ollama", ollama(&endpoints.ollama, t)),
        within(
            t,
            "OpenRouter",
            openrouter(http.as_ref(), paths, &endpoints.openrouter)
        ),
        within(t, "Telegram", telegram(http.as_ref(), paths)),
    );
    let (db_check, agents) = db;
    let mut checks = vec![db_check];
    checks.extend(hermes_home(paths, &agents));
    checks.push(hermes_cli);
    checks.push(tmux);
    checks.push(ollama);
    checks.push(openrouter);
    checks.push(telegram);
    checks.push(web_mirror());
    checks.push(secret_files(paths));
    let problems = checks
        .iter()
        .filter(|c| c.needed && c.status == Status::Failed)
        .count();
    let warnings = checks.iter().filter(|c| c.status != Status::Ok).count() - problems;
    Report {
        ok: problems == 0,
        problems,
        warnings,
        checks,
    }
}

/// A remote check that overran its time is reported as unreachable, not waited for.
async fn within(t: Duration, what: &str, f: impl std::future::Future<Output = Check>) -> Check {
    match tokio::time::timeout(t + Duration::from_millis(100), f).await {
        Ok(c) => c,
        Err(_) => check(
            &what.to_ascii_lowercase(),
            what,
            Status::Warning,
            false,
            format!("no answer within {:.1}s (unreachable)", t.as_secs_f64()),
        ),
    }
}

// ---- the database ----

/// The database check, and the agents (name, profile) it lists when it could be read.
async fn database(paths: &Paths, endpoints: &Endpoints) -> (Check, Vec<(String, String)>) {
    if let Some(url) = &endpoints.db_url {
        return (
            check(
                "database",
                "database",
                Status::Warning,
                false,
                format!("libSQL server {url} (NXR_DB_URL): doctor checks local files only"),
            ),
            Vec::new(),
        );
    }
    let path = paths.db_file();
    if !path.is_file() {
        return (
            check(
                "database",
                "database",
                Status::Failed,
                true,
                format!("no database at {} yet", path.display()),
            )
            .fix("run `nxr init --free` (or point NXR_HOME at an existing workspace)"),
            Vec::new(),
        );
    }
    match read_database(&path).await {
        Ok((version, integrity, agents)) => {
            let known = super::db::schema_version();
            let c = if integrity != "ok" {
                check(
                    "database",
                    "database",
                    Status::Failed,
                    true,
                    format!(
                        "{}: integrity check failed: {}",
                        path.display(),
                        super::catalog::clip(&integrity, 200)
                    ),
                )
                .fix("restore the file from a backup, or move it aside and run `nxr init --free`")
            } else if version > known {
                check(
                    "database",
                    "database",
                    Status::Failed,
                    true,
                    format!(
                        "{}: schema {version} was written by a newer nxr (this one knows {known})",
                        path.display()
                    ),
                )
                .fix("upgrade nxr, or point NXR_HOME elsewhere")
            } else if version < known {
                check(
                    "database",
                    "database",
                    Status::Warning,
                    false,
                    format!(
                        "{}: schema {version} of {known}, integrity ok",
                        path.display()
                    ),
                )
                .fix("any other nxr command brings it up to date")
            } else {
                check(
                    "database",
                    "database",
                    Status::Ok,
                    true,
                    format!(
                        "{}: schema {version} (current), integrity ok, {} agents",
                        path.display(),
                        agents.len()
                    ),
                )
            };
            (c, agents)
        }
        Err(e) => (
            check(
                "database",
                "database",
                Status::Failed,
                true,
                format!("{}: cannot read: {e}", path.display()),
            )
            .fix("check the file's permissions; if it is damaged, restore it from a backup"),
            Vec::new(),
        ),
    }
}

type DbFacts = (i64, String, Vec<(String, String)>);

/// Opens an existing database file read-only: no migration, no file created.
pub async fn open_read_only(path: &Path) -> std::result::Result<libsql::Connection, libsql::Error> {
    let db = libsql::Builder::new_local(path)
        .flags(libsql::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .build()
        .await?;
    let conn = db.connect()?;
    conn.busy_timeout(Duration::from_secs(2))?;
    Ok(conn)
}

/// Agent names (for shell completion): empty when there is no workspace yet.
pub async fn agent_names(paths: &Paths) -> Vec<String> {
    let path = paths.db_file();
    if !path.is_file() {
        return Vec::new();
    }
    let Ok(conn) = open_read_only(&path).await else {
        return Vec::new();
    };
    let mut names = Vec::new();
    if let Ok(mut rows) = conn
        .query("SELECT name FROM agents ORDER BY name", ())
        .await
    {
        while let Ok(Some(r)) = rows.next().await {
            if let Ok(n) = r.get::<String>(0) {
                names.push(n);
            }
        }
    }
    names
}

async fn read_database(path: &Path) -> std::result::Result<DbFacts, libsql::Error> {
    let conn = open_read_only(path).await?;
    let version = {
        let mut rows = conn
            .query("SELECT COALESCE(MAX(version), 0) FROM nxr_migrations", ())
            .await?;
        match rows.next().await? {
            Some(r) => r.get::<i64>(0)?,
            None => 0,
        }
    };
    let integrity = {
        let mut rows = conn.query("PRAGMA integrity_check", ()).await?;
        let mut lines = Vec::new();
        while let Some(r) = rows.next().await? {
            lines.push(r.get::<String>(0)?);
        }
        lines.join("; ")
    };
    let mut agents = Vec::new();
    if let Ok(mut rows) = conn
        .query("SELECT name, profile FROM agents ORDER BY id", ())
        .await
    {
        while let Some(r) = rows.next().await? {
            agents.push((r.get::<String>(0)?, r.get::<String>(1)?));
        }
    }
    Ok((version, integrity, agents))
}

// ---- Hermes: the root and each profile's config.yaml ----

fn hermes_home(paths: &Paths, agents: &[(String, String)]) -> Vec<Check> {
    let home = &paths.hermes_home;
    if !home.is_dir() {
        return vec![
            check(
                "hermes_home",
                "Hermes home",
                Status::Failed,
                true,
                format!("{} does not exist", home.display()),
            )
            .fix("run `nxr init --free` (it creates the profiles), or set HERMES_HOME"),
        ];
    }
    // Every profile on disk (the root is the `default` profile), and every agent's profile
    // whether or not it is on disk.
    let mut names: Vec<String> = Vec::new();
    if home.join("config.yaml").is_file() {
        names.push(hermes::DEFAULT_PROFILE.to_string());
    }
    if let Ok(entries) = std::fs::read_dir(home.join("profiles")) {
        let mut on_disk: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        names.extend(on_disk);
    }
    for (_, profile) in agents {
        if !names.contains(profile) {
            names.push(profile.clone());
        }
    }
    let mut out = vec![check(
        "hermes_home",
        "Hermes home",
        Status::Ok,
        true,
        format!("{}: {} profiles", home.display(), names.len()),
    )];
    for name in names {
        let agent = agents
            .iter()
            .find(|(_, p)| *p == name)
            .map(|(a, _)| a.as_str());
        out.push(profile_check(home, &name, agent));
    }
    out
}

fn profile_check(home: &Path, name: &str, agent: Option<&str>) -> Check {
    let p = Profile::resolve(home, name);
    let path = p.config_path();
    let id = format!("profile:{name}");
    let label = format!("profile {name}");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let whose = agent.map(|a| format!(" (agent {a})")).unwrap_or_default();
            return check(
                &id,
                &label,
                if agent.is_some() {
                    Status::Failed
                } else {
                    Status::Warning
                },
                agent.is_some(),
                format!("{} is missing{whose}", path.display()),
            )
            .fix(match agent {
                Some(a) => {
                    format!("run `nxr --no-tui agents skills {a} --sync`, or recreate the agent")
                }
                None => "a profile folder without config.yaml: Hermes uses its defaults".into(),
            });
        }
        Err(e) => {
            return check(
                &id,
                &label,
                Status::Failed,
                true,
                format!("{}: cannot read: {e}", path.display()),
            )
            .fix(format!("check the permissions of {}", path.display()));
        }
    };
    match ConfigDoc::parse(&path, &text) {
        Err(e) => check(&id, &label, Status::Failed, true, e.to_string()).fix(format!(
            "fix {} by hand or restore it: neither nxr nor hermes can read it",
            path.display()
        )),
        Ok(doc) => {
            let slot = doc.main_slot();
            let bare = doc.get_str("model").is_some() && slot.provider.is_empty();
            if bare {
                check(
                    &id,
                    &label,
                    Status::Warning,
                    false,
                    format!(
                        "{}: `model:` is a bare string; Hermes expects {{provider, default}}",
                        path.display()
                    ),
                )
                .fix("set the model again in nxr (Tab 2), which writes the full form")
            } else {
                let model = if slot.model.is_empty() {
                    "no model set (Hermes chooses)".to_string()
                } else {
                    format!("model {}", super::text::clean(&slot.model))
                };
                check(
                    &id,
                    &label,
                    Status::Ok,
                    true,
                    format!("{}: parses; {model}", path.display()),
                )
            }
        }
    }
}

// ---- local programs ----

async fn hermes_cli(t: Duration) -> Check {
    let Some(path) = detect::hermes_path() else {
        return check(
            "hermes_cli",
            "hermes CLI",
            Status::Failed,
            true,
            "not found on PATH (nor NXR_HERMES_BIN)".into(),
        )
        .fix(format!(
            "pip install hermes-agent=={} (in a virtualenv), or set NXR_HERMES_BIN",
            hermes_version::CHECKED_AGAINST
        ));
    };
    let version = hermes_version::installed(&path, t).await;
    let v = version.as_deref();
    match hermes_version::support(v) {
        Support::Verified => check(
            "hermes_cli",
            "hermes CLI",
            Status::Ok,
            true,
            format!("{}: {}", path.display(), hermes_version::describe(v)),
        ),
        Support::Unverified => check(
            "hermes_cli",
            "hermes CLI",
            Status::Warning,
            false,
            format!("{}: {}", path.display(), hermes_version::describe(v)),
        )
        .fix(format!(
            "nxr is checked against hermes-agent {}; pip install hermes-agent=={} if anything misbehaves",
            hermes_version::VERIFIED_SERIES,
            hermes_version::CHECKED_AGAINST
        )),
        Support::Unknown => check(
            "hermes_cli",
            "hermes CLI",
            Status::Warning,
            false,
            format!("{}: version could not be read", path.display()),
        )
        .fix("run `hermes --version` to see what is installed"),
    }
}

async fn tmux(t: Duration) -> Check {
    let fix = "apt-get install tmux (nxr starts gateways inside tmux so you can attach to them)";
    let Some(path) = detect::which("tmux") else {
        return check(
            "tmux",
            "tmux",
            Status::Warning,
            false,
            "not found on PATH".into(),
        )
        .fix(fix);
    };
    let run = tokio::process::Command::new(&path)
        .arg("-V")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(t, run).await {
        Ok(Ok(out)) if out.status.success() => check(
            "tmux",
            "tmux",
            Status::Ok,
            false,
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        ),
        _ => check(
            "tmux",
            "tmux",
            Status::Warning,
            false,
            format!("{} does not run", path.display()),
        )
        .fix(fix),
    }
}

// ---- remotes ----

async fn ollama(url: &str, t: Duration) -> Check {
    match detect::ollama(url, t).await {
        Some(o) => check(
            "ollama",
            "Ollama",
            Status::Ok,
            false,
            format!(
                "{}: {} models{}",
                o.url,
                o.models.len(),
                o.qwen
                    .map(|q| format!(", local work goes to {q}"))
                    .unwrap_or_default()
            ),
        ),
        None => check(
            "ollama",
            "Ollama",
            Status::Warning,
            false,
            format!("not reachable at {url} (optional: local models for auxiliary tasks)"),
        )
        .fix("install and start Ollama, or set NXR_OLLAMA_URL"),
    }
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

async fn openrouter(http: Option<&reqwest::Client>, paths: &Paths, base: &str) -> Check {
    let Some(http) = http else {
        return check(
            "openrouter",
            "OpenRouter",
            Status::Warning,
            false,
            "no HTTP client".into(),
        );
    };
    let key = secrets::openrouter_key_in(paths);
    let unreachable = |e: reqwest::Error| {
        check(
            "openrouter",
            "OpenRouter",
            Status::Warning,
            false,
            format!("{base} unreachable ({})", reason(&e)),
        )
        .fix("check the network, or set NXR_OPENROUTER_URL; agents cannot call models until it answers")
    };
    let Some(key) = key else {
        // No key: reachability only (the headers of the catalog, not its body).
        return match http.get(format!("{base}/models")).send().await {
            Ok(r) if r.status().is_success() => check(
                "openrouter",
                "OpenRouter",
                Status::Ok,
                false,
                format!("{base} reachable; no key: free models only"),
            ),
            Ok(r) => check(
                "openrouter",
                "OpenRouter",
                Status::Warning,
                false,
                format!("{base} answered HTTP {}", r.status().as_u16()),
            ),
            Err(e) => unreachable(e),
        };
    };
    let masked = hermes::mask_key(&key);
    match http
        .get(format!("{base}/key"))
        .bearer_auth(&key)
        .send()
        .await
    {
        Err(e) => unreachable(e),
        Ok(r) if r.status().as_u16() == 401 => check(
            "openrouter",
            "OpenRouter",
            Status::Failed,
            true,
            format!("{base} rejected the key {masked} (HTTP 401)"),
        )
        .fix("set a valid key: `nxr --no-tui config set openrouter-key sk-or-...`"),
        Ok(r) if r.status().is_success() => match r.json::<Data<KeyInfo>>().await {
            Ok(d) => check(
                "openrouter",
                "OpenRouter",
                Status::Ok,
                true,
                format!(
                    "{base} reachable; key {masked} valid; {}",
                    FreeTier::of(&d.data, None).explanation
                ),
            ),
            Err(e) => check(
                "openrouter",
                "OpenRouter",
                Status::Warning,
                false,
                format!("{base}/key: unexpected answer ({})", reason(&e)),
            ),
        },
        Ok(r) => check(
            "openrouter",
            "OpenRouter",
            Status::Warning,
            false,
            format!("{base}/key answered HTTP {}", r.status().as_u16()),
        ),
    }
}

fn reason(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection refused"
    } else if e.is_decode() {
        "bad answer"
    } else {
        "network error"
    }
}

/// Telegram's token and chat: the Hermes root's `.env` (where the Hermes gateway reads
/// them), else nxr's own `secrets.env`.
fn telegram_settings(paths: &Paths) -> (Option<String>, Option<String>) {
    let get = |key: &str| super::telegram::env_value(paths, key);
    (get("TELEGRAM_BOT_TOKEN"), get("TELEGRAM_HOME_CHANNEL"))
}

#[derive(Deserialize)]
struct GetMe {
    #[serde(default)]
    result: Option<BotUser>,
}

#[derive(Deserialize)]
struct BotUser {
    #[serde(default)]
    username: Option<String>,
}

async fn telegram(http: Option<&reqwest::Client>, paths: &Paths) -> Check {
    let (token, chat) = telegram_settings(paths);
    let env = Profile::resolve(&paths.hermes_home, hermes::DEFAULT_PROFILE).env_path();
    let Some(token) = token else {
        return check(
            "telegram",
            "Telegram",
            Status::Warning,
            false,
            "not set up (optional: budget alerts to a chat)".into(),
        )
        .fix(format!(
            "put TELEGRAM_BOT_TOKEN and TELEGRAM_HOME_CHANNEL in {}",
            env.display()
        ));
    };
    let Some(http) = http else {
        return check(
            "telegram",
            "Telegram",
            Status::Warning,
            false,
            "no HTTP client".into(),
        );
    };
    let base = paths::telegram_api_url();
    // The token is part of the URL: never print the URL.
    let chat_note = match &chat {
        Some(c) => format!("chat {}", super::text::clean(c)),
        None => "no chat (TELEGRAM_HOME_CHANNEL) set".into(),
    };
    match http.get(format!("{base}/bot{token}/getMe")).send().await {
        Err(e) => check(
            "telegram",
            "Telegram",
            Status::Warning,
            false,
            format!("{base} unreachable ({}); {chat_note}", reason(&e)),
        )
        .fix("check the network, or set NXR_TELEGRAM_API_URL"),
        Ok(r) if matches!(r.status().as_u16(), 401 | 404) => check(
            "telegram",
            "Telegram",
            Status::Failed,
            true,
            format!(
                "Telegram rejected the bot token {} (HTTP {})",
                hermes::mask_key(&token),
                r.status().as_u16()
            ),
        )
        .fix(format!(
            "put a valid TELEGRAM_BOT_TOKEN (from @BotFather) in {}",
            env.display()
        )),
        Ok(r) if r.status().is_success() => {
            let bot = r
                .json::<GetMe>()
                .await
                .ok()
                .and_then(|g| g.result)
                .and_then(|u| u.username)
                .map(|u| format!("@{}", super::text::clean(&u)))
                .unwrap_or_else(|| "the bot".into());
            let c = check(
                "telegram",
                "Telegram",
                if chat.is_some() {
                    Status::Ok
                } else {
                    Status::Warning
                },
                false,
                format!("{bot} answers getMe; {chat_note}"),
            );
            if chat.is_some() {
                c
            } else {
                c.fix(format!("put TELEGRAM_HOME_CHANNEL in {}", env.display()))
            }
        }
        Ok(r) => check(
            "telegram",
            "Telegram",
            Status::Warning,
            false,
            format!("getMe answered HTTP {}", r.status().as_u16()),
        ),
    }
}

// ---- settings and files ----

/// The web mirror's bind (`NXR_WEB`, what `nxr --web` uses) and access token
/// (`NXR_WEB_TOKEN`). The rule is the one `nxr serve` enforces when it starts: any address
/// but loopback needs a token of at least 8 characters.
fn web_mirror() -> Check {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let token = env("NXR_WEB_TOKEN");
    if let Some(t) = &token
        && (t.len() < 8 || t.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        return check(
            "web",
            "web mirror",
            Status::Failed,
            true,
            "NXR_WEB_TOKEN is shorter than 8 characters or has spaces".into(),
        )
        .fix("set NXR_WEB_TOKEN to a longer random string");
    }
    let token_note = if token.is_some() {
        "access token set (NXR_WEB_TOKEN)"
    } else {
        "no access token"
    };
    let Some(addr) = env("NXR_WEB") else {
        return check(
            "web",
            "web mirror",
            Status::Ok,
            false,
            format!("binds 127.0.0.1 by default (`nxr serve --addr`); {token_note}"),
        );
    };
    match addr.parse::<SocketAddr>() {
        Ok(a) if !a.ip().is_loopback() && token.is_none() => check(
            "web",
            "web mirror",
            Status::Failed,
            true,
            format!("NXR_WEB={a} is reachable from other machines, and no token is set"),
        )
        .fix("set NXR_WEB_TOKEN (8+ characters), or bind 127.0.0.1"),
        Ok(a) => check(
            "web",
            "web mirror",
            Status::Ok,
            false,
            format!("NXR_WEB={a}; {token_note}"),
        ),
        Err(_) => check(
            "web",
            "web mirror",
            Status::Failed,
            true,
            format!("NXR_WEB={addr:?} is not an address (HOST:PORT)"),
        )
        .fix("set NXR_WEB to an address such as 127.0.0.1:8080"),
    }
}

/// Files that hold keys must be readable by their owner only.
fn secret_files(paths: &Paths) -> Check {
    let mut files: Vec<PathBuf> = vec![
        secrets::secrets_file(paths),
        Profile::resolve(&paths.hermes_home, hermes::DEFAULT_PROFILE).env_path(),
    ];
    if let Ok(entries) = std::fs::read_dir(paths.hermes_home.join("profiles")) {
        let mut envs: Vec<PathBuf> = entries.flatten().map(|e| e.path().join(".env")).collect();
        envs.sort();
        files.extend(envs);
    }
    let mut seen = 0;
    let mut open: Vec<String> = Vec::new();
    for f in files {
        let Ok(meta) = std::fs::metadata(&f) else {
            continue;
        };
        seen += 1;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            open.push(format!("{} ({mode:04o})", f.display()));
        }
    }
    if open.is_empty() {
        check(
            "secrets",
            "secret files",
            Status::Ok,
            true,
            format!("{seen} files, readable by their owner only"),
        )
    } else {
        let list = open.join(", ");
        let paths: Vec<&str> = open
            .iter()
            .map(|s| s.rsplit_once(" (").map(|(p, _)| p).unwrap_or(s))
            .collect();
        check(
            "secrets",
            "secret files",
            Status::Failed,
            true,
            format!("readable by others: {list}"),
        )
        .fix(format!("chmod 600 {}", paths.join(" ")))
    }
}

/// The text form: one line per check, then a summary line.
pub fn render_text(r: &Report) -> String {
    let width = r
        .checks
        .iter()
        .map(|c| c.label.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for c in &r.checks {
        let pad = " ".repeat(width - c.label.chars().count());
        out.push_str(&format!(
            "{} {}{pad}  {}",
            c.status.mark(),
            c.label,
            super::text::clean(&c.detail)
        ));
        if let Some(f) = &c.fix {
            out.push_str(" -> ");
            out.push_str(&super::text::clean(f));
        }
        out.push('\n');
    }
    out.push_str(&match (r.problems, r.warnings) {
        (0, 0) => "everything nxr needs is in place\n".to_string(),
        (0, w) => format!("everything nxr needs is in place ({w} optional things marked !)\n"),
        (p, _) => format!(
            "{p} problem{} to fix (marked ✗)\n",
            if p == 1 { "" } else { "s" }
        ),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_needed_failure_makes_the_report_fail_and_a_warning_does_not() {
        let ok = check("a", "a", Status::Ok, true, "fine".into());
        let warn = check("b", "b", Status::Warning, false, "meh".into()).fix("do x");
        let report = |checks: Vec<Check>| {
            let problems = checks
                .iter()
                .filter(|c| c.needed && c.status == Status::Failed)
                .count();
            Report {
                ok: problems == 0,
                problems,
                warnings: 0,
                checks,
            }
        };
        let text = render_text(&report(vec![ok.clone(), warn.clone()]));
        assert!(text.contains("✓ a  fine\n"), "{text}");
        assert!(text.contains("! b  meh -> do x\n"), "{text}");
        let failed = check("c", "c", Status::Failed, true, "broken".into());
        let r = report(vec![ok, warn, failed]);
        assert!(!r.ok);
        assert!(render_text(&r).ends_with("1 problem to fix (marked ✗)\n"));
    }

    #[test]
    fn a_corrupted_config_names_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = Profile::resolve(dir.path(), "pm");
        std::fs::create_dir_all(&p.dir).expect("mkdir");
        std::fs::write(p.config_path(), "model: [unclosed\n  - : :\n").expect("write");
        let c = profile_check(dir.path(), "pm", Some("pm"));
        assert_eq!(c.status, Status::Failed);
        assert!(c.needed);
        assert!(
            c.detail.contains(&p.config_path().display().to_string()),
            "{c:?}"
        );
    }
}
