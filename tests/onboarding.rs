//! `nxr init` end to end, as a person runs it: the real binary on fresh temporary homes, no
//! terminal, no key and no network unless a fake OpenRouter or a fake Ollama is attached.
//! Checks what it prints, the `onboarding` row, the three agents in the database and their
//! Hermes profiles on disk, and (for the Ollama routing) what the real `hermes` CLI reads.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::ollama::FakeOllama;
use support::openrouter::{KEY, MODELS};
use support::profiles::{
    DEFAULT_AGENTS, agent_dir, agent_rows, best_free, config_path, config_text, hash_tree,
    isolate_path, mode, profile_name, read, role_skills, stub, stub_with, yaml_str,
};
use support::{
    FakeOpenRouter, Fault, NXR_TIMEOUT, Output, TestEnv, VALID_KEY, hermes, skills_on_disk, tree,
};

/// Far under the five minutes the issue allows, even for a debug build on a busy box.
const INIT_BUDGET: Duration = Duration::from_secs(60);

fn role_of(agent: &str) -> &str {
    agent
}

/// The `onboarding` row as a JSON object of its columns.
fn onboarding_row(env: &TestEnv) -> Value {
    let cols = [
        "flow",
        "started_at",
        "completed_at",
        "agents_created",
        "initial_free_models",
        "key_provided",
        "ollama_detected",
        "ollama_url",
        "ollama_models",
        "whisper_detected",
        "whisper_source",
        "hermes_cli_detected",
        "hermes_version",
    ];
    let rows = env.db_rows(&format!("SELECT {} FROM onboarding", cols.join(", ")));
    assert_eq!(rows.len(), 1, "one onboarding row: {rows:?}");
    let mut obj = serde_json::Map::new();
    for (c, v) in cols.iter().zip(&rows[0]) {
        obj.insert(c.to_string(), Value::String(v.clone()));
    }
    Value::Object(obj)
}

fn col<'a>(row: &'a Value, name: &str) -> &'a str {
    row[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {row}"))
}

fn json_col(row: &Value, name: &str) -> Value {
    serde_json::from_str(col(row, name)).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

/// Runs `nxr init ARGS` and returns its output and wall time.
fn timed_init(env: &TestEnv, args: &[&str]) -> (Output, Duration) {
    let mut a = vec!["init"];
    a.extend_from_slice(args);
    let start = Instant::now();
    let out = env.nxr(&a);
    (out, start.elapsed())
}

/// The five progress lines, in order, each with its step title.
#[track_caller]
fn assert_five_steps(out: &Output) {
    let titles = [
        "Detect the environment",
        "Load the model catalog",
        "Score free models per role",
        "Create the agents",
        "Summary",
    ];
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), 5, "five progress lines on stderr: {out}");
    for (i, (line, title)) in lines.iter().zip(titles).enumerate() {
        let prefix = format!("[{}/5] {title} ... ", i + 1);
        assert!(line.starts_with(&prefix), "line {}: {line:?}; {out}", i + 1);
        assert!(
            line.len() > prefix.len(),
            "step {} says what it did: {out}",
            i + 1
        );
    }
}

/// Three agents pm, engineer and hermes in the database, each on the best free model for
/// its role, with its profile on disk holding that model and the role's skills.
#[track_caller]
fn assert_three_agents(env: &TestEnv) {
    let rows = env.db_rows("SELECT name, role, profile, is_default, model FROM agents ORDER BY id");
    let got: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone()))
        .collect();
    let want: Vec<(String, String, String, String)> = DEFAULT_AGENTS
        .iter()
        .map(|a| {
            (
                a.to_string(),
                role_of(a).to_string(),
                profile_name(a).to_string(),
                "1".to_string(),
            )
        })
        .collect();
    assert_eq!(got, want, "agents table");
    for agent in DEFAULT_AGENTS {
        let pick = best_free(env, role_of(agent));
        let cfg = config_text(env, agent);
        assert_eq!(
            support::profiles::db_model(env, agent),
            pick,
            "{agent} in the database"
        );
        assert_eq!(
            yaml_str(&cfg, "model.default").as_deref(),
            Some(pick.as_str()),
            "{agent}: {cfg}"
        );
        assert_eq!(
            yaml_str(&cfg, "model.provider").as_deref(),
            Some("openrouter"),
            "{agent}: {cfg}"
        );
        assert_eq!(
            skills_on_disk(&agent_dir(env, agent)),
            role_skills(agent),
            "{agent}'s skills on disk"
        );
    }
    // Hermes is the root profile, not a profile folder of its own.
    let profiles: Vec<String> = std::fs::read_dir(env.hermes_home.path().join("profiles"))
        .expect("profiles/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(support::sorted(profiles), ["engineer", "pm"], "profiles/");
}

