//! Hermes gateway processes: see them, start, stop and restart them, notice a crash, and
//! (opt-in) restart a crashed one.
//!
//! The probe reads files and `/proc` only (plus one `tmux` call for every agent at once): a
//! profile's `gateway.pid` (`{pid, kind, argv, start_time}`), field 22 of `/proc/<pid>/stat`
//! (a reused PID is not the gateway), the holder of the `gateway.lock` flock from
//! `/proc/locks` (never by taking the lock: Hermes' own acquire is one non-blocking try, and a
//! probe holding it at that instant would make a start fail), and `gateway_state.json`.
//!
//! Start runs `hermes gateway run` with `HERMES_HOME` set to the profile inside a detached tmux
//! session `nxr-<agent>` (a person can `tmux attach -t nxr-pm`), so the pane's PID is the
//! gateway's. Stop writes Hermes' planned-stop marker before SIGTERM, so the gateway exits 0
//! and records `stopped`. No shell ever sees an agent name: every command is argv.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Core;
use super::agents::{self, Agent};
use super::db;
use super::error::{CoreError, Result};
use super::hermes::Profile;
use super::notifications;
use super::runtime::{self, Claim, JobKind, Runtime};
use super::time;

/// Linux reports `/proc/<pid>/stat` start times in USER_HZ ticks, which is 100 on every
/// architecture Linux supports for user space (what `sysconf(_SC_CLK_TCK)` returns).
const USER_HZ: u64 = 100;

/// How long stop waits after SIGTERM before SIGKILL (`NXR_GATEWAY_STOP_SECONDS`).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long start waits to see the gateway running (`NXR_GATEWAY_START_SECONDS`).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Hermes sleeps before writing its pidfile after more than this many starts in
/// [`STORM_WINDOW`] (`gateway/run.py`'s respawn-storm breaker).
pub const STORM_STARTS: usize = 5;
pub const STORM_WINDOW: Duration = Duration::from_secs(120);
/// The watchdog waits this long before its 1st, 2nd and later restarts...
pub const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
];
/// ...and gives up after this many restarts in [`GIVE_UP_WINDOW`].
pub const GIVE_UP_TRIES: usize = 5;
pub const GIVE_UP_WINDOW: Duration = Duration::from_secs(600);
/// The watchdog's lease outlives a restart that waits the whole start timeout, so another
/// process cannot take it half-way.
const WATCHDOG_LEASE: Duration = Duration::from_secs(90);

/// The tmux session of an agent's gateway.
pub fn session_name(agent: &str) -> String {
    format!("nxr-{agent}")
}

/// The names nxr hands to tmux and the file system: Hermes' profile-name alphabet. Checked
/// again here, not only at creation, because a database row can be edited by hand.
fn check_name(name: &str) -> Result<()> {
    if super::hermes::profile_name_chars_ok(name) {
        Ok(())
    } else {
        Err(CoreError::usage(format!(
            "agent name {:?} cannot name a gateway: use lowercase letters, digits, '-' and '_'",
            super::catalog::clip(name, 80)
        )))
    }
}

// ---------------------------------------------------------------------------------------
// What is on disk and in /proc

/// `gateway.pid` as Hermes writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PidRecord {
    pub pid: i32,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub argv: Vec<String>,
    #[serde(default)]
    pub start_time: Option<u64>,
}

/// The parts of `gateway_state.json` nxr shows.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StateFile {
    #[serde(default)]
    pub pid: Option<i32>,
    #[serde(default)]
    pub start_time: Option<u64>,
    #[serde(default)]
    pub gateway_state: Option<String>,
    #[serde(default)]
    pub exit_reason: Option<String>,
    #[serde(default)]
    pub platforms: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl StateFile {
    /// Platforms Hermes reports as connected.
    pub fn connected(&self) -> Vec<String> {
        self.platforms
            .iter()
            .filter(|(_, v)| v.get("state").and_then(|s| s.as_str()) == Some("connected"))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Start time (field 22) of a live, non-zombie process.
pub fn proc_start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line, or None for a zombie or dead process. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted after its last ')'.
fn parse_stat(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // Field 3 is the state; 22 is the 20th after the name.
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// True when `pid` is alive and is the process that started at `start_time`.
fn is_same_process(pid: i32, start_time: Option<u64>) -> bool {
    match (proc_start_time(pid), start_time) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

fn system_uptime_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some((secs * USER_HZ as f64) as u64)
}

/// One `FLOCK` entry of `/proc/locks`: who holds a lock on which file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLock {
    pub major: u64,
    pub minor: u64,
    pub inode: u64,
    pub pid: i32,
}

/// The held `FLOCK`s in `/proc/locks` (waiters, marked `->`, are skipped). Lines look like
/// `1: FLOCK  ADVISORY  WRITE 1873 fe:00:10035368 0 EOF`, the device in hex.
pub fn parse_locks(text: &str) -> Vec<FileLock> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            f.next()?;
            if f.next()? != "FLOCK" {
                return None;
            }
            f.next()?;
            f.next()?;
            let pid = f.next()?.parse().ok()?;
            let mut dev = f.next()?.split(':');
            let major = u64::from_str_radix(dev.next()?, 16).ok()?;
            let minor = u64::from_str_radix(dev.next()?, 16).ok()?;
            let inode = dev.next()?.parse().ok()?;
            Some(FileLock {
                major,
                minor,
                inode,
                pid,
            })
        })
        .collect()
}

fn read_locks() -> Vec<FileLock> {
    std::fs::read_to_string("/proc/locks")
        .map(|t| parse_locks(&t))
        .unwrap_or_default()
}

/// glibc's `major()`/`minor()` of a `st_dev`.
fn dev_parts(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

/// The PID holding the flock on `path`, from `/proc/locks`.
fn lock_holder(path: &Path, locks: &[FileLock]) -> Option<i32> {
    let meta = std::fs::metadata(path).ok()?;
    let (major, minor) = dev_parts(meta.dev());
    locks
        .iter()
        .find(|l| l.inode == meta.ino() && l.major == major && l.minor == minor)
        .map(|l| l.pid)
}

/// Start times (seconds since the epoch) in Hermes' `gateway-starts.log` within the storm
/// window before `now`.
fn recent_starts(path: &Path, now: f64) -> usize {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0;
    };
    text.lines()
        .filter_map(|l| l.trim().parse::<f64>().ok())
        .filter(|t| now - t <= STORM_WINDOW.as_secs_f64())
        .count()
}

// ---------------------------------------------------------------------------------------
// tmux

