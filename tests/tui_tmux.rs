//! The TUI end to end, as a person uses it: the real `nxr` binary in a detached tmux
//! session (its own server socket, no user config) at 80×24 or 120×40, driven with
//! `send-keys` and read with `capture-pane`, against temporary homes.
//!
//! Needs `tmux` (`.ci/run` installs it). The routing-slot test also needs the real `hermes`
//! CLI: `$NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`, else `hermes` on `PATH`.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::tmux::{DEADLINE, POLL, Tmux};
use support::{TestEnv, hermes_config_get, hermes_path, skills_on_disk, tree};

/// A workspace that went through `nxr init --free` (PM, Engineer, Hermes).
fn initialised() -> TestEnv {
    let env = TestEnv::new();
    env.nxr(&["init", "--free", "--fetch-timeout", "1"])
        .assert_ok();
    env
}

/// The tab bar as the TUI draws it, with `tab` current.
fn on_tab(screen: &str, n: usize, title: &str) -> bool {
    screen
        .lines()
        .next()
        .is_some_and(|l| l.contains(&format!("[{n} {title}")))
}

fn assert_terminal_restored(t: &Tmux) {
    let stty = t.stty();
    let words: Vec<&str> = stty.split_whitespace().collect();
    assert!(
        words.contains(&"icanon") && !words.contains(&"-icanon"),
        "the terminal is still in raw mode: {stty}"
    );
    assert!(
        words.contains(&"echo") && !words.contains(&"-echo"),
        "echo is still off: {stty}"
    );
}

#[test]
fn first_run_setup_then_tabs_help_and_quit_restore_the_terminal() {
    let env = TestEnv::new();
    let t = Tmux::start(&env, 80, 24);
    t.start_nxr("");
    t.wait_text("first-run setup");
    t.wait_text("Press enter to start");
    t.keys(&["Enter"]);
    let s = t.wait_text("Ready. Your agents:");
    assert!(s.contains("engineer"), "{s}");
    t.keys(&["Enter"]);
    let s = t.wait_for("the tab bar on tab 1", |s| on_tab(s, 1, "Hermes"));
    for title in [
        "2 Models",
        "3 Agents",
        "4 Budget",
        "5 Create",
        "6 Notifications",
    ] {
        assert!(s.contains(title), "{title} missing from the tab bar:\n{s}");
    }
    assert!(s.contains("qwen/qwen3-coder:free"), "{s}");
    // Every line fits the 80 columns.
    assert!(s.lines().all(|l| l.chars().count() <= 80), "{s}");

    t.keys(&["?"]);
    let s = t.wait_text("Help · keys");
    assert!(s.contains("Everywhere") && s.contains("quit"), "{s}");
    t.keys(&["?"]);
    t.wait_for("help closed", |s| !s.contains("Help · keys"));

    // Tab, vim keys and arrows move between tabs and rows.
    t.keys(&["Tab"]);
    t.wait_for("tab 2", |s| on_tab(s, 2, "Models"));
    t.keys(&["BTab"]);
    t.wait_for("tab 1 again", |s| on_tab(s, 1, "Hermes"));
    t.keys(&["l", "l"]);
    t.wait_for("tab 3", |s| on_tab(s, 3, "Agents"));
    t.keys(&["Left", "6"]);
    t.wait_for("tab 6", |s| on_tab(s, 6, "Notifications"));

    t.keys(&["q"]);
    let s = t.wait_text("nxr-exit=0");
    assert!(
        !s.contains("[6 Notifications"),
        "left the alternate screen:\n{s}"
    );
    assert_terminal_restored(&t);
}

#[test]
fn the_mouse_switches_tabs_and_selects_rows() {
    let env = initialised();
    let t = Tmux::start(&env, 80, 24);
    t.start_nxr("");
    t.wait_for("tab 1", |s| on_tab(s, 1, "Hermes"));
    // An SGR mouse press and release on "3 Agents" in the tab bar (column 25, row 1).
    t.text("\x1b[<0;25;1M\x1b[<0;25;1m");
    t.wait_for("tab 3 after a click", |s| on_tab(s, 3, "Agents"));
    // Click the third agent's row (screen row 6), then the wheel moves the selection up.
    t.text("\x1b[<0;10;6M\x1b[<0;10;6m");
    t.wait_for("the third row selected", |s| {
        s.lines().nth(5).is_some_and(|l| l.starts_with("│> hermes"))
    });
    t.text("\x1b[<64;10;6M");
    t.wait_for("the wheel moved up", |s| {
        s.lines()
            .nth(4)
            .is_some_and(|l| l.starts_with("│> engineer"))
    });
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
}

