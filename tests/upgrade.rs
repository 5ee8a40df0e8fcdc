//! The API-key upgrade end to end, as a person runs it: `nxr config set openrouter-key`,
//! `nxr upgrade` (the plan, `--all`, `--agent`, `--model`, `--revert`) against a fake
//! OpenRouter, on agents `nxr init --free` set up in fresh temporary homes. Every file of
//! every profile is hashed around each change: only the model keys of `config.yaml` may move.
//! Every failure (a rejected key, no network, 5xx, a hang, garbage, 429) changes nothing.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::openrouter::{AUTH_KEY, CREDITS, KEY};
use support::profiles::{
    DEFAULT_AGENTS, Digest, agent_dir, agent_rows, changed, closed_port_url, comments, config_text,
    db_model, hash_tree, mode, read, without_model_keys, yaml, yaml_str,
};
use support::{FakeOpenRouter, Fault, Output, TestEnv, VALID_KEY, example, fixture};

/// A second key the fake accepts.
const OTHER_KEY: &str = "sk-or-v1-nxr-test-1111111111111111111111111111111111111111111111111";
/// A key the fake rejects with OpenRouter's 401.
const REVOKED_KEY: &str = "sk-or-v1-revoked-22222222222222222222222222222222222222222222222222";

/// `config.yaml` of each default agent, relative to `HERMES_HOME`.
const CONFIGS: [&str; 3] = [
    "config.yaml",
    "profiles/engineer/config.yaml",
    "profiles/pm/config.yaml",
];

fn config_rel(agent: &str) -> &'static str {
    match agent {
        "hermes" => CONFIGS[0],
        "engineer" => CONFIGS[1],
        "pm" => CONFIGS[2],
        other => panic!("{other}"),
    }
}

/// A fake OpenRouter and a home where `nxr init --free` ran against it.
fn onboarded() -> (FakeOpenRouter, TestEnv) {
    let server = FakeOpenRouter::start();
    server.set_valid_keys(&[VALID_KEY, OTHER_KEY]);
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    (server, env)
}

/// The same, with `nxr config set openrouter-key VALID_KEY` done.
fn with_key() -> (FakeOpenRouter, TestEnv) {
    let (server, env) = onboarded();
    env.nxr(&["config", "set", "openrouter-key", VALID_KEY])
        .assert_ok();
    (server, env)
}

const USER_TOP: &str = "# My Hermes settings. Keep this comment.\n";
const USER_MODEL_KEY: &str = "  api_mode: chat_completions  # set by hand\n";
const USER_TAIL: &str = "\
# Below: mine, not nxr's.
display:
  compact: true  # small screens
memory:
  memory_enabled: true
  user_profile_enabled: false
";

