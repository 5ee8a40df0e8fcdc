//! Hermes profiles on disk: where they are, their `config.yaml` (read and edited in place,
//! keeping every key nxr does not own and the user's comments), their `.env`, and the
//! atomic write every file goes through.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use yaml_edit::path::YamlPath;
use yaml_edit::{Document, Mapping, YamlNode};

use super::error::{CoreError, Result};

/// The Hermes agent's profile: the Hermes root itself.
pub const DEFAULT_PROFILE: &str = "default";

/// Names Hermes refuses for a profile (`hermes profile create` says they are reserved).
pub const RESERVED_PROFILE_NAMES: &[&str] = &["hermes", "default", "test", "tmp", "root", "sudo"];

/// Hermes' own rule for profile names: `^[a-z0-9][a-z0-9_-]{0,63}$`, not a reserved word.
pub fn validate_profile_name(name: &str) -> Result<()> {
    if RESERVED_PROFILE_NAMES.contains(&name) {
        return Err(CoreError::usage(format!(
            "agent name {name:?} is reserved by Hermes ({}); choose another",
            RESERVED_PROFILE_NAMES.join(", ")
        )));
    }
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(CoreError::usage(format!(
            "invalid agent name {:?}: use 1-64 characters, lowercase letters, digits, '-' and '_', starting with a letter or digit",
            super::catalog::clip(name, 80)
        )))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub name: String,
    pub dir: PathBuf,
}

impl Profile {
    pub fn resolve(hermes_home: &Path, name: &str) -> Profile {
        let dir = if name == DEFAULT_PROFILE {
            hermes_home.to_path_buf()
        } else {
            hermes_home.join("profiles").join(name)
        };
        Profile {
            name: name.to_string(),
            dir,
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.yaml")
    }

    pub fn env_path(&self) -> PathBuf {
        self.dir.join(".env")
    }

    pub fn skills_dir(&self) -> PathBuf {
        self.dir.join("skills")
    }

    pub fn state_db(&self) -> PathBuf {
        self.dir.join("state.db")
    }

    pub fn exists(&self) -> bool {
        self.config_path().is_file()
    }

    /// Creates the profile's folders (not its files). Fails clearly when `HERMES_HOME`
    /// cannot be written.
    pub fn ensure_dirs(&self) -> Result<()> {
        for d in [self.dir.clone(), self.skills_dir()] {
            fs::create_dir_all(&d).map_err(|e| CoreError::io(&d, e))?;
        }
        Ok(())
    }

    /// Holds an exclusive lock on the profile while nxr reads, changes and writes its files,
    /// so two nxr processes never interleave edits of one `config.yaml`.
    pub fn lock(&self) -> Result<ProfileLock> {
        self.ensure_dirs()?;
        let path = self.dir.join(".nxr.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| CoreError::io(&path, e))?;
        let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| CoreError::io(&path, std::io::Error::from(e)))?;
        Ok(ProfileLock { _lock: lock })
    }
}

pub struct ProfileLock {
    _lock: nix::fcntl::Flock<File>,
}

/// Writes a file so that a reader sees the old or the new contents, never a mix, even if
/// the process is killed half-way: temp file in the same folder, fsync, rename, fsync folder.
/// Keeps the old file's permissions unless `mode` is given.
pub fn atomic_write(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let mode = mode.unwrap_or_else(|| {
        fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644)
    });
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{file_name}.nxr-{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(CoreError::io(path, e));
    }
    Ok(())
}

/// One routing slot: which provider and model Hermes uses for a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteSlot {
    pub provider: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

/// A profile's `config.yaml`, parsed losslessly so edits keep comments and key order.
pub struct ConfigDoc {
    path: PathBuf,
    /// Comments of a file that holds no mapping yet; written back above it.
    preamble: String,
    doc: Document,
}