#[test]
fn picking_a_model_for_routing_slots_writes_what_hermes_reads() {
    let hermes = hermes_path();
    assert!(hermes.is_file());
    let env = initialised();
    let t = Tmux::start(&env, 80, 24);
    t.start_nxr("");
    t.wait_for("tab 1", |s| on_tab(s, 1, "Hermes"));
    t.keys(&["2"]);
    t.wait_text("Routing slots · pm");
    // The vision slot: down one, enter opens the picker.
    t.keys(&["j", "Enter"]);
    t.wait_text("Model for pm · aux:vision");
    t.text("gemma 31b");
    t.wait_for("the query's best match selected", |s| {
        s.contains("> gemma 31b") && s.contains("│> google/gemma-4-31b-it:free")
    });
    t.keys(&["Enter"]);
    let s = t.wait_text("ok: wrote");
    assert!(
        s.lines()
            .any(|l| l.contains("vision") && l.contains("google/gemma-4-31b-it:free")),
        "the slot shows the new model:\n{s}"
    );

    // The main slot: the first row.
    t.keys(&["g", "Enter"]);
    t.wait_text("Model for pm · main");
    t.text("qwen3 coder");
    t.wait_for("qwen3-coder selected", |s| {
        s.contains("│> qwen/qwen3-coder:free")
    });
    t.keys(&["Enter"]);
    t.wait_for("the main slot shows it", |s| {
        s.lines()
            .any(|l| l.contains("> main") && l.contains("qwen/qwen3-coder:free"))
    });
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");

    let config =
        std::fs::read_to_string(env.profile_dir("pm").join("config.yaml")).expect("config.yaml");
    assert!(
        config.contains("google/gemma-4-31b-it:free"),
        "config.yaml:\n{config}"
    );
    assert_eq!(
        hermes_config_get(&env, "pm", "auxiliary.vision.model"),
        "google/gemma-4-31b-it:free"
    );
    assert_eq!(
        hermes_config_get(&env, "pm", "auxiliary.vision.provider"),
        "openrouter"
    );
    assert_eq!(
        hermes_config_get(&env, "pm", "model.default"),
        "qwen/qwen3-coder:free"
    );
}

/// Everything about an agent that does not depend on when it was made.
fn agent_row(env: &TestEnv, name: &str) -> Vec<String> {
    let rows = env.db_rows(&format!(
        "SELECT name, profile, model, provider, role, skillset, model_score, \
         model_auto_assigned, workspace_id, is_default FROM agents WHERE name = '{name}'"
    ));
    assert_eq!(rows.len(), 1, "agent {name}: {rows:?}");
    rows.into_iter().next().unwrap_or_default()
}

fn profile_files(dir: &Path) -> Vec<(String, String)> {
    tree(dir)
        .into_iter()
        .filter(|p| dir.join(p).is_file())
        .map(|p| {
            let text = std::fs::read_to_string(dir.join(&p)).unwrap_or_default();
            (p, text)
        })
        .collect()
}

