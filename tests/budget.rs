//! The free-tier budget end to end: real `hermes` calls against the fake OpenRouter cross
//! 70/90/100 % of a small daily limit (read from `/key`) and each threshold fires once; a
//! reader loop never makes Hermes see a locked database; the gate holds kanban work (the
//! worker wrapper exits 75 without calling the provider) and releases it when a key with
//! credits is stored.
//!
//! Needs the `hermes` CLI (`$NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`).

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::openrouter::CHAT;
use support::{
    FakeOpenRouter, Fault, Output, TestEnv, VALID_KEY, hermes_oneshot, hermes_path, run,
};

fn hermes_env(env: &TestEnv, server: &FakeOpenRouter, cmd: &mut Command) {
    env.apply(cmd);
    cmd.env("OPENROUTER_BASE_URL", server.base_url())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("HERMES_INFERENCE_PROVIDER");
}

/// `n` real calls, two at a time; every one must succeed without a locked database.
fn calls(env: &TestEnv, server: &FakeOpenRouter, n: usize) {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                s.spawn(move || {
                    // Two at a time on a two-core machine.
                    std::thread::sleep(Duration::from_millis(300 * (i as u64 / 2)));
                    hermes_oneshot(env, server, "pm", &format!("call {i}"))
                })
            })
            .collect();
        for h in handles {
            let out = h.join().expect("thread");
            assert!(out.ok(), "hermes failed: {out}");
            assert!(
                !format!("{}{}", out.stdout, out.stderr)
                    .to_lowercase()
                    .contains("locked"),
                "Hermes saw a locked database: {out}"
            );
        }
    });
}

fn notifications(env: &TestEnv, kind: &str) -> i64 {
    env.db_i64(&format!(
        "SELECT COUNT(*) FROM notifications WHERE kind = '{kind}'"
    ))
}

fn fired(env: &TestEnv) -> [i64; 3] {
    [
        notifications(env, "rate_limit_70"),
        notifications(env, "rate_limit_90"),
        notifications(env, "rate_limit_100"),
    ]
}

#[test]
fn thresholds_fire_once_each_as_real_calls_cross_them_and_a_reader_never_blocks_hermes() {
    let server = FakeOpenRouter::start();
    server.serve_key_body(
        r#"{"data":{"label":"sk-or-v1-nxr...000","limit":null,"usage":0,"is_free_tier":true,
            "free_model_daily_requests":{"used":0,"limit":10,"remaining":10}}}"#,
    );
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["agents", "create", "--role", "pm", "--name", "pm"])
        .assert_ok();
    env.nxr(&["config", "set", "openrouter-key", VALID_KEY])
        .assert_ok();
    let b = env.json(&["budget", "--check"]);
    assert_eq!(b["limit"], 10, "the limit comes from /key: {b:#}");
    assert_eq!(b["used"], 0);

    // A reader loop while Hermes writes: every read succeeds, counts never go back, and
    // the per-agent table always adds up to the total (no half-read hour).
    let stop = AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let out = env.nxr(&["budget", "--json"]);
                assert!(out.ok(), "nxr budget failed while Hermes wrote: {out}");
                let v = out.json();
                let per_agent: i64 = v["agents"]
                    .as_array()
                    .expect("agents")
                    .iter()
                    .map(|a| a["today_requests"].as_i64().unwrap_or(0))
                    .sum();
                assert_eq!(v["used"].as_i64(), Some(per_agent), "{v:#}");
                seen.push(per_agent);
            }
            seen
        });
        calls(&env, &server, 7);
        stop.store(true, Ordering::SeqCst);
        reader.join().expect("reader")
    });
    assert!(!seen.is_empty());
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");

    let b = env.json(&["budget"]);
    assert_eq!(b["used"], 7, "{b:#}");
    assert_eq!(fired(&env), [1, 0, 0], "70 % fired once");
    env.json(&["budget"]);
    assert_eq!(fired(&env), [1, 0, 0], "and not again");

    calls(&env, &server, 2);
    let b = env.json(&["budget"]);
    assert_eq!(b["used"], 9);
    assert_eq!(fired(&env), [1, 1, 0], "90 % fired once");
    assert_eq!(b["gate"]["open"], true);

    calls(&env, &server, 1);
    let b = env.json(&["budget"]);
    env.json(&["budget"]);
    assert_eq!(b["used"], 10);
    assert_eq!(fired(&env), [1, 1, 1], "100 % fired once");
    assert_eq!(b["outlook"], "reached");
    assert_eq!(b["gate"]["open"], false, "{b:#}");
    assert_eq!(server.hits(CHAT), 10);
}

