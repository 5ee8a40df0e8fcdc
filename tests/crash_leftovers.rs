//! Issue 13 item 11: `kill -9` during creates and writes leaves no temp files, no skill
//! folder without its SKILL.md and no orphan profile, as the real `hermes profile list` sees.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::{TestEnv, hermes, tree};

/// Every path under `dir` that a crashed nxr writer would leave: its temp files and folders
/// (`.NAME.nxr-PID.tmp`) and its creation marks.
fn leftovers(dir: &std::path::Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or(p);
            (name.contains(".nxr-") && name.ends_with(".tmp")) || name.starts_with(".nxr-creating-")
        })
        .collect()
}

/// Skill folders (two levels under `skills/`) that hold no SKILL.md.
fn hollow_skills(profile: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(categories) = std::fs::read_dir(profile.join("skills")) else {
        return out;
    };
    for c in categories.flatten().filter(|c| c.path().is_dir()) {
        for s in std::fs::read_dir(c.path()).into_iter().flatten().flatten() {
            let name = s.file_name().to_string_lossy().into_owned();
            if s.path().is_dir() && !name.starts_with('.') && !s.path().join("SKILL.md").is_file() {
                out.push(s.path().display().to_string());
            }
        }
    }
    out
}

/// The profile names `hermes profile list` prints (first column, without the default mark).
fn hermes_profiles(env: &TestEnv) -> Vec<String> {
    let out = hermes(env, &["profile", "list"]);
    out.assert_ok();
    let mut names: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|w| w.trim_start_matches('◆').to_string())
        .filter(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
                && w != "default"
        })
        .collect();
    names.sort();
    names
}

#[test]
fn item_11_kill_9_during_creates_and_writes_leaves_no_temp_files_and_no_orphan_profiles() {
    let env = TestEnv::new();
    env.nxr(&["init", "--free"]).assert_ok();

    // Kill creates and skill rewrites at spread-out moments, so some die before, some
    // during and some after their writes.
    let skill_sets = [
        "coding,testing,debugging",
        "planning,risk-assessment",
        "memory,cron",
    ];
    for i in 0..24u64 {
        let name = format!("crash-{i}");
        let set = skill_sets[i as usize % skill_sets.len()];
        let args: Vec<&str> = if i % 3 == 2 {
            vec!["agents", "skills", "pm", "--set", set]
        } else {
            vec![
                "agents", "create", "--role", "custom", "--name", &name, "--skills", set,
            ]
        };
        let mut cmd = env.command(&args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn nxr");
        std::thread::sleep(Duration::from_millis(10 + (i * 37) % 220));
        let _ = child.kill();
        let _ = child.wait();
    }

    // The next nxr start sweeps what the dead processes left.
    let agents = env.json(&["agents", "list"]);
    let known: Vec<String> = {
        let mut v: Vec<String> = agents
            .as_array()
            .expect("array")
            .iter()
            .map(|a| a["profile"].as_str().expect("profile").to_string())
            .filter(|p| p != "default")
            .collect();
        v.sort();
        v
    };

    let hermes_home = env.hermes_home.path();
    assert_eq!(
        leftovers(hermes_home),
        Vec::<String>::new(),
        "temp files in HERMES_HOME"
    );
    assert_eq!(
        leftovers(env.nxr_home.path()),
        Vec::<String>::new(),
        "temp files in NXR_HOME"
    );
    let mut dirs = vec![hermes_home.to_path_buf()];
    dirs.extend(
        std::fs::read_dir(hermes_home.join("profiles"))
            .expect("profiles")
            .flatten()
            .map(|e| e.path()),
    );
    for d in &dirs {
        assert_eq!(
            hollow_skills(d),
            Vec::<String>::new(),
            "skill folders without SKILL.md"
        );
    }
    // Hermes lists exactly the profiles nxr knows: no orphan from a killed create.
    assert_eq!(hermes_profiles(&env), known);
    // And every agent nxr knows has a whole profile.
    for p in &known {
        assert!(
            env.profile_dir(p).join("config.yaml").is_file(),
            "agent profile {p} has no config.yaml"
        );
    }
}

#[test]
fn item_11_a_live_writers_temp_files_are_not_swept() {
    // A temp file named after a live process (this test) is another writer's work in progress.
    let env = TestEnv::new();
    env.nxr(&["init", "--free"]).assert_ok();
    let pm = env.profile_dir("pm");
    let live = pm.join(format!(".config.yaml.nxr-{}.tmp", std::process::id()));
    std::fs::write(&live, "model: {}\n").expect("write");
    // A dead writer's: PID 2^22 + 1 is above Linux's largest PID.
    let dead = pm.join(".config.yaml.nxr-4194305.tmp");
    std::fs::write(&dead, "model: {}\n").expect("write");
    env.nxr(&["agents", "list"]).assert_ok();
    assert!(live.exists(), "a live writer's temp file was removed");
    assert!(!dead.exists(), "a dead writer's temp file was kept");
}
