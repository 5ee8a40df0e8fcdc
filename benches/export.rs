//! `nxr export` with 100 agents: every page rendered read-only from a fresh session and
//! written as a folder (temporary folder, fsync, rename), in process, timed end to end.
//! Target: under 100 ms per export on a 2-core machine.
//!
//! `cargo bench --bench export`. `NXR_BENCH_RUNS` sets the number of exports (default 30).

mod common;

use std::time::{Duration, Instant};

use nxr::core::action::{self, Op};
use nxr::core::scoring::Role;

use common::Home;

const AGENTS: usize = 100;

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs us too: only run when asked.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: usize = std::env::var("NXR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let home = Home::new();
    let out = tempfile::tempdir().expect("tmp");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let core = home.core().await;
        for i in 0..AGENTS {
            action::apply(
                &core,
                Op::CreateAgent {
                    name: format!("agent-{i:03}"),
                    role: Some(Role::ALL[i % Role::ALL.len()]),
                    category: None,
                    skills: None,
                    model: None,
                },
            )
            .await
            .expect("create agent");
        }
        let dir = out.path().join("site");
        let mut render = Vec::with_capacity(runs);
        let mut total = Vec::with_capacity(runs);
        let mut bytes = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let files = nxr::webmirror::export::render(&core).await.expect("render");
            render.push(t.elapsed());
            bytes = files.iter().map(|f| f.contents.len()).sum::<usize>();
            let t = Instant::now();
            nxr::webmirror::export::write(&core, &dir)
                .await
                .expect("export");
            total.push(t.elapsed());
        }
        let (mean, p95) = stats(&mut total);
        let (render_mean, _) = stats(&mut render);
        println!(
            "export of {AGENTS} agents ({} pages, {} KB), {runs} runs: mean {mean:.1} ms, p95 {p95:.1} ms (render alone {render_mean:.1} ms)",
            nxr::core::view::Tab::ALL.len() + 1,
            bytes / 1024
        );
        println!(
            "target (< 100 ms): {}",
            if p95 < 100.0 { "met" } else { "NOT met" }
        );
    });
}

/// Mean and 95th percentile in milliseconds.
fn stats(v: &mut [Duration]) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len().max(1) as f64;
    let p95 = v
        .get((v.len() * 95 / 100).min(v.len().saturating_sub(1)))
        .map(|d| ms(*d))
        .unwrap_or(0.0);
    (mean, p95)
}
