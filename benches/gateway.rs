//! Gateway process control as a person and a script see it, with the release `nxr` binary
//! and the real `hermes gateway run`:
//!
//! 1. `nxr --no-tui hermes status --json` for 20 agents, 3 of them with a running gateway
//!    in tmux (target: under 20 ms; files and `/proc` plus one tmux call, never a subprocess
//!    per agent);
//! 2. start to running as nxr sees it: the moment `nxr hermes start` returns "running",
//!    minus the moment Hermes wrote its `gateway.pid` (target: within 2 s).
//!
//! `cargo bench --bench gateway` (cargo builds the release nxr for it). `NXR_BIN` overrides
//! the binary; the hermes CLI is `NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`, else `hermes`
//! on `PATH`. `NXR_BENCH_RUNS` sets the status runs (default 60).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::{Home, hermes_bin, nxr_bin};

const AGENTS: usize = 20;
const RUNNING: usize = 3;
const STARTS: usize = 5;

/// Agents whose gateways run in a tmux server of the bench's own.
struct World {
    home: Home,
    socket: String,
}

impl World {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.home.nxr(args);
        c.env(
            "NXR_HERMES_BIN",
            hermes_bin().expect("hermes: run .ci/run or set NXR_TEST_HERMES"),
        )
        .env("NXR_TMUX_SOCKET", &self.socket);
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run nxr");
        assert!(
            out.status.success(),
            "nxr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.command(&["hermes", "stop", "--all"]).output();
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn pidfile_written(dir: &Path) -> SystemTime {
    std::fs::metadata(dir.join("gateway.pid"))
        .and_then(|m| m.modified())
        .expect("gateway.pid")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: only bench then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    assert!(
        nxr_bin().is_file(),
        "{} is missing: cargo build --release first",
        nxr_bin().display()
    );
    let w = World {
        home: Home::new(),
        socket: format!("nxr-bench-{}", std::process::id()),
    };
    for i in 0..AGENTS {
        w.ok(&[
            "agents",
            "create",
            "--role",
            "pm",
            "--name",
            &format!("a{i:02}"),
        ]);
    }
    for i in 0..RUNNING {
        w.ok(&["hermes", "start", &format!("a{i:02}")]);
    }

    // 1. status --json for 20 agents.
    let runs: usize = std::env::var("NXR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    for _ in 0..5 {
        w.ok(&["hermes", "status", "--json"]);
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = w.ok(&["hermes", "status", "--json"]);
            let took = start.elapsed();
            let v: serde_json::Value = serde_json::from_str(&out).expect("json");
            let running = v
                .as_array()
                .expect("array")
                .iter()
                .filter(|s| s["state"] == "running")
                .count();
            assert_eq!(running, RUNNING, "{out}");
            took
        })
        .collect();
    times.sort();
    let mean = times.iter().sum::<Duration>() / runs as u32;
    let p95 = times[(runs * 95 / 100).min(runs - 1)];
    println!(
        "hermes status --json, {AGENTS} agents ({RUNNING} running), {runs} runs: mean {:.1} ms, p95 {:.1} ms (target < 20 ms)",
        ms(mean),
        ms(p95)
    );

    // 2. start to running, after the gateway's own pidfile.
    let agent = format!("a{:02}", AGENTS - 1);
    let dir = w.home.hermes.path().join("profiles").join(&agent);
    let mut lags = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..STARTS {
        let start = Instant::now();
        let out = w.ok(&["hermes", "start", &agent, "--json"]);
        let returned = SystemTime::now();
        totals.push(start.elapsed());
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v[0]["status"]["state"], "running", "{out}");
        let lag = returned
            .duration_since(pidfile_written(&dir))
            .unwrap_or_default();
        lags.push(lag);
        w.ok(&["hermes", "stop", &agent]);
        // Stay under Hermes' respawn-storm threshold (5 starts in 120 s) for honest figures.
        std::thread::sleep(Duration::from_secs(1));
    }
    lags.sort();
    totals.sort();
    println!(
        "start → running as nxr reports it, after the gateway.pid was written, {STARTS} starts: median {:.0} ms, max {:.0} ms (target < 2000 ms); whole `nxr hermes start` median {:.0} ms",
        ms(lags[STARTS / 2]),
        ms(lags[STARTS - 1]),
        ms(totals[STARTS / 2])
    );
}
