//! Web mirror under load: `nxr serve` (the release binary) with 100 agents, `wrk` with 64
//! concurrent loopback connections on `GET /agents/manage` for a bounded time, then the same
//! load on the Hermes dashboard's `GET /api/model/auxiliary`, side by side with the ratio.
//!
//! `cargo bench --bench web_load`. Needs `wrk` (Debian package; `.ci/run` installs it) and,
//! for the comparison, `hermes`: `NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`, else `PATH`.
//! `NXR_BENCH_SECS` sets each run's length (default 5), `NXR_BENCH_RUNS` the number of wrk
//! runs against nxr (default 3; each one is printed, the verdict uses the median, since
//! wrk and the server share the same two cores and one run can land either way). Targets:
//! ≥ 2,000 renders/s and p99 < 10 ms on a 2-core machine.
//!
//! First it times the page render alone, in process: the same view struct rendered to HTML
//! again and again (what every request does after the shared screen cache).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nxr::core::action::{self, Intent, Op};
use nxr::core::scoring::Role;

use common::{Home, hermes_bin, nxr_bin};

const AGENTS: usize = 100;
const CONNECTIONS: usize = 64;

struct Load {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: String,
}

fn runs() -> usize {
    std::env::var("NXR_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .clamp(1, 20)
}

fn secs() -> u64 {
    std::env::var("NXR_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .clamp(1, 60)
}

/// `wrk -t2 -c64 -dNs --latency URL`, parsed.
fn wrk(url: &str, header: Option<&str>) -> Result<Load, String> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        &format!("-c{CONNECTIONS}"),
        &format!("-d{}s", secs()),
    ])
    .args(["--timeout", "5s", "--latency"]);
    if let Some(h) = header {
        cmd.args(["-H", h]);
    }
    cmd.arg(url);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run wrk ({e}); apt-get install wrk"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk output:\n{text}"))?;
    let pct = |p: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(p))
            .map(|v| ms(v.trim()))
            .unwrap_or(f64::NAN)
    };
    let errors = text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Load {
        requests_per_sec: rps,
        p50_ms: pct("50%"),
        p99_ms: pct("99%"),
        errors,
    })
}

/// "1.23ms" / "850.00us" / "1.2s" → milliseconds.
fn ms(v: &str) -> f64 {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

fn get_ok(addr: &str, path: &str, header: Option<&str>) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let extra = header.map(|h| format!("{h}\r\n")).unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

fn stop(mut child: Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn create_agents(home: &Home) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let core = home.core().await;
        for i in 0..AGENTS {
            let role = Role::ALL[i % Role::ALL.len()];
            action::apply(
                &core,
                Op::CreateAgent {
                    name: format!("agent-{i:03}"),
                    role: Some(role),
                    category: None,
                    skills: None,
                    model: None,
                },
            )
            .await
            .expect("create agent");
        }
    });
}