// ---------------------------------------------------------------- the free path, offline

#[test]
fn init_free_on_a_fresh_home_offline_sets_up_three_agents_on_the_best_free_models() {
    let mut env = TestEnv::new();
    let _bin = isolate_path(&mut env);
    let (out, took) = timed_init(&env, &["--free"]);
    println!(
        "nxr init --free (offline, fresh home) took {:.2}s",
        took.as_secs_f64()
    );
    out.assert_ok();
    assert!(took < INIT_BUDGET, "init took {took:?}");

    assert_five_steps(&out);
    let step2 = out
        .stderr
        .lines()
        .find(|l| l.starts_with("[2/5]"))
        .expect("step 2");
    assert!(
        step2.contains("bundled catalog"),
        "offline: the bundled catalog: {step2}"
    );
    assert!(
        !out.stderr.contains("Paste"),
        "--free never asks for a key: {out}"
    );

    assert_three_agents(&env);

    // The summary: every agent's name, model and skills, the limits, the way to upgrade.
    for agent in DEFAULT_AGENTS {
        let line = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(agent))
            .unwrap_or_else(|| panic!("a summary line for {agent}: {out}"));
        assert!(
            line.contains(&best_free(&env, agent)),
            "{agent}'s model: {line}"
        );
        for skill in role_skills(agent) {
            assert!(line.contains(&skill), "{agent}'s skill {skill}: {line}");
        }
    }
    for text in [
        "20 requests/minute",
        "50 requests/day",
        "1,000/day",
        "10 credits",
        "nxr config set openrouter-key KEY",
        "nxr upgrade",
    ] {
        assert!(out.stdout.contains(text), "summary says {text:?}: {out}");
    }

    // The onboarding row.
    let row = onboarding_row(&env);
    assert_eq!(col(&row, "flow"), "cli");
    assert_ne!(col(&row, "completed_at"), "NULL", "{row}");
    assert!(
        col(&row, "completed_at") >= col(&row, "started_at"),
        "{row}"
    );
    assert_eq!(
        json_col(&row, "agents_created"),
        serde_json::json!(DEFAULT_AGENTS)
    );
    let initial = json_col(&row, "initial_free_models");
    for agent in DEFAULT_AGENTS {
        assert_eq!(initial[agent], best_free(&env, agent).as_str(), "{row}");
    }
    assert_eq!(col(&row, "key_provided"), "0");
    assert_eq!(col(&row, "ollama_detected"), "0");
    assert_eq!(col(&row, "ollama_url"), "NULL");
    assert_eq!(json_col(&row, "ollama_models"), serde_json::json!([]));
    assert_eq!(col(&row, "whisper_detected"), "0");
    assert_eq!(col(&row, "whisper_source"), "NULL");
    assert_eq!(col(&row, "hermes_cli_detected"), "0");

    // No key anywhere, and no local routing without Ollama.
    assert!(!env.nxr_home.path().join("secrets.env").exists());
    for agent in DEFAULT_AGENTS {
        assert!(
            !agent_dir(&env, agent).join(".env").exists(),
            "{agent} has no .env"
        );
        assert_eq!(
            yaml_str(&config_text(&env, agent), "auxiliary.compression.provider"),
            None
        );
    }
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agent_model_history"), 3);
}

