//! Real usage: the real `hermes -p AGENT -z ...` talks to the fake OpenRouter (Hermes'
//! `OPENROUTER_BASE_URL`), leaves real rows in the profile's `state.db`, and `nxr budget`
//! counts exactly those calls per agent; failed calls reach the rate-limit log through the
//! nxr-ledger plugin.
//!
//! Needs the `hermes` CLI (`$NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`).

mod support;
mod web_common;

use std::path::Path;
use std::time::Duration;

use support::openrouter::CHAT;
use support::{FakeOpenRouter, TestEnv, hermes_oneshot};

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

/// The tables and columns of a Hermes `state.db` that nxr reads.
const HERMES_SCHEMA: &str = "
    CREATE TABLE sessions (id TEXT PRIMARY KEY, source TEXT NOT NULL, model TEXT, started_at REAL NOT NULL);
    CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
        role TEXT NOT NULL, content TEXT, timestamp REAL NOT NULL);
    CREATE TABLE session_model_usage (session_id TEXT NOT NULL, model TEXT NOT NULL,
        billing_provider TEXT NOT NULL DEFAULT '', billing_base_url TEXT NOT NULL DEFAULT '',
        billing_mode TEXT NOT NULL DEFAULT '', task TEXT NOT NULL DEFAULT '',
        api_call_count INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0, estimated_cost_usd REAL NOT NULL DEFAULT 0,
        actual_cost_usd REAL NOT NULL DEFAULT 0, first_seen REAL, last_seen REAL,
        PRIMARY KEY (session_id, model, billing_provider, billing_base_url, billing_mode, task));";

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
    let mut sql =
        format!("{HERMES_SCHEMA}\nINSERT INTO sessions VALUES ('s1', 'cli', 'a/b:free', 0);\n");
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

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Day totals (`usage_daily`) that differ from the sums of the hourly rows, either way:
/// a day or an agent one side has and the other lacks, or a differing figure. All-zero
/// rows on either side count as absent.
fn daily_mismatches(env: &TestEnv) -> Vec<Vec<String>> {
    env.db_rows(
        "SELECT h.day, d.day, h.agent, d.agent, h.r, d.requests, h.c, d.cost_usd FROM
           (SELECT hour - hour % 86400 AS day, agent, SUM(requests) AS r, SUM(errors) AS e,
                   SUM(input_tokens) AS i, SUM(output_tokens) AS o, SUM(cost_usd) AS c
            FROM usage_hourly GROUP BY 1, 2
            HAVING r <> 0 OR e <> 0 OR i <> 0 OR o <> 0 OR abs(c) > 1e-12) h
         FULL JOIN
           (SELECT * FROM usage_daily WHERE requests <> 0 OR errors <> 0 OR input_tokens <> 0
                OR output_tokens <> 0 OR abs(cost_usd) > 1e-12) d
         ON d.day = h.day AND d.agent = h.agent
         WHERE h.day IS NULL OR d.day IS NULL OR h.r <> d.requests OR h.e <> d.errors
            OR h.i <> d.input_tokens OR h.o <> d.output_tokens OR abs(h.c - d.cost_usd) > 1e-12",
    )
}