/// Gives every default agent what a person's agent accumulates: memory, sessions, a
/// state.db, a soul, a hand-written skill, and a config.yaml with comments and keys of its
/// own (one of them inside `model:`).
fn personalize(env: &TestEnv) {
    for agent in DEFAULT_AGENTS {
        let dir = agent_dir(env, agent);
        let write = |rel: &str, bytes: &[u8]| {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        };
        write(
            "memories/MEMORY.md",
            format!("- {agent} prefers small commits\n§\n- the build takes 2 minutes\n").as_bytes(),
        );
        write("memories/USER.md", b"- the user is called Sam\n");
        write(
            "sessions/session_20261126_091500_a1b2c3.json",
            format!(r#"{{"session_id":"20261126_091500_a1b2c3","agent":"{agent}","messages":[{{"role":"user","content":"hi"}}]}}"#).as_bytes(),
        );
        let mut db = b"SQLite format 3\0".to_vec();
        db.extend((0..8192u32).map(|i| (i * 31 % 251) as u8));
        write("state.db", &db);
        write("SOUL.md", format!("You are {agent}.\n").as_bytes());
        write(
            "skills/my-notes/SKILL.md",
            b"---\nname: my-notes\ndescription: Notes I keep by hand.\n---\n\nBe brief.\n",
        );
        let cfg = config_text(env, agent);
        assert!(cfg.contains("model:\n"), "{cfg}");
        let cfg = format!(
            "{USER_TOP}{}{USER_TAIL}",
            cfg.replacen("model:\n", &format!("model:\n{USER_MODEL_KEY}"), 1)
        );
        write("config.yaml", cfg.as_bytes());
        assert_eq!(
            yaml_str(&cfg, "model.api_mode").as_deref(),
            Some("chat_completions")
        );
    }
}

/// Everything "changes nothing" compares.
#[derive(Debug, PartialEq)]
struct Snapshot {
    agents: Vec<Vec<String>>,
    history: i64,
    files: BTreeMap<String, Digest>,
    secrets: Option<String>,
}

fn snapshot(env: &TestEnv) -> Snapshot {
    Snapshot {
        agents: agent_rows(env),
        history: env.db_i64("SELECT COUNT(*) FROM agent_model_history"),
        files: hash_tree(env.hermes_home.path()),
        secrets: std::fs::read_to_string(env.nxr_home.path().join("secrets.env")).ok(),
    }
}

#[track_caller]
fn assert_unchanged(env: &TestEnv, before: &Snapshot, what: &str) {
    let now = snapshot(env);
    assert_eq!(
        now.agents, before.agents,
        "{what}: the agents table changed"
    );
    assert_eq!(
        now.history, before.history,
        "{what}: the model history changed"
    );
    assert_eq!(
        changed(&before.files, &now.files),
        Vec::<String>::new(),
        "{what}: files changed"
    );
    assert_eq!(
        now.secrets, before.secrets,
        "{what}: the stored key changed"
    );
}

fn models(env: &TestEnv) -> BTreeMap<String, String> {
    DEFAULT_AGENTS
        .iter()
        .map(|a| (a.to_string(), db_model(env, a)))
        .collect()
}

/// `nxr upgrade --json` (no terminal: the plan, nothing changed).
fn plan(env: &TestEnv) -> Value {
    env.json(&["upgrade"])
}

fn plan_row<'a>(plan: &'a Value, agent: &str) -> &'a Value {
    plan["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .find(|r| r["agent"] == agent)
        .unwrap_or_else(|| panic!("{agent} in {plan:#}"))
}

fn recommended(plan: &Value) -> BTreeMap<String, String> {
    DEFAULT_AGENTS
        .iter()
        .map(|a| {
            let m = plan_row(plan, a)["recommended"]["model"]
                .as_str()
                .unwrap_or_else(|| panic!("a paid recommendation for {a}: {plan:#}"));
            (a.to_string(), m.to_string())
        })
        .collect()
}

/// `agents recommend --json`: agent → the model it runs now.
fn recommend_current(env: &TestEnv) -> BTreeMap<String, String> {
    env.json(&["agents", "recommend"])
        .as_array()
        .expect("recommendations")
        .iter()
        .map(|r| {
            (
                r["agent"].as_str().expect("agent").to_string(),
                r["current_model"].as_str().expect("current").to_string(),
            )
        })
        .collect()
}

fn masked(key: &str) -> String {
    format!("{}...{}", &key[..8], &key[key.len() - 4..])
}

#[track_caller]
fn assert_no_full_key(out: &Output) {
    for k in [VALID_KEY, OTHER_KEY, REVOKED_KEY] {
        assert!(
            !out.stdout.contains(k) && !out.stderr.contains(k),
            "a key printed in full: {out}"
        );
    }
}

// ---------------------------------------------------------------- the key

