//! Shared by the integration tests (`mod support;`): run the real `nxr` binary against
//! temporary homes, read its database directly, find the real `hermes`, and a fake
//! OpenRouter that speaks the real protocol and serves the recorded fixtures.
#![allow(dead_code)]

pub mod gateway;
pub mod hrana;
pub mod ollama;
pub mod openrouter;
pub mod profiles;
pub mod raw_http;
pub mod screens;
pub mod telegram;
pub mod tmux;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use openrouter::{FakeOpenRouter, Fault, VALID_KEY};

/// How long one nxr call may take before the test fails (debug build, busy 2-core box).
pub const NXR_TIMEOUT: Duration = Duration::from_secs(90);

/// Polls `f` every 50 ms until it returns Some, or panics naming `what`.
#[track_caller]
pub fn until<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `nxr daemon` of a test's home (its scheduler ticks every second), killed when
/// dropped. What it prints goes to a file, not a pipe, so a chatty daemon never blocks.
pub struct Daemon {
    child: Option<Child>,
    log: tempfile::NamedTempFile,
}

impl Daemon {
    pub fn start(env: &TestEnv) -> Daemon {
        let log = tempfile::NamedTempFile::new().expect("daemon log");
        let out = log.reopen().expect("daemon log");
        let err = log.reopen().expect("daemon log");
        let child = env
            .command(&["daemon"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("nxr daemon");
        Daemon {
            child: Some(child),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Stops it and returns everything it printed.
    pub fn stop(mut self) -> String {
        self.kill();
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The six roles, in the order nxr lists them.
pub const ROLES: [&str; 6] = ["pm", "engineer", "hermes", "creative", "research", "custom"];

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures_dir() -> PathBuf {
    manifest_dir().join("tests/fixtures/openrouter")
}

/// `tests/fixtures/openrouter/<name>` (a `models-*.json` file).
pub fn fixture_path(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

pub fn fixture(name: &str) -> String {
    read(&fixture_path(name))
}

/// `tests/fixtures/openrouter/examples/<name>`.
pub fn example(name: &str) -> String {
    read(&fixtures_dir().join("examples").join(name))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a finished process left behind.
#[derive(Debug, Clone)]
pub struct Output {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with everything the process said unless it exited 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Output {
        assert!(self.ok(), "expected exit 0, got {self}");
        self
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Output {
        assert_eq!(self.code, Some(code), "unexpected exit code: {self}");
        self
    }

    /// stdout parsed as JSON (panics with the output when it is not).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = |s: &str| -> String {
            if s.len() > 4000 {
                let mut end = 4000;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}... ({} bytes)", &s[..end], s.len())
            } else {
                s.to_string()
            }
        };
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }
}

/// Runs a command to completion with a deadline; kills it and panics when it overruns.
#[track_caller]
pub fn run(mut cmd: Command, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("{cmd:?}");
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    wait(child, timeout).unwrap_or_else(|out| panic!("{what} ran over {timeout:?}; {out}"))
}

/// Collects a spawned child's output (its stdout/stderr must be piped). `Err` carries what it
/// printed when it had to be killed at the deadline.
pub fn wait(mut child: Child, timeout: Duration) -> Result<Output, Output> {
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().expect("wait after kill");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("wait: {e}"),
        }
    };
    let output = Output {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    if timed_out { Err(output) } else { Ok(output) }
}

/// A fresh nxr world: empty `NXR_HOME`, `HERMES_HOME` and `HOME`, no network unless a fake
/// server is attached (the default OpenRouter and Ollama URLs point at a closed local port).
pub struct TestEnv {
    pub nxr_home: tempfile::TempDir,
    pub hermes_home: tempfile::TempDir,
    pub home: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let tmp = |what: &str| {
            tempfile::Builder::new()
                .prefix(&format!("nxr-test-{what}-"))
                .tempdir()
                .expect("tempdir")
        };
        TestEnv {
            nxr_home: tmp("nxr"),
            hermes_home: tmp("hermes"),
            home: tmp("home"),
            vars: vec![
                // Port 9 (discard) on loopback: nothing listens, so a stray request fails fast.
                (
                    "NXR_OPENROUTER_URL".into(),
                    "http://127.0.0.1:9/api/v1".into(),
                ),
                ("NXR_OLLAMA_URL".into(), "http://127.0.0.1:9".into()),
                // No scheduled scans unless a test asks for them: a long-running nxr would
                // otherwise scan (and fail, on port 9) at start-up.
                ("NXR_SCAN_INTERVAL".into(), "0".into()),
            ],
        }
    }

    /// Points nxr's OpenRouter base URL at `server`.
    pub fn with_openrouter(mut self, server: &FakeOpenRouter) -> TestEnv {
        self.set("NXR_OPENROUTER_URL", &server.base_url());
        self
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.into(), value.into()));
    }

    pub fn db_path(&self) -> PathBuf {
        self.nxr_home.path().join("hermes_tracking.db")
    }

    pub fn profile_dir(&self, name: &str) -> PathBuf {
        self.hermes_home.path().join("profiles").join(name)
    }

    /// `nxr --no-tui ARGS...` with this world's environment, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nxr"));
        cmd.arg("--no-tui").args(args);
        self.apply(&mut cmd);
        cmd
    }

    /// Sets this world's environment on any command (nxr or hermes).
    pub fn apply(&self, cmd: &mut Command) {
        for k in [
            "NXR_DB_URL",
            "NXR_DB_TOKEN",
            "HERMES_HOME",
            "NXR_HOME",
            // What the runner's own shell may carry and nxr would pick up: a key, a hermes
            // or a speech-to-text command chosen by hand.
            "OPENROUTER_API_KEY",
            "NXR_OPENROUTER_KEY",
            "NXR_HERMES_BIN",
            "HERMES_LOCAL_STT_COMMAND",
        ] {
            cmd.env_remove(k);
        }
        cmd.env("NXR_HOME", self.nxr_home.path())
            .env("HERMES_HOME", self.hermes_home.path())
            .env("HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0");
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
    }

    /// Runs `nxr --no-tui ARGS...` to completion.
    #[track_caller]
    pub fn nxr(&self, args: &[&str]) -> Output {
        run(self.command(args), NXR_TIMEOUT)
    }

    /// Runs `nxr --no-tui ARGS... --json`, asserts exit 0 and parses stdout.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        self.nxr(&a).assert_ok().json()
    }

