//! Real usage: the real `hermes -p AGENT -z ...` talks to the fake OpenRouter (Hermes'
//! `OPENROUTER_BASE_URL`), leaves real rows in the profile's `state.db`, and `nxr budget`
//! counts exactly those calls per agent; failed calls reach the rate-limit log through the
//! nxr-ledger plugin.
//!
//! Needs the `hermes` CLI (`$NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`).

mod support;

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