/// The tmux nxr uses: `NXR_TMUX` (a path) else `tmux` on PATH; `NXR_TMUX_SOCKET` names a
/// server of its own (`tmux -L NAME`), else the user's default server, so `tmux attach -t
/// nxr-pm` works from any shell.
#[derive(Debug, Clone)]
pub struct Tmux {
    bin: PathBuf,
    socket: Option<String>,
}

/// One pane as `tmux list-panes` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pane {
    pub pid: i32,
    pub dead: bool,
    pub dead_status: Option<i32>,
    pub dead_signal: Option<i32>,
}

/// The gateway sessions on the tmux server and how many clients view each.
#[derive(Debug, Clone, Default)]
pub struct TmuxView {
    pub panes: HashMap<String, Pane>,
    pub viewers: HashMap<String, u32>,
}

impl Tmux {
    pub fn from_env() -> Option<Tmux> {
        let bin = match std::env::var_os("NXR_TMUX").filter(|v| !v.is_empty()) {
            Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
            None => super::detect::which("tmux"),
        }?;
        let socket = std::env::var("NXR_TMUX_SOCKET")
            .ok()
            .filter(|s| !s.trim().is_empty());
        Some(Tmux { bin, socket })
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        if let Some(s) = &self.socket {
            cmd.args(["-L", s]);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command()
            .args(args)
            .output()
            .map_err(|e| CoreError::io(&self.bin, e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(CoreError::Conflict(format!(
                "tmux {}: {}",
                args.first().copied().unwrap_or(""),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Every `nxr-*` pane and client, in one tmux call. No server running = nothing.
    pub fn view(&self) -> TmuxView {
        let out = self
            .command()
            .args([
                "list-panes",
                "-a",
                "-F",
                "P\t#{session_name}\t#{pane_pid}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_dead_signal}",
                ";",
                "list-clients",
                "-F",
                "C\t#{client_session}",
            ])
            .stderr(Stdio::null())
            .output();
        match out {
            Ok(o) => parse_tmux_view(&String::from_utf8_lossy(&o.stdout)),
            Err(_) => TmuxView::default(),
        }
    }

    /// Removes a session (a dead pane left by remain-on-exit, or a live one being replaced).
    fn kill_session(&self, name: &str) {
        let target = format!("={name}");
        let _ = self
            .command()
            .args(["kill-session", "-t", &target])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn parse_tmux_view(text: &str) -> TmuxView {
    let mut view = TmuxView::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["P", session, pid, dead, status, signal] if session.starts_with("nxr-") => {
                let Ok(pid) = pid.parse() else { continue };
                view.panes.insert(
                    session.to_string(),
                    Pane {
                        pid,
                        dead: *dead == "1",
                        dead_status: status.parse().ok(),
                        dead_signal: signal.parse().ok(),
                    },
                );
            }
            ["C", session] => *view.viewers.entry(session.to_string()).or_default() += 1,
            _ => {}
        }
    }
    view
}

// ---------------------------------------------------------------------------------------
// The state of one gateway

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Running,
    Starting,
    Stopped,
    Crashed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Starting => "starting",
            State::Stopped => "stopped",
            State::Crashed => "crashed",
        }
    }

    pub fn alive(self) -> bool {
        matches!(self, State::Running | State::Starting)
    }
}

/// How nxr launched a gateway it has not stopped since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LaunchMode {
    Tmux,
    Child,
}

impl LaunchMode {
    fn as_str(self) -> &'static str {
        match self {
            LaunchMode::Tmux => "tmux",
            LaunchMode::Child => "child",
        }
    }

    fn parse(s: &str) -> Option<LaunchMode> {
        match s {
            "tmux" => Some(LaunchMode::Tmux),
            "child" => Some(LaunchMode::Child),
            _ => None,
        }
    }
}

/// What one probe saw for one agent; [`classify`] turns it into a state with no I/O.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub pidfile: Option<PidRecord>,
    /// The pidfile's PID is alive and started at the recorded `start_time`.
    pub pidfile_alive: bool,
    pub lock_holder: Option<i32>,
    pub state_file: Option<StateFile>,
    pub pane: Option<Pane>,
    pub launch: Option<LaunchMode>,
    /// The child nxr launched without tmux is still the same live process.
    pub child_alive: bool,
    pub recent_starts: usize,
}

/// The verdict of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub state: State,
    pub pid: Option<i32>,
    /// Hermes is sleeping before it writes its pidfile (too many starts in 120 s).
    pub backoff: bool,
    /// Why, in a few words ("killed by signal 9", "exited 1").
    pub detail: Option<String>,
}

pub fn classify(o: &Observed) -> Verdict {
    let verdict = |state, pid, detail: Option<String>| Verdict {
        state,
        pid,
        backoff: false,
        detail,
    };
    // The lock is the real liveness test; a pidfile whose process is the same one is too.
    let live_pid = o.lock_holder.or_else(|| {
        o.pidfile
            .as_ref()
            .filter(|_| o.pidfile_alive)
            .map(|p| p.pid)
    });
    if let Some(pid) = live_pid {
        // Hermes takes the lock, then records `starting`, then `running`: a state file
        // that is still the previous process's, or says starting, means not up yet.
        let starting = match &o.state_file {
            None => true,
            Some(s) => s.pid != Some(pid) || s.gateway_state.as_deref() == Some("starting"),
        };
        let state = if starting {
            State::Starting
        } else {
            State::Running
        };
        return verdict(state, Some(pid), None);
    }
    // Launched, not yet holding the lock: booting, or asleep in Hermes' back-off.
    let launched_pid = o.pane.as_ref().filter(|p| !p.dead).map(|p| p.pid);
    if launched_pid.is_some() || (o.launch == Some(LaunchMode::Child) && o.child_alive) {
        let backoff = o.recent_starts > STORM_STARTS;
        return Verdict {
            state: State::Starting,
            pid: launched_pid,
            backoff,
            detail: backoff.then(|| {
                format!(
                    "Hermes is backing off: {} starts in {} s",
                    o.recent_starts,
                    STORM_WINDOW.as_secs()
                )
            }),
        };
    }
    if let Some(p) = &o.pane {
        // Dead pane kept by remain-on-exit: its exit says how it ended.
        return match (p.dead_status, p.dead_signal) {
            (Some(0), _) => verdict(State::Stopped, None, Some("exited 0".into())),
            (_, Some(sig)) if sig > 0 => verdict(
                State::Crashed,
                None,
                Some(format!("killed by signal {sig}")),
            ),
            (Some(code), _) => verdict(State::Crashed, None, Some(format!("exited {code}"))),
            (None, _) => verdict(State::Crashed, None, Some("exited".into())),
        };
    }
    match o.launch {
        // Someone closed the tmux session: a person's stop, not a crash (the pidfile left
        // behind is stale).
        Some(LaunchMode::Tmux) => verdict(State::Stopped, None, Some("tmux session closed".into())),
        // A child nxr launched is gone: fine if Hermes recorded a clean stop.
        Some(LaunchMode::Child) => {
            let recorded = o
                .state_file
                .as_ref()
                .and_then(|s| s.gateway_state.clone())
                .unwrap_or_default();
            if recorded == "stopped" {
                verdict(State::Stopped, None, None)
            } else {
                verdict(
                    State::Crashed,
                    None,
                    Some("exited without recording a stop".into()),
                )
            }
        }
        None => verdict(State::Stopped, None, None),
    }
}

