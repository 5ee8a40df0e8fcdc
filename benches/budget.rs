//! The budget's three figures, on the release build:
//!
//! 1. `nxr --no-tui budget --json` end to end over 1,000,000 hourly usage rows (20 agents ×
//!    10 models × 5,000 hours), as a script sees it (target < 20 ms);
//! 2. ingesting 100,000 new assistant messages from an agent's Hermes `state.db` (the
//!    library's `usage::ingest`, in process; target < 1 s);
//! 3. the gauge's lag: a `nxr daemon` runs, a call lands in a `state.db`, and the time until
//!    nxr's database counts it (what every open screen reloads on; target < 1 s).
//!
//! `cargo bench --bench budget` (it builds the release binary). `NXR_BENCH_RUNS` sets the
//! number of timed `nxr budget` runs (default 30).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nxr::core::Core;

use common::Home;

const AGENTS: i64 = 20;
const MODELS: i64 = 10;
const HOURS: i64 = 5_000;
const MESSAGES: i64 = 100_000;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Agents (rows only, no profiles) and 1,000,000 hourly rows ending this hour. The rows go
/// into `usage_hourly` as ingest's do, so 0007's triggers keep `usage_daily` (what the 7-
/// and 30-day figures read) the same way.
async fn fill_usage(core: &Core) {
    let (_conn, tx) = core.db.write().await.expect("write");
    let this_hour = now() - now().rem_euclid(3600);
    for a in 0..AGENTS {
        tx.execute(
            "INSERT INTO agents (name, profile, model, created_at, updated_at) VALUES (?1, ?1, 'm', '', '')",
            [format!("agent-{a}")],
        )
        .await
        .expect("agent");
    }
    let stmt = tx
        .prepare(
            "INSERT INTO usage_hourly (hour, agent, model, requests, errors, input_tokens, output_tokens, cost_usd)
             VALUES (?1, ?2, ?3, 3, 0, 3000, 400, 0.001)",
        )
        .await
        .expect("prepare");
    let agents: Vec<String> = (0..AGENTS).map(|a| format!("agent-{a}")).collect();
    let models: Vec<String> = (0..MODELS)
        .map(|m| {
            if m % 2 == 0 {
                format!("vendor/model-{m}:free")
            } else {
                format!("vendor/model-{m}")
            }
        })
        .collect();
    for h in 0..HOURS {
        for a in &agents {
            for m in &models {
                stmt.execute(libsql::params![
                    this_hour - h * 3600,
                    a.as_str(),
                    m.as_str()
                ])
                .await
                .expect("row");
                stmt.reset();
            }
        }
    }
    drop(stmt);
    tx.commit().await.expect("commit");
}

/// A Hermes-shaped `state.db` (the tables and columns nxr reads).
async fn hermes_db(path: &Path) -> libsql::Connection {
    let db = libsql::Builder::new_local(path).build().await.expect("db");
    let conn = db.connect().expect("conn");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, source TEXT NOT NULL, model TEXT, started_at REAL NOT NULL);
         CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
             role TEXT NOT NULL, content TEXT, timestamp REAL NOT NULL);
         CREATE TABLE IF NOT EXISTS session_model_usage (session_id TEXT NOT NULL, model TEXT NOT NULL,
             billing_provider TEXT NOT NULL DEFAULT '', billing_base_url TEXT NOT NULL DEFAULT '',
             billing_mode TEXT NOT NULL DEFAULT '', task TEXT NOT NULL DEFAULT '',
             api_call_count INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0,
             output_tokens INTEGER NOT NULL DEFAULT 0, estimated_cost_usd REAL NOT NULL DEFAULT 0,
             actual_cost_usd REAL NOT NULL DEFAULT 0, first_seen REAL, last_seen REAL,
             PRIMARY KEY (session_id, model, billing_provider, billing_base_url, billing_mode, task));
         INSERT OR IGNORE INTO sessions (id, source, model, started_at) VALUES ('s1', 'cli', 'vendor/model-0:free', 0);",
    )
    .await
    .expect("schema");
    conn
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len().max(1) as u32;
    let p95 = v[(v.len() * 95 / 100).min(v.len() - 1)];
    (mean, p95)
}