#[test]
fn config_set_openrouter_key_validates_then_stores_it_for_nxr_and_every_agent() {
    let (server, env) = onboarded();
    let before = snapshot(&env);

    // A rejected key: OpenRouter's message, nothing stored.
    let out = env.nxr(&["config", "set", "openrouter-key", REVOKED_KEY]);
    out.assert_code(1);
    assert!(out.stderr.contains("User not found."), "{out}");
    assert_no_full_key(&out);
    assert_unchanged(&env, &before, "config set with a revoked key");

    // An empty one is a usage error, asked of nobody.
    let hits = server.hits(KEY);
    let out = env.nxr(&["config", "set", "openrouter-key", ""]);
    out.assert_code(2);
    assert_eq!(server.hits(KEY), hits);
    assert_unchanged(&env, &before, "config set with an empty key");

    let out = env.nxr(&["config", "set", "openrouter-key", VALID_KEY]);
    out.assert_ok();
    assert_no_full_key(&out);
    assert!(out.stdout.contains(&masked(VALID_KEY)), "{out}");
    assert!(
        out.stdout.contains("50 free-model requests per day"),
        "the tier: {out}"
    );
    assert!(out.stdout.contains("nxr upgrade"), "{out}");
    assert_eq!(server.hits(KEY), hits + 1);

    let secrets = env.nxr_home.path().join("secrets.env");
    assert_eq!(mode(&secrets), 0o600);
    assert!(read(&secrets).contains(&format!("OPENROUTER_API_KEY={VALID_KEY}")));
    for agent in DEFAULT_AGENTS {
        let dotenv = agent_dir(&env, agent).join(".env");
        assert_eq!(mode(&dotenv), 0o600, "{}", dotenv.display());
        assert!(
            read(&dotenv)
                .lines()
                .any(|l| l == format!("OPENROUTER_API_KEY={VALID_KEY}")),
            "{agent}"
        );
    }
    // Only the .env files are new; the agents did not move.
    let after = snapshot(&env);
    assert_eq!(after.agents, before.agents);
    assert_eq!(
        changed(&before.files, &after.files),
        [".env", "profiles/engineer/.env", "profiles/pm/.env"]
    );

    let got = env.nxr(&["config", "get", "openrouter-key"]);
    got.assert_ok();
    assert_eq!(got.stdout.trim(), masked(VALID_KEY));
    assert_no_full_key(&got);

    // Replacing it with another key replaces it everywhere; an OpenRouter without the
    // newer /key path is asked at /auth/key.
    server.fail(
        KEY,
        Fault::status(404, r#"{"error":{"code":404,"message":"Not Found"}}"#),
    );
    env.nxr(&["config", "set", "openrouter-key", OTHER_KEY])
        .assert_ok();
    assert_eq!(server.hits(AUTH_KEY), 1);
    server.clear_faults();
    for dotenv in [secrets.clone(), agent_dir(&env, "pm").join(".env")] {
        let text = read(&dotenv);
        assert_eq!(text.matches("OPENROUTER_API_KEY=").count(), 1, "{text}");
        assert!(text.contains(OTHER_KEY), "{}", dotenv.display());
    }
}

// ---------------------------------------------------------------- the plan

#[test]
fn upgrade_without_a_terminal_shows_the_plan_and_changes_nothing() {
    let (_server, env) = with_key();
    personalize(&env);
    let before = snapshot(&env);
    let free = models(&env);

    let out = env.nxr(&["upgrade"]);
    out.assert_ok();
    assert_no_full_key(&out);
    assert!(out.stdout.contains("nothing changed"), "{out}");
    assert!(
        out.stderr.contains("50 free-model requests per day"),
        "the tier: {out}"
    );
    assert!(out.stderr.contains(&masked(VALID_KEY)), "{out}");
    assert_unchanged(&env, &before, "upgrade without a terminal");

    let p = plan(&env);
    assert_eq!(p["account"]["tier"]["per_day"], 50, "{p:#}");
    assert_eq!(p["account"]["key"], masked(VALID_KEY).as_str());
    assert!(out.stdout.contains("IN/OUT per M"), "{out}");
    for agent in DEFAULT_AGENTS {
        let row = plan_row(&p, agent);
        let line = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(agent))
            .unwrap_or_else(|| panic!("a plan line for {agent}: {out}"));
        let (cur, rec) = (&row["current"], &row["recommended"]);
        assert_eq!(cur["model"], free[agent].as_str(), "{row:#}");
        assert_eq!(cur["free"], true);
        assert_eq!(cur["prompt"], "free");
        assert_eq!(rec["free"], false, "a paid recommendation: {row:#}");
        let (pin, pout) = (
            rec["prompt_per_million"].as_f64().expect("price"),
            rec["completion_per_million"].as_f64().expect("price"),
        );
        assert!(pin > 0.0 && pout > 0.0, "{row:#}");
        assert_eq!(rec["prompt"], format!("${pin:.2}").as_str(), "{row:#}");
        let gain = row["gain"].as_f64().expect("a score gain");
        assert!(gain > 0.0, "{row:#}");
        assert!(
            (gain
                - (rec["score"].as_f64().expect("score") - cur["score"].as_f64().expect("score")))
            .abs()
                < 0.051,
            "{row:#}"
        );
        for text in [
            free[agent].clone(),
            "free / free".to_string(),
            rec["model"].as_str().expect("model").to_string(),
            format!(
                "{} / {}",
                rec["prompt"].as_str().expect("p"),
                rec["completion"].as_str().expect("c")
            ),
            format!("{gain:+.1}"),
        ] {
            assert!(line.contains(&text), "{agent}: {text:?} in {line:?}");
        }
    }
    assert_unchanged(&env, &before, "upgrade --json");
}