#[test]
fn the_create_wizard_makes_the_same_agent_as_the_cli() {
    let env = initialised();
    let t = Tmux::start(&env, 80, 24);
    t.start_nxr("");
    t.wait_for("tab 1", |s| on_tab(s, 1, "Hermes"));
    t.keys(&["5"]);
    t.wait_text("[1 Category]");
    // Research is the fourth category.
    t.keys(&["j", "j", "j"]);
    t.wait_text("Research skill template");
    t.keys(&["Enter"]);
    // Wait for the whole frame: a capture can land while tmux is still painting it.
    t.wait_for("step 2 with the reason for the model", |s| {
        s.contains("[2 Model]") && s.contains("why") && s.contains("total")
    });
    t.keys(&["Enter"]);
    t.wait_text("[3 Skills]");
    t.keys(&["Space"]);
    t.wait_text("6 of");
    t.keys(&["Enter"]);
    t.wait_text("[4 Name]");
    t.text("Scout");
    t.wait_text("invalid agent name");
    t.keys(&["BSpace", "BSpace", "BSpace", "BSpace", "BSpace"]);
    t.text("scout");
    t.wait_text("ok: enter to review");
    t.keys(&["Enter"]);
    t.wait_text("[5 Confirm]");
    t.keys(&["Enter"]);
    let s = t.wait_for("the agents tab with the new agent", |s| {
        on_tab(s, 3, "Agents") && s.contains("│> scout")
    });
    assert!(s.contains("created"), "{s}");
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");

    let tui = agent_row(&env, "scout");
    let skills: Vec<String> = serde_json::from_str(&tui[5]).expect("skillset");
    assert_eq!(skills.len(), 6, "one of the seven research skills unticked");

    // The same choices through the CLI, in a fresh workspace set up the same way.
    let cli_env = initialised();
    cli_env
        .nxr(&[
            "agents",
            "create",
            "--role",
            "research",
            "--name",
            "scout",
            "--category",
            "research",
            "--skills",
            &skills.join(","),
        ])
        .assert_ok();
    assert_eq!(agent_row(&cli_env, "scout"), tui);
    let a = profile_files(&env.profile_dir("scout"));
    let b = profile_files(&cli_env.profile_dir("scout"));
    assert_eq!(
        a.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        b.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for ((p, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x, y, "{p} differs between the wizard and the CLI");
    }
    assert_eq!(
        skills_on_disk(&env.profile_dir("scout")),
        skills_on_disk(&cli_env.profile_dir("scout"))
    );
}

#[test]
fn a_change_made_by_the_cli_shows_up_without_a_restart() {
    let env = initialised();
    let t = Tmux::start(&env, 120, 40);
    t.start_nxr("");
    t.wait_for("tab 1", |s| on_tab(s, 1, "Hermes"));
    t.keys(&["3"]);
    t.wait_for("tab 3", |s| on_tab(s, 3, "Agents"));
    env.nxr(&["agents", "create", "--role", "pm", "--name", "late"])
        .assert_ok();
    let s = t.wait_text("late ");
    assert!(s.lines().all(|l| l.chars().count() <= 120), "{s}");

    // Resizing redraws at the new size.
    t.tmux(&["resize-window", "-t", "main", "-x", "80", "-y", "24"]);
    let s = t.wait_for("a redraw at 80x24", |s| {
        s.lines().count() <= 24
            && s.lines()
                .any(|l| l.chars().count() == 80 && l.starts_with('└'))
    });
    assert!(on_tab(&s, 3, "Agents"), "{s}");
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
}

/// Colour/attribute parameters of every SGR sequence in a styled capture.
fn sgr_params(styled: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let mut rest = styled;
    while let Some(i) = rest.find("\x1b[") {
        rest = &rest[i + 2..];
        let end = rest.find('m').unwrap_or(rest.len());
        let body = &rest[..end];
        if body.chars().all(|c| c.is_ascii_digit() || c == ';') {
            out.extend(body.split(';').filter_map(|p| p.parse::<u32>().ok()));
        }
        rest = &rest[end.min(rest.len())..];
    }
    out
}

fn is_colour(p: u32) -> bool {
    matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107)
}

#[test]
fn no_color_draws_with_attributes_only() {
    let env = initialised();
    let t = Tmux::start(&env, 80, 24);
    t.start_nxr("NO_COLOR=1");
    t.wait_for("tab 1", |s| on_tab(s, 1, "Hermes"));
    let styled = t.screen_styled();
    let params = sgr_params(&styled);
    assert!(
        !params.iter().any(|p| is_colour(*p)),
        "colour with NO_COLOR set: {params:?}"
    );
    assert!(params.contains(&7), "the selection is reversed: {params:?}");
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");

    t.line("clear");
    t.start_nxr("");
    t.wait_for("tab 1", |s| on_tab(s, 1, "Hermes"));
    let params = sgr_params(&t.screen_styled());
    assert!(
        params.iter().any(|p| is_colour(*p)),
        "no colour without NO_COLOR: {params:?}"
    );
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
}

