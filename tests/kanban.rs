//! The budget gate against a real Hermes kanban dispatcher: a gateway started by nxr
//! (`nxr hermes start`, dispatch every second, the worker wrapper as `HERMES_BIN`), a task
//! created with `hermes kanban create`, the gate closed by a real `free-models-per-day` 429.
//! nxr holds the task where a person sees it (`hermes kanban show`, `nxr budget`) with no
//! provider call; a key with credits opens the gate, nxr unblocks the task, and it runs to
//! completion against the fake OpenRouter.
//!
//! Needs `hermes` (`$NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`) and tmux.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::gateway::GatewayWorld;
use support::openrouter::CHAT;
use support::tmux::DEADLINE;
use support::{Daemon, until};
use support::{FakeOpenRouter, Fault, Output, TestEnv, VALID_KEY, hermes_path, run, sorted};

/// The real `hermes` with the world's environment, against the fake OpenRouter.
fn hermes(env: &TestEnv, server: &FakeOpenRouter, args: &[&str]) -> Output {
    let mut cmd = Command::new(hermes_path());
    cmd.args(args);
    env.apply(&mut cmd);
    cmd.env("OPENROUTER_BASE_URL", server.base_url())
        .env("OPENROUTER_API_KEY", "sk-or-v1-fake")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("HERMES_INFERENCE_PROVIDER");
    run(cmd, Duration::from_secs(180))
}

/// `hermes kanban show ID --json` on the world's Hermes root.
fn show(env: &TestEnv, server: &FakeOpenRouter, id: &str) -> serde_json::Value {
    let out = hermes(env, server, &["kanban", "show", id, "--json"]);
    out.assert_ok();
    out.json()
}

/// `hermes kanban create TITLE --assignee pm`: the new task's id.
fn create(env: &TestEnv, server: &FakeOpenRouter, title: &str) -> String {
    let out = hermes(
        env,
        server,
        &["kanban", "create", title, "--assignee", "pm", "--json"],
    );
    out.assert_ok();
    out.json()["id"].as_str().expect("a task id").to_string()
}