/// The kanban dispatcher's worker command line, run through the wrapper.
fn worker(env: &TestEnv, server: &FakeOpenRouter, prompt: &str) -> Output {
    let wrapper = env.nxr_home.path().join("bin/nxr-hermes-worker");
    assert!(wrapper.exists(), "nxr installs the worker wrapper");
    let mut cmd = Command::new(&wrapper);
    cmd.args(["-p", "pm", "--cli", "--accept-hooks", "chat", "-q", prompt]);
    hermes_env(env, server, &mut cmd);
    cmd.env("NXR_HERMES_BIN", hermes_path());
    run(cmd, Duration::from_secs(180))
}

#[test]
fn the_gate_holds_work_without_calling_the_provider_then_releases_it_when_a_key_with_credits_is_stored()
 {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["agents", "create", "--role", "pm", "--name", "pm"])
        .assert_ok();
    server.fail_times(
        CHAT,
        Fault::rate_limited("error-429-free-models-per-day.json"),
        1,
    );
    // Hermes reports the failure in its reply; the ledger records the 429.
    hermes_oneshot(&env, &server, "pm", "hi");
    assert_eq!(server.hits(CHAT), 1);
    let b = env.json(&["budget"]);
    assert_eq!(
        b["gate"]["open"], false,
        "a daily 429 closes the gate: {b:#}"
    );
    let text = env.nxr(&["budget"]);
    assert!(text.stdout.contains("gate: CLOSED"), "{text}");

    let before = server.hits(CHAT);
    let held = worker(&env, &server, "write the report");
    assert_eq!(held.code, Some(75), "held, not failed: {held}");
    assert!(held.stderr.contains("work held"), "{held}");
    assert_eq!(server.hits(CHAT), before, "no provider call while held");

    // A key whose account has credits opens it.
    server.serve_credits(25.0, 1.0);
    env.nxr(&["config", "set", "openrouter-key", VALID_KEY])
        .assert_ok();
    let b = env.json(&["budget"]);
    assert_eq!(b["gate"]["open"], true, "{b:#}");
    let ran = worker(&env, &server, "write the report");
    assert!(ran.ok(), "the released task runs: {ran}");
    assert_eq!(server.hits(CHAT), before + 1);
}

#[test]
fn an_agent_at_its_dollar_cap_is_held_by_the_wrapper_and_the_others_run() {
    let env = TestEnv::new();
    for (role, name) in [("pm", "pm"), ("engineer", "eng")] {
        env.nxr(&["agents", "create", "--role", role, "--name", name])
            .assert_ok();
    }
    env.nxr(&["budget", "--cap", "pm=nope"]).assert_code(2);
    env.nxr(&["budget", "--cap", "pm=-1"]).assert_code(2);
    env.nxr(&["budget", "--cap", "ghost=1"]).assert_code(2);
    env.nxr(&["budget", "--cap", "pm=0.50", "--cap", "eng=5"])
        .assert_ok();
    let hour = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        now - now % 3600
    };
    env.db_exec(&format!(
        "INSERT INTO usage_hourly (hour, agent, model, requests, errors, input_tokens, output_tokens, cost_usd)
         VALUES ({hour}, 'pm', 'anthropic/claude-sonnet-4.6', 3, 0, 9000, 900, 0.61),
                ({hour}, 'eng', 'anthropic/claude-sonnet-4.6', 3, 0, 9000, 900, 0.61)"
    ));
    let b = env.json(&["budget"]);
    assert_eq!(
        b["gate"]["open"], true,
        "the account's gate stays open: {b:#}"
    );
    let held: Vec<&str> = b["gate"]["held"]
        .as_array()
        .expect("held")
        .iter()
        .map(|h| h["profile"].as_str().expect("profile"))
        .collect();
    assert_eq!(held, ["pm"], "{b:#}");

    // The wrapper: pm is held before any call; eng runs (a stub stands in for hermes).
    let bin = tempfile::tempdir().expect("tmp");
    let ran = bin.path().join("ran");
    let fake = support::profiles::stub(
        bin.path(),
        "hermes",
        &format!("echo \"$@\" >> {}", ran.display()),
    );
    let wrapper = env.nxr_home.path().join("bin/nxr-hermes-worker");
    let worker = |profile: &str| {
        let mut cmd = Command::new(&wrapper);
        cmd.args(["-p", profile, "--cli", "chat", "-q", "work"]);
        env.apply(&mut cmd);
        cmd.env("NXR_HERMES_BIN", &fake);
        run(cmd, Duration::from_secs(30))
    };
    let out = worker("pm");
    assert_eq!(out.code, Some(75), "{out}");
    assert!(out.stderr.contains("cap"), "{out}");
    assert!(!ran.exists(), "hermes never ran for the held agent");
    worker("eng").assert_ok();
    assert_eq!(
        std::fs::read_to_string(&ran).expect("ran").trim(),
        "-p eng --cli chat -q work -Q",
        "the real hermes gets the same arguments with -Q"
    );
    env.nxr(&["budget", "--cap", "pm=off"]).assert_ok();
    assert_eq!(env.json(&["budget"])["gate"]["held"], serde_json::json!([]));
}
