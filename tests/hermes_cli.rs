//! The real Hermes Agent reads what nxr wrote: `hermes -p NAME config get ...` and
//! `hermes -p NAME skills list` against profiles created and edited by `nxr --no-tui`.
//!
//! Needs the `hermes` CLI: `$NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`, else `hermes` on
//! `PATH`. Without one these tests fail (run `.ci/run`, which installs it).
//!
//! Hermes checks PyPI for a newer version only in `hermes version` / `--version` and when a
//! chat starts (`hermes_cli/banner.py::check_for_updates`, cached in `.update_check`);
//! `config get` and `skills list` never do, so these tests need no network. They assert
//! that no `.update_check` appears, so a Hermes that starts checking is noticed.

mod support;

use std::path::Path;

use support::{Output, TestEnv, hermes, sorted, tree};

fn config_get(env: &TestEnv, profile: &str, key: &str) -> Output {
    hermes(env, &["-p", profile, "config", "get", key])
}

/// `hermes -p NAME skills list` as (name, status) rows, sorted by name.
fn hermes_skills(env: &TestEnv, profile: &str) -> Vec<(String, String)> {
    let out = hermes(env, &["-p", profile, "skills", "list"]);
    out.assert_ok();
    let mut rows: Vec<(String, String)> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('│').split('│').map(str::trim).collect();
            assert_eq!(
                cells.len(),
                5,
                "Name|Category|Source|Trust|Status row: {l:?}"
            );
            (cells[0].to_string(), cells[4].to_string())
        })
        .collect();
    assert!(
        out.stdout.contains("Installed Skills"),
        "unexpected skills list output: {out}"
    );
    rows.sort();
    rows
}

fn enabled(rows: &[(String, String)]) -> Vec<String> {
    sorted(
        rows.iter()
            .filter(|(_, s)| s == "enabled")
            .map(|(n, _)| n.as_str()),
    )
}

fn status_of(rows: &[(String, String)], name: &str) -> Option<String> {
    rows.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone())
}

fn no_update_check(home: &Path) {
    let hits: Vec<String> = tree(home)
        .into_iter()
        .filter(|p| p.ends_with(".update_check"))
        .collect();
    assert!(
        hits.is_empty(),
        "hermes ran its PyPI update check: {hits:?}"
    );
}

#[test]
fn hermes_reads_the_model_provider_and_skills_nxr_assigned_for_every_role() {
    let env = TestEnv::new();
    for role in support::ROLES {
        let name = format!("h-{role}");
        let created = env.json(&["agents", "create", "--role", role, "--name", &name]);
        let pick = env.json(&["models", "best-free", "--role", role])["pick"]["model"]
            .as_str()
            .expect("pick")
            .to_string();
        assert_eq!(created["agent"]["model"], pick.as_str());

        let out = config_get(&env, &name, "model.default");
        out.assert_ok();
        assert_eq!(out.stdout, format!("{pick}\n"), "{role}: {out}");

        let out = config_get(&env, &name, "model.provider");
        out.assert_ok();
        assert_eq!(out.stdout, "openrouter\n", "{role}: {out}");

        let want = sorted(
            created["agent"]["skillset"]
                .as_array()
                .expect("skillset")
                .iter()
                .map(|s| s.as_str().expect("name")),
        );
        if matches!(role, "pm" | "engineer" | "hermes") {
            assert_eq!(want.len(), 8, "{role}: {want:?}");
        }
        let rows = hermes_skills(&env, &name);
        assert_eq!(
            sorted(rows.iter().map(|(n, _)| n.as_str())),
            want,
            "{role}: hermes lists exactly the role's skills"
        );
        assert_eq!(enabled(&rows), want, "{role}: all enabled: {rows:?}");
    }
    no_update_check(env.hermes_home.path());
    no_update_check(env.home.path());
}