#[test]
fn the_free_tier_shown_follows_the_account() {
    let (server, env) = with_key();
    let tier = |env: &TestEnv| -> (Value, Output) {
        let out = env.nxr(&["upgrade"]);
        out.assert_ok();
        (plan(env)["account"]["tier"].clone(), out)
    };

    // A free account: OpenRouter says 50 a day.
    let (t, _) = tier(&env);
    assert_eq!(t["per_day"], 50, "{t}");
    assert_eq!(t["per_minute"], 20, "{t}");

    // Credits bought (100.5 ≥ 10): 1,000 a day.
    server.serve_key("key-2025-03-10-simonw.json");
    let (t, out) = tier(&env);
    assert_eq!(t["per_day"], 1000, "{t}");
    assert!(
        out.stderr.contains("1,000 free-model requests per day"),
        "{out}"
    );
    assert!(out.stderr.contains("100.50 credits"), "{out}");
    assert!(server.hits(CREDITS) >= 1);

    // The key may not read /credits and the account is not a free one: it cannot tell.
    server.forbid_credits(true);
    let (t, out) = tier(&env);
    assert_eq!(t["per_day"], Value::Null, "{t}");
    assert!(out.stderr.contains("cannot read how many"), "{out}");
    assert!(
        out.stderr.contains("1,000") && out.stderr.contains("50"),
        "{out}"
    );

    // A free account whose /credits is forbidden is still 50.
    server.serve_key("key-free-account-shape.json");
    let (t, _) = tier(&env);
    assert_eq!(t["per_day"], 50, "{t}");
}

// ---------------------------------------------------------------- upgrade and revert

#[test]
fn upgrade_all_then_revert_moves_only_the_model_keys_and_comes_back_exactly() {
    let (_server, env) = with_key();
    personalize(&env);
    let free = models(&env);
    let start = snapshot(&env);
    let start_cfg: BTreeMap<&str, String> = DEFAULT_AGENTS
        .iter()
        .map(|a| (*a, config_text(&env, a)))
        .collect();
    let rec = recommended(&plan(&env));

    let out = env.nxr(&["upgrade", "--all"]);
    out.assert_ok();
    assert_no_full_key(&out);
    for agent in DEFAULT_AGENTS {
        assert!(
            out.stdout
                .contains(&format!("{agent} now runs {}", rec[agent])),
            "{out}"
        );
    }
    assert!(out.stdout.contains("nxr upgrade --revert"), "{out}");
    assert_eq!(
        models(&env),
        rec,
        "every agent is on its paid recommendation"
    );
    assert_eq!(recommend_current(&env), rec, "agents recommend reflects it");
    assert_eq!(
        env.db_i64(
            "SELECT COUNT(*) FROM agent_model_history WHERE reason = 'upgrade' AND is_free = 0"
        ),
        3
    );

    let upgraded = snapshot(&env);
    assert_eq!(
        changed(&start.files, &upgraded.files),
        CONFIGS,
        "only config.yaml files changed"
    );
    for agent in DEFAULT_AGENTS {
        let (was, now) = (&start_cfg[agent], config_text(&env, agent));
        assert_eq!(
            yaml_str(&now, "model.default").as_deref(),
            Some(rec[agent].as_str())
        );
        assert_eq!(
            yaml_str(&now, "model.provider").as_deref(),
            Some("openrouter")
        );
        assert_eq!(
            without_model_keys(&now, &["default"]),
            without_model_keys(was, &["default"]),
            "{agent}: only model.default moved:\n--- before\n{was}\n--- after\n{now}"
        );
        assert_eq!(
            comments(&now),
            comments(was),
            "{agent}: comments kept:\n{now}"
        );
    }
    // Each profile's other files, one by one, for the record.
    for f in start
        .files
        .keys()
        .filter(|f| !CONFIGS.contains(&f.as_str()))
    {
        assert_eq!(start.files[f], upgraded.files[f], "{f}");
    }

    // The plan now has nothing to recommend, and `--all` again changes nothing.
    let again = env.nxr(&["upgrade", "--all"]);
    again.assert_ok();
    assert_unchanged(&env, &upgraded, "a second upgrade --all");

    let out = env.nxr(&["upgrade", "--revert"]);
    out.assert_ok();
    for agent in DEFAULT_AGENTS {
        assert!(
            out.stdout
                .contains(&format!("{agent} is back on {}", free[agent])),
            "{out}"
        );
    }
    assert_eq!(models(&env), free, "every agent is back on its free model");
    assert_eq!(recommend_current(&env), free);
    let reverted = snapshot(&env);
    let moved = changed(&start.files, &reverted.files);
    assert!(
        moved.iter().all(|f| CONFIGS.contains(&f.as_str())),
        "only config.yaml may differ from before the upgrade: {moved:?}"
    );
    for agent in DEFAULT_AGENTS {
        let now = config_text(&env, agent);
        assert_eq!(
            yaml(&now),
            yaml(&start_cfg[agent]),
            "{agent}: revert is exact:\n{now}"
        );
        assert_eq!(comments(&now), comments(&start_cfg[agent]));
        assert_eq!(
            now, start_cfg[agent],
            "{agent}: config.yaml byte-identical after revert"
        );
    }

    let out = env.nxr(&["upgrade", "--revert"]);
    out.assert_ok();
    assert!(out.stdout.contains("already on a free model"), "{out}");
    assert_unchanged(&env, &reverted, "a second revert");
}

