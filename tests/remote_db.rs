//! Issue 13 item 6: remote mode. Two nxr "machines" (separate NXR_HOME and HERMES_HOME)
//! share one libSQL server that speaks Hrana over HTTP (tests/support/hrana.rs), as a team
//! on sqld or Turso would.

mod support;
mod web_common;

use std::process::Stdio;
use std::time::Duration;

use support::hrana::HranaServer;
use support::{FakeOpenRouter, NXR_TIMEOUT, Output, TestEnv, VALID_KEY, db_i64, db_rows, wait};

const TOKEN: &str = "team-token-0123456789";
/// The name of the test below that turns into the server when HranaServer starts it.
const CHILD: &str = "the_libsql_server_child_process_serves_until_killed";

#[test]
fn the_libsql_server_child_process_serves_until_killed() {
    support::hrana::child_main();
}

fn machine(server: &HranaServer) -> TestEnv {
    let mut env = TestEnv::new();
    env.set("NXR_DB_URL", &server.url);
    env.set("NXR_DB_TOKEN", &server.token);
    env
}

/// Runs several nxr commands at once and waits for them all.
fn all_at_once(runs: &[(&TestEnv, Vec<String>)]) -> Vec<Output> {
    let children: Vec<_> = runs
        .iter()
        .map(|(env, args)| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut cmd = env.command(&args);
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().expect("spawn nxr")
        })
        .collect();
    children
        .into_iter()
        .map(|c| wait(c, NXR_TIMEOUT).unwrap_or_else(|o| panic!("nxr ran over: {o}")))
        .collect()
}

fn names(list: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .expect("agents list is an array")
        .iter()
        .map(|a| a["name"].as_str().expect("name").to_string())
        .collect();
    v.sort();
    v
}

#[track_caller]
fn assert_clear_db_error(out: &Output, what: &str) {
    out.assert_code(1);
    assert!(
        !out.stderr.contains("panicked") && !out.stderr.contains("tls feature"),
        "{what}: a panic instead of an error: {out}"
    );
    assert!(
        out.stderr.contains("libSQL server") && out.stderr.contains("NXR_DB_URL"),
        "{what}: the error should name the server and what to check: {out}"
    );
}

#[test]
fn item_6_remote_mode_shares_one_database_between_two_machines_over_http() {
    let server = HranaServer::start(CHILD, TOKEN);
    let a = machine(&server);
    let mut b = machine(&server);

    // Both machines start at once on an empty server: the schema is created exactly once.
    let list = vec!["agents".to_string(), "list".into(), "--json".into()];
    for out in all_at_once(&[(&a, list.clone()), (&b, list.clone())]) {
        out.assert_ok();
        assert_eq!(out.json(), serde_json::json!([]), "{out}");
    }
    let migrations = db_rows(
        &server.db_path,
        "SELECT version, COUNT(*) FROM nxr_migrations GROUP BY version ORDER BY version",
    );
    let expected: Vec<Vec<String>> = nxr::core::db::MIGRATIONS
        .iter()
        .map(|m| vec![m.0.to_string(), "1".into()])
        .collect();
    assert_eq!(
        migrations, expected,
        "each migration applied once on the server"
    );

    // An agent created on A is in B's list; its Hermes profile stays on A.
    a.json(&["agents", "create", "--role", "engineer", "--name", "eng-a"]);
    assert_eq!(names(&b.json(&["agents", "list"])), vec!["eng-a"]);
    assert!(a.profile_dir("eng-a").join("config.yaml").is_file());
    assert!(!b.profile_dir("eng-a").exists(), "profiles stay local");
    // A key stored on B goes into B's profiles only: none appears for A's agent.
    let openrouter = FakeOpenRouter::start();
    b.set("NXR_OPENROUTER_URL", &openrouter.base_url());
    b.nxr(&["config", "set", "openrouter-key", VALID_KEY])
        .assert_ok();
    assert!(
        !b.profile_dir("eng-a").exists(),
        "storing a key made a hollow profile for another machine's agent"
    );

    // 2 machines x 4 concurrent writers, two creates each: nothing is lost.
    let mut runs = Vec::new();
    for (m, env) in [("a", &a), ("b", &b)] {
        for w in 0..4 {
            runs.push((env, w, m));
        }
    }
    let round = |i: usize| {
        let batch: Vec<(&TestEnv, Vec<String>)> = runs
            .iter()
            .map(|(env, w, m)| {
                (
                    *env,
                    vec![
                        "agents".to_string(),
                        "create".into(),
                        "--role".into(),
                        "custom".into(),
                        "--name".into(),
                        format!("w-{m}-{w}-{i}"),
                        "--skills".into(),
                        "planning".into(),
                    ],
                )
            })
            .collect();
        for out in all_at_once(&batch) {
            out.assert_ok();
        }
    };
    round(0);
    round(1);
    let mut expected = vec!["eng-a".to_string()];
    for (_, w, m) in &runs {
        for i in 0..2 {
            expected.push(format!("w-{m}-{w}-{i}"));
        }
    }
    expected.sort();
    assert_eq!(names(&a.json(&["agents", "list"])), expected);
    assert_eq!(names(&b.json(&["agents", "list"])), expected);
    assert_eq!(
        db_i64(&server.db_path, "SELECT COUNT(*) FROM agent_model_history"),
        17,
        "one history row per agent"
    );

    // What the client sent: Hrana 3 pipelines with batons, and cursors for queries.
    let log = server.requests();
    assert!(
        log.iter().any(|l| l.starts_with("/v3/pipeline baton=true")),
        "{log:?}"
    );
    assert!(log.iter().any(|l| l.starts_with("/v3/cursor")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("close")), "{log:?}");
    assert!(!log.iter().any(|l| l.contains("unknown")), "{log:?}");
}