/// How many events of `kind` a task has had.
fn events(task: &serde_json::Value, kind: &str) -> usize {
    task["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == kind)
        .count()
}

const NXR_REASON: &str = "free-tier daily limit reached; nxr opens the gate at ";

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
        &w.env,
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
    hermes(&w.env, &server, &["-p", "pm", "-z", "hi"]);
    let b = w.env.json(&["budget"]);
    assert_eq!(
        b["gate"]["open"], false,
        "a daily 429 closes the gate: {b:#}"
    );

    let daemon = Daemon::start(&w.env);
    let started = w.env.json(&["hermes", "start", "pm"]);
    assert_eq!(started[0]["outcome"], "started", "{started}");
    let before = server.hits(CHAT);

    let id = create(&w.env, &server, "write the weekly report");

    // Held where a person looks: scheduled, with nxr's reason.
    let held = until("nxr holds the task on the board", DEADLINE * 2, || {
        let t = show(&w.env, &server, &id);
        (status(&t) == "scheduled").then_some(t)
    });
    let summary = held["latest_summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with(NXR_REASON) && summary.ends_with(" UTC"),
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
        assert_eq!(status(&show(&w.env, &server, &id)), "scheduled");
    }

    // A key whose account has credits opens the gate; nxr unblocks its hold and the
    // dispatcher runs the task through the wrapper, to the fake and to completion.
    server.serve_credits(25.0, 1.0);
    w.env
        .nxr(&["config", "set", "openrouter-key", VALID_KEY])
        .assert_ok();
    let done = until("the released task runs to completion", DEADLINE * 6, || {
        let t = show(&w.env, &server, &id);
        (status(&t) == "done").then_some(t)
    });
    assert!(server.hits(CHAT) > before, "the task called the provider");
    assert!(
        events(&done, "scheduled") >= 1 && events(&done, "unblocked") == 1,
        "{done:#}"
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

#[test]
fn two_nxr_processes_hold_each_ready_task_once_and_release_only_the_tasks_nxr_held() {
    let server = FakeOpenRouter::start();
    let mut env = TestEnv::new().with_openrouter(&server);
    env.set("NXR_HERMES_BIN", &hermes_path().display().to_string());
    env.nxr(&["agents", "create", "--role", "pm", "--name", "pm"])
        .assert_ok();
    let ours = create(&env, &server, "write the weekly report");
    let theirs = create(&env, &server, "review the design");
    let taken = create(&env, &server, "plan the sprint");
    let person = "waiting for the design review on Friday";
    hermes(&env, &server, &["kanban", "schedule", &theirs, person]).assert_ok();

    // The daily limit is used up: 50 free-model requests this hour, no key.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    env.db_exec(&format!(
        "INSERT INTO usage_hourly (hour, agent, model, requests, errors, input_tokens, output_tokens, cost_usd)
         VALUES ({}, 'pm', 'openrouter/free', 50, 0, 0, 0, 0)",
        now - now % 3600
    ));
    assert_eq!(env.json(&["budget"])["gate"]["open"], false);

    let daemons = [Daemon::start(&env), Daemon::start(&env)];
    let held = until("nxr holds the ready tasks", DEADLINE * 2, || {
        let t = show(&env, &server, &ours);
        (status(&t) == "scheduled" && status(&show(&env, &server, &taken)) == "scheduled")
            .then_some(t)
    });
    assert!(
        held["latest_summary"]
            .as_str()
            .is_some_and(|s| s.starts_with(NXR_REASON)),
        "{held:#}"
    );
    // Both processes tick every second for a while: one hold, one `schedule`.
    std::thread::sleep(Duration::from_secs(4));
    let held = show(&env, &server, &ours);
    assert_eq!(events(&held, "scheduled"), 1, "{held:#}");
    assert_eq!(
        env.db_rows("SELECT task_id FROM kanban_holds WHERE released_at IS NULL ORDER BY task_id"),
        sorted([ours.clone(), taken.clone()])
            .into_iter()
            .map(|t| vec![t])
            .collect::<Vec<_>>(),
        "the task a person scheduled is not nxr's"
    );
    // A person takes one of nxr's holds over, with a reason of their own.
    let later = "after the planning meeting";
    hermes(&env, &server, &["kanban", "unblock", &taken]).assert_ok();
    hermes(&env, &server, &["kanban", "schedule", &taken, later]).assert_ok();

    // The gate opens (the day's count is gone): nxr unblocks its own hold, once, and
    // leaves the person's task as they scheduled it.
    env.db_exec("DELETE FROM usage_hourly");
    let released = until("nxr releases its hold", DEADLINE * 2, || {
        let t = show(&env, &server, &ours);
        (status(&t) == "ready").then_some(t)
    });
    // Both processes tick a few more times: still one `unblock`.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        events(&show(&env, &server, &ours), "unblocked"),
        1,
        "{released:#}"
    );
    let t = show(&env, &server, &theirs);
    assert_eq!(status(&t), "scheduled", "{t:#}");
    assert_eq!(t["latest_summary"], person);
    assert_eq!(events(&t, "unblocked"), 0);
    let t = show(&env, &server, &taken);
    assert_eq!(status(&t), "scheduled", "{t:#}");
    assert_eq!(t["latest_summary"], later);
    let mut outcomes = env.db_rows("SELECT task_id, outcome FROM kanban_holds");
    outcomes.sort();
    let mut want = vec![
        vec![ours.clone(), "unblocked".to_string()],
        vec![
            taken.clone(),
            "not held any more (scheduled): left as it is".to_string(),
        ],
    ];
    want.sort();
    assert_eq!(outcomes, want);
    assert_eq!(env.json(&["budget"])["held_tasks"], serde_json::json!([]));
    drop(daemons);
}
