//! The commands around a workspace, as a person uses them: shell completions in a real bash,
//! man pages read by `man -l`, `nxr doctor` (fresh machine, after `init --free`, a corrupted
//! profile, remotes that hang), the static export, and the warning for a Hermes outside the
//! verified range (a fake `hermes` script reporting its version).

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Output, TestEnv, hermes_path, run};

/// A folder with only the programs a test puts in it, used as `PATH`.
fn bare_path(env: &mut TestEnv) -> tempfile::TempDir {
    let bin = tempfile::tempdir().expect("tempdir");
    env.set("PATH", &bin.path().display().to_string());
    env.set("NXR_HERMES_BIN", "");
    bin
}

/// An executable shell script `name` in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

/// `nxr ARGS` (without `--no-tui`: these commands never open the TUI).
fn nxr(env: &TestEnv, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nxr"));
    cmd.args(args);
    env.apply(&mut cmd);
    run(cmd, support::NXR_TIMEOUT)
}

/// Doctor's text with this world's folders replaced, so a snapshot is the same everywhere.
fn neutral(env: &TestEnv, text: &str, more: &[(&str, &str)]) -> String {
    let mut t = text
        .replace(&env.nxr_home.path().display().to_string(), "[NXR_HOME]")
        .replace(
            &env.hermes_home.path().display().to_string(),
            "[HERMES_HOME]",
        );
    for (from, to) in more {
        t = t.replace(from, to);
    }
    t
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        snapshot_path => "../snapshots/cli",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name.to_string(), text);
    });
}

fn agent_names(env: &TestEnv) -> Vec<String> {
    let list = env.json(&["agents", "list"]);
    let mut names: Vec<String> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|a| a["name"].as_str().expect("name").to_string())
        .collect();
    names.sort();
    names
}

// ---- completions ----

/// Sources `nxr completions bash` in a real bash and calls its completion function as bash
/// would on TAB, with `words` on the line and the cursor on the last one.
fn bash_complete(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let script = format!(
        "source <(\"$NXR\" completions bash) || exit 9\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD={cword}\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         COMP_TYPE=9\n\
         fn=$(complete -p nxr | sed -E 's/.*-F ([^ ]+) .*/\\1/')\n\
         \"$fn\" nxr \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "--noprofile", "-c", &script]);
    env.apply(&mut cmd);
    cmd.env("NXR", env!("CARGO_BIN_EXE_nxr"));
    let out = run(cmd, Duration::from_secs(60));
    out.assert_ok();
    // Flags are offered beside values when nothing is typed yet; the tests look at values.
    let mut v: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('-'))
        .collect();
    v.sort();
    v
}

#[test]
fn tab_after_nxr_ag_in_bash_completes_to_agents() {
    let env = TestEnv::new();
    assert_eq!(bash_complete(&env, &["nxr", "ag"]), vec!["agents"]);
    // The subcommands come from the clap definition: the new ones are there too.
    let all = bash_complete(&env, &["nxr", ""]);
    for c in ["agents", "completions", "doctor", "export", "man", "models"] {
        assert!(all.contains(&c.to_string()), "{c} missing from {all:?}");
    }
}

#[test]
fn tab_after_agents_skills_offers_the_workspaces_agent_names() {
    let env = TestEnv::new();
    // No workspace yet: nothing to offer, and pressing TAB creates no database.
    assert!(bash_complete(&env, &["nxr", "agents", "skills", ""]).is_empty());
    assert!(!env.db_path().exists(), "completion created the database");
    env.nxr(&["init", "--free"]).assert_ok();
    env.nxr(&["agents", "create", "--role", "research", "--name", "scout"])
        .assert_ok();
    let names = agent_names(&env);
    assert!(names.contains(&"scout".to_string()), "{names:?}");
    assert_eq!(bash_complete(&env, &["nxr", "agents", "skills", ""]), names);
    assert_eq!(
        bash_complete(&env, &["nxr", "agents", "skills", "sc"]),
        vec!["scout"]
    );
    let roles = bash_complete(&env, &["nxr", "agents", "create", "--role", ""]);
    assert_eq!(
        roles,
        support::sorted(support::ROLES),
        "roles complete after --role"
    );
}

