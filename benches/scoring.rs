//! Scoring speed: the bundled catalog, the 2026-06-16 catalog (with `benchmarks`) and a
//! synthetic 100,000-model catalog (60 % with benchmarks), all six roles.
//!
//! `cargo bench --bench scoring`. Targets: the real catalog under 1 ms, 100k under 100 ms
//! (for all six roles, from `Scorer::new` to the answer). After criterion's report, a short
//! plain timing of the same work prints each figure against its target.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use nxr::core::catalog::Catalog;
use nxr::core::scoring::{Role, Scorer};

const OLLAMA: &str = "qwen3:8b";

/// The best free pick for every role: what `agents create` and onboarding need.
fn best_per_role(catalog: &Catalog) -> usize {
    let scorer = Scorer::new(catalog);
    Role::ALL
        .iter()
        .map(|&r| scorer.best_free(r, OLLAMA).model.len())
        .sum()
}

/// Every model ranked for every role, each with its total and place: what `models rescore`
/// writes (it computes each row's breakdown as it writes the row).
fn full_ranking_per_role(catalog: &Catalog) -> usize {
    let scorer = Scorer::new(catalog);
    scorer
        .rank_all()
        .iter()
        .map(|(_, ranked)| ranked.first().map_or(0, |s| s.index as usize))
        .sum()
}

/// The same with every model's whole breakdown (sub-scores, evidence) held in memory for
/// every role: `Scorer::rank` per role, what the roster and the picker read.
fn full_breakdowns_per_role(catalog: &Catalog) -> usize {
    let scorer = Scorer::new(catalog);
    Role::ALL
        .iter()
        .map(|&r| scorer.rank(r).first().map_or(0, |s| s.index as usize))
        .sum()
}

/// A deterministic generator (xorshift64*), so every run scores the same catalog.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// `n` models shaped like OpenRouter's: varied providers, families, sizes, contexts, prices,
/// parameters, modalities, previews and expiry dates, free and paid. Parsed by the same
/// parser a scan uses.
fn synthetic_catalog(n: usize) -> Catalog {
    let providers = [
        "openai",
        "anthropic",
        "google",
        "meta-llama",
        "mistralai",
        "qwen",
        "deepseek",
        "nvidia",
        "nousresearch",
        "cohere",
        "x-ai",
        "z-ai",
        "moonshotai",
        "minimax",
        "arcee-ai",
        "venice",
    ];
    let families = [
        "llama-4",
        "qwen3",
        "qwen3-coder",
        "gemma-3",
        "mistral-small",
        "devstral",
        "deepseek-r1",
        "nemotron",
        "hermes-4",
        "command-r",
        "grok",
        "glm-4.6",
        "kimi-k2",
        "gpt-oss",
        "trinity",
        "phi-4",
    ];
    let sizes = [
        "1b", "3b", "7b", "8b", "12b", "14b", "27b", "32b", "70b", "120b", "235b", "405b", "480b",
        "1t", "",
    ];
    let variants = [
        "instruct",
        "chat",
        "thinking",
        "preview",
        "exp",
        "",
        "turbo",
        "deep-research",
        "creative",
        "pro",
    ];
    let contexts = [
        4_096u64, 8_192, 16_384, 32_768, 65_536, 128_000, 131_072, 200_000, 262_144, 1_000_000,
        2_000_000,
    ];
    let outputs = [
        None,
        Some(4_096u64),
        Some(8_192),
        Some(16_384),
        Some(32_768),
        Some(65_536),
        Some(131_072),
    ];
    let params = [
        "tools",
        "tool_choice",
        "structured_outputs",
        "response_format",
        "reasoning",
        "include_reasoning",
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "seed",
        "frequency_penalty",
    ];
    let mut rng = Rng(0x6e78_725f_6265_6e63);
    let newest = 1_777_600_000i64;
    let mut models = Vec::with_capacity(n);
    for i in 0..n {
        let provider = rng.pick(&providers);
        let family = rng.pick(&families);
        let size = rng.pick(&sizes);
        let variant = rng.pick(&variants);
        let free = rng.chance(12);
        let mut slug = family.to_string();
        for part in [*size, *variant] {
            if !part.is_empty() {
                slug.push('-');
                slug.push_str(part);
            }
        }
        slug.push_str(&format!("-{i:06}"));
        let id = format!("{provider}/{slug}{}", if free { ":free" } else { "" });
        let context = *rng.pick(&contexts);
        let supported: Vec<&str> = params.iter().copied().filter(|_| rng.chance(55)).collect();
        let image = rng.chance(30);
        let (prompt, completion) = if free {
            ("0".to_string(), "0".to_string())
        } else {
            let p = (1 + rng.below(20_000)) as f64 * 1e-9;
            (format!("{p:.10}"), format!("{:.10}", p * 4.0))
        };
        models.push(serde_json::json!({
            "id": id,
            "canonical_slug": format!("{provider}/{slug}"),
            "name": format!("{provider}: {} {} {}", family, size.to_uppercase(), variant),
            "created": newest - rng.below(900 * 86_400) as i64,
            "description": format!("A synthetic {family} model for benchmarks, number {i}."),
            "context_length": context,
            "architecture": {
                "modality": if image { "text+image->text" } else { "text->text" },
                "input_modalities": if image { vec!["text", "image"] } else { vec!["text"] },
                "output_modalities": ["text"],
                "tokenizer": "Other",
                "instruct_type": null
            },
            "pricing": {"prompt": prompt, "completion": completion},
            "top_provider": {
                "context_length": context,
                "max_completion_tokens": *rng.pick(&outputs),
                "is_moderated": rng.chance(20)
            },
            "supported_parameters": supported,
            "expiration_date": if rng.chance(3) { Some("2026-12-31") } else { None },
            // Like the 2026-06 catalog: about 60 % carry benchmarks, some indexes null.
            "benchmarks": if rng.chance(60) {
                let index = |r: &mut Rng| (!r.chance(25)).then(|| r.below(800) as f64 / 10.0);
                serde_json::json!({
                    "artificial_analysis": {
                        "intelligence_index": index(&mut rng),
                        "coding_index": index(&mut rng),
                        "agentic_index": index(&mut rng),
                    },
                    "design_arena": if rng.chance(30) {
                        vec![serde_json::json!({
                            "arena": "models",
                            "category": *rng.pick(&["svg", "3d", "website", "logo"]),
                            "elo": 900 + rng.below(500),
                            "win_rate": 50.0,
                            "rank": 1 + rng.below(80),
                        })]
                    } else {
                        Vec::new()
                    },
                })
            } else {
                serde_json::Value::Null
            },
        }));
    }
    let body = serde_json::json!({ "data": models }).to_string();
    Catalog::parse(&body, "synthetic", "2026-05-01T00:00:00.000000Z").expect("synthetic catalog")
}

