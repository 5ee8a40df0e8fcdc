//! End-to-end tests of the headless CLI: the real `nxr` binary on fresh temporary homes,
//! its database read directly with libsql, and a fake OpenRouter serving recorded fixtures.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::openrouter::MODELS;
use support::profiles::{ENGINEER_SKILLS, HERMES_SKILLS, PM_SKILLS};
use support::{
    FakeOpenRouter, Fault, NXR_TIMEOUT, ROLES, TestEnv, fixture, fixture_path, skills_on_disk,
    sorted, tree,
};
use yaml_edit::path::YamlPath;

/// A scalar from YAML text at a dotted path.
fn yaml_get(text: &str, path: &str) -> Option<String> {
    let doc = yaml_edit::Document::from_str(text).expect("config.yaml parses");
    let node = doc.try_get_path(path).ok()?;
    node.as_scalar().map(|s| s.as_string())
}

fn yaml_list(text: &str, path: &str) -> Vec<String> {
    let doc = yaml_edit::Document::from_str(text).expect("config.yaml parses");
    let Ok(node) = doc.try_get_path(path) else {
        return Vec::new();
    };
    node.as_sequence()
        .map(|s| {
            s.values()
                .filter_map(|v| v.as_scalar().map(|s| s.as_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config(env: &TestEnv, agent: &str) -> String {
    read(&env.profile_dir(agent).join("config.yaml"))
}

/// What must not change when a scan is refused: the roster as printed, the stored scores
/// and the stored catalogs.
#[derive(Debug, PartialEq)]
struct Stored {
    roster: String,
    scores: i64,
    scorings: i64,
    catalogs: i64,
}

fn stored(env: &TestEnv) -> Stored {
    Stored {
        roster: env
            .nxr(&["models", "roster", "--json"])
            .assert_ok()
            .stdout
            .clone(),
        scores: env.db_i64("SELECT COUNT(*) FROM model_scores"),
        scorings: env.db_i64("SELECT COUNT(DISTINCT scored_at) FROM model_scores"),
        catalogs: env.db_i64("SELECT COUNT(*) FROM catalog_snapshots"),
    }
}

fn best_free(env: &TestEnv, role: &str) -> String {
    let v = env.json(&["models", "best-free", "--role", role]);
    v["pick"]["model"]
        .as_str()
        .unwrap_or_else(|| panic!("no pick in {v}"))
        .to_string()
}

fn desired(snapshot: &Value) -> Vec<String> {
    snapshot["desiredSkills"]
        .as_array()
        .expect("desiredSkills")
        .iter()
        .map(|s| s.as_str().expect("skill name").to_string())
        .collect()
}

fn entry<'a>(snapshot: &'a Value, key: &str) -> &'a Value {
    snapshot["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["key"] == key)
        .unwrap_or_else(|| panic!("no entry {key} in {snapshot:#}"))
}

fn db_skillset(env: &TestEnv, agent: &str) -> Vec<String> {
    let rows = env.db_rows(&format!(
        "SELECT skillset FROM agents WHERE name = '{agent}'"
    ));
    serde_json::from_str(&rows[0][0]).expect("skillset is JSON")
}

fn has_control_chars(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_control() && *c != '\n')
}

// ---------------------------------------------------------------- fresh databases

#[test]
fn a_fresh_database_has_no_agents_and_the_bundled_roster_works_offline() {
    let env = TestEnv::new();
    assert_eq!(env.json(&["agents", "list"]), json!([]));

    let roster = env.json(&["models", "roster"]);
    assert_eq!(
        roster["catalog"]["source"], "bundled",
        "{:#}",
        roster["catalog"]
    );
    assert_eq!(roster["catalog"]["model_count"], 371);
    assert_eq!(roster["roles"], json!(ROLES));
    let rows = roster["rows"].as_array().expect("rows");
    assert!(rows.len() >= 20, "only {} free models", rows.len());
    for row in rows {
        let scores = row["scores"].as_object().expect("scores");
        assert_eq!(scores.len(), 6, "{row}");
    }
    // Best first: the first row's best qualified score is the highest of all.
    let best = |r: &Value| {
        r["scores"]
            .as_object()
            .expect("scores")
            .values()
            .filter(|s| s["qualified"] == true)
            .filter_map(|s| s["total"].as_f64())
            .fold(f64::NEG_INFINITY, f64::max)
    };
    assert!(rows.windows(2).all(|w| best(&w[0]) >= best(&w[1])));

    for role in ROLES {
        let pick = best_free(&env, role);
        assert!(
            rows.iter().any(|r| r["model"] == pick.as_str()),
            "{role}'s pick {pick} is in the roster"
        );
    }
    let text = env.nxr(&["models", "roster"]);
    text.assert_ok();
    assert!(text.stdout.contains("MODEL"), "{text}");
}

#[test]
fn migrations_apply_once_and_a_second_run_changes_nothing() {
    let env = TestEnv::new();
    env.nxr(&["agents", "list"]).assert_ok();
    let first =
        env.db_rows("SELECT version, name, applied_at FROM nxr_migrations ORDER BY version");
    let versions: Vec<&str> = first.iter().map(|r| r[0].as_str()).collect();
    let want: Vec<String> = nxr::core::db::MIGRATIONS
        .iter()
        .map(|m| m.0.to_string())
        .collect();
    assert_eq!(versions, want, "{first:?}");
    assert_eq!(first[0][1], "init");
    assert_eq!(first[1][1], "v14");
    assert_eq!(first[2][1], "runtime");

    env.nxr(&["agents", "list"]).assert_ok();
    env.nxr(&["models", "roster"]).assert_ok();
    let second =
        env.db_rows("SELECT version, name, applied_at FROM nxr_migrations ORDER BY version");
    assert_eq!(first, second, "a second run must not re-apply migrations");

    // The v1.4 columns and tables are there.
    let cols: Vec<String> = env
        .db_rows("SELECT name FROM pragma_table_info('agents')")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    for c in [
        "role",
        "skillset",
        "model_score",
        "model_auto_assigned",
        "workspace_id",
        "is_default",
    ] {
        assert!(cols.iter().any(|x| x == c), "agents.{c} missing: {cols:?}");
    }
    for t in ["model_scores", "onboarding"] {
        assert_eq!(
            env.db_i64(&format!(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{t}'"
            )),
            1,
            "table {t}"
        );
    }
}

#[test]
fn a_database_written_by_a_newer_nxr_is_refused_and_left_alone() {
    let env = TestEnv::new();
    env.nxr(&["agents", "list"]).assert_ok();
    env.db_exec(
        "INSERT INTO nxr_migrations (version, name, applied_at) VALUES (999, 'future', '2030-01-01T00:00:00Z')",
    );
    let before =
        env.db_rows("SELECT version, name, applied_at FROM nxr_migrations ORDER BY version");

    for args in [
        &["agents", "list"][..],
        &["models", "rescore"],
        &["agents", "create", "--role", "pm", "--name", "pm"],
    ] {
        let out = env.nxr(args);
        out.assert_code(1);
        assert!(
            out.stderr.contains("newer") && out.stderr.contains("999"),
            "the message names the newer schema: {out}"
        );
    }
    let json = env.nxr(&["agents", "list", "--json"]);
    json.assert_code(1);
    assert!(
        json.json()["error"].as_str().unwrap_or("").contains("999"),
        "{json}"
    );

    let after =
        env.db_rows("SELECT version, name, applied_at FROM nxr_migrations ORDER BY version");
    assert_eq!(before, after);
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM model_scores"), 0);
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 0);
    assert!(tree(env.hermes_home.path()).is_empty());
}

// ---------------------------------------------------------------- scanning

#[test]
fn a_scan_from_openrouter_stores_the_catalog_and_scores_every_model_for_every_role() {
    let server = FakeOpenRouter::start();
    server.serve_models("models-2026-03-30.json");
    let env = TestEnv::new().with_openrouter(&server);

    let scan = env.json(&["models", "scan"]);
    assert_eq!(server.hits(MODELS), 1);
    assert_eq!(server.total_hits(), 1, "{:?}", server.seen());
    assert_eq!(server.seen()[0].method, "GET");
    assert_eq!(scan["catalog"]["model_count"], 345, "{:#}", scan["catalog"]);
    assert_eq!(
        scan["catalog"]["source"],
        format!("{}/models", server.base_url())
    );
    assert_eq!(scan["rescore"]["models"], 345);
    assert_eq!(scan["rescore"]["rows_written"], 345 * 6);

    let roster = env.json(&["models", "roster"]);
    assert_eq!(roster["catalog"]["model_count"], 345);
    assert_eq!(roster["catalog"]["source"], scan["catalog"]["source"]);
    assert!(
        roster["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["model"] != "qwen/qwen3.6-plus-preview:free"),
        "03-30 has no qwen3.6 preview; the roster comes from the scan, not the bundle"
    );

    assert_eq!(env.db_i64("SELECT COUNT(*) FROM model_scores"), 345 * 6);
    assert_eq!(
        env.db_i64("SELECT COUNT(DISTINCT scored_at) FROM model_scores"),
        1
    );
    assert_eq!(
        env.db_i64("SELECT COUNT(DISTINCT model_id) FROM model_scores"),
        345
    );
    for role in ROLES {
        assert_eq!(
            env.db_i64(&format!(
                "SELECT COUNT(*) FROM model_scores WHERE role = '{role}'"
            )),
            345,
            "{role}"
        );
        assert_eq!(
            env.db_i64(&format!(
                "SELECT COUNT(*) FROM model_scores WHERE role = '{role}' AND is_free = 1 AND rank = 1"
            )),
            1,
            "exactly one best free model for {role}"
        );
    }

    let rescore = env.json(&["models", "rescore"]);
    assert_eq!(rescore["rows_written"], 345 * 6);
    assert_eq!(rescore["changed"], json!([]));
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM model_scores"), 2 * 345 * 6);
    assert_eq!(server.hits(MODELS), 1, "rescoring does not fetch");
}

#[test]
fn a_scan_from_a_saved_file_needs_no_network() {
    let env = TestEnv::new();
    let path = fixture_path("models-2026-02-27.json");
    let scan = env.json(&[
        "models",
        "scan",
        "--from",
        path.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(scan["catalog"]["model_count"], 344);
    assert_eq!(scan["catalog"]["source"], path.display().to_string());
    assert_eq!(
        env.json(&["models", "roster"])["catalog"]["model_count"],
        344
    );
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM model_scores"), 344 * 6);
}

#[test]
fn a_newer_catalog_changes_the_research_pick_and_the_scan_reports_it() {
    let env = TestEnv::new();
    let from = |f: &str| fixture_path(f).display().to_string();
    env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    let research_before = best_free(&env, "research");
    env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
    env.json(&["agents", "create", "--role", "pm", "--name", "boss"]);

    let scan = env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);
    let changed = scan["rescore"]["changed"].as_array().expect("changed");
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["role"], "research");
    assert_eq!(changed[0]["from"], research_before.as_str());
    assert_eq!(changed[0]["to"], "qwen/qwen3.6-plus-preview:free");
    assert_eq!(
        best_free(&env, "research"),
        "qwen/qwen3.6-plus-preview:free"
    );

    let recs = env.json(&["agents", "recommend"]);
    let rec = |agent: &str| {
        recs.as_array()
            .expect("recommendations")
            .iter()
            .find(|r| r["agent"] == agent)
            .unwrap_or_else(|| panic!("{agent} in {recs:#}"))
            .clone()
    };
    assert_eq!(
        rec("scout")["recommended_model"],
        "qwen/qwen3.6-plus-preview:free"
    );
    assert_eq!(rec("scout")["current_model"], research_before.as_str());
    // A better free model is a switch, not an upgrade.
    assert_eq!(rec("scout")["advice"], "switch_free");
    assert_eq!(rec("scout")["upgrade_available"], false);
    assert_eq!(rec("boss")["advice"], "stay");
    // The agent keeps its model until someone switches it.
    assert_eq!(
        yaml_get(&config(&env, "scout"), "model.default").as_deref(),
        Some(research_before.as_str())
    );
}

#[test]
fn a_newer_catalog_notifies_once_about_the_agents_whose_pick_changed() {
    let env = TestEnv::new();
    let from = |f: &str| fixture_path(f).display().to_string();
    env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
    env.json(&["agents", "create", "--role", "pm", "--name", "boss"]);
    let better = |env: &TestEnv| {
        env.db_rows(
            "SELECT json_extract(payload, '$.agent'), json_extract(payload, '$.new_model')
             FROM notifications WHERE kind = 'better_model' ORDER BY id",
        )
    };
    assert!(better(&env).is_empty());
    env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);
    let want = vec![vec![
        "scout".to_string(),
        "qwen/qwen3.6-plus-preview:free".to_string(),
    ]];
    assert_eq!(
        better(&env),
        want,
        "one notification, for the research agent only"
    );
    env.json(&["agents", "rescore"]);
    env.json(&["models", "rescore"]);
    env.json(&["agents", "rescore"]);
    assert_eq!(
        better(&env),
        want,
        "rescoring the same catalog does not notify again"
    );
}

#[test]
fn agents_rescore_lists_the_agents_whose_pick_changed_with_the_new_catalog() {
    let env = TestEnv::new();
    let from = |f: &str| fixture_path(f).display().to_string();
    env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    let before = best_free(&env, "research");
    env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
    env.json(&["agents", "create", "--role", "pm", "--name", "boss"]);
    env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);

    let report = env.json(&["agents", "rescore"]);
    let changed = report["changed"].as_array().expect("changed");
    assert_eq!(changed.len(), 1, "{report:#}");
    assert_eq!(changed[0]["agent"], "scout");
    assert_eq!(changed[0]["role"], "research");
    assert_eq!(changed[0]["previous_recommendation"], before.as_str());
    assert_eq!(
        changed[0]["recommendation"],
        "qwen/qwen3.6-plus-preview:free"
    );
}

#[test]
fn broken_catalog_files_are_refused_and_nothing_stored_changes() {
    let env = TestEnv::new();
    let good = fixture("models-2026-03-30.json");
    env.json(&[
        "models",
        "scan",
        "--from",
        &fixture_path("models-2026-03-30.json").display().to_string(),
    ]);
    let before = stored(&env);
    assert_eq!(before.scores, 345 * 6);

    let dir = tempfile::tempdir().expect("tmp");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.json",
            good.as_bytes()[..good.len() / 2].to_vec(),
            "truncated",
        ),
        (
            "page.html",
            b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>".to_vec(),
            "not valid JSON",
        ),
        ("empty.json", Vec::new(), "not valid JSON"),
        ("no-models.json", br#"{"data":[]}"#.to_vec(), "no models"),
        (
            "wrong-shape.json",
            br#"{"models":[{"id":"a/b"}]}"#.to_vec(),
            "\"data\"",
        ),
        (
            "bad-price.json",
            br#"{"data":[{"id":"a/b:free","pricing":{"prompt":"free","completion":"0"}}]}"#
                .to_vec(),
            "not a price",
        ),
        (
            "garbage.json",
            b"\x00\xff\xfe{{{ \"data\": [ nope".to_vec(),
            "UTF-8",
        ),
    ];
    for (name, body, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("write");
        let out = env.nxr(&["models", "scan", "--from", path.to_str().expect("utf-8")]);
        out.assert_code(1);
        assert!(
            out.stderr.contains(needle),
            "{name}: expected {needle:?} in {out}"
        );
        assert!(
            out.stderr.contains(name),
            "{name}: the message names the file: {out}"
        );
        assert_eq!(stored(&env), before, "{name} changed what is stored");
    }

    let missing = dir.path().join("does-not-exist.json");
    let out = env.nxr(&["models", "scan", "--from", missing.to_str().expect("utf-8")]);
    out.assert_code(1);
    assert!(out.stderr.contains("does-not-exist.json"), "{out}");
    assert_eq!(stored(&env), before);

    let json = env.nxr(&[
        "models",
        "scan",
        "--json",
        "--from",
        dir.path().join("page.html").to_str().expect("utf-8"),
    ]);
    json.assert_code(1);
    let err = json.json();
    assert!(
        err["error"]
            .as_str()
            .unwrap_or("")
            .contains("not valid JSON"),
        "{err}"
    );
    assert_eq!(err["usage"], false);
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM scans WHERE status = 'failed'"),
        9,
        "every refused scan is logged"
    );
}