#[test]
fn every_shell_gets_a_script_that_calls_nxr_back() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = nxr(&env, &["completions", shell]);
        out.assert_ok();
        assert!(
            out.stdout.contains(env!("CARGO_BIN_EXE_nxr")) && out.stdout.contains("COMPLETE"),
            "{shell}: {out}"
        );
    }
    nxr(&env, &["completions", "tcsh"]).assert_code(2);
}

// ---- man pages ----

/// Top-level subcommands as `nxr --help` lists them.
fn top_commands(env: &TestEnv) -> Vec<String> {
    let help = nxr(env, &["--help"]);
    help.assert_ok();
    help.stdout
        .split("Commands:")
        .nth(1)
        .expect("Commands section")
        .split("\n\n")
        .next()
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn man_writes_a_page_for_every_subcommand_and_man_l_renders_each() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("man1");
    nxr(&env, &["man", &out_dir.display().to_string()]).assert_ok();
    let commands = top_commands(&env);
    assert!(commands.len() >= 10, "{commands:?}");
    let mut pages: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("man dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert!(pages.contains(&"nxr.1".to_string()));
    for c in &commands {
        assert!(
            pages.contains(&format!("nxr-{c}.1")),
            "no page for {c}: {pages:?}"
        );
    }
    for nested in [
        "nxr-agents-skills.1",
        "nxr-models-best-free.1",
        "nxr-config-set.1",
    ] {
        assert!(pages.contains(&nested.to_string()), "{nested}: {pages:?}");
    }
    for page in &pages {
        let mut cmd = Command::new("man");
        cmd.arg("-l")
            .arg(out_dir.join(page))
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat");
        let out = run(cmd, Duration::from_secs(60));
        out.assert_ok();
        assert!(out.stderr.trim().is_empty(), "{page}: {out}");
        let title = page.trim_end_matches(".1");
        assert!(out.stdout.contains("NAME"), "{page}: {out}");
        assert!(out.stdout.contains(title), "{page}: {out}");
    }
    // Without a folder: the top page on stdout, in roff.
    let top = nxr(&env, &["man"]);
    top.assert_ok();
    assert!(
        top.stdout.starts_with(".ie") || top.stdout.contains(".TH nxr"),
        "{top}"
    );
}

// ---- doctor ----

/// Every regular file under `dir` with its bytes (the database's `-wal`/`-shm` companions
/// are SQLite's working files and left out).
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for rel in support::tree(dir) {
        let p = dir.join(&rel);
        if p.is_file() && !rel.ends_with("-wal") && !rel.ends_with("-shm") {
            out.insert(rel, std::fs::read(&p).expect("read"));
        }
    }
    out
}

#[test]
fn doctor_on_a_fresh_machine_says_exactly_what_is_missing_and_creates_nothing() {
    let mut env = TestEnv::new();
    let _bin = bare_path(&mut env);
    let nxr_home = env.nxr_home.path().join("nxr");
    let hermes_home = env.hermes_home.path().join("hermes");
    env.set("NXR_HOME", &nxr_home.display().to_string());
    env.set("HERMES_HOME", &hermes_home.display().to_string());
    let out = nxr(&env, &["doctor"]);
    out.assert_code(1);
    assert!(!nxr_home.exists(), "doctor created NXR_HOME");
    assert!(!hermes_home.exists(), "doctor created HERMES_HOME");
    snapshot(
        "doctor_on_a_fresh_machine",
        &neutral(&env, &out.stdout, &[]),
    );
}