/// A paid model with tool calling that is not `avoid`, from the catalog the fake serves.
fn another_paid_model(avoid: &str) -> String {
    let v: Value = serde_json::from_str(&fixture("models-2026-05-01.json")).expect("catalog");
    v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|m| {
            let id = m["id"].as_str().unwrap_or("");
            let price = |k: &str| {
                m["pricing"][k]
                    .as_str()
                    .and_then(|p| p.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            !id.ends_with(":free")
                && id != avoid
                && price("prompt") > 0.0
                && price("completion") > 0.0
                && m["supported_parameters"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|x| x == "tools"))
        })
        .map(|m| m["id"].as_str().expect("id").to_string())
        .min()
        .expect("a paid model with tools")
}

#[test]
fn upgrade_one_agent_with_its_recommendation_or_a_chosen_model_then_revert() {
    let (_server, env) = with_key();
    personalize(&env);
    let free = models(&env);
    let start = snapshot(&env);
    let start_cfg = config_text(&env, "engineer");
    let rec = recommended(&plan(&env));

    let out = env.nxr(&["upgrade", "--agent", "engineer"]);
    out.assert_ok();
    assert!(
        out.stdout
            .contains(&format!("engineer now runs {}", rec["engineer"])),
        "{out}"
    );
    let mut want = free.clone();
    want.insert("engineer".into(), rec["engineer"].clone());
    assert_eq!(models(&env), want, "exactly one agent moved");
    assert_eq!(recommend_current(&env), want);
    let after = snapshot(&env);
    assert_eq!(
        changed(&start.files, &after.files),
        [config_rel("engineer")]
    );

    // A model chosen by hand.
    let chosen = another_paid_model(&rec["engineer"]);
    let out = env.nxr(&["upgrade", "--agent", "engineer", "--model", &chosen]);
    out.assert_ok();
    assert!(
        out.stdout.contains(&format!("engineer now runs {chosen}")),
        "{out}"
    );
    want.insert("engineer".into(), chosen.clone());
    assert_eq!(models(&env), want);
    let now = config_text(&env, "engineer");
    assert_eq!(yaml_str(&now, "model.default"), Some(chosen.clone()));
    assert_eq!(
        without_model_keys(&now, &["default"]),
        without_model_keys(&start_cfg, &["default"])
    );

    // A model the catalog does not have is a usage error.
    let before = snapshot(&env);
    let out = env.nxr(&[
        "upgrade",
        "--agent",
        "engineer",
        "--model",
        "nosuch/model-9000",
    ]);
    out.assert_code(2);
    assert!(out.stderr.contains("not in the catalog"), "{out}");
    assert_unchanged(&env, &before, "upgrade --model nosuch");

    // Revert goes back past both paid models to the free one; the others were never moved.
    let out = env.nxr(&["upgrade", "--revert"]);
    out.assert_ok();
    assert!(
        out.stdout
            .contains(&format!("engineer is back on {}", free["engineer"])),
        "{out}"
    );
    assert!(!out.stdout.contains("pm is back"), "{out}");
    assert_eq!(models(&env), free);
    assert_eq!(recommend_current(&env), free);
    assert_eq!(config_text(&env, "engineer"), start_cfg);
    let now = snapshot(&env);
    assert_eq!(
        changed(&start.files, &now.files),
        Vec::<String>::new(),
        "after revert"
    );
    assert_eq!(now.secrets, start.secrets);
    // The same model, provider and score; only the time stamp (and the "chosen by the
    // scorer" flag, which the history does not record) may differ.
    let strip = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
        rows.iter().map(|r| [&r[..7], &r[8..10]].concat()).collect()
    };
    assert_eq!(strip(&now.agents), strip(&start.agents), "after revert");
}

