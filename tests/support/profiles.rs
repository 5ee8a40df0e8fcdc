//! What the onboarding and upgrade tests look at on disk: where each default agent's profile
//! lives, every file's hash under a Hermes home, `config.yaml` parsed, stub programs for the
//! detection probes, and a URL nothing listens on.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use yaml_edit::YamlValue;

use super::TestEnv;

/// The three agents onboarding creates, in order.
pub const DEFAULT_AGENTS: [&str; 3] = ["pm", "engineer", "hermes"];

pub const PM_SKILLS: [&str; 8] = [
    "planning",
    "task-breakdown",
    "prioritization",
    "status-reporting",
    "dependency-mapping",
    "sprint-planning",
    "risk-assessment",
    "stakeholder-comms",
];
pub const ENGINEER_SKILLS: [&str; 8] = [
    "coding",
    "debugging",
    "git-workflow",
    "testing",
    "code-review",
    "refactoring",
    "architecture",
    "documentation",
];
pub const HERMES_SKILLS: [&str; 8] = [
    "memory",
    "web-search",
    "file-ops",
    "cron",
    "usage-tracker",
    "model-scanner",
    "skill-creator",
    "session-search",
];

/// The curated skills of a default agent's role.
pub fn role_skills(agent: &str) -> Vec<String> {
    super::sorted(match agent {
        "pm" => PM_SKILLS,
        "engineer" => ENGINEER_SKILLS,
        "hermes" => HERMES_SKILLS,
        other => panic!("{other} is not a default agent"),
    })
}

/// The Hermes profile `-p` name of a default agent (Hermes itself is the root, `default`).
pub fn profile_name(agent: &str) -> &str {
    if agent == "hermes" { "default" } else { agent }
}

/// A default agent's profile folder: `HERMES_HOME` itself for Hermes.
pub fn agent_dir(env: &TestEnv, agent: &str) -> PathBuf {
    if agent == "hermes" {
        env.hermes_home.path().to_path_buf()
    } else {
        env.profile_dir(agent)
    }
}

pub fn config_path(env: &TestEnv, agent: &str) -> PathBuf {
    agent_dir(env, agent).join("config.yaml")
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn config_text(env: &TestEnv, agent: &str) -> String {
    read(&config_path(env, agent))
}

/// Permission bits of a file.
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// One file's fingerprint: its length and a 64-bit hash of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    pub len: u64,
    pub hash: u64,
}

/// Every regular file under `dir` (relative path → digest), following no symlinks.
pub fn hash_tree(dir: &Path) -> BTreeMap<String, Digest> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Digest>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                walk(root, &p, out);
            } else if ft.is_file() {
                let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
                out.insert(
                    rel,
                    Digest {
                        len: bytes.len() as u64,
                        hash: h.finish(),
                    },
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The relative paths whose content differs between two hashings (added, removed or changed).
pub fn changed(before: &BTreeMap<String, Digest>, after: &BTreeMap<String, Digest>) -> Vec<String> {
    let mut out: Vec<String> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .chain(after.keys().filter(|k| !before.contains_key(*k)).cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `config.yaml` parsed (comments and layout dropped).
#[track_caller]
pub fn yaml(text: &str) -> YamlValue {
    YamlValue::parse_raw(text)
        .unwrap_or_else(|e| panic!("config.yaml does not parse ({e}):\n{text}"))
}

/// The node at a dotted path of parsed YAML.
pub fn yaml_at<'a>(v: &'a YamlValue, path: &str) -> Option<&'a YamlValue> {
    path.split('.')
        .try_fold(v, |node, key| node.as_mapping()?.get(key))
}

/// A scalar at a dotted path, as text.
pub fn yaml_str(text: &str, path: &str) -> Option<String> {
    let v = yaml(text);
    yaml_at(&v, path).and_then(|n| n.as_str().map(str::to_string))
}

/// Parsed YAML without `model.<key>` for each key given: what must not change when only the
/// main model does.
pub fn without_model_keys(text: &str, keys: &[&str]) -> YamlValue {
    let mut v = yaml(text);
    if let Some(m) = v
        .as_mapping_mut()
        .and_then(|root| root.get_mut("model"))
        .and_then(|m| m.as_mapping_mut())
    {
        for k in keys {
            m.remove(*k);
        }
    }
    v
}

/// Every comment line (trimmed, from `#`) of a YAML text.
pub fn comments(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.find('#').map(|i| l[i..].trim().to_string()))
        .collect()
}

/// Writes an executable `#!/bin/sh` script `name` into `dir`.
pub fn stub(dir: &Path, name: &str, body: &str) -> PathBuf {
    stub_with(dir, name, "/bin/sh", body)
}

/// Writes an executable script with the given interpreter.
pub fn stub_with(dir: &Path, name: &str, interpreter: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!{interpreter}\n{body}\n"))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A `PATH` of one empty temporary folder, with a `python3` that cannot import anything:
/// detection then finds no faster-whisper, no `whisper` and no `hermes` unless a test puts
/// them there.
pub fn isolate_path(env: &mut TestEnv) -> tempfile::TempDir {
    let bin = tempfile::Builder::new()
        .prefix("nxr-test-bin-")
        .tempdir()
        .expect("tempdir");
    stub(bin.path(), "python3", "exit 1");
    env.set("PATH", &bin.path().display().to_string());
    bin
}

/// An `http://127.0.0.1:PORT/api/v1` on which nothing listens any more.
pub fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}/api/v1")
}

/// The `agents` table as text rows, for "nothing changed".
pub fn agent_rows(env: &TestEnv) -> Vec<Vec<String>> {
    env.db_rows(
        "SELECT id, name, role, profile, model, provider, model_score, model_auto_assigned, skillset, is_default, updated_at FROM agents ORDER BY id",
    )
}

/// One agent's current model as the database has it.
pub fn db_model(env: &TestEnv, agent: &str) -> String {
    let rows = env.db_rows(&format!("SELECT model FROM agents WHERE name = '{agent}'"));
    rows.first()
        .and_then(|r| r.first())
        .unwrap_or_else(|| panic!("no agent {agent}"))
        .clone()
}

/// `models best-free --role ROLE --json`'s pick.
pub fn best_free(env: &TestEnv, role: &str) -> String {
    let v = env.json(&["models", "best-free", "--role", role]);
    v["pick"]["model"]
        .as_str()
        .unwrap_or_else(|| panic!("no pick in {v}"))
        .to_string()
}