fn nxr_load(home: &Home) -> Result<Load, String> {
    let mut child = home
        .command(&nxr_bin(), &["serve", "--addr", "127.0.0.1:0"])
        .env_remove("NXR_WEB_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let url = line.trim().trim_end_matches('/').to_string();
    let addr = url.trim_start_matches("http://").to_string();
    let page = "/agents/manage";
    if url.is_empty() || !get_ok(&addr, page, None) {
        stop(child);
        return Err("nxr serve did not answer".into());
    }
    let body_len = {
        let mut s = TcpStream::connect(&addr).map_err(|e| e.to_string())?;
        let _ = s.write_all(
            format!("GET {page} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let mut b = Vec::new();
        let _ = s.read_to_end(&mut b);
        b.len()
    };
    println!("nxr page {page}: {body_len} bytes with the response head, {AGENTS} agents");
    let mut loads = Vec::new();
    for i in 0..runs() {
        match wrk(&format!("{url}{page}"), None) {
            Ok(l) => {
                row(&format!("  run {}", i + 1), &l);
                loads.push(l);
            }
            Err(e) => {
                stop(child);
                return Err(e);
            }
        }
    }
    stop(child);
    Ok(median(loads))
}

/// The run with the median p99 (its throughput and p50 with it).
fn median(mut loads: Vec<Load>) -> Load {
    loads.sort_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
    let mid = loads.len() / 2;
    loads.swap_remove(mid)
}

/// The page render alone: the agents screen of `AGENTS` agents rendered to HTML in a loop.
fn render_only(home: &Home) {
    use nxr::core::session::Session;
    use nxr::core::view::Tab;
    use nxr::webmirror::PageCtx;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let screen = rt.block_on(async {
        let core = home.core().await;
        let mut s = Session::new(core).await.expect("session");
        s.apply(Intent::SwitchTab { tab: Tab::Agents }).await;
        s.view()
    });
    let ctx = PageCtx::new(
        "/agents/manage",
        Vec::new(),
        "0123456789abcdef0123456789abcdef",
    );
    let mut out = String::new();
    let n = 5000;
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        out.clear();
        nxr::webmirror::screen::render_screen_into(&screen, &ctx, &mut out);
        bytes = std::hint::black_box(out.len());
    }
    let took = start.elapsed();
    println!(
        "render only: {:.1} µs per /agents/manage page ({bytes} bytes, {n} renders on one thread)",
        took.as_secs_f64() * 1e6 / n as f64
    );
}

fn hermes_load(hermes: &std::path::Path) -> Result<Load, String> {
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        l.local_addr().map_err(|e| e.to_string())?.port()
    };
    let token = "nxr-bench-session-token";
    let child = Command::new(hermes)
        .args([
            "dashboard",
            "--no-open",
            "--skip-build",
            "--port",
            &port.to_string(),
        ])
        .env("HOME", home.path())
        .env("HERMES_HOME", home.path().join("hermes"))
        .env("HERMES_DASHBOARD_SESSION_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let addr = format!("127.0.0.1:{port}");
    let header = format!("X-Hermes-Session-Token: {token}");
    let path = "/api/model/auxiliary";
    let deadline = Instant::now() + Duration::from_secs(60);
    while !get_ok(&addr, path, Some(&header)) {
        if Instant::now() > deadline {
            stop(child);
            return Err("hermes dashboard did not answer within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let r = wrk(&format!("http://{addr}{path}"), Some(&header));
    stop(child);
    r
}

fn row(name: &str, l: &Load) {
    println!(
        "{name:<44} {:>10.0} {:>9.2} {:>9.2}  {}",
        l.requests_per_sec, l.p50_ms, l.p99_ms, l.errors
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs us too: only run when asked.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let home = Home::new();
    let t = Instant::now();
    create_agents(&home);
    println!(
        "created {AGENTS} agents in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    render_only(&home);
    println!(
        "{CONNECTIONS} connections, {} s each, wrk -t2 on loopback, {} cores",
        secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<44} {:>10} {:>9} {:>9}",
        "endpoint", "req/s", "p50 ms", "p99 ms"
    );
    let nxr = match nxr_load(&home) {
        Ok(l) => {
            row("nxr serve GET /agents/manage (median p99 run)", &l);
            Some(l)
        }
        Err(e) => {
            println!("nxr: {e}");
            None
        }
    };
    let hermes = match hermes_bin() {
        Some(h) => match hermes_load(&h) {
            Ok(l) => {
                row("hermes dashboard GET /api/model/auxiliary", &l);
                Some(l)
            }
            Err(e) => {
                println!("hermes dashboard: {e}");
                None
            }
        },
        None => {
            println!(
                "hermes: not found (set NXR_TEST_HERMES or run .ci/run); skipped the comparison"
            );
            None
        }
    };
    if let Some(n) = &nxr {
        let ok = n.requests_per_sec >= 2000.0 && n.p99_ms < 10.0;
        println!(
            "targets (>= 2000 req/s, p99 < 10 ms): {}",
            if ok { "met" } else { "NOT met" }
        );
        if let Some(h) = &hermes {
            println!(
                "ratio nxr/hermes: {:.1}x the throughput, p99 {:.1}x lower",
                n.requests_per_sec / h.requests_per_sec.max(1e-9),
                h.p99_ms / n.p99_ms.max(1e-9)
            );
        }
    }
}