// ---------------------------------------------------------------- failures change nothing

/// A 429 whose `X-RateLimit-Reset` is `ms`: in the headers, and in the body's metadata
/// when `in_body` (OpenRouter repeats it there for its own limits).
fn rate_limited(example_name: &str, ms: i64, in_body: bool) -> Fault {
    let mut body: Value = serde_json::from_str(&example(example_name)).expect("429 body");
    if in_body {
        body["error"]["metadata"]["headers"]["X-RateLimit-Reset"] = Value::String(ms.to_string());
    }
    Fault::Status {
        status: 429,
        body: body.to_string(),
        headers: vec![
            ("X-RateLimit-Limit".into(), "50".into()),
            ("X-RateLimit-Remaining".into(), "0".into()),
            ("X-RateLimit-Reset".into(), ms.to_string()),
        ],
    }
}

fn reset_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .expect("timestamp")
        .strftime("%Y-%m-%d %H:%M UTC")
        .to_string()
}

#[test]
fn every_failure_to_reach_or_convince_openrouter_changes_nothing() {
    let (server, mut env) = with_key();
    personalize(&env);
    let before = snapshot(&env);

    let run = |env: &TestEnv, args: &[&str], what: &str| -> (Output, Duration) {
        let start = Instant::now();
        let out = env.nxr(args);
        let took = start.elapsed();
        out.assert_code(1);
        assert_no_full_key(&out);
        assert!(out.stdout.is_empty(), "{what}: {out}");
        assert_unchanged(env, &before, what);
        (out, took)
    };

    // A rejected key given on the command line: the stored one stays.
    let (out, _) = run(
        &env,
        &["upgrade", "--all", "--key", REVOKED_KEY],
        "401 --key",
    );
    assert!(out.stderr.contains("User not found."), "{out}");
    // The stored key revoked since.
    server.set_valid_keys(&[OTHER_KEY]);
    let (out, _) = run(&env, &["upgrade", "--all"], "401 stored key");
    assert!(out.stderr.contains("User not found."), "{out}");
    assert!(out.stderr.contains("401"), "{out}");
    server.set_valid_keys(&[VALID_KEY, OTHER_KEY]);

    // No network: nothing listens on OpenRouter's port.
    env.set("NXR_OPENROUTER_URL", &closed_port_url());
    let (out, took) = run(&env, &["upgrade", "--all"], "network down");
    assert!(out.stderr.contains("could not connect"), "{out}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    let (out, _) = run(
        &env,
        &["config", "set", "openrouter-key", OTHER_KEY],
        "config set, network down",
    );
    assert!(out.stderr.contains("could not connect"), "{out}");
    env.set("NXR_OPENROUTER_URL", &server.base_url());

    // 500: retried, then reported.
    server.fail(KEY, Fault::server_error());
    let hits = server.hits(KEY);
    let (out, _) = run(&env, &["upgrade", "--all"], "500");
    assert_eq!(server.hits(KEY) - hits, 3, "three tries: {out}");
    assert!(out.stderr.contains("HTTP 500"), "{out}");
    assert!(out.stderr.contains("Internal Server Error"), "{out}");
    server.clear_faults();

    // A hang: given up at --timeout.
    server.fail(KEY, Fault::Hang(Duration::from_secs(120)));
    let (out, took) = run(&env, &["upgrade", "--all", "--timeout", "2"], "hang");
    println!(
        "upgrade --all --timeout 2 against a hanging OpenRouter: {:.2}s",
        took.as_secs_f64()
    );
    assert!(out.stderr.contains("timed out"), "{out}");
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    server.clear_faults();

    // Answers that are not OpenRouter's.
    for (fault, what) in [
        (Fault::Garbage, "garbage"),
        (Fault::Html, "an HTML page"),
        (Fault::Truncated, "a truncated body"),
        (Fault::EmptyBody, "an empty body"),
        (Fault::Drop, "a dropped connection"),
    ] {
        server.fail(KEY, fault);
        let (out, _) = run(&env, &["upgrade", "--all"], what);
        assert!(out.stderr.contains("/key"), "{what}: {out}");
        server.clear_faults();
    }

    // 429 with a reset hours away: no waiting, OpenRouter's message and the reset time.
    let far = jiff::Timestamp::now().as_millisecond() + 3 * 3600 * 1000;
    for (body, in_body) in [
        ("error-429-free-models-per-day.json", true),
        ("error-429-docs-generic.json", false),
    ] {
        server.fail(KEY, rate_limited(body, far, in_body));
        let hits = server.hits(KEY);
        let (out, took) = run(&env, &["upgrade", "--all"], body);
        assert_eq!(
            server.hits(KEY) - hits,
            1,
            "no retry before a far reset: {out}"
        );
        assert!(took < Duration::from_secs(15), "{took:?}");
        let msg = if in_body {
            "Rate limit exceeded: free-models-per-day"
        } else {
            "Rate limit exceeded"
        };
        assert!(out.stderr.contains(msg), "{body}: {out}");
        assert!(
            out.stderr.contains(&reset_text(far)),
            "{body}: the reset time {}: {out}",
            reset_text(far)
        );
        server.clear_faults();
    }

    // And after all that, the same world upgrades fine.
    env.nxr(&["upgrade", "--agent", "pm"]).assert_ok();
}

