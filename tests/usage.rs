//! Real usage: the real `hermes -p AGENT -z ...` talks to the fake OpenRouter (Hermes'
//! `OPENROUTER_BASE_URL`), leaves real rows in the profile's `state.db`, and `nxr budget`
//! counts exactly those calls per agent; failed calls reach the rate-limit log through the
//! nxr-ledger plugin.
//!
//! Needs the `hermes` CLI (`$NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`).

mod support;
mod web_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::openrouter::CHAT;
use support::{FakeOpenRouter, Output, TestEnv, hermes_path, run};

/// `hermes -p AGENT -z PROMPT` pointed at the fake OpenRouter.
fn hermes_oneshot(env: &TestEnv, server: &FakeOpenRouter, agent: &str, prompt: &str) -> Output {
    let mut cmd = Command::new(hermes_path());
    cmd.args(["-p", agent, "-z", prompt]);
    env.apply(&mut cmd);
    cmd.env("OPENROUTER_BASE_URL", server.base_url())
        .env("OPENROUTER_API_KEY", "sk-or-v1-fake")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("HERMES_INFERENCE_PROVIDER");
    run(cmd, Duration::from_secs(120))
}

fn create(env: &TestEnv, role: &str, name: &str) {
    env.nxr(&["agents", "create", "--role", role, "--name", name])
        .assert_ok();
}

/// Assistant messages in a profile's state.db, read directly.
fn assistant_rows(profile: &Path) -> i64 {
    support::db_i64(
        &profile.join("state.db"),
        "SELECT COUNT(*) FROM messages WHERE role = 'assistant'",
    )
}

fn agent<'a>(budget: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    budget["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["agent"] == name))
        .unwrap_or_else(|| panic!("no agent {name} in {budget:#}"))
}

#[test]
fn nxr_budget_counts_exactly_the_calls_real_hermes_made_per_agent() {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    create(&env, "pm", "pm");
    create(&env, "engineer", "eng");

    for (agent, prompt) in [("pm", "say hi"), ("pm", "say hi again"), ("eng", "hello")] {
        let out = hermes_oneshot(&env, &server, agent, prompt);
        assert!(out.ok(), "hermes -z failed: {}\n{}", out.stdout, out.stderr);
    }
    let pm_rows = assistant_rows(&env.profile_dir("pm"));
    let eng_rows = assistant_rows(&env.profile_dir("eng"));
    assert_eq!((pm_rows, eng_rows), (2, 1), "one assistant row per call");

    let b = env.json(&["budget"]);
    assert_eq!(agent(&b, "pm")["today_requests"], pm_rows);
    assert_eq!(agent(&b, "eng")["today_requests"], eng_rows);
    assert_eq!(b["used"], pm_rows + eng_rows, "{b:#}");
    assert_eq!(
        server.hits(CHAT) as i64,
        pm_rows + eng_rows,
        "every call nxr counts reached the provider once"
    );
    assert!(agent(&b, "pm")["last_call"].is_string());

    // Read again: nothing is counted twice (high-water marks).
    let again = env.json(&["budget"]);
    assert_eq!(again["used"], b["used"]);
    assert_eq!(
        env.db_i64("SELECT SUM(requests) FROM usage_hourly"),
        pm_rows + eng_rows
    );
}

#[test]
fn a_free_models_per_day_429_reaches_the_rate_limit_log_with_its_reset_time_and_closes_the_gate() {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    create(&env, "pm", "pm");
    let dir = env.profile_dir("pm");
    assert!(dir.join("plugins/nxr-ledger/__init__.py").is_file());
    assert_eq!(
        support::hermes_config_get(&env, "pm", "agent.api_max_retries"),
        "1",
        "an agent on a daily cap makes one attempt per call"
    );

    let reset_ms: u128 = 1_893_456_000_000; // 2030-01-01T00:00:00Z
    server.fail(
        CHAT,
        support::Fault::rate_limited_until("error-429-free-models-per-day.json", reset_ms),
    );
    let out = hermes_oneshot(&env, &server, "pm", "say hi");
    let attempts = server.hits(CHAT) as i64;
    assert!(attempts >= 1, "{out}");
    assert_eq!(assistant_rows(&dir), 0, "state.db records no failed call");

    let b = env.json(&["budget"]);
    let log = b["rate_limits"].as_array().expect("log");
    let ledger = std::fs::read_to_string(dir.join("nxr-ledger.jsonl")).unwrap_or_default();
    let answered: Vec<&serde_json::Value> = log.iter().filter(|e| e["status"] == 429).collect();
    assert_eq!(
        answered.len() as i64,
        attempts,
        "one entry per attempt OpenRouter answered: {b:#}\n{ledger}"
    );
    let e = answered[0];
    assert_eq!(e["agent"], "pm");
    assert_eq!(e["status"], 429);
    assert_eq!(e["limit_kind"], "free-models-per-day");
    assert_eq!(e["reset_at"], "2030-01-01T00:00:00.000000Z");
    assert_eq!(
        b["used"], attempts,
        "failed attempts count against the quota"
    );
    assert_eq!(b["gate"]["open"], false, "{b:#}");
    assert!(
        b["gate"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("free-models-per-day")),
        "{b:#}"
    );

    let csv = env.nxr(&["budget", "--csv", "rate-limits"]);
    csv.assert_ok();
    assert!(csv.stdout.starts_with("at,agent,model,status,"), "{csv}");
    assert!(csv.stdout.contains(",pm,"), "{csv}");
    env.nxr(&["budget", "--csv", "nope"]).assert_code(2);
}