#[test]
fn init_without_a_terminal_never_prompts_even_with_stdin_left_open() {
    let mut env = TestEnv::new();
    let _bin = isolate_path(&mut env);
    // No --free and no --key: the flags that skip the question. stdin is a pipe nobody writes
    // to or closes, so a prompt would hang until the deadline.
    let mut cmd = env.command(&["init"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn nxr init");
    let stdin = child.stdin.take();
    let out =
        support::wait(child, NXR_TIMEOUT).unwrap_or_else(|o| panic!("init waited for input: {o}"));
    drop(stdin);
    out.assert_ok();
    assert!(
        !out.stderr.contains("Paste"),
        "no prompt without a terminal: {out}"
    );
    assert!(
        !out.stderr.contains("press Enter"),
        "no prompt without a terminal: {out}"
    );
    assert_five_steps(&out);
    assert_three_agents(&env);
    assert!(!env.nxr_home.path().join("secrets.env").exists());
}

// ---------------------------------------------------------------- the catalog

#[test]
fn init_fetches_and_stores_a_fresh_catalog_when_openrouter_answers() {
    let server = FakeOpenRouter::start();
    // A catalog other than the bundled one, so its use shows.
    server.serve_models("models-2026-02-27.json");
    let env = TestEnv::new().with_openrouter(&server);
    let (out, took) = timed_init(&env, &["--free"]);
    println!(
        "nxr init --free (fresh catalog from the fake OpenRouter) took {:.2}s",
        took.as_secs_f64()
    );
    out.assert_ok();
    assert_eq!(server.hits(MODELS), 1, "one catalog fetch");
    assert_eq!(server.hits(KEY), 0, "--free reads no key");
    let step2 = out
        .stderr
        .lines()
        .find(|l| l.starts_with("[2/5]"))
        .expect("step 2");
    assert!(step2.contains("fetched 344 models (29 free)"), "{step2}");

    let snaps = env.db_rows("SELECT source, model_count, free_count FROM catalog_snapshots");
    assert_eq!(
        snaps,
        vec![vec![
            format!("{}/models", server.base_url()),
            "344".into(),
            "29".into()
        ]],
        "the fetched catalog is stored"
    );
    // The agents were scored on it: best-free reads the stored catalog.
    assert_three_agents(&env);
    assert_eq!(
        server.hits(MODELS),
        1,
        "best-free reads the stored catalog, not the network"
    );
}

#[test]
fn init_with_openrouter_hanging_uses_the_bundled_catalog_within_the_fetch_timeout() {
    let server = FakeOpenRouter::start();
    server.fail(MODELS, Fault::Hang(Duration::from_secs(120)));
    let env = TestEnv::new().with_openrouter(&server);
    let (out, took) = timed_init(&env, &["--free", "--fetch-timeout", "2"]);
    println!(
        "nxr init --free with OpenRouter hanging (--fetch-timeout 2) took {:.2}s",
        took.as_secs_f64()
    );
    out.assert_ok();
    assert_eq!(server.hits(MODELS), 1, "one fetch, then give up");
    assert!(
        took >= Duration::from_millis(1900),
        "it did wait for the catalog: {took:?}"
    );
    assert!(
        took < Duration::from_secs(2 + 15),
        "it gave up at the timeout: {took:?}"
    );
    let step2 = out
        .stderr
        .lines()
        .find(|l| l.starts_with("[2/5]"))
        .expect("step 2");
    assert!(
        step2.contains("offline: using the bundled catalog"),
        "{step2}"
    );
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM catalog_snapshots WHERE source LIKE 'http%'"),
        0
    );
    assert_three_agents(&env);
}

// ---------------------------------------------------------------- running it again

#[test]
fn running_init_again_creates_nothing_and_says_so() {
    let env = TestEnv::new();
    env.nxr(&["init", "--free"]).assert_ok();
    let files = hash_tree(env.hermes_home.path());
    let agents = agent_rows(&env);
    let row = onboarding_row(&env);
    let history = env.db_i64("SELECT COUNT(*) FROM agent_model_history");
    assert!(files.keys().any(|f| f.ends_with("SKILL.md")), "{files:?}");

    let again = env.nxr(&["init", "--free"]);
    again.assert_ok();
    assert!(again.stdout.contains("already set up"), "{again}");
    assert!(again.stdout.contains("nothing was created"), "{again}");
    for agent in DEFAULT_AGENTS {
        assert!(
            again.stdout.contains(agent),
            "the agents are listed: {again}"
        );
    }
    assert!(again.stdout.contains("nxr upgrade"), "{again}");

    let json = env.json(&["init"]);
    assert_eq!(json["already_done"], true, "{json:#}");
    let names: Vec<&str> = json["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| a["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, DEFAULT_AGENTS);
    assert_eq!(
        json["completed_at"].as_str(),
        Some(col(&row, "completed_at"))
    );

    assert_eq!(
        hash_tree(env.hermes_home.path()),
        files,
        "config.yaml and skills are byte-identical"
    );
    assert_eq!(agent_rows(&env), agents);
    assert_eq!(onboarding_row(&env), row);
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM agent_model_history"),
        history
    );
}

