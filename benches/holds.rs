//! What kanban holds add to the budget tick, which runs every second in every long-running
//! nxr (`holds::sync`, in process, release build), on a Hermes board of 1,000 tasks:
//!
//! 1. the gate closed and the board unchanged since the last look (the steady state while
//!    held): a `stat` of the board and its WAL;
//! 2. the gate closed and the board changed (Hermes' dispatcher wrote to it) with nothing
//!    ready: the board opened read-only and its ready tasks read;
//! 3. the gate open with nothing held, unchanged (every second of a normal day);
//! 4. the gate open, looked at afresh: nxr's open holds read.
//!
//! Holding or releasing a task is one `hermes kanban schedule|unblock` call (about 0.4 s of
//! Python start-up each), and happens only on a gate transition.
//!
//! `cargo bench --bench holds`. `NXR_BENCH_RUNS` sets the runs per case (default 2,000).

use std::time::{Duration, Instant, SystemTime};

use nxr::core::Core;
use nxr::core::budget::Gate;
use nxr::core::holds;
use nxr::core::paths::{Endpoints, Paths};

const TASKS: usize = 1_000;

fn gate(open: bool) -> Gate {
    Gate {
        account: "no key".into(),
        open,
        reason: (!open).then(|| "the daily limit is used up".into()),
        opens_at: (!open).then(|| "2026-12-03T00:00:00.000000Z".into()),
        day: "2026-12-02".into(),
        held: Vec::new(),
    }
}

/// A board with the tables and columns nxr reads, in WAL mode as Hermes keeps it: 1,000
/// tasks, none ready.
async fn board(path: &std::path::Path) {
    let db = libsql::Builder::new_local(path)
        .build()
        .await
        .expect("board");
    let conn = db.connect().expect("connect");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL, assignee TEXT,
                             status TEXT NOT NULL, created_at INTEGER NOT NULL);
         CREATE TABLE task_runs (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, summary TEXT);",
    )
    .await
    .expect("schema");
    conn.execute_batch("BEGIN").await.expect("begin");
    for i in 0..TASKS {
        let status = ["done", "running", "todo", "blocked", "archived"][i % 5];
        conn.execute(
            "INSERT INTO tasks (id, title, assignee, status, created_at) VALUES (?1, ?2, 'pm', ?3, ?4)",
            libsql::params![format!("t_{i:08x}"), format!("task {i}"), status, i as i64],
        )
        .await
        .expect("task");
    }
    conn.execute_batch("COMMIT").await.expect("commit");
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len();
    let mean = samples.iter().sum::<Duration>() / n as u32;
    let p = |q: f64| samples[((n as f64 * q) as usize).min(n - 1)];
    println!(
        "{what}: mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs ({n} runs)",
        mean.as_secs_f64() * 1e6,
        p(0.5).as_secs_f64() * 1e6,
        p(0.99).as_secs_f64() * 1e6
    );
}

fn main() {
    let runs: usize = std::env::var("NXR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let nxr = tempfile::tempdir().expect("tmp");
    let hermes = tempfile::tempdir().expect("tmp");
    let kanban = hermes.path().join("kanban.db");
    rt.block_on(board(&kanban));
    let core = rt
        .block_on(Core::open(
            Paths {
                nxr_home: nxr.path().to_path_buf(),
                hermes_home: hermes.path().to_path_buf(),
            },
            Endpoints::unreachable(),
        ))
        .expect("open");
    let file = std::fs::File::options()
        .write(true)
        .open(&kanban)
        .expect("board file");
    let mut tick = 0u64;
    // A "changed" run first moves the board's mtime, as a dispatcher's write would.
    let mut change = || {
        tick += 1;
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(tick))
            .expect("mtime");
    };
    let sync = |g: &Gate| {
        let r = rt.block_on(holds::sync(&core, g)).expect("sync");
        assert!(r.held.is_empty() && r.failed.is_empty(), "{r:?}");
    };
    let (closed, open) = (gate(false), gate(true));
    let timed = |f: &mut dyn FnMut()| -> Vec<Duration> {
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect()
    };

    // The first look of each state reads; the runs after it are what a tick costs.
    sync(&closed);
    report("gate closed, board unchanged", timed(&mut || sync(&closed)));
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        change();
        let t = Instant::now();
        sync(&closed);
        samples.push(t.elapsed());
    }
    report(
        "gate closed, board changed, nothing ready (1,000 tasks)",
        samples,
    );
    sync(&open);
    report(
        "gate open, nothing held, unchanged",
        timed(&mut || sync(&open)),
    );
    // A closed look in between makes each open look read nxr's holds.
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        sync(&closed);
        let t = Instant::now();
        sync(&open);
        samples.push(t.elapsed());
    }
    report("gate just opened, no open holds", samples);
}
