//! The scanner as a person meets it: `nxr daemon` scans on a schedule against a fake
//! OpenRouter serving the recorded catalogs, advice appears once, applies through the same
//! write as a model switch (the real `hermes` reads it), is withdrawn when a later catalog
//! makes it false, and failures keep the last good catalog with one `scan_failed`.

mod support;

use std::time::Duration;

use support::openrouter::{FakeOpenRouter, Fault, MODELS};
use support::{Daemon, TestEnv, fixture_path, until};

const NEW_RESEARCH_PICK: &str = "qwen/qwen3.6-plus-preview:free";

fn from(name: &str) -> String {
    fixture_path(name).display().to_string()
}

fn count(env: &TestEnv, sql: &str) -> i64 {
    env.db_i64(sql)
}

fn better(env: &TestEnv) -> Vec<Vec<String>> {
    env.db_rows(
        "SELECT id, json_extract(payload, '$.agent'), json_extract(payload, '$.new_model'),
                json_extract(payload, '$.score_delta'), state
         FROM notifications WHERE kind = 'better_model' ORDER BY id",
    )
}

/// Ok scans as seen in the `scans` table, with their start times in unix ms.
fn ok_scan_times(env: &TestEnv) -> Vec<i64> {
    env.db_rows(
        "SELECT CAST((julianday(started_at) - 2440587.5) * 86400000 AS INTEGER) FROM scans
         WHERE status = 'ok' AND source LIKE 'http%' ORDER BY id",
    )
    .into_iter()
    .map(|r| r[0].parse().expect("ms"))
    .collect()
}

#[test]
fn the_scheduled_scan_of_the_next_catalog_advises_a_research_agent_once_and_apply_moves_what_hermes_reads()
 {
    let or = FakeOpenRouter::start();
    let mut env = TestEnv::new().with_openrouter(&or);
    env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
    let old = support::hermes_config_get(&env, "scout", "model.default");
    assert_ne!(old, NEW_RESEARCH_PICK);
    or.serve_models("models-2026-03-31.json");
    env.set("NXR_SCAN_INTERVAL", "2");

    let daemon = Daemon::start(&env);
    let rows = until(
        "the scheduled scan's advice",
        Duration::from_secs(60),
        || {
            let b = better(&env);
            (!b.is_empty()).then_some(b)
        },
    );
    // Several more scheduled scans of the same catalog repeat nothing.
    until("two more scans", Duration::from_secs(60), || {
        (or.hits(MODELS) >= 3).then_some(())
    });
    drop(daemon);
    let rows_after = better(&env);
    assert_eq!(
        rows_after, rows,
        "the same advice came back scan after scan"
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let [id, agent, new, delta, state] = &rows[0][..] else {
        panic!("{rows:?}")
    };
    assert_eq!(agent, "scout");
    assert_eq!(new, NEW_RESEARCH_PICK);
    assert!(delta.parse::<f64>().expect("a delta") > 0.0, "{delta}");
    assert_eq!(state, "active");
    let listed = env.json(&["notifications", "--unread", "--type", "better_model"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed:#}");
    assert!(
        listed[0]["body"]
            .as_str()
            .unwrap_or_default()
            .contains(NEW_RESEARCH_PICK),
        "{listed:#}"
    );
    assert_eq!(listed[0]["actionable"], true);

    let applied = env.json(&["notifications", "apply", id]);
    assert_eq!(applied["notification"]["state"], "applied", "{applied:#}");
    assert_eq!(
        support::hermes_config_get(&env, "scout", "model.default"),
        NEW_RESEARCH_PICK
    );
    // The switch is in the history like any other, so revert has something to go back to.
    assert_eq!(
        env.db_rows(
            "SELECT h.model FROM agent_model_history h JOIN agents a ON a.id = h.agent_id
             WHERE a.name = 'scout' ORDER BY h.id"
        ),
        vec![vec![old], vec![NEW_RESEARCH_PICK.to_string()]]
    );
    // Applied advice is not applied twice, and is not unread.
    let again = env.nxr(&["notifications", "apply", id]);
    again.assert_code(2);
    assert!(again.stderr.contains("already applied"), "{again}");
    assert_eq!(
        env.json(&["notifications", "--unread"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

#[test]
fn scanning_the_first_catalog_back_needs_force_and_then_withdraws_the_advice() {
    let env = TestEnv::new();
    env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
    env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);
    assert_eq!(better(&env).len(), 1);
    let id = better(&env)[0][0].clone();
    let snapshots = count(&env, "SELECT COUNT(*) FROM catalog_snapshots");
    let config = support::profiles::config_text(&env, "scout");

    let refused = env.nxr(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    refused.assert_code(2);
    assert!(
        refused.stderr.contains("older than the catalog in use"),
        "{refused}"
    );
    assert!(refused.stderr.contains("--force"), "{refused}");
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM catalog_snapshots"),
        snapshots,
        "a refused catalog was stored"
    );
    assert_eq!(better(&env)[0][4], "active");

    env.json(&[
        "models",
        "scan",
        "--from",
        &from("models-2026-03-30.json"),
        "--force",
    ]);
    let rows = better(&env);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][4], "obsolete", "{rows:?}");
    let list = env.json(&["notifications"]);
    assert_eq!(list[0]["state"], "obsolete");
    assert_eq!(list[0]["actionable"], false);
    assert_eq!(
        env.json(&["notifications", "--unread"])
            .as_array()
            .map(Vec::len),
        Some(0),
        "withdrawn advice counts as unread"
    );
    let apply = env.nxr(&["notifications", "apply", &id]);
    apply.assert_code(2);
    assert!(apply.stderr.contains("withdrawn"), "{apply}");
    assert_eq!(support::profiles::config_text(&env, "scout"), config);

    // The newer catalog again: the advice is true again, and comes back once.
    env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);
    let rows = better(&env);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][4], "active");
}

#[test]
fn with_auto_upgrade_on_the_scan_moves_an_agent_nxr_placed_and_only_reports_one_set_by_hand() {
    let env = TestEnv::new();
    env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
    let old = support::hermes_config_get(&env, "scout", "model.default");
    // The same model, chosen by a person: nxr must not move it.
    env.json(&[
        "agents", "create", "--role", "research", "--name", "picked", "--model", &old,
    ]);
    let set = env.json(&["config", "set", "auto-upgrade-free-models", "true"]);
    assert_eq!(set["auto_upgrade_free_models"], true);
    assert_eq!(
        env.json(&["config", "get", "auto-upgrade-free-models"])["auto_upgrade_free_models"],
        true
    );

    env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);
    assert_eq!(
        support::hermes_config_get(&env, "scout", "model.default"),
        NEW_RESEARCH_PICK
    );
    assert_eq!(
        support::hermes_config_get(&env, "picked", "model.default"),
        old
    );
    let moved = env.db_rows(
        "SELECT json_extract(payload, '$.agent'), json_extract(payload, '$.new_model')
         FROM notifications WHERE kind = 'auto_upgrade'",
    );
    assert_eq!(
        moved,
        vec![vec!["scout".to_string(), NEW_RESEARCH_PICK.to_string()]]
    );
    let advice = better(&env);
    assert_eq!(advice.len(), 1, "{advice:?}");
    assert_eq!(advice[0][1], "picked");
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM agent_model_history h JOIN agents a ON a.id = h.agent_id
             WHERE a.name = 'scout'"
        ),
        2
    );
    // Another scan of the same catalog moves nothing more.
    env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM notifications WHERE kind = 'auto_upgrade'"
        ),
        1
    );
}