#[test]
fn four_inits_started_at_the_same_moment_make_exactly_three_agents() {
    for round in 0..3 {
        let env = TestEnv::new();
        let children: Vec<_> = (0..4)
            .map(|_| {
                let mut cmd = env.command(&["init", "--free"]);
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                cmd.spawn().expect("spawn")
            })
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| support::wait(c, NXR_TIMEOUT).unwrap_or_else(|o| panic!("ran over: {o}")))
            .collect();
        for (i, out) in outs.iter().enumerate() {
            assert!(out.ok(), "round {round}, init {i}: {out}");
            assert!(
                !out.stderr.to_lowercase().contains("locked"),
                "round {round}, init {i}: {out}"
            );
        }
        assert_eq!(
            env.db_i64("SELECT COUNT(*) FROM agents"),
            3,
            "round {round}: {outs:#?}"
        );
        assert_eq!(env.db_i64("SELECT COUNT(*) FROM onboarding"), 1);
        assert_eq!(
            env.db_i64("SELECT COUNT(*) FROM onboarding WHERE completed_at IS NOT NULL"),
            1
        );
        assert_eq!(
            env.db_i64("SELECT COUNT(*) FROM agent_model_history"),
            3,
            "round {round}"
        );
        assert_three_agents(&env);
        let row = onboarding_row(&env);
        assert_eq!(
            json_col(&row, "agents_created"),
            serde_json::json!(DEFAULT_AGENTS),
            "round {round}"
        );
        for agent in DEFAULT_AGENTS {
            assert!(config_path(&env, agent).is_file());
        }
    }
}

// ---------------------------------------------------------------- a key on the command line

fn masked(key: &str) -> String {
    format!("{}...{}", &key[..8], &key[key.len() - 4..])
}

#[test]
fn init_with_a_valid_key_stores_it_mode_0600_everywhere_and_never_prints_it() {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    let (out, took) = timed_init(&env, &["--key", VALID_KEY]);
    println!(
        "nxr init --key (fake OpenRouter) took {:.2}s",
        took.as_secs_f64()
    );
    out.assert_ok();
    assert!(server.hits(KEY) >= 1, "the key was checked with OpenRouter");
    assert!(
        server
            .seen()
            .iter()
            .any(|s| s.path == KEY
                && s.authorization.as_deref() == Some(&format!("Bearer {VALID_KEY}"))),
        "{:?}",
        server.seen()
    );
    assert!(
        !out.stdout.contains(VALID_KEY) && !out.stderr.contains(VALID_KEY),
        "key printed in full: {out}"
    );
    assert!(
        out.stdout.contains(&masked(VALID_KEY)),
        "the masked key is shown: {out}"
    );
    assert!(
        out.stdout.contains("50 free-model requests per day"),
        "the tier: {out}"
    );
    assert_five_steps(&out);
    assert_three_agents(&env);

    let secrets = env.nxr_home.path().join("secrets.env");
    assert_eq!(mode(&secrets), 0o600, "{}", secrets.display());
    assert!(read(&secrets).contains(&format!("OPENROUTER_API_KEY={VALID_KEY}")));
    for agent in DEFAULT_AGENTS {
        let dotenv = agent_dir(&env, agent).join(".env");
        assert_eq!(mode(&dotenv), 0o600, "{}", dotenv.display());
        assert!(
            read(&dotenv)
                .lines()
                .any(|l| l == format!("OPENROUTER_API_KEY={VALID_KEY}")),
            "{agent}'s .env"
        );
    }
    assert_eq!(col(&onboarding_row(&env), "key_provided"), "1");

    // --json shows it masked too.
    let env2 = TestEnv::new().with_openrouter(&server);
    let out = env2.nxr(&["init", "--key", VALID_KEY, "--json"]);
    out.assert_ok();
    assert!(
        !out.stdout.contains(VALID_KEY) && !out.stderr.contains(VALID_KEY),
        "{out}"
    );
    assert_eq!(out.json()["key"], masked(VALID_KEY).as_str());
    assert_eq!(out.json()["tier"]["per_day"], 50);
}