/// The recorded catalog of 2026-06-16: 337 models, 208 of them with `benchmarks`.
fn june_catalog() -> Catalog {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/openrouter/models-2026-06-16.json"
    );
    let body = std::fs::read_to_string(path).expect("the 2026-06-16 fixture");
    Catalog::parse(&body, "2026-06-16", "2026-06-16T00:00:00.000000Z").expect("parses")
}

fn bench(c: &mut Criterion) {
    let bundled = Catalog::bundled();
    assert!(bundled.models.len() > 300, "the bundled catalog loads");
    let mut g = c.benchmark_group("bundled catalog");
    g.throughput(Throughput::Elements(bundled.models.len() as u64 * 6));
    g.bench_function(
        BenchmarkId::new("best pick per role", bundled.models.len()),
        |b| b.iter(|| best_per_role(black_box(&bundled))),
    );
    g.bench_function(
        BenchmarkId::new("full ranking per role", bundled.models.len()),
        |b| b.iter(|| full_ranking_per_role(black_box(&bundled))),
    );
    g.finish();

    let big = synthetic_catalog(100_000);
    let mut g = c.benchmark_group("synthetic catalog");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(big.models.len() as u64 * 6));
    g.bench_function(
        BenchmarkId::new("best pick per role", big.models.len()),
        |b| b.iter(|| best_per_role(black_box(&big))),
    );
    g.bench_function(
        BenchmarkId::new("full ranking per role", big.models.len()),
        |b| b.iter(|| full_ranking_per_role(black_box(&big))),
    );
    g.bench_function(
        BenchmarkId::new("every breakdown per role", big.models.len()),
        |b| b.iter(|| full_breakdowns_per_role(black_box(&big))),
    );
    g.finish();
}

/// Median of `runs` timings of `f`, and the mean processor time per run (every thread).
fn median(runs: usize, mut f: impl FnMut() -> usize) -> (Duration, Duration) {
    let cpu = cpu_time();
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            black_box(f());
            s.elapsed()
        })
        .collect();
    let cpu = cpu_time().saturating_sub(cpu) / runs as u32;
    t.sort();
    (t[t.len() / 2], cpu)
}

/// This process's user and system time so far, every thread counted (`/proc/self/stat`,
/// in clock ticks of 10 ms). On a shared machine the wall time includes waiting for a core;
/// the processor time is what the work itself costs, and bounds its wall time on an idle
/// machine (some thread of the work is always running).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn report_targets() {
    let bundled = Catalog::bundled();
    let june = june_catalog();
    let big = synthetic_catalog(100_000);
    println!(
        "\ntargets (median wall time and mean processor time of plain runs, all six roles, from Scorer::new; load average {}):",
        load_average()
    );
    let rows: [(&str, (Duration, Duration), Duration); 8] = [
        (
            "2026-06-16 (benchmarks), best pick",
            median(200, || best_per_role(&june)),
            Duration::from_millis(1),
        ),
        (
            "2026-06-16 (benchmarks), full rank",
            median(200, || full_ranking_per_role(&june)),
            Duration::from_millis(1),
        ),
        (
            "bundled, best pick per role",
            median(200, || best_per_role(&bundled)),
            Duration::from_millis(1),
        ),
        (
            "bundled, full ranking per role",
            median(200, || full_ranking_per_role(&bundled)),
            Duration::from_millis(1),
        ),
        (
            "100k, best pick per role",
            median(9, || best_per_role(&big)),
            Duration::from_millis(100),
        ),
        (
            "100k, full ranking per role",
            median(9, || full_ranking_per_role(&big)),
            Duration::from_millis(100),
        ),
        (
            "bundled, every breakdown per role",
            median(200, || full_breakdowns_per_role(&bundled)),
            Duration::from_millis(1),
        ),
        (
            "100k, every breakdown per role",
            median(9, || full_breakdowns_per_role(&big)),
            Duration::from_millis(100),
        ),
    ];
    for (what, (took, cpu), target) in rows {
        println!(
            "  {what:<36} {:>10.3} ms wall {:>8.1} ms cpu  target < {:>5} ms  {}",
            took.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e3,
            target.as_millis(),
            if took < target { "ok" } else { "MISSED" }
        );
    }
    println!("  (load average after: {})", load_average());
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    // `cargo bench` passes --bench; `cargo test --benches` runs each benchmark once only.
    if std::env::args().any(|a| a == "--bench") {
        report_targets();
    }
}