#[test]
fn a_panic_leaves_the_terminal_usable() {
    let env = initialised();
    let t = Tmux::start(&env, 80, 24);
    t.start_nxr("NXR_TEST_PANIC=1");
    let s = t.wait_text("nxr-exit=101");
    // The message stays readable above the shell's next line (nothing moved the cursor
    // back over it).
    let msg = s
        .lines()
        .position(|l| l.contains("panicking after the first frame"));
    let exit = s.lines().position(|l| l.contains("nxr-exit=101"));
    assert!(
        matches!((msg, exit), (Some(m), Some(e)) if m < e),
        "the panic message is readable:\n{s}"
    );
    assert!(!s.contains("[1 Hermes]"), "left the alternate screen:\n{s}");
    assert_terminal_restored(&t);
}

/// `GET path` on a loopback URL with a plain socket: (status line, body).
fn http_get(base: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).expect("connect to the mirror");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn the_tui_serves_the_web_mirror_and_shows_its_url() {
    let env = initialised();
    let t = Tmux::start(&env, 120, 40);
    t.start_nxr("NXR_WEB=127.0.0.1:0");
    let s = t.wait_for("the mirror's URL in the status line", |s| {
        s.contains("web http://127.0.0.1:")
    });
    let url = s
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("url")
        .to_string();
    let (status, body) = http_get(&url, "/agents/manage");
    assert!(status.contains("200"), "{status}");
    assert!(
        body.contains("engineer"),
        "the mirror shows the same agents"
    );
    // A change from another process shows in both.
    env.nxr(&["agents", "create", "--role", "pm", "--name", "webseen"])
        .assert_ok();
    t.keys(&["3"]);
    t.wait_text("webseen");
    let (_, body) = http_get(&url, "/agents/manage");
    assert!(body.contains("webseen"));
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
}

#[test]
fn with_no_key_the_models_tab_refuses_a_paid_model_and_writes_nothing() {
    let env = initialised();
    let config = env.profile_dir("pm").join("config.yaml");
    let before = std::fs::read_to_string(&config).expect("config.yaml");
    let t = Tmux::start(&env, 120, 40);
    t.start_nxr("");
    t.wait_for("tab 1", |s| on_tab(s, 1, "Hermes"));
    t.keys(&["2"]);
    t.wait_text("Routing slots · pm");
    t.keys(&["Enter"]);
    t.wait_text("Model for pm · main");
    // Free only off, then a paid model.
    t.keys(&["C-f"]);
    t.text("claude sonnet");
    t.wait_for("a paid Claude selected", |s| {
        s.lines().any(|l| l.contains("│> anthropic/claude-sonnet"))
    });
    t.keys(&["Enter"]);
    t.wait_text("is a paid model");
    t.keys(&["Escape"]);
    t.wait_for("the picker closed", |s| !s.contains("Model for pm"));
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
    assert_eq!(
        std::fs::read_to_string(&config).expect("config.yaml"),
        before,
        "nothing written"
    );
    assert!(
        !hermes_config_get(&env, "pm", "model.default").starts_with("anthropic/"),
        "hermes still reads a free model"
    );
}

#[test]
fn nxr_upgrade_on_a_terminal_asks_again_after_a_stray_answer_and_takes_ctrl_d_as_no() {
    let server = support::FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    env.nxr(&["config", "set", "openrouter-key", support::VALID_KEY])
        .assert_ok();
    let models = || support::profiles::agent_rows(&env);
    let before = models();
    // Wide enough that the question is on one line.
    let t = Tmux::start(&env, 240, 40);
    t.line(&format!(
        "{} upgrade; echo nxr-exit=$?",
        env!("CARGO_BIN_EXE_nxr")
    ));
    t.wait_text("[Y/n/custom]");
    t.wait_text("account: balance $");
    t.line("maybe");
    t.wait_text("please answer y or n");
    t.keys(&["C-d"]);
    t.wait_text("nxr-exit=0");
    assert_eq!(models(), before, "end of input upgrades nothing");
}