impl ConfigDoc {
    /// Reads `config.yaml`; a missing file is an empty document.
    pub fn load(path: &Path) -> Result<ConfigDoc> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(CoreError::io(path, e)),
        };
        ConfigDoc::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<ConfigDoc> {
        let only_comments = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        if only_comments {
            return Ok(ConfigDoc {
                path: path.to_path_buf(),
                preamble: text.to_string(),
                doc: Document::new_mapping(),
            });
        }
        let doc = Document::from_str(text).map_err(|e| CoreError::Yaml {
            path: path.to_path_buf(),
            message: format!("not valid YAML, left untouched: {e}"),
        })?;
        if doc.as_mapping().is_none() {
            return Err(CoreError::Yaml {
                path: path.to_path_buf(),
                message: "the top level is not a mapping, left untouched".into(),
            });
        }
        Ok(ConfigDoc {
            path: path.to_path_buf(),
            preamble: String::new(),
            doc,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn root(&self) -> Result<Mapping> {
        self.doc.as_mapping().ok_or_else(|| CoreError::Yaml {
            path: self.path.clone(),
            message: "the top level is not a mapping".into(),
        })
    }

    /// A scalar at a dotted path (`model.default`), unquoted.
    pub fn get_str(&self, path: &str) -> Option<String> {
        let node = self.doc.try_get_path(path).ok()?;
        scalar(&node)
    }

    /// The main model slot (`model:`). A bare-string `model:` reads as its model id.
    pub fn main_slot(&self) -> RouteSlot {
        let Some(root) = self.doc.as_mapping() else {
            return RouteSlot::default();
        };
        match root.get("model") {
            Some(node) if node.is_mapping() => RouteSlot {
                provider: self.get_str("model.provider").unwrap_or_default(),
                model: self.get_str("model.default").unwrap_or_default(),
                base_url: self.get_str("model.base_url").filter(|s| !s.is_empty()),
            },
            Some(node) => RouteSlot {
                provider: String::new(),
                model: scalar(&node).unwrap_or_default(),
                base_url: None,
            },
            None => RouteSlot::default(),
        }
    }

    /// An auxiliary slot (`auxiliary.<task>`).
    pub fn aux_slot(&self, task: &str) -> Option<RouteSlot> {
        let node = self.doc.try_get_path(&format!("auxiliary.{task}")).ok()?;
        let m = node.as_mapping()?;
        let get = |k: &str| m.get(k).and_then(|n| scalar(&n)).filter(|s| !s.is_empty());
        Some(RouteSlot {
            provider: get("provider").unwrap_or_default(),
            model: get("model").unwrap_or_default(),
            base_url: get("base_url"),
        })
    }

    /// Task names under `auxiliary:` in file order.
    pub fn aux_tasks(&self) -> Vec<String> {
        let Ok(node) = self.doc.try_get_path("auxiliary") else {
            return Vec::new();
        };
        let Some(m) = node.as_mapping() else {
            return Vec::new();
        };
        m.keys().filter_map(|k| scalar(&k)).collect()
    }

    pub fn fallback_providers(&self) -> Vec<RouteSlot> {
        let Some(root) = self.doc.as_mapping() else {
            return Vec::new();
        };
        let Some(seq) = root.get_sequence("fallback_providers") else {
            return Vec::new();
        };
        seq.values()
            .filter_map(|v| {
                let m = v.as_mapping()?;
                let get = |k: &str| m.get(k).and_then(|n| scalar(&n)).filter(|s| !s.is_empty());
                Some(RouteSlot {
                    provider: get("provider").unwrap_or_default(),
                    model: get("model").unwrap_or_default(),
                    base_url: get("base_url"),
                })
            })
            .collect()
    }

    pub fn disabled_skills(&self) -> Vec<String> {
        let Ok(node) = self.doc.try_get_path("skills.disabled") else {
            return Vec::new();
        };
        let Some(seq) = node.as_sequence() else {
            return Vec::new();
        };
        seq.values().filter_map(|v| scalar(&v)).collect()
    }

    /// Sets `model: {provider, default, base_url}`, keeping the mapping's other keys
    /// (`api_mode`, ...). A bare-string `model:` becomes a mapping.
    pub fn set_main(&mut self, slot: &RouteSlot) -> Result<()> {
        check_value("model", &slot.model)?;
        check_value("provider", &slot.provider)?;
        let root = self.root()?;
        match root.get_mapping("model") {
            Some(m) => {
                m.set("provider", slot.provider.as_str());
                m.set("default", slot.model.as_str());
                set_or_remove(&m, "base_url", slot.base_url.as_deref());
            }
            None => {
                let new = self.block(&block_mapping(&route_pairs(slot, "default"), 1))?;
                let m = new
                    .as_mapping()
                    .and_then(|m| m.get_mapping("x"))
                    .ok_or_else(|| self.internal("model mapping"))?;
                root.set("model", &m);
            }
        }
        Ok(())
    }

    /// Sets `auxiliary.<task>: {provider, model, base_url}`, keeping its other keys.
    pub fn set_aux(&mut self, task: &str, slot: &RouteSlot) -> Result<()> {
        check_key(task)?;
        check_value("model", &slot.model)?;
        check_value("provider", &slot.provider)?;
        let root = self.root()?;
        let aux = match root.get_mapping("auxiliary") {
            Some(a) => a,
            None => {
                // Built with the task inside: an empty mapping would be written `{}`.
                let text = format!(
                    "x:\n  {}:\n{}",
                    yaml_scalar(task),
                    block_mapping(&route_pairs(slot, "model"), 2)
                );
                let new = self.block(&text)?;
                let m = new
                    .as_mapping()
                    .and_then(|m| m.get_mapping("x"))
                    .ok_or_else(|| self.internal("auxiliary"))?;
                root.set("auxiliary", &m);
                return Ok(());
            }
        };
        match aux.get_mapping(task) {
            Some(m) => {
                m.set("provider", slot.provider.as_str());
                m.set("model", slot.model.as_str());
                set_or_remove(&m, "base_url", slot.base_url.as_deref());
            }
            None => {
                let new = self.block(&block_mapping(&route_pairs(slot, "model"), 1))?;
                let m = new
                    .as_mapping()
                    .and_then(|m| m.get_mapping("x"))
                    .ok_or_else(|| self.internal("aux task"))?;
                aux.set(task, &m);
            }
        }
        Ok(())
    }

    /// Removes `auxiliary.<task>`, so Hermes routes the task itself (`auto`).
    pub fn remove_aux(&mut self, task: &str) -> Result<()> {
        check_key(task)?;
        if let Some(aux) = self.root()?.get_mapping("auxiliary") {
            aux.remove(task);
        }
        Ok(())
    }

    pub fn set_fallback_providers(&mut self, chain: &[RouteSlot]) -> Result<()> {
        for s in chain {
            check_value("model", &s.model)?;
            check_value("provider", &s.provider)?;
        }
        let root = self.root()?;
        // Block style, one `- provider: ...` item per entry, as Hermes writes it; an empty
        // chain is `[]`.
        let mut text = String::from("x:");
        if chain.is_empty() {
            text.push_str(" []\n");
        } else {
            text.push('\n');
            for s in chain {
                let item = block_mapping(&route_pairs(s, "model"), 2);
                text.push_str("  - ");
                text.push_str(item.trim_start());
            }
        }
        let new = self.block(&text)?;
        let seq = new
            .as_mapping()
            .and_then(|m| m.get_sequence("x"))
            .ok_or_else(|| self.internal("fallback list"))?;
        root.set("fallback_providers", &seq);
        Ok(())
    }

    /// Sets `skills.disabled`, keeping the other `skills:` keys.
    pub fn set_disabled_skills(&mut self, names: &[String]) -> Result<()> {
        for n in names {
            check_value("skill", n)?;
        }
        let root = self.root()?;
        // A block list (`- name` lines), as Hermes writes it; empty is `[]`.
        let items = |indent: &str| -> String {
            if names.is_empty() {
                return " []\n".to_string();
            }
            let mut t = String::from("\n");
            for n in names {
                t.push_str(&format!("{indent}- {}\n", yaml_scalar(n)));
            }
            t
        };
        match root.get_mapping("skills") {
            Some(s) => {
                let tmp = self.block(&format!("x:{}", items("  ")))?;
                let seq = tmp
                    .as_mapping()
                    .and_then(|m| m.get_sequence("x"))
                    .ok_or_else(|| self.internal("skills list"))?;
                s.set("disabled", &seq);
            }
            None => {
                let tmp = self.block(&format!("x:\n  disabled:{}", items("    ")))?;
                let m = tmp
                    .as_mapping()
                    .and_then(|m| m.get_mapping("x"))
                    .ok_or_else(|| self.internal("skills"))?;
                root.set("skills", &m);
            }
        }
        Ok(())
    }

    pub fn render(&self) -> String {
        let body = self.doc.to_string();
        let mut out = String::with_capacity(self.preamble.len() + body.len() + 1);
        out.push_str(&self.preamble);
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&body);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }

    /// Writes the file atomically after checking that what is written reads back.
    pub fn save(&self) -> Result<()> {
        let text = self.render();
        ConfigDoc::parse(&self.path, &text).map_err(|e| CoreError::Yaml {
            path: self.path.clone(),
            message: format!("nxr produced YAML it cannot read back, nothing written: {e}"),
        })?;
        atomic_write(&self.path, text.as_bytes(), None)
    }

    /// A node built from block-style YAML text (`x: ...`): nodes parsed from text keep
    /// their block layout when set into the file, where built ones are written in flow
    /// style (`{provider: ...}`) or with a bare `-` line.
    fn block(&self, text: &str) -> Result<Document> {
        Document::from_str(text).map_err(|_| self.internal("block node"))
    }

    fn internal(&self, what: &str) -> CoreError {
        CoreError::Yaml {
            path: self.path.clone(),
            message: format!("could not build the {what} node"),
        }
    }
}

/// A route's keys in the order Hermes writes them; `model_key` is `default` for `model:`.
fn route_pairs<'a>(slot: &'a RouteSlot, model_key: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        ("provider", slot.provider.as_str()),
        (model_key, slot.model.as_str()),
    ];
    if let Some(u) = &slot.base_url {
        v.push(("base_url", u.as_str()));
    }
    v
}