#[test]
fn item_6_remote_mode_ends_with_a_clear_error_when_the_server_is_down_or_refuses_the_token() {
    // Nothing listens on the discard port: exit 1 and a message, not the old panic (101).
    let mut env = TestEnv::new();
    env.set("NXR_DB_URL", "http://127.0.0.1:9");
    assert_clear_db_error(&env.nxr(&["agents", "list"]), "server down over http");
    env.set("NXR_DB_URL", "https://127.0.0.1:9");
    assert_clear_db_error(&env.nxr(&["agents", "list"]), "server down over https");

    let server = HranaServer::start(CHILD, TOKEN);
    // The server speaks plain HTTP: a TLS client fails its handshake, cleanly.
    env.set("NXR_DB_URL", &server.url.replace("http://", "https://"));
    env.set("NXR_DB_TOKEN", TOKEN);
    assert_clear_db_error(&env.nxr(&["agents", "list"]), "TLS to a plain server");

    env.set("NXR_DB_URL", &server.url);
    env.set("NXR_DB_TOKEN", "not-the-token");
    let out = env.nxr(&["agents", "list"]);
    assert_clear_db_error(&out, "a refused token");
    assert!(out.stderr.contains("401"), "{out}");
    assert!(out.stderr.contains("NXR_DB_TOKEN"), "{out}");
    assert!(
        server.requests().iter().any(|l| l.contains("unauthorized")),
        "the server saw and refused the token"
    );

    // Not a server URL at all: a usage error.
    env.set("NXR_DB_URL", "ftp://127.0.0.1:21/db");
    env.nxr(&["agents", "list"]).assert_code(2);

    // With the right token the same machine works.
    env.set("NXR_DB_URL", &server.url);
    env.set("NXR_DB_TOKEN", TOKEN);
    assert_eq!(env.json(&["agents", "list"]), serde_json::json!([]));
}

#[test]
fn item_6_killing_the_server_mid_write_leaves_a_clear_error_and_a_consistent_database() {
    let mut server = HranaServer::start(CHILD, TOKEN);
    let a = machine(&server);
    let b = machine(&server);
    a.json(&["agents", "list"]);

    // Both machines write in a loop until the server dies under them.
    let writers: Vec<_> = [("a", &a), ("b", &b)]
        .into_iter()
        .map(|(m, env)| {
            // One shell loop per machine, so each create is a separate nxr process.
            let mut cmd = std::process::Command::new("sh");
            cmd.arg("-c").arg(format!(
                "i=0; while \"$0\" --no-tui agents create --role custom --skills planning --name k-{m}-$i; do i=$((i+1)); done; exit 0"
            ));
            cmd.arg(env!("CARGO_BIN_EXE_nxr"));
            env.apply(&mut cmd);
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().expect("writer loop")
        })
        .collect();
    // Let some creates land, then kill -9 the server while writes are in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while db_i64(&server.db_path, "SELECT COUNT(*) FROM agents") < 4 {
        assert!(std::time::Instant::now() < deadline, "no writes landed");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill();
    for w in writers {
        let out = wait(w, NXR_TIMEOUT).unwrap_or_else(|o| panic!("writer hung: {o}"));
        assert!(
            out.stderr.contains("libSQL server") && out.stderr.contains("NXR_DB_URL"),
            "the failed write says what to check: {out}"
        );
        assert!(!out.stderr.contains("panicked"), "{out}");
    }
    // Later commands on both machines: the same clear error.
    assert_clear_db_error(&a.nxr(&["agents", "list"]), "after the server died (a)");
    assert_clear_db_error(&b.nxr(&["agents", "list"]), "after the server died (b)");

    // The database the server left is whole: every agent has its history row, no half
    // transaction, integrity_check ok.
    assert_eq!(
        db_rows(&server.db_path, "PRAGMA integrity_check"),
        vec![vec!["ok".to_string()]]
    );
    assert_eq!(
        db_i64(
            &server.db_path,
            "SELECT COUNT(*) FROM agents a WHERE NOT EXISTS
               (SELECT 1 FROM agent_model_history h WHERE h.agent_id = a.id)"
        ),
        0
    );
    assert_eq!(
        db_i64(&server.db_path, "SELECT COUNT(*) FROM agent_model_history"),
        db_i64(&server.db_path, "SELECT COUNT(*) FROM agents")
    );
}

#[test]
fn item_6_an_agent_created_on_one_machine_shows_on_the_other_machines_open_web_page_within_a_second()
 {
    let server = HranaServer::start(CHILD, TOKEN);
    let a = machine(&server);
    let b = machine(&server);
    a.json(&["agents", "list"]);
    // B has the web mirror open; A creates an agent.
    let web = web_common::Server::start(&b);
    let before = web.get("/api/changes").json()["mark"]
        .as_i64()
        .expect("mark");
    assert!(!web.get("/agents/manage").text().contains("live-one"));
    a.json(&["agents", "create", "--role", "pm", "--name", "live-one"]);
    let created = std::time::Instant::now();
    loop {
        let mark = web.get("/api/changes").json()["mark"]
            .as_i64()
            .expect("mark");
        if mark > before {
            break;
        }
        assert!(
            created.elapsed() < Duration::from_secs(1),
            "B's page did not see A's change within 1 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        web.get("/agents/manage").text().contains("live-one"),
        "B's page lists the agent A created"
    );
}