    /// Scalar query on nxr's database file, read directly (not through nxr).
    pub fn db_i64(&self, sql: &str) -> i64 {
        db_i64(&self.db_path(), sql)
    }

    pub fn db_rows(&self, sql: &str) -> Vec<Vec<String>> {
        db_rows(&self.db_path(), sql)
    }

    pub fn db_exec(&self, sql: &str) {
        db_exec(&self.db_path(), sql)
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

async fn open(path: &Path) -> libsql::Connection {
    assert!(path.exists(), "no database at {}", path.display());
    let db = libsql::Builder::new_local(path)
        .build()
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let conn = db.connect().expect("connect");
    conn.busy_timeout(Duration::from_secs(20)).expect("busy");
    conn
}

fn value_text(v: libsql::Value) -> String {
    match v {
        libsql::Value::Null => "NULL".into(),
        libsql::Value::Integer(i) => i.to_string(),
        libsql::Value::Real(f) => f.to_string(),
        libsql::Value::Text(s) => s,
        libsql::Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
    }
}

/// Every row of a query, each column as text (`NULL` for null).
pub fn db_rows(path: &Path, sql: &str) -> Vec<Vec<String>> {
    block_on(async {
        let conn = open(path).await;
        let mut rows = conn
            .query(sql, ())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut out = Vec::new();
        while let Some(row) = rows.next().await.expect("row") {
            let n = row.column_count();
            out.push(
                (0..n)
                    .map(|i| value_text(row.get_value(i).expect("value")))
                    .collect(),
            );
        }
        out
    })
}

pub fn db_i64(path: &Path, sql: &str) -> i64 {
    let rows = db_rows(path, sql);
    let cell = rows
        .first()
        .and_then(|r| r.first())
        .unwrap_or_else(|| panic!("{sql}: no rows"));
    cell.parse()
        .unwrap_or_else(|_| panic!("{sql}: {cell:?} is not an integer"))
}

pub fn db_exec(path: &Path, sql: &str) {
    block_on(async {
        let conn = open(path).await;
        conn.execute_batch(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
}

/// The `hermes` CLI to test against: `$NXR_TEST_HERMES`, else `.ci/venv/bin/hermes` in this
/// repository, else `hermes` on `PATH`.
pub fn hermes_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NXR_TEST_HERMES").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let venv = manifest_dir().join(".ci/venv/bin/hermes");
    if venv.is_file() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("hermes"))
        .find(|p| p.is_file())
}

/// The `hermes` CLI to test against, or a failure that says how to get one.
pub fn hermes_path() -> PathBuf {
    match hermes_bin() {
        Some(p) if p.is_file() => p,
        Some(p) => panic!(
            "hermes CLI {} does not exist: run `.ci/run` (it installs hermes-agent into \
             .ci/venv) or set NXR_TEST_HERMES to a working `hermes`",
            p.display()
        ),
        None => panic!(
            "no hermes CLI found: run `.ci/run` (it installs hermes-agent into .ci/venv) or \
             set NXR_TEST_HERMES=/path/to/hermes"
        ),
    }
}

/// `hermes ARGS...` in a world's environment (its HERMES_HOME, a throwaway HOME), with
/// output wide enough for any skill name and no provider or key from the runner's shell.
pub fn hermes(env: &TestEnv, args: &[&str]) -> Output {
    let mut cmd = Command::new(hermes_path());
    cmd.args(args);
    env.apply(&mut cmd);
    cmd.env("COLUMNS", "300")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("HERMES_INFERENCE_PROVIDER")
        .env_remove("OPENROUTER_API_KEY");
    run(cmd, Duration::from_secs(120))
}

/// `hermes -p AGENT -z PROMPT`: one real agent call, sent to the fake OpenRouter through
/// Hermes' own `OPENROUTER_BASE_URL`; it leaves real rows in the profile's `state.db`.
pub fn hermes_oneshot(env: &TestEnv, server: &FakeOpenRouter, agent: &str, prompt: &str) -> Output {
    let mut cmd = Command::new(hermes_path());
    cmd.args(["-p", agent, "-z", prompt]);
    env.apply(&mut cmd);
    cmd.env("OPENROUTER_BASE_URL", server.base_url())
        .env("OPENROUTER_API_KEY", "sk-or-v1-fake")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("HERMES_INFERENCE_PROVIDER");
    run(cmd, Duration::from_secs(180))
}

/// `hermes -p PROFILE config get KEY`: the value it prints (asserting exit 0).
pub fn hermes_config_get(env: &TestEnv, profile: &str, key: &str) -> String {
    let out = hermes(env, &["-p", profile, "config", "get", key]);
    out.assert_ok();
    out.stdout.trim().to_string()
}

/// Every `SKILL.md` under a profile's `skills/`, as the skill folder names.
pub fn skills_on_disk(profile_dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.join("SKILL.md").is_file() {
                    out.push(e.file_name().to_string_lossy().into_owned());
                }
                walk(&p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&profile_dir.join("skills"), &mut out);
    out.sort();
    out
}

/// Lists files and folders under `dir` (relative paths, sorted): for "nothing was written".
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap_or(&p).display().to_string());
            if p.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Strings as a sorted `Vec<String>`.
pub fn sorted<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    v.sort();
    v
}