#[test]
fn usage_mistakes_exit_2_and_change_nothing() {
    let (server, env) = with_key();
    let before = snapshot(&env);
    let usage = |args: &[&str], says: &str| {
        let out = env.nxr(args);
        out.assert_code(2);
        assert!(out.stderr.contains(says), "{args:?}: {out}");
        assert_no_full_key(&out);
        assert_unchanged(&env, &before, &format!("{args:?}"));
    };
    usage(&["upgrade", "--agent", "nosuch"], "nosuch");
    usage(
        &["upgrade", "--agent", "nosuch", "--key", OTHER_KEY],
        "nosuch",
    );
    usage(&["config", "set", "openrouter-key", ""], "OpenRouter key");
    usage(
        &["config", "set", "openrouter-key", "sk-or with spaces"],
        "OpenRouter key",
    );
    usage(
        &["config", "set", "no-such-setting", "x"],
        "unknown setting",
    );
    usage(&["upgrade", "--all", "--revert"], "--revert");
    usage(&["upgrade", "--all", "--agent", "pm"], "--agent");
    usage(&["upgrade", "--model", "openai/gpt-5"], "--agent");
    usage(&["upgrade", "--key", ""], "OpenRouter key");
    // Every one of them was refused before asking OpenRouter anything.
    assert_eq!(
        server.hits(KEY),
        1,
        "only with_key's own check: {:?}",
        server.seen()
    );

    // No key at all: says how to add one.
    let (_server2, fresh) = onboarded();
    let before = snapshot(&fresh);
    for args in [
        &["upgrade"][..],
        &["upgrade", "--all"],
        &["upgrade", "--agent", "pm"],
    ] {
        let out = fresh.nxr(args);
        out.assert_code(2);
        assert!(
            out.stderr.contains("nxr config set openrouter-key"),
            "{args:?}: {out}"
        );
    }
    assert_unchanged(&fresh, &before, "upgrade without a key");
}
