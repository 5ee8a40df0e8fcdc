//! The budget gate against a real Hermes kanban dispatcher: a gateway started by nxr
//! (`nxr hermes start`, dispatch every second, the worker wrapper as `HERMES_BIN`), a task
//! created with `hermes kanban create`, the gate closed by a real `free-models-per-day` 429.
//! nxr holds the task where a person sees it (`hermes kanban show`, `nxr budget`) with no
//! provider call; a key with credits opens the gate, nxr unblocks the task, and it runs to
//! completion against the fake OpenRouter.
//!
//! Needs `hermes` (`$NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`) and tmux.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::gateway::{GatewayWorld, until};
use support::openrouter::CHAT;
use support::tmux::DEADLINE;
use support::{FakeOpenRouter, Fault, Output, VALID_KEY, hermes_path, run};

/// A running `nxr daemon` (its budget tick holds and releases every second), killed on drop.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real `hermes` with the world's environment, against the fake OpenRouter.
fn hermes(w: &GatewayWorld, server: &FakeOpenRouter, args: &[&str]) -> Output {
    let mut cmd = Command::new(hermes_path());
    cmd.args(args);
    w.env.apply(&mut cmd);
    cmd.env("OPENROUTER_BASE_URL", server.base_url())
        .env("OPENROUTER_API_KEY", "sk-or-v1-fake")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("HERMES_INFERENCE_PROVIDER");
    run(cmd, Duration::from_secs(180))
}

/// `hermes kanban show ID --json` on the world's Hermes root.
fn show(w: &GatewayWorld, server: &FakeOpenRouter, id: &str) -> serde_json::Value {
    let out = hermes(w, server, &["kanban", "show", id, "--json"]);
    out.assert_ok();
    out.json()
}

fn status(task: &serde_json::Value) -> &str {
    task["task"]["status"].as_str().unwrap_or("")
}

#[test]
fn a_kanban_task_is_held_on_the_board_with_no_provider_call_while_the_gate_is_closed_and_runs_once_it_opens()
 {
    let server = FakeOpenRouter::start();
    let mut w = GatewayWorld::new(&[]);
    w.env.set("NXR_OPENROUTER_URL", &server.base_url());
    w.env
        .nxr(&["agents", "create", "--role", "pm", "--name", "pm"])
        .assert_ok();
    // The gateway (and the workers its dispatcher spawns) reach the fake through the
    // profile's own .env, as a person's install would reach OpenRouter.
    let dotenv = w.profile_dir("pm").join(".env");
    let mut text = std::fs::read_to_string(&dotenv).unwrap_or_default();
    text.push_str(&format!(
        "\nOPENROUTER_BASE_URL={}\nOPENROUTER_API_KEY=sk-or-v1-fake\n",
        server.base_url()
    ));
    std::fs::write(&dotenv, text).expect("profile .env");
    hermes(
        &w,
        &server,
        &[
            "-p",
            "pm",
            "config",
            "set",
            "kanban.dispatch_interval_seconds",
            "1",
        ],
    )
    .assert_ok();

    // The gate closes the real way: OpenRouter answers a free-models-per-day 429, which
    // the agent's nxr-ledger records.
    server.fail_times(
        CHAT,
        Fault::rate_limited("error-429-free-models-per-day.json"),
        1,
    );
    hermes(&w, &server, &["-p", "pm", "-z", "hi"]);
    let b = w.env.json(&["budget"]);
    assert_eq!(
        b["gate"]["open"], false,
        "a daily 429 closes the gate: {b:#}"
    );

    let daemon = Daemon(
        w.env
            .command(&["daemon"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nxr daemon"),
    );
    let started = w.env.json(&["hermes", "start", "pm"]);
    assert_eq!(started[0]["outcome"], "started", "{started}");
    let before = server.hits(CHAT);

    let created = hermes(
        &w,
        &server,
        &[
            "kanban",
            "create",
            "write the weekly report",
            "--assignee",
            "pm",
            "--json",
        ],
    );
    created.assert_ok();
    let id = created.json()["id"]
        .as_str()
        .expect("a task id")
        .to_string();

    // Held where a person looks: scheduled, with nxr's reason.
    let held = until("nxr holds the task on the board", DEADLINE * 2, || {
        let t = show(&w, &server, &id);
        (status(&t) == "scheduled").then_some(t)
    });
    let summary = held["latest_summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with("free-tier daily limit reached; nxr opens the gate at ")
            && summary.ends_with(" UTC"),
        "{held:#}"
    );
    let b = w.env.json(&["budget"]);
    let tasks = b["held_tasks"].as_array().expect("held_tasks");
    assert_eq!(tasks.len(), 1, "{b:#}");
    assert_eq!(tasks[0]["task_id"], id.as_str());
    assert_eq!(tasks[0]["reason"], summary);
    let text = w.env.nxr(&["budget"]);
    assert!(
        text.stdout.contains("held kanban tasks (1)") && text.stdout.contains(&id),
        "{text}"
    );

    // Several dispatch intervals pass: the task stays held and the provider is not called.
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(5) {
        assert_eq!(
            server.hits(CHAT),
            before,
            "no provider call while the gate is closed"
        );
        assert_eq!(status(&show(&w, &server, &id)), "scheduled");
    }

    // A key whose account has credits opens the gate; nxr unblocks its hold and the
    // dispatcher runs the task through the wrapper, to the fake and to completion.
    server.serve_credits(25.0, 1.0);
    w.env
        .nxr(&["config", "set", "openrouter-key", VALID_KEY])
        .assert_ok();
    let done = until("the released task runs to completion", DEADLINE * 6, || {
        let t = show(&w, &server, &id);
        (status(&t) == "done").then_some(t)
    });
    assert!(server.hits(CHAT) > before, "the task called the provider");
    let events: Vec<&str> = done["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        events.contains(&"scheduled") && events.contains(&"unblocked"),
        "{events:?}"
    );
    let b = w.env.json(&["budget"]);
    assert_eq!(b["gate"]["open"], true, "{b:#}");
    assert_eq!(b["held_tasks"], serde_json::json!([]), "{b:#}");
    assert_eq!(
        w.env.db_rows("SELECT task_id, outcome FROM kanban_holds"),
        vec![vec![id.clone(), "unblocked".to_string()]]
    );
    drop(daemon);
}