#[test]
fn tab_3_p_asks_with_the_price_before_upgrading_and_v_reverts_the_selected_agent() {
    let server = support::FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    env.nxr(&["config", "set", "openrouter-key", support::VALID_KEY])
        .assert_ok();
    let free = support::profiles::db_model(&env, "pm");
    let t = Tmux::start(&env, 120, 40);
    t.start_nxr("");
    t.wait_for("tab 1", |s| on_tab(s, 1, "Hermes"));
    t.keys(&["3"]);
    t.wait_text("p paid upgrade");
    t.keys(&["p"]);
    let s = t.wait_text("Upgrade pm to");
    assert!(s.contains("per M") && s.contains("balance $74.75"), "{s}");
    assert_eq!(
        support::profiles::db_model(&env, "pm"),
        free,
        "asking writes nothing"
    );
    t.keys(&["Escape"]);
    t.wait_text("nothing changed");
    assert_eq!(support::profiles::db_model(&env, "pm"), free);
    t.keys(&["p"]);
    t.wait_text("Upgrade pm to");
    t.keys(&["Enter"]);
    t.wait_text("ok: pm now runs");
    assert_ne!(support::profiles::db_model(&env, "pm"), free);
    t.wait_text("v revert to free");
    t.keys(&["v"]);
    t.wait_text("back on their last free model");
    assert_eq!(support::profiles::db_model(&env, "pm"), free);
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
}

#[test]
fn a_hanging_catalog_scan_keeps_keys_live_and_ends_as_a_timeout_with_the_catalog_kept() {
    use support::openrouter::{FakeOpenRouter, Fault, MODELS};
    let or = FakeOpenRouter::start();
    or.fail(MODELS, Fault::Hang(Duration::from_secs(60)));
    let env = initialised().with_openrouter(&or);
    let t = Tmux::start(&env, 120, 40);
    t.start_nxr("NXR_SCAN_TIMEOUT_SECONDS=4");
    t.wait_for("tab 1", |s| on_tab(s, 1, "Hermes"));
    t.keys(&["2"]);
    let before = t.wait_text("Routing slots · pm");
    // The status line's catalog part ("catalog 214d old (stale)"): which catalog is read.
    let catalog_line = |s: &str| {
        s.lines()
            .rev()
            .flat_map(|l| l.split('│'))
            .find(|part| part.contains("catalog ") && !part.contains("error"))
            .map(|part| part.split(" (").next().unwrap_or(part).trim().to_string())
            .unwrap_or_default()
    };
    let catalog_before = catalog_line(&before);
    let snapshots = env.db_i64("SELECT COUNT(*) FROM catalog_snapshots");
    assert!(
        !catalog_before.is_empty(),
        "no catalog in the status line:\n{before}"
    );
    t.keys(&["S"]);
    t.wait_text("scanning the catalog");
    assert_eq!(or.hits(MODELS), 1);

    // While OpenRouter says nothing, tabs switch and the picker filters as typed.
    for (key, n, title) in [("3", 3, "Agents"), ("2", 2, "Models")] {
        let start = Instant::now();
        t.keys(&[key]);
        t.wait_for(title, |s| on_tab(s, n, title));
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "tab {n} took {:?} to draw during a scan",
            start.elapsed()
        );
    }
    t.keys(&["Enter"]);
    t.wait_text("Model for pm · main");
    let start = Instant::now();
    t.text("qwen3 coder");
    t.wait_for("the picker filtered", |s| {
        s.contains("│> qwen/qwen3-coder:free")
    });
    assert!(start.elapsed() < Duration::from_secs(3));
    t.keys(&["Escape"]);

    let s = t.wait_text("catalog scan failed");
    assert!(s.contains("timed out"), "not a clear timeout:\n{s}");
    assert!(s.contains("last good catalog stays"), "{s}");
    assert_eq!(
        catalog_line(&s),
        catalog_before,
        "the catalog changed:\n{s}"
    );
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM catalog_snapshots"),
        snapshots
    );
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
}