#[test]
fn after_init_free_offline_doctor_is_green_except_the_unreachable_remotes() {
    let mut env = TestEnv::new();
    let hermes = hermes_path();
    env.set("NXR_HERMES_BIN", &hermes.display().to_string());
    env.nxr(&["init", "--free"]).assert_ok();
    let out = nxr(&env, &["doctor"]);
    out.assert_ok();
    let report = nxr(&env, &["doctor", "--json"]).json();
    for c in report["checks"].as_array().expect("checks") {
        let id = c["id"].as_str().expect("id");
        let status = c["status"].as_str().expect("status");
        match id {
            "ollama" | "openrouter" | "telegram" => {
                assert_eq!(status, "warning", "{c}")
            }
            // tmux is optional; .ci/run installs it.
            "tmux" => {}
            _ => assert_eq!(status, "ok", "{c}"),
        }
    }
    let tmux = out
        .stdout
        .lines()
        .find(|l| l.contains(" tmux "))
        .unwrap_or("")
        .to_string();
    snapshot(
        "doctor_after_init_free_offline",
        &neutral(
            &env,
            &out.stdout,
            &[
                (&hermes.display().to_string(), "[HERMES_BIN]"),
                (&tmux, "(tmux line)"),
            ],
        ),
    );
}

#[test]
fn doctor_names_a_corrupted_profile_config_exits_1_and_changes_nothing() {
    let mut env = TestEnv::new();
    let _bin = bare_path(&mut env);
    env.nxr(&["init", "--free"]).assert_ok();
    let config = env.profile_dir("pm").join("config.yaml");
    std::fs::write(
        &config,
        "model:\n  provider: openrouter\n  default: [unclosed\n",
    )
    .expect("corrupt");
    let before = (
        contents(env.nxr_home.path()),
        contents(env.hermes_home.path()),
        env.db_rows("SELECT * FROM agents ORDER BY id"),
        env.db_rows("SELECT * FROM settings ORDER BY key"),
    );
    let out = nxr(&env, &["doctor"]);
    out.assert_code(1);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("✗ profile pm"))
        .unwrap_or_else(|| panic!("no failed pm line: {out}"));
    assert!(line.contains(&config.display().to_string()), "{line}");
    let after = (
        contents(env.nxr_home.path()),
        contents(env.hermes_home.path()),
        env.db_rows("SELECT * FROM agents ORDER BY id"),
        env.db_rows("SELECT * FROM settings ORDER BY key"),
    );
    assert!(before == after, "doctor changed a file or the database");
}

#[test]
fn doctor_json_lists_every_check_with_its_status_and_what_to_do() {
    let mut env = TestEnv::new();
    let _bin = bare_path(&mut env);
    env.nxr(&["init", "--free"]).assert_ok();
    let out = nxr(&env, &["doctor", "--json"]);
    out.assert_code(1); // no hermes CLI on this PATH
    let v = out.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"], 1);
    assert!(v["warnings"].as_u64().is_some());
    let checks = v["checks"].as_array().expect("checks");
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    for id in [
        "database",
        "hermes_home",
        "profile:pm",
        "profile:engineer",
        "profile:default",
        "hermes_cli",
        "tmux",
        "ollama",
        "openrouter",
        "telegram",
        "web",
        "secrets",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for c in checks {
        let obj = c.as_object().expect("object");
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            ["detail", "fix", "id", "label", "needed", "status"],
            "{c}"
        );
        assert!(
            ["ok", "warning", "failed"].contains(&c["status"].as_str().expect("status")),
            "{c}"
        );
        assert!(c["needed"].is_boolean() && c["detail"].is_string());
        assert!(c["fix"].is_string() || c["fix"].is_null());
        if c["status"] != "ok" {
            assert!(c["fix"].is_string(), "a problem without a fix: {c}");
        }
    }
    let hermes = checks
        .iter()
        .find(|c| c["id"] == "hermes_cli")
        .expect("hermes");
    assert_eq!(hermes["status"], "failed");
}

/// A server that accepts connections and never answers, until dropped.
struct Hang {
    url: String,
    _stop: std::sync::mpsc::Sender<()>,
}