#[test]
fn init_with_a_rejected_key_fails_with_openrouters_message_and_creates_nothing() {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    let bad = "sk-or-v1-this-key-was-revoked-000000000000000000000000000000000000";
    let out = env.nxr(&["init", "--key", bad]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("User not found."),
        "OpenRouter's message: {out}"
    );
    assert!(
        !out.stdout.contains(bad) && !out.stderr.contains(bad),
        "{out}"
    );
    assert_eq!(server.hits(KEY), 1);

    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 0);
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM onboarding WHERE completed_at IS NOT NULL"),
        0
    );
    assert!(!env.nxr_home.path().join("secrets.env").exists());
    assert!(
        !env.hermes_home.path().join("profiles").exists(),
        "{:?}",
        tree(env.hermes_home.path())
    );
    assert!(!env.hermes_home.path().join("config.yaml").exists());
    assert!(!env.hermes_home.path().join(".env").exists());

    // An empty key is a usage error, before any network call.
    let out = env.nxr(&["init", "--key", ""]);
    out.assert_code(2);
    assert_eq!(server.hits(KEY), 1);
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 0);

    // The failed attempt does not stand in the way of a free setup.
    env.nxr(&["init", "--free"]).assert_ok();
    assert_three_agents(&env);
    assert_eq!(col(&onboarding_row(&env), "key_provided"), "0");
    assert!(!env.nxr_home.path().join("secrets.env").exists());
}

// ---------------------------------------------------------------- detection

#[test]
fn a_local_ollama_is_detected_and_takes_compression_and_title_generation() {
    let ollama = FakeOllama::start(&[
        "llama3.2:3b",
        "qwen3:8b",
        "qwen2.5:7b",
        "nomic-embed-text:latest",
    ]);
    let mut env = TestEnv::new();
    env.set("NXR_OLLAMA_URL", &ollama.url());
    let out = env.nxr(&["init", "--free"]);
    out.assert_ok();
    assert!(ollama.hits("/api/tags") >= 1);
    let step1 = out
        .stderr
        .lines()
        .find(|l| l.starts_with("[1/5]"))
        .expect("step 1");
    assert!(
        step1.contains(&format!("found at {}", ollama.url())),
        "{step1}"
    );
    assert!(step1.contains("using qwen3:8b"), "{step1}");

    let row = onboarding_row(&env);
    assert_eq!(col(&row, "ollama_detected"), "1");
    assert_eq!(col(&row, "ollama_url"), ollama.url());
    assert_eq!(
        json_col(&row, "ollama_models"),
        serde_json::json!([
            "llama3.2:3b",
            "qwen3:8b",
            "qwen2.5:7b",
            "nomic-embed-text:latest"
        ])
    );

    let base = format!("{}/v1", ollama.url());
    for agent in DEFAULT_AGENTS {
        let cfg = config_text(&env, agent);
        for task in ["compression", "title_generation"] {
            let at = |k: &str| yaml_str(&cfg, &format!("auxiliary.{task}.{k}"));
            assert_eq!(
                at("provider").as_deref(),
                Some("custom"),
                "{agent} {task}: {cfg}"
            );
            assert_eq!(
                at("model").as_deref(),
                Some("qwen3:8b"),
                "{agent} {task}: {cfg}"
            );
            assert_eq!(
                at("base_url").as_deref(),
                Some(base.as_str()),
                "{agent} {task}: {cfg}"
            );
        }
        // The main model stays on OpenRouter's best free model.
        assert_eq!(
            yaml_str(&cfg, "model.default"),
            Some(best_free(&env, agent)),
            "{cfg}"
        );
    }
    assert_eq!(
        env.nxr(&["config", "get", "ollama-model"])
            .assert_ok()
            .stdout
            .trim(),
        "qwen3:8b"
    );

    // The real Hermes reads it.
    let got = hermes(
        &env,
        &[
            "-p",
            "engineer",
            "config",
            "get",
            "auxiliary.compression.model",
        ],
    );
    got.assert_ok();
    assert_eq!(got.stdout.trim(), "qwen3:8b", "{got}");
    let got = hermes(
        &env,
        &["config", "get", "auxiliary.title_generation.base_url"],
    );
    got.assert_ok();
    assert_eq!(got.stdout.trim(), base, "{got}");
}