#[test]
fn hermes_follows_skill_removal_user_skills_and_set() {
    let env = TestEnv::new();
    env.json(&["agents", "create", "--role", "pm", "--name", "lead"]);
    let rows = hermes_skills(&env, "lead");
    assert_eq!(status_of(&rows, "planning").as_deref(), Some("enabled"));

    env.json(&["agents", "skills", "lead", "--remove", "planning"]);
    let rows = hermes_skills(&env, "lead");
    assert_eq!(status_of(&rows, "planning"), None, "{rows:?}");
    assert_eq!(enabled(&rows).len(), 7, "{rows:?}");

    // A skill the user wrote by hand: Hermes loads it; nxr never deletes it.
    let mine = env.profile_dir("lead").join("skills/my-notes");
    std::fs::create_dir_all(&mine).expect("mkdir");
    std::fs::write(
        mine.join("SKILL.md"),
        "---\nname: my-notes\ndescription: How I keep notes.\n---\n# My notes\nShort.\n",
    )
    .expect("write");
    let rows = hermes_skills(&env, "lead");
    assert_eq!(status_of(&rows, "my-notes").as_deref(), Some("enabled"));

    env.json(&["agents", "skills", "lead", "--set", "coding,debugging"]);
    let rows = hermes_skills(&env, "lead");
    assert_eq!(
        status_of(&rows, "my-notes").as_deref(),
        Some("disabled"),
        "{rows:?}"
    );
    assert_eq!(enabled(&rows), ["coding", "debugging"], "{rows:?}");
    assert_eq!(rows.len(), 3, "nothing else is left: {rows:?}");
    let out = config_get(&env, "lead", "skills.disabled");
    out.assert_ok();
    assert_eq!(out.stdout, "- my-notes\n", "{out}");

    env.json(&["agents", "skills", "lead", "--add", "my-notes"]);
    let rows = hermes_skills(&env, "lead");
    assert_eq!(
        enabled(&rows),
        ["coding", "debugging", "my-notes"],
        "{rows:?}"
    );

    // The model is untouched by skill edits.
    let model = env.json(&["agents", "list"])[0]["model"]
        .as_str()
        .expect("model")
        .to_string();
    assert_eq!(
        config_get(&env, "lead", "model.default").stdout,
        format!("{model}\n")
    );
    no_update_check(env.hermes_home.path());
}

#[test]
fn hermes_reads_a_users_config_yaml_that_nxr_edited() {
    let env = TestEnv::new();
    let dir = env.profile_dir("keeper");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("config.yaml"),
        "# mine\nmodel:\n  default: anthropic/claude-sonnet-4 # old\n  api_mode: chat_completions\nterminal:\n  timeout: 180 # seconds\n",
    )
    .expect("write");
    let created = env.json(&["agents", "create", "--role", "engineer", "--name", "keeper"]);
    let pick = created["agent"]["model"].as_str().expect("model");

    assert_eq!(
        config_get(&env, "keeper", "model.default").stdout,
        format!("{pick}\n")
    );
    assert_eq!(
        config_get(&env, "keeper", "model.api_mode").stdout,
        "chat_completions\n"
    );
    assert_eq!(
        config_get(&env, "keeper", "terminal.timeout").stdout,
        "180\n"
    );
    let out = config_get(&env, "keeper", "fallback_providers");
    out.assert_ok();
    assert!(
        out.stdout.contains("provider: openrouter"),
        "a fallback Hermes can use: {out}"
    );
    // Hermes did not have to repair the file.
    let backups: Vec<String> = tree(&dir)
        .into_iter()
        .filter(|p| p.contains(".corrupt."))
        .collect();
    assert!(
        backups.is_empty(),
        "hermes found config.yaml corrupt: {backups:?}"
    );
}

#[test]
fn a_fresh_profile_is_block_style_yaml_with_vision_on_a_free_image_model_and_hermes_reads_it() {
    let env = TestEnv::new();
    env.nxr(&["agents", "create", "--role", "pm", "--name", "pm"])
        .assert_ok();
    let text = std::fs::read_to_string(env.profile_dir("pm").join("config.yaml")).expect("config");
    assert!(
        !text.lines().any(|l| l.trim() == "-"),
        "no bare `-` line:\n{text}"
    );
    assert!(!text.contains('{'), "no flow mappings:\n{text}");
    assert!(text.lines().any(|l| l == "auxiliary:"), "{text}");
    // Pinned, so `auto` cannot send images to Hermes's paid default vision model.
    let vision = config_get(&env, "pm", "auxiliary.vision.model");
    vision.assert_ok();
    let vision = vision.stdout.trim().to_string();
    // The workspace runs on the bundled catalog (no scan).
    let catalog = nxr::core::catalog::Catalog::bundled();
    let m = catalog.get(&vision).expect("in the catalog");
    assert!(m.is_free(), "{vision}");
    assert!(nxr::core::routing::takes_images(m), "{vision} takes images");
    let provider = config_get(&env, "pm", "auxiliary.vision.provider");
    assert_eq!(provider.stdout.trim(), "openrouter");
    let fallback = config_get(&env, "pm", "fallback_providers");
    fallback.assert_ok();
    assert!(
        fallback.stdout.contains("openrouter/free"),
        "hermes reads the fallback chain: {fallback}"
    );
}