fn hanging_server() -> Hang {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    l.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while matches!(rx.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty)) {
            match l.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Hang { url, _stop: tx }
}

#[test]
fn doctor_answers_within_two_seconds_when_every_remote_hangs() {
    let mut env = TestEnv::new();
    let _bin = bare_path(&mut env);
    env.nxr(&["init", "--free"]).assert_ok();
    // A key and a Telegram bot, so doctor asks all three remotes.
    std::fs::write(
        env.nxr_home.path().join("secrets.env"),
        "OPENROUTER_API_KEY=sk-or-v1-0123456789abcdef\n",
    )
    .expect("key");
    std::fs::write(
        env.hermes_home.path().join(".env"),
        "TELEGRAM_BOT_TOKEN=123456:ABCDEFGHIJKLMNOP\nTELEGRAM_HOME_CHANNEL=42\n",
    )
    .expect("telegram");
    for f in [
        env.nxr_home.path().join("secrets.env"),
        env.hermes_home.path().join(".env"),
    ] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let hang = hanging_server();
    env.set("NXR_OPENROUTER_URL", &format!("{}/api/v1", hang.url));
    env.set("NXR_OLLAMA_URL", &hang.url);
    env.set("NXR_TELEGRAM_API_URL", &hang.url);
    let start = Instant::now();
    let out = nxr(&env, &["doctor", "--json"]);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "doctor took {took:?}: {out}");
    let v = out.json();
    for id in ["ollama", "openrouter", "telegram"] {
        let c = v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id}: {v}"));
        assert_eq!(c["status"], "warning", "{c}");
    }
    // The token is never printed, even in a failure.
    assert!(!out.stdout.contains("ABCDEFGHIJKLMNOP"), "{out}");
    assert!(!out.stdout.contains("0123456789abcdef"), "{out}");
}

/// A Telegram Bot API that knows one token: `getMe` answers for it and 401 for any other.
fn fake_telegram(token: &'static str) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let (status, body) = if head.starts_with(&format!("GET /bot{token}/getMe ")) {
                (
                    "200 OK",
                    r#"{"ok":true,"result":{"id":1,"is_bot":true,"username":"nxr_test_bot"}}"#,
                )
            } else {
                (
                    "401 Unauthorized",
                    r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
                )
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn doctor_asks_telegram_getme_with_the_hermes_token_and_names_a_rejected_one() {
    let mut env = TestEnv::new();
    let _bin = bare_path(&mut env);
    env.nxr(&["init", "--free"]).assert_ok();
    env.set("NXR_TELEGRAM_API_URL", &fake_telegram("111:good-token-abc"));
    let env_file = env.hermes_home.path().join(".env");
    let telegram = |env: &TestEnv| {
        let v = nxr(env, &["doctor", "--json"]).json();
        v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == "telegram")
            .cloned()
            .expect("telegram")
    };
    std::fs::write(
        &env_file,
        "TELEGRAM_BOT_TOKEN=111:good-token-abc\nTELEGRAM_HOME_CHANNEL=-10042\n",
    )
    .expect("env");
    let c = telegram(&env);
    assert_eq!(c["status"], "ok", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .expect("detail")
            .contains("@nxr_test_bot")
    );
    std::fs::write(
        &env_file,
        "TELEGRAM_BOT_TOKEN=222:revoked-token-xyz\nTELEGRAM_HOME_CHANNEL=-10042\n",
    )
    .expect("env");
    let c = telegram(&env);
    assert_eq!(c["status"], "failed", "{c}");
    assert!(!c.to_string().contains("revoked-token-xyz"), "{c}");
}

// ---- Hermes version ----