/// One agent's gateway as every surface shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayStatus {
    pub agent: String,
    pub profile: String,
    pub state: State,
    /// "starting (back-off)" rather than a failure.
    pub backoff: bool,
    pub pid: Option<i32>,
    pub uptime_seconds: Option<u64>,
    pub uptime: Option<String>,
    /// The model the profile's config routes main work to.
    pub model: String,
    pub platforms: Vec<String>,
    /// The tmux session, when there is one, and how many clients are attached to it.
    pub tmux_session: Option<String>,
    pub viewers: u32,
    /// The last time the gateway wrote its state file.
    pub heartbeat: Option<String>,
    pub detail: Option<String>,
    /// The watchdog restarts this gateway when it crashes.
    pub watch: bool,
    /// The watchdog stopped trying (5 restarts in 10 minutes).
    pub gave_up: bool,
}

impl GatewayStatus {
    /// "running", "starting (back-off)", "crashed".
    pub fn label(&self) -> String {
        if self.backoff {
            format!("{} (back-off)", self.state.as_str())
        } else {
            self.state.as_str().to_string()
        }
    }
}

/// What nxr remembers about a gateway (`gateways` row).
#[derive(Debug, Clone, Default, PartialEq)]
struct Memory {
    watch: bool,
    launch: Option<LaunchMode>,
    launch_pid: Option<i32>,
    launch_start_time: Option<u64>,
    last_state: String,
    next_try_at: Option<i64>,
    gave_up: bool,
}

async fn memories(conn: &libsql::Connection) -> Result<HashMap<String, Memory>> {
    let mut rows = conn
        .query(
            "SELECT agent, watch, launch_mode, launch_pid, launch_start_time, last_state,
                    next_try_at, gave_up_at FROM gateways",
            (),
        )
        .await?;
    let mut out = HashMap::new();
    while let Some(row) = rows.next().await? {
        out.insert(
            db::text(&row, 0)?,
            Memory {
                watch: db::int(&row, 1)? != 0,
                launch: db::opt_text(&row, 2)?.and_then(|m| LaunchMode::parse(&m)),
                launch_pid: db::opt_int(&row, 3)?.map(|p| p as i32),
                launch_start_time: db::opt_int(&row, 4)?.map(|t| t as u64),
                last_state: db::text(&row, 5)?,
                next_try_at: db::opt_int(&row, 6)?,
                gave_up: db::opt_text(&row, 7)?.is_some(),
            },
        );
    }
    Ok(out)
}

/// What is shared by every agent of one probe: read once.
struct World {
    locks: Vec<FileLock>,
    tmux: TmuxView,
    uptime_ticks: Option<u64>,
    now_secs: f64,
}

impl World {
    fn read(tmux: Option<&Tmux>) -> World {
        World {
            locks: read_locks(),
            tmux: tmux.map(|t| t.view()).unwrap_or_default(),
            uptime_ticks: system_uptime_ticks(),
            now_secs: jiff::Timestamp::now().as_millisecond() as f64 / 1000.0,
        }
    }
}

fn observe(profile: &Profile, session: &str, memory: Option<&Memory>, world: &World) -> Observed {
    let dir = &profile.dir;
    let pidfile: Option<PidRecord> = read_json(&dir.join("gateway.pid"));
    let pidfile_alive = pidfile
        .as_ref()
        .is_some_and(|p| is_same_process(p.pid, p.start_time));
    let launch = memory.and_then(|m| m.launch);
    let child_alive = launch == Some(LaunchMode::Child)
        && memory
            .and_then(|m| m.launch_pid)
            .is_some_and(|pid| is_same_process(pid, memory.and_then(|m| m.launch_start_time)));
    Observed {
        pidfile,
        pidfile_alive,
        // /proc/locks names the process that took the lock; a child that inherited the
        // descriptor can keep it held after that process died, which is not a gateway.
        lock_holder: lock_holder(&dir.join("gateway.lock"), &world.locks)
            .filter(|pid| proc_start_time(*pid).is_some()),
        state_file: read_json(&dir.join("gateway_state.json")),
        pane: world.tmux.panes.get(session).cloned(),
        launch,
        child_alive,
        recent_starts: recent_starts(&dir.join("gateway-starts.log"), world.now_secs),
    }
}

fn heartbeat(dir: &Path, state: Option<&StateFile>) -> Option<String> {
    let written = state
        .and_then(|s| s.updated_at.as_deref())
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let modified = std::fs::metadata(dir.join("gateway_state.json"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok());
    written.into_iter().chain(modified).max().map(time::format)
}

fn uptime_text(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn status_of(agent: &Agent, core: &Core, memory: Option<&Memory>, world: &World) -> GatewayStatus {
    let profile = Profile::resolve(&core.paths.hermes_home, &agent.profile);
    let session = session_name(&agent.name);
    let o = observe(&profile, &session, memory, world);
    let v = classify(&o);
    let uptime_seconds = v.pid.filter(|_| v.state.alive()).and_then(|pid| {
        let start = proc_start_time(pid)?;
        Some(world.uptime_ticks?.saturating_sub(start) / USER_HZ)
    });
    let model = super::hermes::ConfigDoc::load(&profile.config_path())
        .map(|c| c.main_slot().model)
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| agent.model.clone());
    let alive = v.state.alive();
    GatewayStatus {
        agent: agent.name.clone(),
        profile: agent.profile.clone(),
        state: v.state,
        backoff: v.backoff,
        pid: v.pid,
        uptime_seconds,
        uptime: uptime_seconds.map(uptime_text),
        model,
        platforms: if alive {
            o.state_file
                .as_ref()
                .map(|s| s.connected())
                .unwrap_or_default()
        } else {
            Vec::new()
        },
        viewers: world.tmux.viewers.get(&session).copied().unwrap_or(0),
        tmux_session: o.pane.as_ref().map(|_| session.clone()),
        heartbeat: heartbeat(&profile.dir, o.state_file.as_ref()),
        detail: v.detail,
        watch: memory.is_some_and(|m| m.watch),
        gave_up: memory.is_some_and(|m| m.gave_up),
    }
}

/// Every agent's gateway (or one agent's): files, `/proc` and one tmux call, never a
/// subprocess per agent.
pub async fn status(core: &Core, agent: Option<&str>) -> Result<Vec<GatewayStatus>> {
    let conn = core.db.conn().await?;
    let list = match agent {
        Some(a) => vec![agents::find(&conn, a).await?],
        None => agents::list(&conn).await?,
    };
    let mem = memories(&conn).await?;
    drop(conn);
    let world = World::read(Tmux::from_env().as_ref());
    Ok(list
        .iter()
        .map(|a| status_of(a, core, mem.get(&a.name), &world))
        .collect())
}

// ---------------------------------------------------------------------------------------
// Control

fn env_duration(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0 && s.is_finite())
        .map(Duration::from_secs_f64)
        .unwrap_or(default)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlOutcome {
    Started,
    AlreadyRunning,
    Stopped,
    NotRunning,
    Restarted,
    /// One agent of a bulk control failed (its message says why); the others went on.
    Failed,
}

/// What a start, stop or restart did, for every surface.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlReport {
    pub agent: String,
    pub outcome: ControlOutcome,
    pub message: String,
    pub status: Option<GatewayStatus>,
}