/// `n` assistant calls `step` seconds apart from `from`, and an auxiliary task's running
/// totals (`calls`, cost) last seen at `seen`, as Hermes leaves them in `state.db`.
fn hermes_calls(from: i64, step: i64, n: i64, calls: i64, cost: f64, seen: i64) -> String {
    let mut sql =
        String::from("INSERT OR IGNORE INTO sessions VALUES ('s1', 'cli', 'a/b:free', 0);\n");
    for i in 0..n {
        sql.push_str(&format!(
            "INSERT INTO messages (session_id, role, content, timestamp) VALUES ('s1', 'user', 'q', {t});
             INSERT INTO messages (session_id, role, content, timestamp) VALUES ('s1', 'assistant', 'a', {t});\n",
            t = from + i * step
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO session_model_usage (session_id, model, task, api_call_count, input_tokens, output_tokens, estimated_cost_usd, first_seen, last_seen)
         VALUES ('s1', 'x/paid', 'title_generation', {calls}, {}, {}, {cost}, {seen}, {seen})
         ON CONFLICT DO UPDATE SET api_call_count = excluded.api_call_count,
           input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
           estimated_cost_usd = excluded.estimated_cost_usd, last_seen = excluded.last_seen;",
        calls * 100,
        calls * 10
    ));
    sql
}

#[test]
fn the_day_totals_equal_the_hourly_sums_after_ingests_across_a_utc_midnight_and_a_replaced_state_db()
 {
    let env = TestEnv::new();
    create(&env, "pm", "pm");
    let state = env.profile_dir("pm").join("state.db");
    let midnight = unix_now() - unix_now().rem_euclid(86_400);
    let days = "SELECT COUNT(DISTINCT day) FROM usage_daily WHERE agent = 'pm' AND requests > 0";
    let total = "SELECT COALESCE(SUM(requests), 0) FROM usage_daily WHERE agent = 'pm'";

    // 20 calls from 23:55 to 00:04:30 and an auxiliary task seen before midnight.
    std::fs::File::create(&state).expect("create");
    support::db_exec(
        &state,
        &format!(
            "{HERMES_SCHEMA}\n{}",
            hermes_calls(midnight - 300, 30, 20, 3, 0.0123, midnight - 100)
        ),
    );
    env.nxr(&["budget"]).assert_ok();
    assert_eq!(env.db_i64(days), 2, "the calls span two UTC days");
    assert_eq!(env.db_i64(total), 23);
    assert_eq!(daily_mismatches(&env), Vec::<Vec<String>>::new());

    // More calls into the same hours (ingest adds to existing hourly rows) and the task
    // seen again after midnight.
    support::db_exec(
        &state,
        &hermes_calls(midnight - 290, 30, 20, 7, 0.0456, midnight + 100),
    );
    env.nxr(&["budget"]).assert_ok();
    assert_eq!(env.db_i64(total), 23 + 20 + 4);
    assert_eq!(daily_mismatches(&env), Vec::<Vec<String>>::new());

    // A replaced state.db (a new inode: restored, or the profile recreated) is read again
    // from the start.
    let fresh = env.profile_dir("pm").join("state.db.new");
    std::fs::File::create(&fresh).expect("create");
    support::db_exec(
        &fresh,
        &format!(
            "{HERMES_SCHEMA}\n{}",
            hermes_calls(midnight - 60, 10, 12, 9, 0.0789, midnight + 200)
        ),
    );
    std::fs::rename(&fresh, &state).expect("replace");
    env.nxr(&["budget"]).assert_ok();
    assert!(env.db_i64(total) > 47, "the new file was read");
    assert_eq!(daily_mismatches(&env), Vec::<Vec<String>>::new());

    // Rows changed or removed by hand (or by a later nxr) keep the two equal too.
    env.db_exec(&format!(
        "UPDATE usage_hourly SET requests = requests + 5, cost_usd = cost_usd + 0.5
           WHERE hour = {h};
         UPDATE usage_hourly SET hour = hour - 86400 WHERE hour = {h};
         DELETE FROM usage_hourly WHERE hour = {m};",
        h = midnight - 3600,
        m = midnight
    ));
    assert_eq!(daily_mismatches(&env), Vec::<Vec<String>>::new());
}

#[test]
fn the_per_agent_figures_of_nxr_budget_equal_the_sums_of_the_hourly_rows() {
    let env = TestEnv::new();
    env.nxr(&["agents", "list"]).assert_ok();
    // Three agents, 40 days of hours ending with this one, a free and a paid model, and
    // costs that are not round in binary.
    let this_hour = unix_now() - unix_now().rem_euclid(3600);
    env.db_exec(&format!(
        "INSERT INTO agents (name, profile, model, created_at, updated_at)
           VALUES ('pm', 'pm', 'm', '', ''), ('eng', 'eng', 'm', '', ''), ('idle', 'idle', 'm', '', '');
         WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < 40 * 24)
         INSERT INTO usage_hourly (hour, agent, model, requests, errors, input_tokens, output_tokens, cost_usd)
         SELECT {this_hour} - h.i * 3600, a.name, m.model, (h.i * 7 + a.k * 3) % 5, h.i % 11 = 0,
                h.i * 10, h.i, CASE WHEN m.model LIKE '%:free' THEN 0 ELSE ((h.i * 7 + a.k) % 13) * 0.000137 END
         FROM h, (SELECT 'pm' AS name, 1 AS k UNION ALL SELECT 'eng', 2) a,
              (SELECT 'a/b:free' AS model UNION ALL SELECT 'x/paid') m;"
    ));
    let b = env.json(&["budget"]);
    let now = b["now"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .expect("now")
        .as_second();
    let d0 = now - now.rem_euclid(86_400);
    let h24 = now - 86_400;
    // The figures straight from the hourly rows, as nxr computed them before day totals.
    let want = env.db_rows(&format!(
        "SELECT a.name,
           COALESCE(SUM(CASE WHEN u.hour >= {d0} THEN u.requests + u.errors END), 0),
           COALESCE(SUM(CASE WHEN u.hour >= {d0} THEN u.cost_usd END), 0),
           COALESCE(SUM(CASE WHEN u.hour >= {d7} THEN u.requests + u.errors END), 0),
           COALESCE(SUM(CASE WHEN u.hour >= {d7} THEN u.cost_usd END), 0),
           COALESCE(SUM(u.requests + u.errors), 0),
           COALESCE(SUM(u.cost_usd), 0),
           COALESCE(SUM(CASE WHEN u.hour >= {h} THEN u.requests END), 0),
           COALESCE(SUM(CASE WHEN u.hour >= {h} THEN u.errors END), 0)
         FROM agents a LEFT JOIN usage_hourly u ON u.agent = a.name AND u.hour >= {d30}
         GROUP BY a.id ORDER BY a.id",
        d7 = d0 - 6 * 86_400,
        d30 = d0 - 29 * 86_400,
        h = h24 - h24.rem_euclid(3600),
    ));
    assert_eq!(want.len(), 3);
    let nano = |s: &str| (s.parse::<f64>().expect("cost") * 1e9).round() / 1e9;
    for w in want {
        let a = agent(&b, &w[0]);
        let int = |s: &str| s.parse::<i64>().expect("count");
        let got = (
            a["today_requests"].as_i64(),
            a["today_cost_usd"].as_f64(),
            a["week_requests"].as_i64(),
            a["week_cost_usd"].as_f64(),
            a["month_requests"].as_i64(),
            a["month_cost_usd"].as_f64(),
            a["requests_24h"].as_i64(),
            a["errors_24h"].as_i64(),
        );
        let expected = (
            Some(int(&w[1])),
            Some(nano(&w[2])),
            Some(int(&w[3])),
            Some(nano(&w[4])),
            Some(int(&w[5])),
            Some(nano(&w[6])),
            Some(int(&w[7])),
            Some(int(&w[8])),
        );
        assert_eq!(got, expected, "{}", w[0]);
        if w[0] != "idle" {
            assert!(int(&w[5]) > 0 && nano(&w[6]) > 0.0, "a busy agent: {w:?}");
        }
    }
}

/// Sets a file's modification time `secs` seconds into the past.
fn age(path: &Path, secs: u64) {
    let t = std::time::SystemTime::now() - Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(t))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[test]
fn an_agent_whose_files_did_not_change_since_they_were_read_is_not_opened_again_and_a_change_is_read()
 {
    let env = TestEnv::new();
    create(&env, "pm", "pm");
    let state = env.profile_dir("pm").join("state.db");
    let now = unix_now();
    std::fs::File::create(&state).expect("create");
    support::db_exec(
        &state,
        &format!(
            "{HERMES_SCHEMA}\n{}",
            hermes_calls(now - 100, 1, 5, 0, 0.0, now - 100)
        ),
    );
    age(&state, 3600);
    assert_eq!(env.json(&["budget"])["used"], 5);
    let sig = "SELECT files_sig FROM usage_marks WHERE agent = 'pm'";
    assert_ne!(env.db_rows(sig), [[""]], "settled files are remembered");

    // The same file, size and time with other bytes: nxr does not open it (opening it
    // would warn that it is not a database).
    let good = std::fs::read(&state).expect("read");
    let mtime = std::fs::metadata(&state)
        .and_then(|m| m.modified())
        .expect("mtime");
    std::fs::write(&state, vec![b'x'; good.len()]).expect("overwrite");
    std::fs::File::options()
        .write(true)
        .open(&state)
        .and_then(|f| f.set_modified(mtime))
        .expect("set mtime");
    let out = env.nxr(&["budget", "--json"]);
    out.assert_ok();
    assert!(!out.stderr.contains("usage not read"), "{out}");
    assert_eq!(out.json()["used"], 5);

    // Hermes writes again: read at once, and while the file is fresh it is read on every
    // pass (a change within the same timestamp could otherwise go unseen).
    std::fs::write(&state, &good).expect("restore");
    support::db_exec(&state, &hermes_calls(now - 50, 1, 3, 0, 0.0, now - 50));
    assert_eq!(env.json(&["budget"])["used"], 8);
    assert_eq!(env.db_rows(sig), [[""]]);
    assert_eq!(env.json(&["budget"])["used"], 8, "nothing counted twice");
}