/// `x:` followed by the pairs as a block mapping `depth` levels deep (two spaces a level);
/// with `depth` 2 only the pairs (for a mapping under a key the caller writes).
fn block_mapping(pairs: &[(&str, &str)], depth: usize) -> String {
    let indent = "  ".repeat(depth);
    let mut out = if depth == 1 {
        String::from("x:\n")
    } else {
        String::new()
    };
    for (k, v) in pairs {
        out.push_str(&format!("{indent}{k}: {}\n", yaml_scalar(v)));
    }
    out
}

/// A string as a YAML scalar: plain when it reads back as the same string, else
/// double-quoted (JSON's quoting is valid YAML), so a hostile id is never interpreted.
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c) || c == ':')
        && !s.ends_with(':')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

fn scalar(node: &YamlNode) -> Option<String> {
    let s = node.as_scalar()?.as_string();
    if s == "~" || s == "null" {
        None
    } else {
        Some(s)
    }
}

fn set_or_remove(m: &Mapping, key: &str, value: Option<&str>) {
    match value {
        Some(v) => m.set(key, v),
        None => {
            m.remove(key);
        }
    }
}

/// Values nxr writes into YAML come from the network; refuse the ones no model id has.
fn check_value(what: &str, v: &str) -> Result<()> {
    if v.chars().any(|c| c.is_control()) || v.len() > 512 {
        return Err(CoreError::usage(format!(
            "refusing to write {what} {:?}: control characters or over 512 bytes",
            super::catalog::clip(v, 60)
        )));
    }
    Ok(())
}

