//! Wall time of a headless read, as a script sees it: the release `nxr` binary running
//! `--no-tui agents list --json` on a warm home with three agents, and, beside it, the real
//! Hermes answering `hermes -p X config get model.default` for the same profile.
//!
//! `cargo bench --bench cli_latency` (cargo builds the release binary for it).
//! `NXR_BIN` overrides the binary; the hermes CLI is
//! `NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`, else `hermes` on `PATH` (skipped if none).
//! `NXR_BENCH_RUNS` sets the number of timed runs (default 60). Target: nxr under 20 ms.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Home, hermes_bin, nxr_bin};

const TARGET: Duration = Duration::from_millis(20);

/// Runs the command once and returns how long it took; panics unless it exits 0.
fn time_once(mut cmd: Command) -> Duration {
    let started = Instant::now();
    let out = cmd.output().expect("run");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

struct Stats {
    runs: usize,
    mean: Duration,
    p50: Duration,
    p95: Duration,
    min: Duration,
    max: Duration,
}

fn stats(mut t: Vec<Duration>) -> Stats {
    t.sort();
    let at = |q: f64| t[((t.len() - 1) as f64 * q).round() as usize];
    Stats {
        runs: t.len(),
        mean: t.iter().sum::<Duration>() / t.len() as u32,
        p50: at(0.50),
        p95: at(0.95),
        min: t[0],
        max: t[t.len() - 1],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn print(label: &str, s: &Stats) {
    println!(
        "{label:<46} runs {:>3}  mean {:>10}  p50 {:>10}  p95 {:>10}  min {:>10}  max {:>10}",
        s.runs,
        ms(s.mean),
        ms(s.p50),
        ms(s.p95),
        ms(s.min),
        ms(s.max)
    );
}

fn measure(runs: usize, warmup: usize, mut make: impl FnMut() -> Command) -> Stats {
    for _ in 0..warmup {
        time_once(make());
    }
    stats((0..runs).map(|_| time_once(make())).collect())
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this once as a smoke test.
    let bench = std::env::args().any(|a| a == "--bench");
    let nxr = nxr_bin();
    if !nxr.is_file() {
        let msg = format!(
            "{} not found: run `cargo build --release` first (or set NXR_BIN)",
            nxr.display()
        );
        if bench {
            eprintln!("cli_latency: {msg}");
            std::process::exit(1);
        }
        println!("cli_latency: skipped, {msg}");
        return;
    }
    let runs: usize = if bench {
        std::env::var("NXR_BENCH_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60)
            .max(2)
    } else {
        2
    };

    let home = Home::new();
    for (role, name) in [("pm", "pm"), ("engineer", "eng"), ("hermes", "ops")] {
        time_once(home.nxr(&["agents", "create", "--role", role, "--name", name]));
    }
    let out = home
        .nxr(&["agents", "list", "--json"])
        .output()
        .expect("agents list");
    let agents: serde_json::Value = serde_json::from_slice(&out.stdout).expect("agents list JSON");
    assert_eq!(agents.as_array().map(Vec::len), Some(3), "three agents");

    println!("nxr:    {}", nxr.display());
    let n = measure(runs, 5.min(runs), || {
        home.nxr(&["agents", "list", "--json"])
    });
    print("nxr --no-tui agents list --json", &n);
    if bench {
        println!(
            "  target: mean < {} -> {}",
            ms(TARGET),
            if n.mean < TARGET { "ok" } else { "MISSED" }
        );
    }

    match hermes_bin().filter(|p| p.is_file()) {
        Some(hermes) => {
            println!("hermes: {}", hermes.display());
            let h = measure(runs, 2.min(runs), || {
                home.command(&hermes, &["-p", "pm", "config", "get", "model.default"])
            });
            print("hermes -p pm config get model.default", &h);
            println!(
                "  ratio hermes / nxr: mean {:.1}x, p50 {:.1}x",
                h.mean.as_secs_f64() / n.mean.as_secs_f64(),
                h.p50.as_secs_f64() / n.p50.as_secs_f64()
            );
        }
        None => println!(
            "hermes: not found (set NXR_TEST_HERMES or run .ci/run); skipped the comparison"
        ),
    }
}