#[test]
fn the_web_serves_the_same_csv_as_the_cli_and_404_for_an_unknown_table() {
    let env = TestEnv::new();
    env.nxr(&["agents", "list"]).assert_ok();
    env.db_exec(
        "INSERT INTO rate_limit_events (agent, at, model, status, reason, limit_kind, retry_count, reset_at, message)
         VALUES ('pm', 1796212800000, 'a/b:free', 429, 'rate_limit', 'free-models-per-min', 0, 1796212860000,
                 'Rate limit exceeded: free-models-per-min, \"again\"')",
    );
    let cli = env.nxr(&["budget", "--csv", "rate-limits"]);
    cli.assert_ok();
    assert_eq!(cli.stdout.lines().count(), 2, "{cli}");
    let server = web_common::Server::start(&env);
    let r = server.get("/budget/rate-limits.csv");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/csv")),
        "{:?}",
        r.headers
    );
    assert_eq!(r.text(), cli.stdout);
    assert!(
        r.text()
            .contains(r#""Rate limit exceeded: free-models-per-min, ""again""""#)
    );
    assert_eq!(server.get("/budget/nope.csv").status, 404);
}

#[test]
fn several_nxr_processes_reading_at_once_count_each_call_once() {
    let env = TestEnv::new();
    create(&env, "pm", "pm");
    // A Hermes-shaped state.db (the columns nxr reads) with 300 calls and an auxiliary task.
    let state = env.profile_dir("pm").join("state.db");
    std::fs::File::create(&state).expect("create");
    let mut sql = String::from(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, source TEXT NOT NULL, model TEXT, started_at REAL NOT NULL);
         CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
             role TEXT NOT NULL, content TEXT, timestamp REAL NOT NULL);
         CREATE TABLE session_model_usage (session_id TEXT NOT NULL, model TEXT NOT NULL,
             billing_provider TEXT NOT NULL DEFAULT '', billing_base_url TEXT NOT NULL DEFAULT '',
             billing_mode TEXT NOT NULL DEFAULT '', task TEXT NOT NULL DEFAULT '',
             api_call_count INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0,
             output_tokens INTEGER NOT NULL DEFAULT 0, estimated_cost_usd REAL NOT NULL DEFAULT 0,
             actual_cost_usd REAL NOT NULL DEFAULT 0, first_seen REAL, last_seen REAL,
             PRIMARY KEY (session_id, model, billing_provider, billing_base_url, billing_mode, task));
         INSERT INTO sessions VALUES ('s1', 'cli', 'a/b:free', 0);\n",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    for i in 0..300 {
        sql.push_str(&format!(
            "INSERT INTO messages (session_id, role, content, timestamp) VALUES ('s1', 'user', 'q', {t});
             INSERT INTO messages (session_id, role, content, timestamp) VALUES ('s1', 'assistant', 'a', {t});\n",
            t = now - 600.0 + i as f64
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO session_model_usage (session_id, model, task, api_call_count, input_tokens, output_tokens, estimated_cost_usd, first_seen, last_seen)
         VALUES ('s1', 'a/b:free', 'title_generation', 4, 400, 40, 0, {now}, {now});"
    ));
    support::db_exec(&state, &sql);

    let children: Vec<_> = (0..4)
        .map(|_| {
            env.command(&["budget", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for c in children {
        let out = support::wait(c, Duration::from_secs(90)).expect("in time");
        assert!(out.ok(), "{out}");
    }
    assert_eq!(env.db_i64("SELECT SUM(requests) FROM usage_hourly"), 304);
    let b = env.json(&["budget"]);
    assert_eq!(b["used"], 304, "{b:#}");

    // Hermes adds to the auxiliary row: only the delta is new.
    support::db_exec(
        &state,
        &format!(
            "UPDATE session_model_usage SET api_call_count = 6, last_seen = {} WHERE task = 'title_generation'",
            now + 1.0
        ),
    );
    assert_eq!(env.json(&["budget"])["used"], 306);
}