fn check_key(k: &str) -> Result<()> {
    let ok = !k.is_empty()
        && k.len() <= 64
        && k.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(CoreError::usage(format!(
            "invalid slot name {:?}",
            super::catalog::clip(k, 60)
        )))
    }
}

/// Sets `KEY=value` in a profile's `.env`, keeping other lines; the file is mode 0600.
pub fn set_env(path: &Path, key: &str, value: &str) -> Result<()> {
    if value.contains(['\n', '\r'])
        || key.is_empty()
        || !key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
    {
        return Err(CoreError::usage(format!("refusing to write {key} to .env")));
    }
    let old = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(CoreError::io(path, e)),
    };
    let mut out = String::with_capacity(old.len() + key.len() + value.len() + 2);
    let mut done = false;
    for line in old.lines() {
        let is_key = line
            .trim_start()
            .strip_prefix("export ")
            .unwrap_or(line.trim_start())
            .split_once('=')
            .is_some_and(|(k, _)| k.trim() == key);
        if is_key {
            if !done {
                out.push_str(&format!("{key}={value}\n"));
                done = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !done {
        out.push_str(&format!("{key}={value}\n"));
    }
    atomic_write(path, out.as_bytes(), Some(0o600))
}

/// Reads one key from a `.env` file.
pub fn get_env(path: &Path, key: &str) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let line = line.trim_start();
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

/// `sk-or-v1-abc…xyz`: enough to recognise a key, never enough to use it.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len().min(8));
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_CONFIG: &str = "\
# My Hermes settings. Do not lose this comment.
model:
  provider: openrouter   # the router
  default: anthropic/claude-sonnet-4
  api_mode: chat_completions
terminal:
  backend: local  # keep me
auxiliary:
  vision:
    provider: auto
    model: ''
    timeout: 30
skills:
  external_dirs: []
display:
  skin: default
";

    fn doc(text: &str) -> ConfigDoc {
        ConfigDoc::parse(Path::new("config.yaml"), text).expect("parse")
    }

    #[test]
    fn switching_the_main_model_keeps_every_other_key_and_comment() {
        let mut d = doc(USER_CONFIG);
        d.set_main(&RouteSlot {
            provider: "openrouter".into(),
            model: "qwen/qwen3-coder:free".into(),
            base_url: None,
        })
        .expect("set");
        let out = d.render();
        for keep in [
            "# My Hermes settings",
            "# the router",
            "api_mode: chat_completions",
            "backend: local  # keep me",
            "timeout: 30",
            "external_dirs: []",
            "skin: default",
        ] {
            assert!(out.contains(keep), "{keep:?} lost:\n{out}");
        }
        let back = doc(&out);
        assert_eq!(
            back.get_str("model.default").as_deref(),
            Some("qwen/qwen3-coder:free")
        );
        assert_eq!(back.main_slot().provider, "openrouter");
    }

    #[test]
    fn a_bare_string_model_becomes_a_mapping() {
        let mut d = doc("model: some/model\nother: 1\n");
        assert_eq!(d.main_slot().model, "some/model");
        d.set_main(&RouteSlot {
            provider: "openrouter".into(),
            model: "a/b:free".into(),
            base_url: None,
        })
        .expect("set");
        let back = doc(&d.render());
        assert_eq!(
            back.get_str("model.provider").as_deref(),
            Some("openrouter")
        );
        assert_eq!(back.get_str("model.default").as_deref(), Some("a/b:free"));
        assert_eq!(back.get_str("other").as_deref(), Some("1"));
    }

    #[test]
    fn auxiliary_slots_are_created_or_updated_in_place() {
        let mut d = doc(USER_CONFIG);
        let ollama = RouteSlot {
            provider: "custom".into(),
            model: "qwen3:8b".into(),
            base_url: Some("http://localhost:11434/v1".into()),
        };
        d.set_aux("compression", &ollama).expect("new");
        d.set_aux(
            "vision",
            &RouteSlot {
                provider: "openrouter".into(),
                model: "x/y".into(),
                base_url: None,
            },
        )
        .expect("edit");
        let back = doc(&d.render());
        assert_eq!(back.aux_slot("compression"), Some(ollama));
        assert_eq!(back.aux_slot("vision").map(|s| s.model), Some("x/y".into()));
        assert_eq!(
            back.get_str("auxiliary.vision.timeout").as_deref(),
            Some("30")
        );
        assert_eq!(
            back.aux_tasks(),
            vec!["vision".to_string(), "compression".to_string()]
        );
    }

    #[test]
    fn hostile_model_ids_are_quoted_not_interpreted() {
        let mut d = doc("a: 1\n");
        let evil = "x: y # not a comment\" ]} &anchor *alias";
        d.set_main(&RouteSlot {
            provider: "openrouter".into(),
            model: evil.into(),
            base_url: None,
        })
        .expect("set");
        let back = doc(&d.render());
        assert_eq!(back.get_str("model.default").as_deref(), Some(evil));
        let err = d.set_main(&RouteSlot {
            provider: "p".into(),
            model: "a\nb: c".into(),
            base_url: None,
        });
        assert!(err.is_err());
    }

    #[test]
    fn fallbacks_and_disabled_skills_round_trip() {
        let mut d = doc(USER_CONFIG);
        let chain = vec![
            RouteSlot {
                provider: "openrouter".into(),
                model: "openrouter/free".into(),
                base_url: None,
            },
            RouteSlot {
                provider: "custom".into(),
                model: "qwen3:8b".into(),
                base_url: Some("http://localhost:11434/v1".into()),
            },
        ];
        d.set_fallback_providers(&chain).expect("chain");
        d.set_disabled_skills(&["planning".into(), "odd name".into()])
            .expect("skills");
        let back = doc(&d.render());
        assert_eq!(back.fallback_providers(), chain);
        assert_eq!(
            back.disabled_skills(),
            vec!["planning".to_string(), "odd name".to_string()]
        );
        assert_eq!(back.get_str("skills.external_dirs"), None);
        let mut d = back;
        d.set_fallback_providers(&[]).expect("empty");
        d.set_disabled_skills(&[]).expect("empty");
        let back = doc(&d.render());
        assert!(back.fallback_providers().is_empty());
        assert!(back.disabled_skills().is_empty());
    }

    #[test]
    fn empty_and_comment_only_files_take_a_model() {
        for text in ["", "# just a comment\n"] {
            let mut d = doc(text);
            d.set_main(&RouteSlot {
                provider: "openrouter".into(),
                model: "m/x:free".into(),
                base_url: None,
            })
            .expect("set");
            let out = d.render();
            assert!(out.starts_with(text), "{out}");
            assert_eq!(
                doc(&out).get_str("model.default").as_deref(),
                Some("m/x:free")
            );
        }
    }

    #[test]
    fn a_fresh_profile_is_written_in_block_style_as_hermes_writes_it() {
        let mut d = doc("");
        d.set_main(&RouteSlot {
            provider: "openrouter".into(),
            model: "a/b:free".into(),
            base_url: None,
        })
        .expect("main");
        d.set_fallback_providers(&[RouteSlot {
            provider: "openrouter".into(),
            model: "openrouter/free".into(),
            base_url: None,
        }])
        .expect("chain");
        d.set_aux(
            "vision",
            &RouteSlot {
                provider: "openrouter".into(),
                model: "g/v:free".into(),
                base_url: None,
            },
        )
        .expect("vision");
        d.set_aux(
            "compression",
            &RouteSlot {
                provider: "custom".into(),
                model: "qwen3:8b".into(),
                base_url: Some("http://localhost:11434/v1".into()),
            },
        )
        .expect("compression");
        d.set_disabled_skills(&["x-y".into()]).expect("skills");
        let text = d.render();
        assert_eq!(
            text,
            "model:\n  provider: openrouter\n  default: a/b:free\n\
             fallback_providers:\n  - provider: openrouter\n    model: openrouter/free\n\
             auxiliary:\n  vision:\n    provider: openrouter\n    model: g/v:free\n\
             \x20 compression:\n    provider: custom\n    model: qwen3:8b\n\
             \x20   base_url: http://localhost:11434/v1\n\
             skills:\n  disabled:\n    - x-y\n"
        );
        assert!(!text.contains('{') && !text.lines().any(|l| l.trim() == "-"));
        let back = doc(&text);
        assert_eq!(back.fallback_providers().len(), 1);
        assert_eq!(back.disabled_skills(), vec!["x-y".to_string()]);
        assert_eq!(
            back.aux_slot("compression")
                .and_then(|s| s.base_url)
                .as_deref(),
            Some("http://localhost:11434/v1")
        );
    }

    #[test]
    fn removing_an_auxiliary_task_leaves_it_to_hermes() {
        let mut d = doc(USER_CONFIG);
        d.remove_aux("vision").expect("remove");
        let text = d.render();
        assert_eq!(doc(&text).aux_slot("vision"), None, "{text}");
        assert!(text.contains("# My Hermes settings"), "{text}");
    }

    #[test]
    fn broken_yaml_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("config.yaml");
        fs::write(&p, "model: [unclosed\n  x: {").expect("write");
        assert!(ConfigDoc::load(&p).is_err());
        assert_eq!(
            fs::read_to_string(&p).expect("read"),
            "model: [unclosed\n  x: {"
        );
    }

    #[test]
    fn atomic_write_keeps_the_mode_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join(".env");
        set_env(&p, "OPENROUTER_API_KEY", "sk-or-v1-first").expect("env");
        set_env(&p, "TELEGRAM_BOT_TOKEN", "t").expect("env");
        set_env(&p, "OPENROUTER_API_KEY", "sk-or-v1-second").expect("env");
        let text = fs::read_to_string(&p).expect("read");
        assert_eq!(
            text,
            "OPENROUTER_API_KEY=sk-or-v1-second\nTELEGRAM_BOT_TOKEN=t\n"
        );
        assert_eq!(
            fs::metadata(&p).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(get_env(&p, "TELEGRAM_BOT_TOKEN").as_deref(), Some("t"));
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("e").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn profile_names_follow_hermes_rules() {
        for ok in ["pm", "engineer-2", "a_b", "0x", &"a".repeat(64)] {
            validate_profile_name(ok).expect(ok);
        }
        for bad in [
            "",
            "PM",
            "-x",
            "_x",
            "a b",
            "a/b",
            "../etc",
            &"a".repeat(65),
            "é",
            "hermes",
            "sudo",
        ] {
            assert!(validate_profile_name(bad).is_err(), "{bad:?}");
        }
        let home = Path::new("/h");
        assert_eq!(Profile::resolve(home, "default").dir, PathBuf::from("/h"));
        assert_eq!(
            Profile::resolve(home, "pm").dir,
            PathBuf::from("/h/profiles/pm")
        );
    }

    #[test]
    fn keys_are_masked() {
        assert_eq!(mask_key("sk-or-v1-0123456789abcdef"), "sk-or-v1...cdef");
        assert_eq!(mask_key("short"), "*****");
    }
}