#[test]
fn broken_answers_from_openrouter_are_refused_and_nothing_stored_changes() {
    let server = FakeOpenRouter::start();
    server.serve_models("models-2026-03-30.json");
    let env = TestEnv::new().with_openrouter(&server);
    env.json(&["models", "scan"]);
    let before = stored(&env);

    // The client retries what may pass (a dropped connection, a 5xx, a 429 whose reset has
    // passed) a bounded number of times, and never what will not (timeouts, bad bodies, 4xx).
    let once = 1..=1;
    let retried = 2..=4;
    let cases: Vec<(Fault, std::ops::RangeInclusive<usize>, &[&str])> = vec![
        (Fault::Truncated, once.clone(), &["truncated"]),
        (Fault::Html, once.clone(), &["not valid JSON"]),
        (Fault::EmptyBody, once.clone(), &["not valid JSON"]),
        (Fault::Garbage, once.clone(), &["not valid JSON"]),
        (
            Fault::Hang(Duration::from_secs(30)),
            once.clone(),
            &["timed out"],
        ),
        (
            Fault::Drop,
            retried.clone(),
            &["GET ", "/models", "connection closed"],
        ),
        (
            Fault::DropMidBody,
            retried.clone(),
            &["GET ", "/models", "end of file"],
        ),
        (
            Fault::server_error(),
            retried.clone(),
            &["500", "Internal Server Error"],
        ),
        (
            Fault::rate_limited("error-429-free-models-per-min.json"),
            retried.clone(),
            &["429", "free-models-per-min"],
        ),
        (
            Fault::status(404, r#"{"error":{"code":404,"message":"Not Found"}}"#),
            once.clone(),
            &["404", "Not Found"],
        ),
    ];
    for (fault, attempts, needles) in cases {
        server.fail(MODELS, fault.clone());
        let hits = server.hits(MODELS);
        let started = Instant::now();
        let out = env.nxr(&["models", "scan", "--timeout", "2"]);
        let took = started.elapsed();
        out.assert_code(1);
        let made = server.hits(MODELS) - hits;
        assert!(
            attempts.contains(&made),
            "{fault:?}: {made} requests, expected {attempts:?}"
        );
        for needle in needles {
            assert!(
                out.stderr.contains(needle),
                "{fault:?}: expected {needle:?} in {out}"
            );
        }
        assert!(
            took < Duration::from_secs(15),
            "{fault:?}: --timeout 2 took {took:?}"
        );
        assert_eq!(stored(&env), before, "{fault:?} changed what is stored");
    }

    // A body that is JSON but not a catalog a scorer can trust.
    for (body, needle) in [
        (r#"{"data":[]}"#, "no models"),
        (r#"{"data":[{"id":"a/b"},{"id":"a/b"}]}"#, "twice"),
        (r#"{"error":{"code":503,"message":"down"}}"#, "\"data\""),
    ] {
        server.clear_faults();
        server.serve_models_body(body);
        let out = env.nxr(&["models", "scan"]);
        out.assert_code(1);
        assert!(out.stderr.contains(needle), "{body}: {out}");
        assert_eq!(stored(&env), before, "{body} changed what is stored");
    }

    // And it recovers once OpenRouter does.
    server.clear_faults();
    server.serve_models("models-2026-03-31.json");
    let scan = env.json(&["models", "scan"]);
    assert_eq!(scan["catalog"]["model_count"], 348);
    assert_eq!(
        env.json(&["models", "roster"])["catalog"]["model_count"],
        348
    );
}

#[test]
fn a_scan_retries_transient_failures_and_then_succeeds() {
    let server = FakeOpenRouter::start();
    server.serve_models("models-2026-03-30.json");
    let env = TestEnv::new().with_openrouter(&server);
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis()
    };

    let cases: Vec<(Fault, usize)> = vec![
        (Fault::Drop, 1),
        (Fault::DropMidBody, 1),
        (Fault::server_error(), 2),
        (
            Fault::rate_limited_until("error-429-free-models-per-min.json", now_ms() + 800),
            1,
        ),
    ];
    for (fault, times) in cases {
        server.fail_times(MODELS, fault.clone(), times);
        let hits = server.hits(MODELS);
        let out = env.nxr(&["models", "scan", "--json"]);
        assert!(out.ok(), "{fault:?} x{times} should be retried away: {out}");
        assert_eq!(out.json()["catalog"]["model_count"], 345);
        assert_eq!(server.hits(MODELS) - hits, times + 1, "{fault:?}");
    }

    // A limit that resets in an hour is not waited for: one request, and the message says when.
    let before = stored(&env);
    server.fail(
        MODELS,
        Fault::rate_limited_until("error-429-free-models-per-day.json", now_ms() + 3_600_000),
    );
    let hits = server.hits(MODELS);
    let started = Instant::now();
    let out = env.nxr(&["models", "scan"]);
    out.assert_code(1);
    assert_eq!(server.hits(MODELS) - hits, 1, "{out}");
    assert!(started.elapsed() < Duration::from_secs(10), "{out}");
    assert!(
        out.stderr.contains("429") && out.stderr.contains("resets at"),
        "{out}"
    );
    assert!(out.stderr.contains("free-models-per-day"), "{out}");
    assert_eq!(stored(&env), before);
}

// ---------------------------------------------------------------- agents and profiles

#[test]
fn agents_create_writes_a_hermes_profile_on_the_best_free_model_for_every_role() {
    let env = TestEnv::new();
    for role in ROLES {
        let name = format!("agent-{role}");
        let pick = best_free(&env, role);
        let created = env.json(&["agents", "create", "--role", role, "--name", &name]);
        assert_eq!(created["agent"]["model"], pick.as_str(), "{created:#}");
        assert_eq!(created["agent"]["role"], role);
        assert_eq!(created["agent"]["model_auto_assigned"], true);
        assert_eq!(
            created["profile_dir"],
            env.profile_dir(&name).display().to_string()
        );

        let cfg = config(&env, &name);
        assert_eq!(
            yaml_get(&cfg, "model.provider").as_deref(),
            Some("openrouter"),
            "{cfg}"
        );
        assert_eq!(
            yaml_get(&cfg, "model.default").as_deref(),
            Some(pick.as_str()),
            "{cfg}"
        );

        let want = match role {
            "pm" => sorted(PM_SKILLS),
            "engineer" => sorted(ENGINEER_SKILLS),
            "hermes" => sorted(HERMES_SKILLS),
            _ => sorted(
                created["agent"]["skillset"]
                    .as_array()
                    .expect("skillset")
                    .iter()
                    .map(|s| s.as_str().expect("name")),
            ),
        };
        assert!(want.len() >= 6, "{role}: {want:?}");
        assert_eq!(skills_on_disk(&env.profile_dir(&name)), want, "{role}");
        assert_eq!(
            sorted(db_skillset(&env, &name)),
            want,
            "{role}: skillset column"
        );
        for s in &want {
            let file = std::fs::read_dir(env.profile_dir(&name).join("skills"))
                .expect("skills dir")
                .flatten()
                .map(|c| c.path().join(s).join("SKILL.md"))
                .find(|p| p.is_file())
                .unwrap_or_else(|| panic!("{role}: {s}/SKILL.md under a category"));
            let text = read(&file);
            assert!(text.starts_with("---\n"), "{}", file.display());
            assert!(text.contains(&format!("name: {s}")), "{}", file.display());
            assert!(text.contains("description:"), "{}", file.display());
        }
        assert!(yaml_list(&cfg, "skills.disabled").is_empty(), "{cfg}");
    }
    let list = env.json(&["agents", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|a| a["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ROLES
            .map(|r| format!("agent-{r}"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agent_model_history"), 6);
}

#[test]
fn skill_edits_round_trip_on_disk_in_the_database_and_in_the_paperclip_snapshot() {
    let env = TestEnv::new();
    env.json(&["agents", "create", "--role", "pm", "--name", "lead"]);
    let dir = env.profile_dir("lead");

    let snap = env.json(&["agents", "skills", "lead"]);
    check_snapshot_shape(&snap);
    assert_eq!(desired(&snap), PM_SKILLS.map(String::from).to_vec());
    for s in PM_SKILLS {
        let e = entry(&snap, s);
        assert_eq!(e["state"], "installed", "{e}");
        assert_eq!(e["desired"], true);
        assert_eq!(e["managed"], true);
        assert_eq!(e["origin"], "company_managed");
    }
    assert_eq!(entry(&snap, "coding")["state"], "available");

    // --add
    let snap = env.json(&["agents", "skills", "lead", "--add", "coding"]);
    check_snapshot_shape(&snap);
    assert!(desired(&snap).contains(&"coding".to_string()));
    assert_eq!(entry(&snap, "coding")["state"], "installed");
    assert!(skills_on_disk(&dir).contains(&"coding".to_string()));
    assert_eq!(db_skillset(&env, "lead"), desired(&snap));

    // --remove
    let snap = env.json(&["agents", "skills", "lead", "--remove", "planning"]);
    check_snapshot_shape(&snap);
    assert!(!desired(&snap).contains(&"planning".to_string()));
    assert_eq!(entry(&snap, "planning")["state"], "available");
    assert!(!skills_on_disk(&dir).contains(&"planning".to_string()));
    assert_eq!(db_skillset(&env, "lead"), desired(&snap));
    assert_eq!(sorted(desired(&snap)), skills_on_disk(&dir));

    // --set
    let snap = env.json(&["agents", "skills", "lead", "--set", "coding,debugging"]);
    check_snapshot_shape(&snap);
    assert_eq!(desired(&snap), ["coding", "debugging"]);
    assert_eq!(skills_on_disk(&dir), ["coding", "debugging"]);
    assert_eq!(db_skillset(&env, "lead"), ["coding", "debugging"]);

    // A skill deleted by hand shows as missing; --sync puts it back.
    let coding_dir = std::fs::read_dir(dir.join("skills"))
        .expect("skills")
        .flatten()
        .map(|c| c.path().join("coding"))
        .find(|p| p.is_dir())
        .expect("coding dir");
    std::fs::remove_dir_all(&coding_dir).expect("rm");
    let snap = env.json(&["agents", "skills", "lead"]);
    assert_eq!(entry(&snap, "coding")["state"], "missing");
    let snap = env.json(&["agents", "skills", "lead", "--sync"]);
    check_snapshot_shape(&snap);
    assert_eq!(entry(&snap, "coding")["state"], "installed");
    assert_eq!(skills_on_disk(&dir), ["coding", "debugging"]);

    // Mistakes are usage errors and change nothing.
    let before = (
        config(&env, "lead"),
        skills_on_disk(&dir),
        db_skillset(&env, "lead"),
    );
    for args in [
        &["agents", "skills", "lead", "--remove", "planning"][..],
        &["agents", "skills", "lead", "--add", "no-such-skill"],
        &["agents", "skills", "lead", "--set", "coding,<script>"],
        &["agents", "skills", "nobody", "--add", "coding"],
    ] {
        let out = env.nxr(args);
        out.assert_code(2);
    }
    assert_eq!(
        before,
        (
            config(&env, "lead"),
            skills_on_disk(&dir),
            db_skillset(&env, "lead")
        )
    );
}

/// Paperclip's snapshot: `{adapterType, supported, mode: "persistent", desiredSkills,
/// entries[{key, runtimeName, desired, managed, state, origin?, readOnly?, sourcePath?,
/// detail?}], warnings}` and nothing else.
fn check_snapshot_shape(snap: &Value) {
    let top: BTreeSet<&str> = snap
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        top,
        BTreeSet::from([
            "adapterType",
            "supported",
            "mode",
            "desiredSkills",
            "entries",
            "warnings"
        ])
    );
    assert!(snap["adapterType"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(snap["supported"], true);
    assert_eq!(snap["mode"], "persistent");
    assert!(snap["warnings"].is_array());
    let desired: BTreeSet<&str> = snap["desiredSkills"]
        .as_array()
        .expect("desiredSkills")
        .iter()
        .map(|s| s.as_str().expect("string"))
        .collect();
    let states = [
        "available",
        "configured",
        "installed",
        "missing",
        "stale",
        "external",
    ];
    let origins = ["company_managed", "user_installed", "external_unknown"];
    let allowed = BTreeSet::from([
        "key",
        "runtimeName",
        "desired",
        "managed",
        "state",
        "origin",
        "readOnly",
        "sourcePath",
        "detail",
    ]);
    let mut keys = BTreeSet::new();
    for e in snap["entries"].as_array().expect("entries") {
        let o = e.as_object().expect("entry object");
        for k in o.keys() {
            assert!(allowed.contains(k.as_str()), "unexpected field {k} in {e}");
        }
        let key = e["key"].as_str().expect("key");
        assert!(keys.insert(key), "{key} listed twice");
        assert!(e["runtimeName"].is_string(), "{e}");
        assert!(
            e["desired"].is_boolean() && e["managed"].is_boolean(),
            "{e}"
        );
        assert_eq!(e["desired"].as_bool(), Some(desired.contains(key)), "{e}");
        assert!(states.contains(&e["state"].as_str().expect("state")), "{e}");
        if let Some(origin) = e.get("origin") {
            assert!(origins.contains(&origin.as_str().expect("origin")), "{e}");
        }
        if let Some(ro) = e.get("readOnly") {
            assert!(ro.is_boolean(), "{e}");
        }
        if let Some(p) = e.get("sourcePath") {
            assert!(Path::new(p.as_str().expect("path")).is_file(), "{e}");
        }
        if let Some(d) = e.get("detail") {
            assert!(d.is_string(), "{e}");
        }
    }
    for d in &desired {
        assert!(keys.contains(d), "desired {d} has an entry");
    }
}

#[test]
fn a_hand_written_skill_is_user_installed_read_only_and_never_deleted() {
    let env = TestEnv::new();
    env.json(&["agents", "create", "--role", "engineer", "--name", "dev"]);
    let mine = env.profile_dir("dev").join("skills/my-notes");
    std::fs::create_dir_all(&mine).expect("mkdir");
    let text = "---\nname: my-notes\ndescription: How I like my notes.\n---\n# My notes\nKeep them short.\n";
    std::fs::write(mine.join("SKILL.md"), text).expect("write");

    let snap = env.json(&["agents", "skills", "dev"]);
    check_snapshot_shape(&snap);
    let e = entry(&snap, "my-notes");
    assert_eq!(e["origin"], "user_installed", "{e}");
    assert_eq!(e["readOnly"], true, "{e}");
    assert_eq!(e["managed"], false, "{e}");
    assert_eq!(e["desired"], false, "{e}");
    assert_eq!(e["state"], "external", "loaded by Hermes, not wanted: {e}");
    assert!(
        e["sourcePath"]
            .as_str()
            .unwrap_or("")
            .ends_with("my-notes/SKILL.md"),
        "{e}"
    );

    let disabled = |env: &TestEnv| yaml_list(&config(env, "dev"), "skills.disabled");
    let steps: [(&[&str], &str, bool); 5] = [
        (&["--set", "coding,debugging"], "configured", true),
        (&["--add", "my-notes"], "installed", false),
        (&["--remove", "my-notes"], "configured", true),
        (&["--sync"], "configured", true),
        (&["--set", "coding,my-notes"], "installed", false),
    ];
    for (args, state, is_disabled) in steps {
        let mut a = vec!["agents", "skills", "dev"];
        a.extend_from_slice(args);
        let snap = env.json(&a);
        check_snapshot_shape(&snap);
        let e = entry(&snap, "my-notes");
        assert_eq!(e["state"], state, "after {args:?}: {e}");
        assert_eq!(e["origin"], "user_installed");
        assert_eq!(e["readOnly"], true);
        assert_eq!(
            disabled(&env).contains(&"my-notes".to_string()),
            is_disabled,
            "after {args:?}: skills.disabled = {:?}",
            disabled(&env)
        );
        assert_eq!(
            read(&mine.join("SKILL.md")),
            text,
            "after {args:?} the file is untouched"
        );
    }
    let snap = env.json(&["agents", "skills", "dev", "--set", "coding"]);
    assert_eq!(entry(&snap, "my-notes")["state"], "configured");
    assert_eq!(read(&mine.join("SKILL.md")), text);
    assert_eq!(
        skills_on_disk(&env.profile_dir("dev")),
        ["coding", "my-notes"]
    );
}

#[test]
fn a_users_config_yaml_keeps_its_comments_and_keys_through_create_and_skill_edits() {
    let env = TestEnv::new();
    let dir = env.profile_dir("keeper");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let original = "\
# My Hermes settings. nxr, keep your hands off what is not yours.
model:
  default: anthropic/claude-sonnet-4 # my old model
  api_mode: chat_completions   # keep this
terminal:
  backend: local   # the local shell
  timeout: 180
display:
  skin: mono
# A list nxr knows nothing about.
custom_thing:
  - alpha
  - beta
";
    std::fs::write(dir.join("config.yaml"), original).expect("write");
    std::fs::write(dir.join(".env"), "OPENROUTER_API_KEY=sk-or-v1-mine\n").expect("env");

    let created = env.json(&["agents", "create", "--role", "engineer", "--name", "keeper"]);
    let pick = created["agent"]["model"]
        .as_str()
        .expect("model")
        .to_string();

    let check = |when: &str| {
        let cfg = config(&env, "keeper");
        for line in [
            "# My Hermes settings. nxr, keep your hands off what is not yours.",
            "# keep this",
            "# the local shell",
            "# A list nxr knows nothing about.",
        ] {
            assert!(cfg.contains(line), "{when}: lost {line:?}:\n{cfg}");
        }
        assert_eq!(
            yaml_get(&cfg, "model.api_mode").as_deref(),
            Some("chat_completions"),
            "{when}:\n{cfg}"
        );
        assert_eq!(
            yaml_get(&cfg, "model.default").as_deref(),
            Some(pick.as_str()),
            "{when}:\n{cfg}"
        );
        assert_eq!(
            yaml_get(&cfg, "model.provider").as_deref(),
            Some("openrouter"),
            "{when}:\n{cfg}"
        );
        assert_eq!(
            yaml_get(&cfg, "terminal.backend").as_deref(),
            Some("local"),
            "{when}"
        );
        assert_eq!(
            yaml_get(&cfg, "terminal.timeout").as_deref(),
            Some("180"),
            "{when}"
        );
        assert_eq!(
            yaml_get(&cfg, "display.skin").as_deref(),
            Some("mono"),
            "{when}"
        );
        assert_eq!(yaml_list(&cfg, "custom_thing"), ["alpha", "beta"], "{when}");
        // Key order is kept: the user's keys stay where they were.
        let pos = |k: &str| cfg.find(k).unwrap_or_else(|| panic!("{when}: no {k}"));
        assert!(
            pos("\nterminal:") < pos("\ndisplay:") && pos("\ndisplay:") < pos("\ncustom_thing:")
        );
        assert_eq!(
            read(&dir.join(".env")),
            "OPENROUTER_API_KEY=sk-or-v1-mine\n",
            "{when}: .env untouched"
        );
    };
    check("after create");
    env.json(&["agents", "skills", "keeper", "--set", "coding,testing"]);
    check("after --set");
    env.json(&["agents", "skills", "keeper", "--add", "debugging"]);
    env.json(&["agents", "skills", "keeper", "--remove", "coding"]);
    check("after --add/--remove");
    // A user skill switched off writes skills.disabled next to the user's keys.
    let mine = dir.join("skills/mine");
    std::fs::create_dir_all(&mine).expect("mkdir");
    std::fs::write(
        mine.join("SKILL.md"),
        "---\nname: mine\ndescription: x\n---\nbody\n",
    )
    .expect("write");
    env.json(&["agents", "skills", "keeper", "--sync"]);
    check("after --sync");
    assert_eq!(
        yaml_list(&config(&env, "keeper"), "skills.disabled"),
        ["mine"]
    );
}

#[test]
fn unknown_roles_bad_names_and_duplicates_are_usage_errors_that_write_nothing() {
    let env = TestEnv::new();
    let out = env.nxr(&["agents", "create", "--role", "boss", "--name", "x"]);
    out.assert_code(2);
    for role in ROLES {
        assert!(out.stderr.contains(role), "the message lists {role}: {out}");
    }
    let out = env.nxr(&["models", "best-free", "--role", "boss"]);
    out.assert_code(2);

    let long = "a".repeat(65);
    for name in [
        "Bad Name",
        "../x",
        &long,
        "hermes",
        "default",
        "",
        "-lead",
        "UPPER",
        "a/b",
        "x\u{1b}[2J",
    ] {
        let arg = format!("--name={name}");
        let out = env.nxr(&["agents", "create", "--role", "pm", &arg]);
        out.assert_code(2);
        assert!(
            out.stderr.contains("name") || out.stderr.contains("reserved"),
            "{name:?}: {out}"
        );
        assert!(
            has_control_chars(&out.stderr).is_none(),
            "{name:?}: {out:?}"
        );
    }
    assert!(
        tree(env.hermes_home.path()).is_empty(),
        "nothing written: {:?}",
        tree(env.hermes_home.path())
    );
    let parent = env.hermes_home.path().parent().expect("parent");
    assert!(!parent.join("x").join("config.yaml").exists());
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 0);

    // 64 characters is the longest name Hermes accepts.
    let longest = "b".repeat(64);
    env.json(&["agents", "create", "--role", "pm", "--name", &longest]);

    env.json(&["agents", "create", "--role", "pm", "--name", "pm1"]);
    let cfg = config(&env, "pm1");
    let out = env.nxr(&["agents", "create", "--role", "engineer", "--name", "pm1"]);
    out.assert_code(2);
    assert!(out.stderr.contains("already exists"), "{out}");
    assert_eq!(
        config(&env, "pm1"),
        cfg,
        "the existing profile is untouched"
    );
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM agents WHERE name = 'pm1'"),
        1
    );
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 2);

    // clap's own usage errors are exit 2 as well.
    env.nxr(&["agents", "create", "--role", "pm"])
        .assert_code(2);
    env.nxr(&["models", "frobnicate"]).assert_code(2);
}

#[test]
fn hermes_home_pointing_at_a_file_fails_clearly_and_records_nothing() {
    let mut env = TestEnv::new();
    let file = env.home.path().join("not-a-dir");
    std::fs::write(&file, "just a file\n").expect("write");
    env.set("HERMES_HOME", file.to_str().expect("utf-8"));

    let out = env.nxr(&["agents", "create", "--role", "pm", "--name", "pm"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr.contains(file.to_str().expect("utf-8")),
        "the message names the path: {out}"
    );
    assert!(
        out.stderr.to_lowercase().contains("not a directory"),
        "the message says what is wrong: {out}"
    );
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 0);
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agent_model_history"), 0);
    assert_eq!(read(&file), "just a file\n");
    assert_eq!(env.json(&["agents", "list"]), json!([]));
}

// ---------------------------------------------------------------- hostile input

fn hostile_catalog() -> (String, Vec<String>) {
    let mut v: Value = serde_json::from_str(&fixture("models-2026-03-30.json")).expect("json");
    let data = v["data"].as_array_mut().expect("data");
    let template = data
        .iter()
        .find(|m| m["id"] == "qwen/qwen3-coder:free")
        .expect("qwen3-coder")
        .clone();
    let names = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "\u{1b}[2J\u{1b}[HCleared",
        "\u{1b}]0;pwned\u{7}Title",
        "Bell\u{7}Back\u{8}space\rCR\u{0}NUL\u{7f}DEL\u{9b}31mCSI",
        "Line\nBreak\tTab",
    ];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut m = template.clone();
        let id = format!("evil/model-{i}:free");
        m["id"] = json!(id);
        m["canonical_slug"] = json!(format!("evil/model-{i}"));
        m["name"] = json!(name);
        m["description"] = json!(format!("{name} {name}"));
        data.push(m);
        ids.push(id);
    }
    let mut big = template.clone();
    big["id"] = json!("evil/huge-description:free");
    big["name"] = json!("Huge \u{1b}[31mdescription");
    big["description"] = json!(format!("\u{1b}[2J{}", "A".repeat(1 << 20)));
    data.push(big);
    ids.push("evil/huge-description:free".into());
    // An id with escape codes, too (it never qualifies, so it is never written anywhere).
    let mut bad_id = template;
    bad_id["id"] = json!("evil/\u{1b}[31mred:free");
    bad_id["name"] = json!("Red");
    bad_id["supported_parameters"] = json!([]);
    data.push(bad_id);
    ids.push("evil/\u{1b}[31mred:free".into());
    (v.to_string(), ids)
}

#[test]
fn a_hostile_catalog_scans_and_the_text_output_has_no_control_characters() {
    let env = TestEnv::new();
    let (body, ids) = hostile_catalog();
    assert!(body.len() > 1 << 20);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("hostile.json");
    std::fs::write(&path, &body).expect("write");

    let scan = env.nxr(&["models", "scan", "--from", path.to_str().expect("utf-8")]);
    scan.assert_ok();
    assert_eq!(has_control_chars(&scan.stdout), None, "{scan:?}");

    let roster = env.nxr(&["models", "roster"]);
    roster.assert_ok();
    assert_eq!(
        has_control_chars(&roster.stdout),
        None,
        "roster: {:?}",
        roster.stdout
    );
    assert!(roster.stdout.contains("evil/model-0:free"), "{roster}");
    assert!(
        roster.stdout.len() < 256 * 1024,
        "the 1 MB description is not printed ({} bytes)",
        roster.stdout.len()
    );

    let json = env.nxr(&["models", "roster", "--json"]);
    json.assert_ok();
    // JSON must escape C0 controls (ESC included); DEL and C1 may legally stay raw.
    assert_eq!(
        json.stdout
            .chars()
            .find(|c| (*c < ' ' && *c != '\n') || *c == '\u{1b}'),
        None,
        "JSON escapes control characters"
    );
    let v = json.json();
    let names: Vec<&str> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"<script>alert(1)</script>"),
        "data is kept as data"
    );

    // The id with escape codes is skipped when the catalog is parsed, with a clean warning.
    assert!(scan.stderr.contains("control characters"), "{scan:?}");
    assert_eq!(has_control_chars(&scan.stderr), None, "{scan:?}");
    for id in &ids {
        let out = env.nxr(&["models", "show", id]);
        if id.chars().any(char::is_control) {
            assert!(!out.ok(), "skipped at parse time: {out}");
            assert_eq!(has_control_chars(&out.stderr), None, "{out:?}");
            continue;
        }
        out.assert_ok();
        assert_eq!(
            has_control_chars(&out.stdout),
            None,
            "show {id:?}: {:?}",
            out.stdout
        );
        assert_eq!(
            has_control_chars(&out.stderr),
            None,
            "show {id:?}: {:?}",
            out.stderr
        );
        assert!(
            out.stdout.len() < 64 * 1024,
            "show {id:?}: {} bytes",
            out.stdout.len()
        );
        let j = env.json(&["models", "show", id]);
        assert_eq!(j["model"], id.as_str());
    }
    for role in ROLES {
        let out = env.nxr(&["models", "best-free", "--role", role]);
        out.assert_ok();
        assert_eq!(
            has_control_chars(&out.stdout),
            None,
            "best-free {role}: {:?}",
            out.stdout
        );
    }

    // Agents created on top of it are fine, and their files carry no escape codes.
    for role in ROLES {
        let name = format!("x-{role}");
        env.json(&["agents", "create", "--role", role, "--name", &name]);
        let cfg = config(&env, &name);
        assert_eq!(has_control_chars(&cfg), None, "{cfg}");
    }
    let out = env.nxr(&["agents", "list"]);
    out.assert_ok();
    assert_eq!(has_control_chars(&out.stdout), None, "{:?}", out.stdout);
    // A hand-picked model id with escape codes is refused, not written to config.yaml.
    let out = env.nxr(&[
        "agents",
        "create",
        "--role",
        "pm",
        "--name",
        "red",
        "--model",
        "evil/\u{1b}[31mred:free",
    ]);
    assert_eq!(out.code, Some(2), "{out}");
    assert_eq!(has_control_chars(&out.stderr), None, "{:?}", out.stderr);
    assert!(!env.profile_dir("red").join("config.yaml").exists());
}

#[test]
fn error_messages_never_echo_control_characters() {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    env.json(&["agents", "create", "--role", "pm", "--name", "pm"]);
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J";
    server.fail(
        MODELS,
        Fault::status(
            500,
            json!({"error": {"code": 500, "message": format!("down {hostile}")}}).to_string(),
        ),
    );
    let cases: Vec<Vec<String>> = vec![
        vec!["models".into(), "scan".into()],
        vec![
            "models".into(),
            "show".into(),
            format!("evil/{hostile}:free"),
        ],
        vec!["agents".into(), "skills".into(), format!("x{hostile}")],
        vec![
            "agents".into(),
            "skills".into(),
            "pm".into(),
            "--remove".into(),
            format!("s{hostile}"),
        ],
    ];
    for args in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.nxr(&a);
        assert_ne!(out.code, Some(0), "{args:?}: {out}");
        assert_eq!(
            has_control_chars(&out.stderr),
            None,
            "{args:?}: {:?}",
            out.stderr
        );
    }
}

#[test]
fn closing_stdout_early_is_not_a_crash_for_text_output() {
    let env = TestEnv::new();
    for args in [
        &["models", "roster"][..],
        &["models", "show", "qwen/qwen3-coder:free"],
    ] {
        let mut cmd = env.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        drop(child.stdout.take()); // the reader goes away before nxr prints
        let out = support::wait(child, NXR_TIMEOUT).expect("finishes");
        assert_eq!(out.code, Some(0), "{args:?}: {out}");
        assert!(!out.stderr.contains("panicked"), "{args:?}: {out}");
    }
}

#[test]
fn closing_stdout_early_is_not_a_crash_for_json_output() {
    let env = TestEnv::new();
    env.json(&["agents", "create", "--role", "pm", "--name", "pm"]);
    for args in [
        &["models", "roster", "--json"][..],
        &["agents", "list", "--json"],
        &["agents", "skills", "pm", "--json"],
    ] {
        let mut cmd = env.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        drop(child.stdout.take());
        let out = support::wait(child, NXR_TIMEOUT).expect("finishes");
        assert!(!out.stderr.contains("panicked"), "{args:?}: {out}");
        assert_eq!(out.code, Some(0), "{args:?}: {out}");
    }
}

// ---------------------------------------------------------------- concurrency

fn spawn_many(env: &TestEnv, argv: &[Vec<String>]) -> Vec<support::Output> {
    let children: Vec<_> = argv
        .iter()
        .map(|a| {
            let args: Vec<&str> = a.iter().map(String::as_str).collect();
            let mut cmd = env.command(&args);
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().expect("spawn")
        })
        .collect();
    children
        .into_iter()
        .map(|c| support::wait(c, NXR_TIMEOUT).expect("finishes in time"))
        .collect()
}

#[test]
fn eight_agents_created_at_once_on_a_fresh_database_all_succeed() {
    let env = TestEnv::new();
    let argv: Vec<Vec<String>> = (0..8)
        .map(|i| {
            ["agents", "create", "--role", ROLES[i % 6], "--name"]
                .iter()
                .map(|s| s.to_string())
                .chain([format!("crew-{i}")])
                .collect()
        })
        .collect();
    let outs = spawn_many(&env, &argv);
    for (i, out) in outs.iter().enumerate() {
        assert!(out.ok(), "crew-{i}: {out}");
        assert!(
            !out.stderr.to_lowercase().contains("locked"),
            "crew-{i}: {out}"
        );
    }
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 8);
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agent_model_history"), 8);
    // One row per migration file, each applied once however many processes raced.
    let files = std::fs::read_dir(support::manifest_dir().join("migrations"))
        .expect("migrations")
        .count() as i64;
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM nxr_migrations"), files);
    for i in 0..8 {
        let name = format!("crew-{i}");
        let cfg = config(&env, &name);
        assert_eq!(
            yaml_get(&cfg, "model.provider").as_deref(),
            Some("openrouter")
        );
        assert_eq!(
            skills_on_disk(&env.profile_dir(&name)),
            sorted(db_skillset(&env, &name)),
            "{name}"
        );
    }
}