#[test]
fn an_assigned_model_that_vanishes_is_urgent_names_a_replacement_and_auto_upgrade_moves_it() {
    let env = TestEnv::new();
    env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);
    env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
    let current = support::hermes_config_get(&env, "scout", "model.default");
    let vision = support::hermes_config_get(&env, "scout", "auxiliary.vision.model");
    // The next catalog drops both models the agent uses (main and vision).
    let mut v: serde_json::Value =
        serde_json::from_str(&support::fixture("models-2026-03-31.json")).expect("json");
    v["data"]
        .as_array_mut()
        .expect("data")
        .retain(|m| m["id"] != current.as_str() && m["id"] != vision.as_str());
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("gone.json");
    std::fs::write(&file, v.to_string()).expect("write");
    let file = file.display().to_string();

    env.json(&["models", "scan", "--from", &file]);
    let gone = env.db_rows(
        "SELECT json_extract(payload, '$.slot'), json_extract(payload, '$.old_model'),
                json_extract(payload, '$.new_model'), state
         FROM notifications WHERE kind = 'model_gone' ORDER BY id",
    );
    assert_eq!(gone.len(), 2, "{gone:?}");
    assert_eq!(gone[0][0], "main");
    assert_eq!(gone[0][1], current);
    assert!(!gone[0][2].is_empty() && gone[0][2] != "NULL", "{gone:?}");
    assert_eq!(gone[1][0], "aux:vision");
    assert_eq!(gone[1][1], vision);
    // The vision replacement takes images.
    let replacement = &gone[1][2];
    let takes_images = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|m| m["id"] == replacement.as_str())
        .map(|m| {
            m["architecture"]["input_modalities"]
                .as_array()
                .is_some_and(|i| i.iter().any(|x| x == "image"))
        });
    assert_eq!(takes_images, Some(true), "{replacement}");
    // Rescans repeat nothing.
    env.json(&["models", "rescore"]);
    env.json(&["agents", "rescore"]);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM notifications WHERE kind = 'model_gone'"
        ),
        2
    );

    env.json(&["config", "set", "auto-upgrade-free-models", "true"]);
    env.json(&["agents", "rescore"]);
    assert_eq!(
        support::hermes_config_get(&env, "scout", "model.default"),
        gone[0][2]
    );
    assert_eq!(
        support::hermes_config_get(&env, "scout", "auxiliary.vision.model"),
        *replacement
    );
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM notifications WHERE kind = 'auto_upgrade'"
        ),
        2
    );
    // What was moved no longer holds: the model_gone advice is withdrawn.
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM notifications WHERE kind = 'model_gone' AND state = 'active'"
        ),
        0
    );
}