async fn one_status(core: &Core, agent: &Agent) -> Result<GatewayStatus> {
    let conn = core.db.conn().await?;
    let mem = memories(&conn).await?;
    drop(conn);
    let world = World::read(Tmux::from_env().as_ref());
    Ok(status_of(agent, core, mem.get(&agent.name), &world))
}

async fn find_agent(core: &Core, name: &str) -> Result<Agent> {
    let conn = core.db.conn().await?;
    let agent = agents::find(&conn, name).await?;
    check_name(&agent.name)?;
    check_name(&agent.profile)?;
    Ok(agent)
}

/// Every agent, for `--all`.
pub async fn all_agents(core: &Core) -> Result<Vec<String>> {
    let conn = core.db.conn().await?;
    Ok(agents::list(&conn)
        .await?
        .into_iter()
        .map(|a| a.name)
        .collect())
}

async fn remember(
    core: &Core,
    agent: &str,
    launch: Option<(LaunchMode, Option<i32>, Option<u64>)>,
    state: &str,
    pid: Option<i32>,
) -> Result<()> {
    let (_conn, tx) = core.db.write().await?;
    let (mode, lpid, lstart) = match launch {
        Some((m, p, s)) => (Some(m.as_str()), p, s.map(|s| s as i64)),
        None => (None, None, None),
    };
    let now = time::now();
    tx.execute(
        "INSERT INTO gateways (agent, launch_mode, launch_pid, launch_start_time, launched_at,
                               last_state, last_pid, last_change_at)
         VALUES (?1, ?2, ?3, ?4, CASE WHEN ?2 IS NULL THEN NULL ELSE ?7 END, ?5, ?6, ?7)
         ON CONFLICT(agent) DO UPDATE SET launch_mode = excluded.launch_mode,
             launch_pid = excluded.launch_pid, launch_start_time = excluded.launch_start_time,
             launched_at = excluded.launched_at, last_state = excluded.last_state,
             last_pid = excluded.last_pid, last_change_at = excluded.last_change_at",
        libsql::params![agent, mode, lpid, lstart, state, pid, now],
    )
    .await?;
    db::touch(&tx, "gateways").await?;
    tx.commit().await?;
    Ok(())
}

/// The kanban worker wrapper (the budget gate's), passed to Hermes as `HERMES_BIN`. When this
/// process is nxr itself it makes sure the wrapper exists and points at it first, so the
/// first gateway ever started is already held by the gate; any other caller (a test
/// harness linking the library) only uses a wrapper that is already there.
fn worker_wrapper(core: &Core) -> Option<PathBuf> {
    let is_nxr = std::env::current_exe()
        .ok()
        .is_some_and(|p| p.file_name().is_some_and(|n| n == "nxr"));
    if is_nxr && let Ok(p) = super::budget::install_worker(&core.paths.nxr_home) {
        return Some(p);
    }
    let p = core.paths.nxr_home.join("bin").join("nxr-hermes-worker");
    p.is_file().then_some(p)
}

fn hermes_bin() -> Result<PathBuf> {
    super::detect::hermes_path().ok_or_else(|| {
        CoreError::Conflict(
            "the hermes CLI was not found on PATH: pip install hermes-agent (in a virtualenv), or set NXR_HERMES_BIN".into(),
        )
    })
}