/// A free image model other than `not`, and a free text model under the long-context need.
fn free_models(not: &str) -> (String, String) {
    use nxr::core::routing::{LONG_CONTEXT, takes_images};
    let catalog = nxr::core::catalog::Catalog::bundled();
    let image = catalog
        .models
        .iter()
        .find(|m| {
            m.is_free() && !m.is_router() && takes_images(m) && m.outputs_text() && m.id != not
        })
        .expect("a second free image model");
    let short = catalog
        .models
        .iter()
        .find(|m| m.is_free() && !m.is_router() && m.context() < LONG_CONTEXT)
        .expect("a free short-context model");
    (image.id.clone(), short.id.clone())
}

#[test]
fn set_slot_writes_what_hermes_reads_refuses_a_misfit_without_force_and_auto_hands_the_task_back() {
    let env = TestEnv::new();
    env.nxr(&["agents", "create", "--role", "pm", "--name", "pm"])
        .assert_ok();
    let pinned = config_get(&env, "pm", "auxiliary.vision.model").stdout;
    let (image, short) = free_models(pinned.trim());

    // A bare task name, a catalog model: the real hermes reads it.
    let out = env.json(&["models", "set-slot", "pm", "vision", &image]);
    assert_eq!(out["slot"]["model"], image.as_str(), "{out}");
    assert_eq!(
        config_get(&env, "pm", "auxiliary.vision.model")
            .stdout
            .trim(),
        image
    );

    // A model lacking the slot's needs is refused, says --force, and changes nothing.
    let config = env.profile_dir("pm").join("config.yaml");
    let before = std::fs::read_to_string(&config).expect("config");
    let refused = env.nxr(&["models", "set-slot", "pm", "compression", &short]);
    assert_eq!(refused.code, Some(2), "{refused}");
    assert!(refused.stderr.contains("--force"), "{refused}");
    assert_eq!(std::fs::read_to_string(&config).expect("config"), before);
    env.nxr(&["models", "set-slot", "pm", "compression", &short, "--force"])
        .assert_ok();
    assert_eq!(
        config_get(&env, "pm", "auxiliary.compression.model")
            .stdout
            .trim(),
        short
    );

    // auto: nxr's route goes, Hermes resolves the task itself.
    let out = env.json(&["models", "set-slot", "pm", "vision", "auto"]);
    assert_eq!(out["slot"]["auto"], true, "{out}");
    assert_eq!(
        config_get(&env, "pm", "auxiliary.vision.provider")
            .stdout
            .trim(),
        "auto"
    );
    assert_eq!(
        config_get(&env, "pm", "auxiliary.vision.model")
            .stdout
            .trim(),
        ""
    );
    // The mark stays honest: an auto vision slot leaks to Hermes's paid default exactly when
    // the main model takes no images.
    let catalog = nxr::core::catalog::Catalog::bundled();
    let main = config_get(&env, "pm", "model.default")
        .stdout
        .trim()
        .to_string();
    let main_sees = catalog
        .get(&main)
        .is_some_and(nxr::core::routing::takes_images);
    assert_eq!(out["slot"]["paid"].is_string(), !main_sees, "{out}");
    assert!(
        !std::fs::read_to_string(&config)
            .expect("config")
            .contains("vision:")
    );

    // main auto: the role's best free pick.
    env.nxr(&["models", "set-slot", "pm", "main", &image])
        .assert_ok();
    env.json(&["models", "set-slot", "pm", "main", "auto"]);
    let best = env.json(&["models", "best-free", "--role", "pm"])["pick"]["model"]
        .as_str()
        .expect("pick")
        .to_string();
    assert_eq!(config_get(&env, "pm", "model.default").stdout.trim(), best);

    // Unknown agent, slot or model: exit 2, nothing written.
    let before = std::fs::read_to_string(&config).expect("config");
    for args in [
        ["models", "set-slot", "nobody", "vision", image.as_str()],
        ["models", "set-slot", "pm", "visoin", image.as_str()],
        ["models", "set-slot", "pm", "vision", "no/such-model:free"],
    ] {
        let out = env.nxr(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
    }
    assert_eq!(std::fs::read_to_string(&config).expect("config"), before);
    no_update_check(env.hermes_home.path());
}