fn main() {
    let runs: usize = std::env::var("NXR_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);

    // 1. nxr budget --json over 1,000,000 rows.
    let home = Home::new();
    let t = Instant::now();
    block_on(async {
        let core = home.core().await;
        fill_usage(&core).await;
    });
    eprintln!(
        "filled {} usage rows in {:.1} s",
        AGENTS * MODELS * HOURS,
        t.elapsed().as_secs_f64()
    );
    // Warm the page cache once.
    let out = home.nxr(&["budget", "--json"]).output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = home.nxr(&["budget", "--json"]).output().expect("run");
        times.push(t.elapsed());
        assert!(out.status.success());
    }
    let (mean, p95) = stats(times);
    println!(
        "nxr budget --json over {} usage rows ({runs} runs): mean {:.1} ms, p95 {:.1} ms (target < 20 ms)",
        AGENTS * MODELS * HOURS,
        mean.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3
    );

    // 2. Ingest 100,000 new messages.
    let home = Home::new();
    let profile = home.hermes.path().join("profiles/pm");
    std::fs::create_dir_all(&profile).expect("mkdir");
    let secs = block_on(async {
        let core = home.core().await;
        {
            let (_conn, tx) = core.db.write().await.expect("write");
            tx.execute(
                "INSERT INTO agents (name, profile, model, created_at, updated_at) VALUES ('pm', 'pm', 'm', '', '')",
                (),
            )
            .await
            .expect("agent");
            tx.commit().await.expect("commit");
        }
        let conn = hermes_db(&profile.join("state.db")).await;
        let start = now() as f64 - 86_400.0;
        conn.execute_batch("BEGIN").await.expect("begin");
        let stmt = conn
            .prepare("INSERT INTO messages (session_id, role, content, timestamp) VALUES ('s1', ?1, 'x', ?2)")
            .await
            .expect("prepare");
        // Every other message is the assistant's: 100,000 calls among 200,000 rows.
        for i in 0..MESSAGES * 2 {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            stmt.execute(libsql::params![role, start + i as f64 * 0.4])
                .await
                .expect("message");
            stmt.reset();
        }
        drop(stmt);
        conn.execute_batch("COMMIT").await.expect("commit");
        let t = Instant::now();
        let r = nxr::core::usage::ingest(&core).await.expect("ingest");
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(r.calls, MESSAGES, "{r:?}");
        secs
    });
    println!(
        "ingest of {MESSAGES} new state.db messages: {:.0} ms (target < 1000 ms)",
        secs * 1e3
    );

    // 3. Gauge lag behind a call, with `nxr daemon` running.
    let conn = block_on(hermes_db(&profile.join("state.db")));
    let mut daemon = home
        .nxr(&["daemon"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("daemon");
    std::thread::sleep(Duration::from_secs(2));
    let counted = || {
        block_on(async {
            let core = home.core().await;
            let c = core.db.conn().await.expect("conn");
            let mut rows = c
                .query("SELECT COALESCE(SUM(requests), 0) FROM usage_hourly", ())
                .await
                .expect("q");
            let row = rows.next().await.expect("row").expect("a row");
            row.get::<i64>(0).expect("int")
        })
    };
    let mut lags = Vec::new();
    for _ in 0..10 {
        let before = counted();
        block_on(conn.execute(
            "INSERT INTO messages (session_id, role, content, timestamp) VALUES ('s1', 'assistant', 'x', ?1)",
            [now() as f64],
        ))
        .expect("call");
        let t = Instant::now();
        while counted() == before && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        lags.push(t.elapsed());
        // Land the next call at a random point of the daemon's tick.
        std::thread::sleep(Duration::from_millis(370));
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    let (mean, _) = stats(lags.clone());
    let max = lags.iter().max().copied().unwrap_or_default();
    println!(
        "gauge lag behind a call (nxr daemon, 10 calls): mean {:.0} ms, max {:.0} ms (target < 1000 ms)",
        mean.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
}