/// Launches the gateway and returns how, with the PID when known at once.
fn launch(core: &Core, agent: &Agent, profile: &Profile) -> Result<(LaunchMode, Option<i32>)> {
    let hermes = hermes_bin()?;
    let home = format!("HERMES_HOME={}", profile.dir.display());
    let wrapper = worker_wrapper(core).map(|w| format!("HERMES_BIN={}", w.display()));
    if let Some(tmux) = Tmux::from_env() {
        let session = session_name(&agent.name);
        // A dead pane left by remain-on-exit holds the name.
        tmux.kill_session(&session);
        let target = format!("={session}:");
        let dir = profile.dir.display().to_string();
        let hermes = hermes.display().to_string();
        // The session starts on a placeholder that the gateway replaces (respawn-pane), in
        // a second tmux call: remain-on-exit is set before the gateway can exit, and when the
        // first call starts the tmux server, the server's command line (the client's argv)
        // never reads like a gateway, which Hermes' own process scan would take for one.
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "200",
            "-y",
            "50",
            "-c",
            &dir,
            ";",
            "set-option",
            "-w",
            "-t",
            &target,
            "remain-on-exit",
            "on",
        ])?;
        let mut args: Vec<&str> =
            vec!["respawn-pane", "-k", "-t", &target, "-c", &dir, "-e", &home];
        if let Some(w) = &wrapper {
            args.extend(["-e", w.as_str()]);
        }
        args.extend([&hermes, "gateway", "run"]);
        args.extend([";", "display-message", "-p", "-t", &target, "#{pane_pid}"]);
        let out = tmux.run(&args)?;
        let pid = out.lines().last().and_then(|l| l.trim().parse().ok());
        return Ok((LaunchMode::Tmux, pid));
    }
    // No tmux: a detached child in its own process group, its output in the profile's logs.
    let logs = profile.dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| CoreError::io(&logs, e))?;
    let log_path = logs.join("nxr-gateway.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| CoreError::io(&log_path, e))?;
    let err = log.try_clone().map_err(|e| CoreError::io(&log_path, e))?;
    let mut cmd = Command::new(&hermes);
    cmd.args(["gateway", "run"])
        .env("HERMES_HOME", &profile.dir)
        .current_dir(&profile.dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    if let Some(w) = worker_wrapper(core) {
        cmd.env("HERMES_BIN", w);
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| CoreError::io(&hermes, e))?;
    let pid = child.id() as i32;
    // Reap it when it exits, so a long-running nxr leaves no zombie.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok((LaunchMode::Child, Some(pid)))
}

/// Starts an agent's gateway and waits until nxr sees it running (or in Hermes' back-off).
/// Already running: says so and changes nothing.
pub async fn start(core: &Core, name: &str) -> Result<ControlReport> {
    let agent = find_agent(core, name).await?;
    start_agent(core, &agent).await
}

async fn start_agent(core: &Core, agent: &Agent) -> Result<ControlReport> {
    let profile = Profile::resolve(&core.paths.hermes_home, &agent.profile);
    if !profile.exists() {
        return Err(CoreError::Conflict(format!(
            "{} has no Hermes profile at {}: recreate the agent with `nxr agents create`",
            agent.name,
            profile.dir.display()
        )));
    }
    let before = one_status(core, agent).await?;
    if before.state.alive() {
        return Ok(ControlReport {
            agent: agent.name.clone(),
            outcome: ControlOutcome::AlreadyRunning,
            message: format!(
                "{}'s gateway is already {}{}; nothing changed",
                agent.name,
                before.label(),
                before
                    .pid
                    .map(|p| format!(" (pid {p})"))
                    .unwrap_or_default()
            ),
            status: Some(before),
        });
    }
    let (mode, pid) = launch(core, agent, &profile)?;
    let start_time = pid.and_then(proc_start_time);
    remember(
        core,
        &agent.name,
        Some((mode, pid, start_time)),
        "starting",
        pid,
    )
    .await?;
    let status = wait_running(
        core,
        agent,
        env_duration("NXR_GATEWAY_START_SECONDS", START_TIMEOUT),
    )
    .await?;
    match status.state {
        State::Running => {
            remember(
                core,
                &agent.name,
                Some((mode, pid, start_time)),
                "running",
                status.pid,
            )
            .await?;
            Ok(ControlReport {
                agent: agent.name.clone(),
                outcome: ControlOutcome::Started,
                message: format!(
                    "{}'s gateway is running (pid {}){}",
                    agent.name,
                    status
                        .pid
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "?".into()),
                    match mode {
                        LaunchMode::Tmux => format!(
                            "; watch it with `tmux attach -t {}`",
                            session_name(&agent.name)
                        ),
                        LaunchMode::Child => format!(
                            "; its log is {}",
                            profile.dir.join("logs/nxr-gateway.log").display()
                        ),
                    }
                ),
                status: Some(status),
            })
        }
        State::Starting => Ok(ControlReport {
            agent: agent.name.clone(),
            outcome: ControlOutcome::Started,
            message: format!(
                "{}'s gateway is {}: Hermes has not written its pidfile yet{}",
                agent.name,
                status.label(),
                if status.backoff {
                    " (it waits after many starts in two minutes)"
                } else {
                    ""
                }
            ),
            status: Some(status),
        }),
        State::Stopped | State::Crashed => {
            remember(
                core,
                &agent.name,
                Some((mode, pid, start_time)),
                status.state.as_str(),
                None,
            )
            .await?;
            Err(CoreError::Conflict(format!(
                "{}'s gateway exited at once ({}); read {} (or `tmux attach -t {}`)",
                agent.name,
                status
                    .detail
                    .clone()
                    .unwrap_or_else(|| status.state.as_str().into()),
                profile.dir.join("logs").display(),
                session_name(&agent.name)
            )))
        }
    }
}