#[test]
fn speech_to_text_is_detected_from_each_of_its_three_sources() {
    // HERMES_LOCAL_STT_COMMAND, with no faster-whisper importable and no `whisper`.
    let mut env = TestEnv::new();
    let _bin = isolate_path(&mut env);
    env.set(
        "HERMES_LOCAL_STT_COMMAND",
        "whisper-cli -m base.en -f {input}",
    );
    env.nxr(&["init", "--free"]).assert_ok();
    let row = onboarding_row(&env);
    assert_eq!(col(&row, "whisper_detected"), "1");
    assert_eq!(col(&row, "whisper_source"), "HERMES_LOCAL_STT_COMMAND");

    // A `whisper` program on PATH.
    let mut env = TestEnv::new();
    let bin = isolate_path(&mut env);
    stub(bin.path(), "whisper", "exit 0");
    env.nxr(&["init", "--free"]).assert_ok();
    assert_eq!(col(&onboarding_row(&env), "whisper_source"), "whisper");

    // faster-whisper importable by python3 (a python3 for which every import works).
    let mut env = TestEnv::new();
    let bin = isolate_path(&mut env);
    stub(bin.path(), "python3", "exit 0");
    env.nxr(&["init", "--free"]).assert_ok();
    assert_eq!(
        col(&onboarding_row(&env), "whisper_source"),
        "faster-whisper"
    );
}

#[test]
fn an_installed_hermes_cli_is_detected_on_path_or_through_nxr_hermes_bin() {
    // On PATH: a hermes script whose Python reports the installed hermes-agent version.
    let mut env = TestEnv::new();
    let bin = isolate_path(&mut env);
    let python = stub(bin.path(), "fake-python", "echo 0.19.0");
    stub_with(bin.path(), "hermes", &python.display().to_string(), "");
    let out = env.nxr(&["init", "--free"]);
    out.assert_ok();
    let row = onboarding_row(&env);
    assert_eq!(col(&row, "hermes_cli_detected"), "1", "{out}");
    assert_eq!(col(&row, "hermes_version"), "0.19.0");
    let step1 = out
        .stderr
        .lines()
        .find(|l| l.starts_with("[1/5]"))
        .expect("step 1");
    assert!(step1.contains("hermes CLI: hermes-agent 0.19.0"), "{step1}");

    // Through NXR_HERMES_BIN, not on PATH.
    let mut env = TestEnv::new();
    let _bin = isolate_path(&mut env);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let python = stub(elsewhere.path(), "fake-python", "echo 0.19.1");
    let hermes = stub_with(
        elsewhere.path(),
        "hermes-agent-cli",
        &python.display().to_string(),
        "",
    );
    env.set("NXR_HERMES_BIN", &hermes.display().to_string());
    env.nxr(&["init", "--free"]).assert_ok();
    let row = onboarding_row(&env);
    assert_eq!(col(&row, "hermes_cli_detected"), "1");
    assert_eq!(col(&row, "hermes_version"), "0.19.1");

    // Neither: recorded as missing, and the setup still finishes.
    let mut env = TestEnv::new();
    let _bin = isolate_path(&mut env);
    let out = env.nxr(&["init", "--free"]);
    out.assert_ok();
    assert_eq!(col(&onboarding_row(&env), "hermes_cli_detected"), "0");
    assert!(out.stderr.contains("pip install hermes-agent"), "{out}");
}