/// The full-screen TUI running in a tmux server of its own (killed when dropped).
struct Tui(String);

impl Tui {
    fn start(env: &TestEnv) -> Tui {
        let socket = format!("nxr-scanner-{}", std::process::id());
        let mut cmd = std::process::Command::new("tmux");
        cmd.args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "120", "-y", "40", "-s", "main"])
            .arg(env!("CARGO_BIN_EXE_nxr"));
        env.apply(&mut cmd);
        cmd.env_remove("TMUX");
        let out = support::run(cmd, Duration::from_secs(20));
        assert!(out.ok(), "tmux: {out}");
        Tui(socket)
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .status();
    }
}

#[test]
fn two_daemons_and_a_tui_with_a_two_second_interval_scan_once_per_interval() {
    let or = FakeOpenRouter::start();
    or.serve_models("models-2026-03-31.json");
    let mut env = TestEnv::new().with_openrouter(&or);
    env.set("NXR_SCAN_INTERVAL", "2");
    env.nxr(&["notifications"]).assert_ok();
    // No scan yet: the TUI scans at start-up, on its own.
    let tui = Tui::start(&env);
    until("the TUI's first scan", Duration::from_secs(60), || {
        (!ok_scan_times(&env).is_empty()).then_some(())
    });
    let a = Daemon::start(&env);
    let b = Daemon::start(&env);
    let start = ok_scan_times(&env).len();
    until("four more scans", Duration::from_secs(90), || {
        (ok_scan_times(&env).len() >= start + 4).then_some(())
    });
    drop((a, b, tui));
    let times = ok_scan_times(&env);
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= 1_900,
            "two scans {} ms apart with a 2 s interval: {times:?}",
            w[1] - w[0]
        );
    }
    // Every fetch was one scan: no process fetched on its own beside the lease.
    assert_eq!(or.hits(MODELS), times.len(), "{times:?}");
}

#[test]
fn a_daemon_killed_mid_scan_leaves_a_lease_that_expires_and_the_next_daemon_scans() {
    let or = FakeOpenRouter::start();
    or.serve_models("models-2026-03-31.json");
    or.fail_times(MODELS, Fault::Hang(Duration::from_secs(60)), 1);
    let mut env = TestEnv::new().with_openrouter(&or);
    env.set("NXR_SCAN_INTERVAL", "2");
    env.set("NXR_LEASE_SECONDS", "2");
    env.set("NXR_SCAN_TIMEOUT_SECONDS", "45");
    let a = Daemon::start(&env);
    until("the first scan to hang", Duration::from_secs(60), || {
        (or.hits(MODELS) == 1).then_some(())
    });
    let pid = a.pid();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    drop(a);
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM job_leases WHERE kind = 'scan'"),
        1,
        "the killed daemon's lease is still there"
    );
    let _b = Daemon::start(&env);
    until("the next daemon's scan", Duration::from_secs(60), || {
        (!ok_scan_times(&env).is_empty()).then_some(())
    });
    let dead = env.db_rows("SELECT state, error FROM jobs ORDER BY id LIMIT 1");
    assert_eq!(dead[0][0], "failed", "{dead:?}");
    assert!(dead[0][1].contains("lease ran out"), "{dead:?}");
}

fn stored(env: &TestEnv) -> Vec<i64> {
    vec![
        count(env, "SELECT COUNT(*) FROM catalog_snapshots"),
        count(env, "SELECT MAX(id) FROM catalog_snapshots"),
        count(env, "SELECT COUNT(*) FROM model_scores"),
        count(
            env,
            "SELECT COUNT(*) FROM agents WHERE model_score IS NOT NULL",
        ),
    ]
}