#[test]
fn a_hermes_reporting_0_22_0_is_warned_about_once_and_0_19_0_is_not() {
    let warning = "is not a version nxr was checked against";
    for (version, warned) in [("0.22.0", true), ("0.19.0", false)] {
        let mut env = TestEnv::new();
        let bin = bare_path(&mut env);
        // Not a Python script: nxr falls back to `hermes --version`.
        let hermes = script(
            bin.path(),
            "hermes",
            &format!("[ \"$1\" = --version ] && echo 'Hermes Agent v{version} (2026.9.1)'"),
        );
        env.set("NXR_HERMES_BIN", &hermes.display().to_string());
        let out = env.nxr(&["init", "--free"]);
        out.assert_ok();
        let all = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(
            all.matches(warning).count(),
            usize::from(warned),
            "{version}: {out}"
        );
        assert_eq!(
            env.db_rows("SELECT hermes_version FROM onboarding"),
            vec![vec![version.to_string()]]
        );
        // Setup again: the warning is not repeated.
        let again = env.nxr(&["init", "--free"]);
        again.assert_ok();
        assert!(!format!("{}{}", again.stdout, again.stderr).contains(warning));
        // Doctor marks it and nxr keeps working (not a failure).
        let v = nxr(&env, &["doctor", "--json"]).json();
        let c = v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == "hermes_cli")
            .cloned()
            .expect("hermes_cli");
        assert_eq!(c["status"], if warned { "warning" } else { "ok" }, "{c}");
        assert!(c["detail"].as_str().expect("detail").contains(version));
    }
}

// ---- export ----

/// Every `href="…"` value in an HTML text.
fn hrefs(html: &str) -> Vec<String> {
    html.split(" href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn export_writes_every_page_standalone_without_controls_or_keys() {
    let env = TestEnv::new();
    env.nxr(&["init", "--free"]).assert_ok();
    let key = "sk-or-v1-exportsecret0123456789";
    std::fs::write(
        env.nxr_home.path().join("secrets.env"),
        format!("OPENROUTER_API_KEY={key}\n"),
    )
    .expect("key");
    let dir = tempfile::tempdir().expect("tempdir");
    let site = dir.path().join("site");
    let out = env.nxr(&["export", &site.display().to_string(), "--json"]);
    out.assert_ok();
    let files = support::tree(&site);
    for f in [
        "index.html",
        "hermes.html",
        "models-switch.html",
        "agents-manage.html",
        "budget.html",
        "agents-new.html",
        "notifications.html",
        "style.css",
    ] {
        assert!(files.contains(&f.to_string()), "{f} missing: {files:?}");
    }
    for f in files.iter().filter(|f| f.ends_with(".html")) {
        let html = std::fs::read_to_string(site.join(f)).expect("read");
        for bad in [
            "<form",
            "<script",
            "<input",
            "<button",
            "<textarea",
            key,
            "csrf",
        ] {
            assert!(!html.contains(bad), "{f} contains {bad}");
        }
        for href in hrefs(&html) {
            if href.starts_with("http") || href.starts_with('#') {
                continue;
            }
            let target = href.split('#').next().unwrap_or("");
            assert!(
                site.join(target).is_file(),
                "{f}: link {href} points at nothing"
            );
        }
        assert!(html.contains("href=\"style.css\""), "{f}");
    }
    // Every agent appears where the live mirror shows it.
    let hermes = std::fs::read_to_string(site.join("hermes.html")).expect("read");
    for name in agent_names(&env) {
        assert!(
            hermes.contains(&format!(">{name}<")),
            "{name} not on hermes.html"
        );
    }
    // Exporting again replaces the folder; a folder that is not an export is refused.
    env.nxr(&["export", &site.display().to_string()])
        .assert_ok();
    let other = dir.path().join("mine");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(other.join("notes.txt"), "mine").expect("write");
    env.nxr(&["export", &other.display().to_string()])
        .assert_code(2);
    assert_eq!(support::tree(&other), vec!["notes.txt"]);
    // No temporary folder is left beside the export.
    let mut left = support::tree(dir.path());
    left.retain(|p| !p.contains('/'));
    assert_eq!(left, vec!["mine", "site"]);
}
