//! The scanner's costs, measured (`cargo bench --bench scanner`, release):
//!
//! 1. scan → notifications beyond the fetch: parse the real catalog body, store it, rescore
//!    every role and bring the advice up to date, for six agents, alternating the 2026-03-30
//!    and 2026-03-31 catalogs so advice is added and withdrawn every time. Target < 50 ms CPU.
//! 2. an idle `nxr daemon` (scheduler ticking, nothing due, no Telegram): CPU share of one
//!    core over 20 s and resident memory. Targets < 1 % and < 15 MB.
//! 3. the notifications list with 100,000 rows: the newest 100, `--unread`, `--type`, and
//!    the unread count, in process; and `nxr notifications --json` end to end. Target < 20 ms.
//!
//! `NXR_BENCH_RUNS` sets the scan runs (default 20).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nxr::core::action::{self, Op};
use nxr::core::catalog::Catalog;
use nxr::core::notifications::{self, Filter};
use nxr::core::scoring::Role;
use nxr::core::{agents, models, time};

use common::{Home, nxr_bin};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/openrouter")
            .join(name),
    )
    .expect("fixture")
}

/// CPU time (user + system) of a process, from `/proc/<pid>/stat`, in seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state.
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_kb(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn scan_to_notifications(rt: &tokio::runtime::Runtime, runs: usize) {
    let home = Home::new();
    let bodies = [
        fixture("models-2026-03-30.json"),
        fixture("models-2026-03-31.json"),
    ];
    rt.block_on(async {
        let core = home.core().await;
        let first = Catalog::parse(&bodies[0], "bench", &time::now()).expect("parse");
        models::ingest(&core, first, &time::now(), &time::now())
            .await
            .expect("ingest");
        for (i, role) in Role::ALL.iter().enumerate() {
            action::apply(
                &core,
                Op::CreateAgent {
                    name: format!("agent-{i}"),
                    role: Some(*role),
                    category: None,
                    skills: None,
                    model: None,
                },
            )
            .await
            .expect("create");
        }
        let me = std::process::id().to_string();
        let mut wall = Vec::new();
        let mut cpu = Vec::new();
        for i in 0..runs {
            let body = &bodies[(i + 1) % 2];
            let (c0, t0) = (cpu_seconds(&me), Instant::now());
            let catalog = Catalog::parse(body, "bench", &time::now()).expect("parse");
            let now = time::now();
            let report = models::ingest(&core, catalog, &now, &now)
                .await
                .expect("ingest");
            agents::after_rescore(&core, &report.rescore)
                .await
                .expect("advice");
            wall.push(t0.elapsed().as_secs_f64() * 1e3);
            cpu.push((cpu_seconds(&me) - c0) * 1e3);
        }
        let conn = core.db.conn().await.expect("conn");
        let notes = notifications::list(&conn, 1000).await.expect("list");
        wall.sort_by(f64::total_cmp);
        let total_cpu: f64 = cpu.iter().sum();
        println!(
            "scan -> notifications (parse, store, rescore 6 roles, advice; 348 models, 6 agents), {runs} runs: wall p50 {:.1} ms, p95 {:.1} ms; CPU mean {:.1} ms ({} notifications, {} withdrawn)",
            percentile(&wall, 0.5),
            percentile(&wall, 0.95),
            total_cpu / runs as f64,
            notes.len(),
            notes
                .iter()
                .filter(|n| n.state == notifications::State::Obsolete)
                .count()
        );
    });
}

fn idle_daemon() {
    let home = Home::new();
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openrouter/models-2026-03-31.json");
    let quiet = |mut c: Command| {
        c.env_remove("NXR_SCAN_INTERVAL")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    // A good scan a moment ago: nothing is due for 6 hours.
    let mut scan = quiet(home.nxr(&["models", "scan", "--from"]));
    assert!(scan.arg(&file).status().expect("scan").success());
    let mut child = quiet(home.command(&nxr_bin(), &["daemon"]))
        .spawn()
        .expect("daemon");
    let pid = child.id().to_string();
    std::thread::sleep(Duration::from_secs(3));
    let window = Duration::from_secs(20);
    let c0 = cpu_seconds(&pid);
    std::thread::sleep(window);
    let used = cpu_seconds(&pid) - c0;
    let rss = rss_kb(&pid);
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "idle nxr daemon over {} s: CPU {:.2} % of a core ({:.0} ms), resident memory {:.1} MB",
        window.as_secs(),
        used / window.as_secs_f64() * 100.0,
        used * 1e3,
        rss as f64 / 1024.0
    );
}

fn list_100k(rt: &tokio::runtime::Runtime) {
    let home = Home::new();
    rt.block_on(async {
        let core = home.core().await;
        let (_c, tx) = core.db.write().await.expect("tx");
        let kinds = notifications::TYPES;
        let stmt = tx
            .prepare(
                "INSERT INTO notifications (kind, title, body, payload, created_at, read_at, state)
                 VALUES (?1, ?2, 'a body of ordinary length that says what happened', '{}', ?3, ?4, ?5)",
            )
            .await
            .expect("prepare");
        for i in 0..100_000i64 {
            let read = (i % 10 != 0).then(|| "2026-01-01T00:00:00.000000Z".to_string());
            let state = if i % 7 == 0 { "obsolete" } else { "active" };
            stmt.execute(libsql::params![
                kinds[(i as usize) % kinds.len()],
                format!("notification {i}"),
                format!("2026-{:02}-01T00:00:{:02}.{i:06}Z", 1 + i % 12, i % 60),
                read,
                state
            ])
            .await
            .expect("insert");
            stmt.reset();
        }
        drop(stmt);
        tx.commit().await.expect("commit");
        let conn = core.db.conn().await.expect("conn");
        let cases: [(&str, Filter); 3] = [
            ("newest 100", Filter::default()),
            (
                "--unread",
                Filter {
                    unread: true,
                    kind: None,
                },
            ),
            (
                "--type rate_limit_90",
                Filter {
                    unread: false,
                    kind: Some("rate_limit_90".into()),
                },
            ),
        ];
        for (name, filter) in cases {
            let mut times = Vec::new();
            for _ in 0..50 {
                let t = Instant::now();
                let l = notifications::list_filtered(&conn, &filter, 100)
                    .await
                    .expect("list");
                let n = notifications::unread(&conn).await.expect("unread");
                assert!(!l.is_empty() && n > 0);
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "notifications list with 100,000 rows, {name} (+ unread count): p50 {:.2} ms, p95 {:.2} ms",
                percentile(&times, 0.5),
                percentile(&times, 0.95)
            );
        }
    });
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let out = home
            .nxr(&["notifications", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("nxr notifications");
        assert!(out.success());
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "`nxr notifications --json` over 100,000 rows, end to end (process start included): p50 {:.1} ms, p95 {:.1} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.95)
    );
}

fn main() {
    // `cargo test --benches` runs us too: only measure when asked.
    if std::env::args().any(|a| a == "--list") || !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs: usize = std::env::var("NXR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    scan_to_notifications(&rt, runs);
    list_100k(&rt);
    idle_daemon();
}