#[test]
fn a_failing_openrouter_keeps_the_catalog_and_scores_and_says_so_once_per_streak() {
    let faults: Vec<(&str, Fault)> = vec![
        ("hang", Fault::Hang(Duration::from_secs(30))),
        ("reset", Fault::Drop),
        ("5xx", Fault::server_error()),
        (
            "429",
            Fault::Status {
                status: 429,
                body: r#"{"error":{"code":429,"message":"Rate limit exceeded"}}"#.into(),
                headers: vec![("Retry-After".into(), "1800".into())],
            },
        ),
        ("garbage", Fault::Garbage),
        ("truncated", Fault::Truncated),
    ];
    for (name, fault) in faults {
        let or = FakeOpenRouter::start();
        or.serve_models("models-2026-03-31.json");
        let mut env = TestEnv::new().with_openrouter(&or);
        env.set("NXR_SCAN_INTERVAL", "3600");
        env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
        env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
        let before = stored(&env);
        or.fail(MODELS, fault);
        for _ in 0..3 {
            let out = env.nxr(&["models", "scan", "--timeout", "2"]);
            out.assert_code(1);
        }
        assert_eq!(
            stored(&env),
            before,
            "{name}: the catalog or scores changed"
        );
        assert_eq!(
            count(
                &env,
                "SELECT COUNT(*) FROM notifications WHERE kind = 'scan_failed'"
            ),
            1,
            "{name}: one scan_failed per streak"
        );
        assert_eq!(
            count(
                &env,
                "SELECT COUNT(*) FROM notifications WHERE kind = 'better_model'"
            ),
            0,
            "{name}"
        );
        let wait_s = count(
            &env,
            "SELECT (CAST(value AS INTEGER) - CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) / 1000
             FROM settings WHERE key = 'scanner_retry_at_ms'",
        );
        // The third failure waits 45 minutes (the interval is an hour).
        assert!(
            (44 * 60..=45 * 60).contains(&wait_s),
            "{name}: retry in {wait_s} s"
        );

        // OpenRouter recovers: the streak ends and its notice no longer holds.
        or.clear_faults();
        env.json(&["models", "scan"]);
        assert_eq!(
            count(
                &env,
                "SELECT COUNT(*) FROM notifications WHERE kind = 'scan_failed' AND state = 'active'"
            ),
            0,
            "{name}"
        );
        assert_eq!(better(&env).len(), 1, "{name}");
    }
}

#[test]
fn back_off_is_5_15_45_minutes_capped_at_the_interval_and_never_sooner_than_retry_after() {
    let or = FakeOpenRouter::start();
    or.fail(MODELS, Fault::server_error());
    let mut env = TestEnv::new().with_openrouter(&or);
    let wait = |env: &TestEnv| {
        count(
            env,
            "SELECT (CAST(value AS INTEGER) - CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + 30000) / 60000
             FROM settings WHERE key = 'scanner_retry_at_ms'",
        )
    };
    env.set("NXR_SCAN_INTERVAL", "86400");
    let mut waits = Vec::new();
    for _ in 0..4 {
        env.nxr(&["models", "scan"]).assert_code(1);
        waits.push(wait(&env));
    }
    assert_eq!(waits, [5, 15, 45, 45]);

    env.set("NXR_SCAN_INTERVAL", "600");
    env.nxr(&["models", "scan"]).assert_code(1);
    assert_eq!(wait(&env), 10, "capped at the 10-minute interval");

    // A 429 asking for an hour is honoured although the back-off would come back sooner.
    or.fail(
        MODELS,
        Fault::Status {
            status: 429,
            body: r#"{"error":{"code":429,"message":"slow down"}}"#.into(),
            headers: vec![("Retry-After".into(), "3600".into())],
        },
    );
    env.nxr(&["models", "scan"]).assert_code(1);
    assert_eq!(wait(&env), 60);
}

#[test]
fn a_daemon_against_a_failing_openrouter_backs_off_and_says_so_once() {
    let or = FakeOpenRouter::start();
    or.fail(MODELS, Fault::server_error());
    let mut env = TestEnv::new().with_openrouter(&or);
    env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    let before = stored(&env);
    // Due at once: the last good scan is older than the second the interval allows.
    env.set("NXR_SCAN_INTERVAL", "1");
    std::thread::sleep(Duration::from_millis(1100));
    let d = Daemon::start(&env);
    until("a failed scan", Duration::from_secs(60), || {
        (count(&env, "SELECT COUNT(*) FROM scans WHERE status = 'failed'") >= 2).then_some(())
    });
    std::thread::sleep(Duration::from_secs(4));
    drop(d);
    let failed = env.db_rows(
        "SELECT CAST((julianday(started_at) - 2440587.5) * 86400000 AS INTEGER) FROM scans
         WHERE status = 'failed' ORDER BY id",
    );
    // Back-off capped at the 1 s interval: the retries are spaced, not a tight loop.
    assert!(
        failed.len() <= 8,
        "{} failed scans in about 6 s",
        failed.len()
    );
    assert_eq!(
        stored(&env),
        before,
        "a failed scan changed the catalog or scores"
    );
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM notifications WHERE kind = 'scan_failed'"
        ),
        1
    );
}