async fn wait_running(core: &Core, agent: &Agent, timeout: Duration) -> Result<GatewayStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        let s = one_status(core, agent).await?;
        let done = match s.state {
            State::Running | State::Stopped | State::Crashed => true,
            State::Starting => s.backoff,
        };
        if done || Instant::now() >= deadline {
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Hermes' planned-stop marker (`gateway/status.py::write_planned_stop_marker`), in the
/// gateway's own `HERMES_HOME`: the gateway reads it on SIGTERM and exits 0 as `stopped`.
fn write_planned_stop(profile: &Profile, pid: i32, start_time: Option<u64>) -> Result<()> {
    let written_at = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string();
    let record = serde_json::json!({
        "target_pid": pid,
        "target_start_time": start_time,
        "stopper_pid": std::process::id(),
        "written_at": written_at,
    });
    super::hermes::atomic_write(
        &profile.dir.join(".gateway-planned-stop.json"),
        record.to_string().as_bytes(),
        Some(0o600),
    )
}

fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

/// Stops an agent's gateway: planned-stop marker, SIGTERM, SIGKILL after 10 s.
pub async fn stop(core: &Core, name: &str) -> Result<ControlReport> {
    let agent = find_agent(core, name).await?;
    stop_agent(core, &agent).await
}

async fn stop_agent(core: &Core, agent: &Agent) -> Result<ControlReport> {
    let profile = Profile::resolve(&core.paths.hermes_home, &agent.profile);
    let before = one_status(core, agent).await?;
    let tmux = Tmux::from_env();
    let session = session_name(&agent.name);
    let Some(pid) = before.pid.filter(|_| before.state.alive()) else {
        if let (Some(t), Some(_)) = (&tmux, &before.tmux_session) {
            t.kill_session(&session);
        }
        remember(core, &agent.name, None, "stopped", None).await?;
        return Ok(ControlReport {
            agent: agent.name.clone(),
            outcome: ControlOutcome::NotRunning,
            message: format!(
                "{}'s gateway is not running ({})",
                agent.name,
                before.label()
            ),
            status: Some(one_status(core, agent).await?),
        });
    };
    // Tell the tick first, so the SIGKILL below is not taken for a crash.
    remember(core, &agent.name, None, "stopping", Some(pid)).await?;
    let start_time = proc_start_time(pid);
    write_planned_stop(&profile, pid, start_time)?;
    signal(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + env_duration("NXR_GATEWAY_STOP_SECONDS", STOP_TIMEOUT);
    let mut killed = false;
    while is_same_process(pid, start_time) {
        if Instant::now() >= deadline {
            signal(pid, nix::sys::signal::Signal::SIGKILL);
            killed = true;
            let hard = Instant::now() + Duration::from_secs(5);
            while is_same_process(pid, start_time) && Instant::now() < hard {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(t) = &tmux {
        t.kill_session(&session);
    }
    remember(core, &agent.name, None, "stopped", None).await?;
    Ok(ControlReport {
        agent: agent.name.clone(),
        outcome: ControlOutcome::Stopped,
        message: if killed {
            format!(
                "{}'s gateway (pid {pid}) ignored SIGTERM for {} s and was killed",
                agent.name,
                env_duration("NXR_GATEWAY_STOP_SECONDS", STOP_TIMEOUT).as_secs()
            )
        } else {
            format!("{}'s gateway (pid {pid}) stopped", agent.name)
        },
        status: Some(one_status(core, agent).await?),
    })
}

/// Waits until nobody holds the profile's `gateway.lock` (Hermes takes it with one
/// non-blocking try, so a start while the old process still holds it would fail).
async fn wait_lock_free(profile: &Profile, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let path = profile.dir.join("gateway.lock");
    loop {
        if lock_holder(&path, &read_locks()).is_none() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Stop (when running), wait for the lock to be free, start.
pub async fn restart(core: &Core, name: &str) -> Result<ControlReport> {
    let agent = find_agent(core, name).await?;
    restart_agent(core, &agent).await
}

async fn restart_agent(core: &Core, agent: &Agent) -> Result<ControlReport> {
    let profile = Profile::resolve(&core.paths.hermes_home, &agent.profile);
    stop_agent(core, agent).await?;
    if !wait_lock_free(
        &profile,
        env_duration("NXR_GATEWAY_STOP_SECONDS", STOP_TIMEOUT),
    )
    .await
    {
        return Err(CoreError::Conflict(format!(
            "{}'s gateway.lock is still held after the stop; try again, or look for a hermes gateway started outside nxr",
            agent.name
        )));
    }
    let mut report = start_agent(core, agent).await?;
    report.outcome = ControlOutcome::Restarted;
    Ok(report)
}

/// What `--all` and the bulk keys and buttons do to every gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Start,
    Stop,
    Restart,
}

/// One control for every agent, in order. One agent's failure does not stop the others: it
/// is a report with outcome `failed`.
pub async fn control_all(core: &Core, control: Control) -> Result<Vec<ControlReport>> {
    let mut reports = Vec::new();
    for name in all_agents(core).await? {
        let r = match control {
            Control::Start => start(core, &name).await,
            Control::Stop => stop(core, &name).await,
            Control::Restart => restart(core, &name).await,
        };
        reports.push(r.unwrap_or_else(|e| ControlReport {
            agent: name.clone(),
            outcome: ControlOutcome::Failed,
            message: format!("{name}: {e}"),
            status: None,
        }));
    }
    Ok(reports)
}

/// Turns the watchdog on or off for an agent.
pub async fn set_watch(core: &Core, name: &str, on: bool) -> Result<GatewayStatus> {
    let agent = find_agent(core, name).await?;
    let (_conn, tx) = core.db.write().await?;
    tx.execute(
        "INSERT INTO gateways (agent, watch) VALUES (?1, ?2)
         ON CONFLICT(agent) DO UPDATE SET watch = excluded.watch,
             gave_up_at = CASE WHEN excluded.watch = 1 THEN NULL ELSE gateways.gave_up_at END,
             next_try_at = NULL",
        libsql::params![agent.name.as_str(), on as i64],
    )
    .await?;
    db::touch(&tx, "gateways").await?;
    tx.commit().await?;
    one_status(core, &agent).await
}

// ---------------------------------------------------------------------------------------
// Crash detection and the watchdog

/// What the watchdog does about a crashed gateway, given the times (unix ms) of its
/// restarts so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogStep {
    /// Try again at this time.
    WaitUntil(i64),
    Restart,
    GiveUp,
}

/// The back-off before the next restart, given how many were made in the window.
pub fn backoff(tries: usize) -> Duration {
    BACKOFF[tries.min(BACKOFF.len() - 1)]
}

/// Restarts within the window, then: give up at 5, else wait for `next_try_at` (set when
/// the crash was seen) and restart.
pub fn watchdog_step(restarts: &[i64], next_try_at: Option<i64>, now: i64) -> WatchdogStep {
    let window = GIVE_UP_WINDOW.as_millis() as i64;
    let recent = restarts.iter().filter(|t| now - **t < window).count();
    if recent >= GIVE_UP_TRIES {
        return WatchdogStep::GiveUp;
    }
    match next_try_at {
        Some(t) if t > now => WatchdogStep::WaitUntil(t),
        Some(_) => WatchdogStep::Restart,
        None => WatchdogStep::WaitUntil(now + backoff(recent).as_millis() as i64),
    }
}

async fn restarts_of(conn: &libsql::Connection, agent: &str, since: i64) -> Result<Vec<i64>> {
    let mut rows = conn
        .query(
            "SELECT at_ms FROM gateway_restarts WHERE agent = ?1 AND reason = 'watchdog' AND at_ms >= ?2",
            libsql::params![agent, since],
        )
        .await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(db::int(&row, 0)?);
    }
    Ok(out)
}

/// Records the state a probe saw. A gateway nxr last saw alive that is now crashed raises
/// one `gateway_crashed` notification: the check and the update are one write transaction,
/// so of several nxr processes probing at once exactly one notifies.
async fn record_state(core: &Core, s: &GatewayStatus, now_ms: i64) -> Result<bool> {
    let (_conn, tx) = core.db.write().await?;
    let mut rows = tx
        .query(
            "SELECT last_state, watch, last_change_at FROM gateways WHERE agent = ?1",
            [s.agent.as_str()],
        )
        .await?;
    let (last, watch, changed_at) = match rows.next().await? {
        Some(row) => (
            Some(db::text(&row, 0)?),
            db::int(&row, 1)? != 0,
            db::opt_text(&row, 2)?,
        ),
        None => (None, false, None),
    };
    drop(rows);
    let now_state = s.state.as_str();
    // nxr is stopping it: the stop itself records the end, unless the process stopping it
    // died half-way (then probes take over again).
    let stop_deadline = (STOP_TIMEOUT + Duration::from_secs(30)).as_millis() as i64;
    let stopping = last.as_deref() == Some("stopping")
        && changed_at
            .as_deref()
            .and_then(time::parse)
            .is_some_and(|t| now_ms - t.as_millisecond() < stop_deadline);
    if stopping || last.as_deref() == Some(now_state) {
        tx.rollback().await?;
        return Ok(false);
    }
    let was_alive = matches!(last.as_deref(), Some("running" | "starting"));
    let crashed = was_alive && s.state == State::Crashed;
    let restarts = if crashed && watch {
        let window = GIVE_UP_WINDOW.as_millis() as i64;
        restarts_of(&tx, &s.agent, now_ms - window).await?.len()
    } else {
        0
    };
    tx.execute(
        "INSERT INTO gateways (agent, last_state, last_pid, last_change_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(agent) DO UPDATE SET last_state = excluded.last_state,
             last_pid = excluded.last_pid, last_change_at = excluded.last_change_at,
             next_try_at = CASE WHEN ?5 IS NULL THEN gateways.next_try_at ELSE ?5 END",
        libsql::params![
            s.agent.as_str(),
            now_state,
            s.pid,
            time::now(),
            (crashed && watch).then(|| now_ms + backoff(restarts).as_millis() as i64)
        ],
    )
    .await?;
    if crashed {
        let detail = s.detail.clone().unwrap_or_else(|| "it exited".into());
        let next = if watch {
            format!(
                "The watchdog restarts it in {} s.",
                backoff(restarts).as_secs()
            )
        } else {
            format!(
                "Start it again with `nxr hermes start {}`, or let the watchdog do it: `nxr hermes watch {} on`.",
                s.agent, s.agent
            )
        };
        notifications::add(
            &tx,
            "gateway_crashed",
            &format!("{}'s gateway crashed", s.agent),
            &format!(
                "The Hermes gateway of {} stopped without nxr stopping it ({detail}). {next}",
                s.agent
            ),
            &serde_json::json!({"agent": s.agent, "detail": detail, "watch": watch}),
        )
        .await?;
    }
    db::touch(&tx, "gateways").await?;
    tx.commit().await?;
    Ok(crashed)
}

/// One probe of every gateway: crashes become notifications, and the watchdog restarts the
/// crashed gateways it watches. Called by every long-running nxr process on its schedule;
/// the probe interval is that schedule's.
pub async fn tick(rt: &Runtime) -> Result<()> {
    let core = rt.core();
    let statuses = status(core, None).await?;
    let now = jiff::Timestamp::now().as_millisecond();
    let mut due = Vec::new();
    for s in &statuses {
        record_state(core, s, now).await?;
        if s.watch && !s.gave_up && s.state == State::Crashed {
            due.push(s.agent.clone());
        }
    }
    if due.is_empty() {
        return Ok(());
    }
    // The lease keeps two nxr processes from restarting the same gateway.
    let Claim::Won { job } = runtime::claim(
        &core.db,
        JobKind::Watchdog,
        rt.holder(),
        WATCHDOG_LEASE,
        now,
    )
    .await?
    else {
        return Ok(());
    };
    let mut done = Vec::new();
    for agent in due {
        match watchdog_one(core, &agent, now).await {
            Ok(Some(text)) => done.push(text),
            Ok(None) => {}
            Err(e) => done.push(format!("{agent}: {e}")),
        }
    }
    let outcome = Ok(if done.is_empty() {
        "nothing due".to_string()
    } else {
        done.join("; ")
    });
    runtime::finish(&core.db, job, &outcome).await?;
    runtime::release(&core.db, JobKind::Watchdog, rt.holder()).await?;
    Ok(())
}

async fn watchdog_one(core: &Core, name: &str, now: i64) -> Result<Option<String>> {
    let conn = core.db.conn().await?;
    let window = GIVE_UP_WINDOW.as_millis() as i64;
    let restarts = restarts_of(&conn, name, now - window).await?;
    let mem = memories(&conn).await?;
    drop(conn);
    let Some(m) = mem.get(name) else {
        return Ok(None);
    };
    if m.last_state != "crashed" || !m.watch || m.gave_up {
        return Ok(None);
    }
    match watchdog_step(&restarts, m.next_try_at, now) {
        WatchdogStep::WaitUntil(t) => {
            if m.next_try_at.is_none() {
                let (_c, tx) = core.db.write().await?;
                tx.execute(
                    "UPDATE gateways SET next_try_at = ?2 WHERE agent = ?1",
                    libsql::params![name, t],
                )
                .await?;
                tx.commit().await?;
            }
            Ok(None)
        }
        WatchdogStep::GiveUp => {
            let (_c, tx) = core.db.write().await?;
            tx.execute(
                "UPDATE gateways SET gave_up_at = ?2, next_try_at = NULL WHERE agent = ?1",
                libsql::params![name, time::now()],
            )
            .await?;
            notifications::add(
                &tx,
                "gateway_crashed",
                &format!("The watchdog gave up on {name}'s gateway"),
                &format!(
                    "{name}'s gateway crashed after {GIVE_UP_TRIES} restarts in {} minutes; the watchdog stopped trying. Read its log, then `nxr hermes start {name}` (and `nxr hermes watch {name} on` to arm the watchdog again).",
                    GIVE_UP_WINDOW.as_secs() / 60
                ),
                &serde_json::json!({"agent": name, "gave_up": true}),
            )
            .await?;
            db::touch(&tx, "gateways").await?;
            tx.commit().await?;
            Ok(Some(format!("{name}: gave up")))
        }
        WatchdogStep::Restart => {
            let conn = core.db.conn().await?;
            let agent = agents::find(&conn, name).await?;
            drop(conn);
            let result = start_agent(core, &agent).await;
            let (ok, detail) = match &result {
                Ok(r) => (true, r.message.clone()),
                Err(e) => (false, e.to_string()),
            };
            let (_c, tx) = core.db.write().await?;
            tx.execute(
                "INSERT INTO gateway_restarts (agent, at_ms, at, reason, ok, detail)
                 VALUES (?1, ?2, ?3, 'watchdog', ?4, ?5)",
                libsql::params![name, now, time::now(), ok as i64, detail.as_str()],
            )
            .await?;
            tx.execute(
                "UPDATE gateways SET next_try_at = NULL WHERE agent = ?1",
                [name],
            )
            .await?;
            let pid = result
                .as_ref()
                .ok()
                .and_then(|r| r.status.as_ref())
                .and_then(|s| s.pid);
            notifications::add(
                &tx,
                "gateway_restarted",
                &format!("The watchdog restarted {name}'s gateway"),
                &format!(
                    "{name}'s gateway had crashed; restart {} of {GIVE_UP_TRIES} in {} minutes: {detail}",
                    restarts.len() + 1,
                    GIVE_UP_WINDOW.as_secs() / 60
                ),
                &serde_json::json!({"agent": name, "ok": ok, "pid": pid}),
            )
            .await?;
            db::touch(&tx, "gateways").await?;
            tx.commit().await?;
            Ok(Some(format!("{name}: {detail}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_field_22_even_when_the_command_name_has_spaces_and_parentheses() {
        let stat = "1873 (hermes (gw) x) S 1871 1873 1 0 -1 4194560 24 0 0 0 5 1 0 0 20 0 3 0 974545 1 2 3";
        assert_eq!(parse_stat(stat), Some(974545));
        let zombie = "1873 (hermes) Z 1871 1873 1 0 -1 4194560 24 0 0 0 5 1 0 0 20 0 3 0 974545 1";
        assert_eq!(parse_stat(zombie), None, "a zombie is not alive");
    }

    #[test]
    fn proc_locks_lines_give_the_holder_of_each_flock_and_skip_waiters_and_posix_locks() {
        let text = "1: FLOCK  ADVISORY  WRITE 1873 fe:00:10035368 0 EOF\n\
                    2: POSIX  ADVISORY  READ 1873 fe:00:10035378 128 128\n\
                    3: -> FLOCK  ADVISORY  WRITE 2000 fe:00:10035368 0 EOF\n";
        assert_eq!(
            parse_locks(text),
            vec![FileLock {
                major: 0xfe,
                minor: 0,
                inode: 10035368,
                pid: 1873
            }]
        );
    }

    #[test]
    fn the_lock_holder_is_found_for_a_real_flocked_file_without_taking_the_lock() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("gateway.lock");
        let file = std::fs::File::create(&path).expect("create");
        assert_eq!(lock_holder(&path, &read_locks()), None);
        let _held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| e)
            .expect("flock");
        assert_eq!(
            lock_holder(&path, &read_locks()),
            Some(std::process::id() as i32)
        );
    }

    #[test]
    fn tmux_output_gives_panes_of_gateway_sessions_and_viewer_counts() {
        let view = parse_tmux_view(
            "P\tnxr-pm\t100\t0\t\t\nP\tnxr-eng\t200\t1\t\t9\nP\tother\t300\t0\t\t\nC\tnxr-pm\nC\tnxr-pm\nC\tother\n",
        );
        assert_eq!(view.panes.len(), 2, "only nxr-* sessions");
        assert_eq!(view.panes["nxr-eng"].dead_signal, Some(9));
        assert_eq!(view.viewers.get("nxr-pm"), Some(&2));
    }

    fn pidfile(pid: i32) -> Option<PidRecord> {
        Some(PidRecord {
            pid,
            kind: Some("hermes-gateway".into()),
            argv: vec![],
            start_time: Some(1),
        })
    }

    fn pane(dead: bool, status: Option<i32>, signal: Option<i32>) -> Option<Pane> {
        Some(Pane {
            pid: 42,
            dead,
            dead_status: status,
            dead_signal: signal,
        })
    }

    #[test]
    fn a_held_lock_is_running_whatever_the_pidfile_says_once_hermes_recorded_running() {
        let with_state = |pid: i32, state: &str| {
            classify(&Observed {
                lock_holder: Some(42),
                state_file: Some(StateFile {
                    pid: Some(pid),
                    gateway_state: Some(state.into()),
                    ..Default::default()
                }),
                ..Default::default()
            })
        };
        let v = with_state(42, "running");
        assert_eq!((v.state, v.pid), (State::Running, Some(42)));
        assert_eq!(with_state(42, "starting").state, State::Starting);
        // The previous process's state file: this one has not recorded anything yet.
        assert_eq!(with_state(41, "running").state, State::Starting);
        let none = classify(&Observed {
            lock_holder: Some(42),
            ..Default::default()
        });
        assert_eq!((none.state, none.pid), (State::Starting, Some(42)));
    }

    #[test]
    fn a_stale_pidfile_after_the_tmux_session_was_closed_reads_as_stopped() {
        let v = classify(&Observed {
            pidfile: pidfile(42),
            pidfile_alive: false,
            state_file: Some(StateFile {
                gateway_state: Some("running".into()),
                ..Default::default()
            }),
            launch: Some(LaunchMode::Tmux),
            ..Default::default()
        });
        assert_eq!(v.state, State::Stopped);
        assert_eq!(v.pid, None);
    }

    #[test]
    fn a_dead_pane_says_crashed_on_a_signal_or_an_error_and_stopped_on_exit_0() {
        let state = |p| {
            classify(&Observed {
                pane: p,
                launch: Some(LaunchMode::Tmux),
                ..Default::default()
            })
            .state
        };
        assert_eq!(state(pane(true, None, Some(9))), State::Crashed);
        assert_eq!(state(pane(true, Some(1), None)), State::Crashed);
        assert_eq!(state(pane(true, Some(0), None)), State::Stopped);
    }

    #[test]
    fn a_live_pane_without_the_lock_is_starting_and_after_many_starts_in_back_off() {
        let v = classify(&Observed {
            pane: pane(false, None, None),
            recent_starts: 3,
            ..Default::default()
        });
        assert_eq!((v.state, v.backoff), (State::Starting, false));
        let v = classify(&Observed {
            pane: pane(false, None, None),
            recent_starts: 6,
            ..Default::default()
        });
        assert_eq!((v.state, v.backoff), (State::Starting, true));
    }

    #[test]
    fn a_child_that_vanished_without_recording_a_stop_crashed() {
        let gone = |recorded: &str| {
            classify(&Observed {
                launch: Some(LaunchMode::Child),
                child_alive: false,
                state_file: Some(StateFile {
                    gateway_state: Some(recorded.into()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .state
        };
        assert_eq!(gone("running"), State::Crashed);
        assert_eq!(gone("stopped"), State::Stopped);
    }

    #[test]
    fn the_watchdog_backs_off_1_5_30_seconds_and_gives_up_after_5_restarts_in_10_minutes() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(30));
        assert_eq!(backoff(9), Duration::from_secs(30));
        let now = 10_000_000;
        assert_eq!(
            watchdog_step(&[], None, now),
            WatchdogStep::WaitUntil(now + 1_000)
        );
        assert_eq!(
            watchdog_step(&[], Some(now + 5), now),
            WatchdogStep::WaitUntil(now + 5)
        );
        assert_eq!(watchdog_step(&[], Some(now), now), WatchdogStep::Restart);
        let five: Vec<i64> = (1..=5).map(|i| now - i * 60_000).collect();
        assert_eq!(watchdog_step(&five, Some(now), now), WatchdogStep::GiveUp);
        // Restarts older than ten minutes no longer count.
        let old: Vec<i64> = (1..=5).map(|i| now - 600_000 - i).collect();
        assert_eq!(watchdog_step(&old, Some(now), now), WatchdogStep::Restart);
    }

    #[test]
    fn names_that_could_mean_something_to_tmux_or_a_shell_are_refused() {
        for bad in ["a;b", "x y", "$(id)", "-t", "=pm", "pm:0", "", "PM"] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        check_name("pm").expect("pm");
        check_name("eng-2_b").expect("eng-2_b");
    }
}