#[test]
fn eight_creates_of_the_same_name_at_once_give_exactly_one_agent() {
    let env = TestEnv::new();
    env.nxr(&["agents", "list"]).assert_ok();
    let argv: Vec<Vec<String>> = (0..8)
        .map(|_| {
            ["agents", "create", "--role", "engineer", "--name", "solo"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        })
        .collect();
    let outs = spawn_many(&env, &argv);
    let winners = outs.iter().filter(|o| o.ok()).count();
    assert_eq!(winners, 1, "{outs:#?}");
    for out in outs.iter().filter(|o| !o.ok()) {
        out.assert_code(2);
        assert!(out.stderr.contains("already exists"), "{out}");
    }
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 1);
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agent_model_history"), 1);
    let cfg = config(&env, "solo");
    assert_eq!(
        yaml_get(&cfg, "model.provider").as_deref(),
        Some("openrouter")
    );
    assert_eq!(
        skills_on_disk(&env.profile_dir("solo")),
        sorted(ENGINEER_SKILLS)
    );
}

#[test]
fn a_rescore_killed_mid_write_leaves_a_consistent_database() {
    let env = TestEnv::new();
    env.json(&[
        "models",
        "scan",
        "--from",
        &fixture_path("models-2026-03-30.json").display().to_string(),
    ]);
    env.json(&["agents", "create", "--role", "pm", "--name", "pm"]);
    // How long one rescore takes here, to spread the kills over it.
    let started = Instant::now();
    env.json(&["models", "rescore"]);
    let one = started.elapsed().max(Duration::from_millis(20));

    let mut killed = 0;
    for i in 0..16u32 {
        let mut cmd = env.command(&["models", "rescore"]);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn");
        std::thread::sleep(one * i / 12);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().expect("wait");
        if status.code().is_none() {
            killed += 1;
        }
    }
    assert!(
        killed >= 4,
        "only {killed} of 16 rescores were killed before finishing"
    );

    let check = env.db_rows("PRAGMA integrity_check");
    assert_eq!(check, [["ok"]], "integrity_check");
    let groups = env.db_rows(
        "SELECT s.scored_at, COUNT(*), c.model_count FROM model_scores s
         JOIN catalog_snapshots c ON c.id = s.catalog_id GROUP BY s.scored_at",
    );
    assert!(!groups.is_empty());
    for g in &groups {
        let rows: i64 = g[1].parse().expect("count");
        let models: i64 = g[2].parse().expect("models");
        assert_eq!(rows, models * 6, "scoring {} is complete", g[0]);
    }
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM model_scores WHERE catalog_id IS NULL"),
        0
    );
    // And nxr carries on.
    let again = env.json(&["models", "rescore"]);
    assert_eq!(again["rows_written"], 345 * 6);
    env.json(&["agents", "create", "--role", "engineer", "--name", "after"]);
    assert_eq!(
        env.json(&["agents", "list"]).as_array().map(Vec::len),
        Some(2)
    );
}