#[test]
fn first_run_setup_redraws_and_quits_while_the_catalog_fetch_hangs() {
    use support::openrouter::{FakeOpenRouter, Fault, MODELS};
    let or = FakeOpenRouter::start();
    or.fail(MODELS, Fault::Hang(Duration::from_secs(60)));
    let env = TestEnv::new().with_openrouter(&or);
    let t = Tmux::start(&env, 80, 24);
    t.start_nxr("");
    t.wait_text("Press enter to start");
    t.keys(&["Enter"]);
    let running = |s: &str| s.contains("[..] 2. Load the model catalog");
    t.wait_for("the catalog step running", running);
    let start = Instant::now();
    while or.hits(MODELS) == 0 {
        assert!(
            start.elapsed() < DEADLINE,
            "setup never asked for the catalog"
        );
        std::thread::sleep(POLL);
    }
    // OpenRouter says nothing (setup gives it 4 s). The window grows meanwhile: the next
    // frame is drawn at the new size while the step still shows as running, which an input
    // loop waiting on the fetch could not do.
    t.tmux(&["resize-window", "-t", "main", "-x", "100", "-y", "30"]);
    let s = t.wait_for("a frame 100 columns wide", |s| {
        s.lines()
            .any(|l| l.contains("first-run setup") && l.chars().count() >= 99)
    });
    assert!(running(&s), "the redraw waited for the fetch:\n{s}");
    // And the keys answer: q quits at once.
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "quitting waited for the fetch ({:?})",
        start.elapsed()
    );
}

#[test]
fn the_setup_wizard_takes_an_optional_key_checks_it_and_never_shows_it() {
    use support::openrouter::{FakeOpenRouter, KEY};
    let or = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&or);
    let secrets = env.nxr_home.path().join("secrets.env");
    let t = Tmux::start(&env, 100, 30);
    t.start_nxr("");
    t.wait_text("none, free models only");
    // A key OpenRouter does not know: typed as stars, refused by OpenRouter, nothing stored.
    let wrong = "sk-or-v1-not-a-key-anyone-issued-0000000000000000000000000000000";
    t.text(wrong);
    let s = t.wait_text(&"*".repeat(wrong.len()));
    assert!(!s.contains("sk-or-v1"), "the key was drawn:\n{s}");
    t.keys(&["Enter"]);
    let s = t.wait_text("Setup stopped");
    assert!(s.contains("Press enter to try again"), "{s}");
    assert!(!s.contains(wrong) && !s.contains("not-a-key"), "{s}");
    assert!(or.hits(KEY) >= 1, "the key was not checked with OpenRouter");
    assert!(
        !std::fs::read_to_string(&secrets)
            .unwrap_or_default()
            .contains(wrong),
        "a refused key was stored"
    );
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 0);
    // The field is back, empty; a good key goes through, stored for nxr, shown masked.
    t.wait_text("none, free models only");
    t.text(support::VALID_KEY);
    t.keys(&["Enter"]);
    let s = t.wait_text("Ready. Your agents:");
    assert!(!s.contains(support::VALID_KEY), "{s}");
    assert!(s.contains("OpenRouter key: sk-or-v1..."), "{s}");
    assert!(
        std::fs::read_to_string(&secrets)
            .unwrap_or_default()
            .contains(support::VALID_KEY),
        "the key was not stored"
    );
    t.keys(&["Enter"]);
    t.wait_for("tab 1", |s| on_tab(s, 1, "Hermes"));
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
}

#[test]
fn keys_on_the_hermes_tab_start_and_stop_the_selected_agents_real_gateway() {
    let w = support::gateway::GatewayWorld::new(&[]);
    w.env
        .nxr(&["init", "--free", "--fetch-timeout", "1"])
        .assert_ok();
    let t = Tmux::start(&w.env, 120, 40);
    t.start_nxr("");
    t.wait_for("the tab bar on tab 1", |s| on_tab(s, 1, "Hermes"));
    let pm_row = |s: &str, state: &str| s.lines().any(|l| l.contains("> pm") && l.contains(state));
    t.wait_for("pm selected and stopped", |s| pm_row(s, "stopped"));
    t.keys(&["s"]);
    // The key returns at once: the start runs as a job and the row follows the gateway.
    let s = t.wait_for("pm's gateway running", |s| pm_row(s, "running"));
    let status = w.status("pm");
    assert_eq!(status["state"], "running", "{status}");
    let pid = status["pid"].as_i64().expect("pid").to_string();
    assert!(
        s.lines().any(|l| l.contains("> pm") && l.contains(&pid)),
        "the row shows pid {pid}:\n{s}"
    );
    t.keys(&["x"]);
    t.wait_for("pm's gateway stopped", |s| pm_row(s, "stopped"));
    assert_eq!(w.status("pm")["state"], "stopped");
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
}
