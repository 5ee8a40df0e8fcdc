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

/// Hermes' profile-name alphabet: `^[a-z0-9][a-z0-9_-]{0,63}$` (the reserved words aside).
pub fn profile_name_chars_ok(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Hermes' own rule for profile names: `^[a-z0-9][a-z0-9_-]{0,63}$`, not a reserved word.
pub fn validate_profile_name(name: &str) -> Result<()> {
    if RESERVED_PROFILE_NAMES.contains(&name) {
        return Err(CoreError::usage(format!(
            "agent name {name:?} is reserved by Hermes ({}); choose another",
            RESERVED_PROFILE_NAMES.join(", ")
        )));
    }
    if profile_name_chars_ok(name) {
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
    let tmp = temp_path(path);
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

/// The temp name a write of `path` goes through: `.NAME.nxr-PID.tmp` beside it. The PID lets
/// [`sweep_leftovers`] tell a crashed writer's leftovers from a live writer's work.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    path.with_file_name(format!(
        ".{name}{TEMP_INFIX}{}{TEMP_SUFFIX}",
        std::process::id()
    ))
}

const TEMP_INFIX: &str = ".nxr-";
const TEMP_SUFFIX: &str = ".tmp";
/// Left inside a new profile from its creation until the database row is committed.
const CREATING_PREFIX: &str = ".nxr-creating-";

/// The PID in a name nxr gave a temp file or folder, or in a creation marker.
fn owner_pid(name: &str) -> Option<i32> {
    let pid = match name.strip_prefix(CREATING_PREFIX) {
        Some(pid) => pid,
        None => {
            let rest = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
            rest.rsplit_once(TEMP_INFIX)?.1
        }
    };
    pid.parse().ok().filter(|p| *p > 0)
}

/// True when no process has this PID (a PID we may not signal belongs to a live process).
fn is_dead(pid: i32) -> bool {
    matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Creates the folder `dir` whole or not at all: `fill` writes its contents into a temp
/// folder beside it, which is then renamed into place. A crash part-way leaves only the temp
/// folder (named after this process), which [`sweep_leftovers`] removes later; Hermes skips
/// dot-folders, so it never shows a half-made profile or skill. Fails if `dir` is not empty.
pub fn create_dir_atomically(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| CoreError::io(parent, e))?;
    let tmp = temp_path(dir);
    // Our own leftover from an earlier failed attempt in this process.
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
    let result = fill(&tmp).and_then(|()| {
        fs::rename(&tmp, dir).map_err(|e| CoreError::io(dir, e))?;
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| CoreError::io(parent, e))
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

/// Removes a folder in one step as Hermes sees it: renamed to a temp name first (Hermes
/// skips dot-folders, and the sweep finishes the job after a crash), then deleted. A plain
/// `remove_dir_all` killed half-way leaves a skill folder without its SKILL.md.
pub fn remove_dir_atomically(dir: &Path) -> Result<()> {
    let tmp = temp_path(dir);
    let _ = fs::remove_dir_all(&tmp);
    fs::rename(dir, &tmp).map_err(|e| CoreError::io(dir, e))?;
    fs::remove_dir_all(&tmp).map_err(|e| CoreError::io(&tmp, e))
}

/// Marks a profile being created (see [`sweep_leftovers`]); the mark goes once its database
/// row is committed.
pub fn mark_creating(dir: &Path) -> Result<()> {
    let path = dir.join(format!("{CREATING_PREFIX}{}", std::process::id()));
    File::create(&path).map_err(|e| CoreError::io(&path, e))?;
    Ok(())
}

pub fn unmark_creating(dir: &Path) {
    let _ = fs::remove_file(dir.join(format!("{CREATING_PREFIX}{}", std::process::id())));
}

/// A profile whose creator died after renaming it into place: whether its database row was
/// committed decides if it stays (the caller checks, then calls [`UnfinishedCreate::keep`]
/// or [`UnfinishedCreate::discard`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedCreate {
    pub profile: String,
    pub dir: PathBuf,
    marker: PathBuf,
}

impl UnfinishedCreate {
    pub fn keep(&self) {
        let _ = fs::remove_file(&self.marker);
    }

    pub fn discard(&self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Removes what writers killed mid-write left behind (`kill -9`, a power cut): temp files
/// and temp folders named after a dead PID, in the Hermes root, every profile, the skill
/// folders nxr writes (`skills/<category>/<skill>/` for the names in `skill_dirs`) and
/// `nxr_home`. Returns the profiles whose creator died before finishing. Best effort: a
/// file another process removed first, or one nxr may not delete, is left alone.
pub fn sweep_leftovers(
    hermes_home: &Path,
    nxr_home: &Path,
    skill_dirs: &dyn Fn(&str) -> bool,
) -> Vec<UnfinishedCreate> {
    let mut unfinished = Vec::new();
    sweep_dir(nxr_home);
    let mut profiles = vec![hermes_home.to_path_buf()];
    let root = hermes_home.join("profiles");
    sweep_dir(&root);
    if let Ok(entries) = fs::read_dir(&root) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) && !is_temp(&e.file_name()) {
                profiles.push(e.path());
            }
        }
    }
    for dir in profiles {
        for marker in sweep_dir(&dir) {
            unfinished.push(UnfinishedCreate {
                profile: dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                dir: dir.clone(),
                marker,
            });
        }
        let Ok(categories) = fs::read_dir(dir.join("skills")) else {
            continue;
        };
        for c in categories.flatten().filter(|c| c.path().is_dir()) {
            sweep_dir(&c.path());
            let Ok(skills) = fs::read_dir(c.path()) else {
                continue;
            };
            for s in skills.flatten() {
                if skill_dirs(&s.file_name().to_string_lossy()) && s.path().is_dir() {
                    sweep_dir(&s.path());
                }
            }
        }
    }
    unfinished
}

fn is_temp(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX) && name.contains(TEMP_INFIX)
}

/// Removes one folder's dead temp entries; returns its creation markers of dead PIDs.
fn sweep_dir(dir: &Path) -> Vec<PathBuf> {
    let mut markers = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return markers;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with('.') {
            continue;
        }
        let Some(pid) = owner_pid(&name) else {
            continue;
        };
        if !is_dead(pid) {
            continue;
        }
        let path = e.path();
        if name.starts_with(CREATING_PREFIX) {
            markers.push(path);
        } else if e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = fs::remove_dir_all(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
    markers
}

/// Hermes's provider name for OpenRouter, as config.yaml spells it: the one place nxr says it.
pub const OPENROUTER: &str = "openrouter";

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
        // A byte-order mark past the start: Hermes' YAML reader (libyaml) and nxr's disagree
        // on what follows it, so an edit could be read back differently (tests/props.rs).
        if text.trim_start_matches('\u{feff}').contains('\u{feff}') {
            return Err(CoreError::Yaml {
                path: path.to_path_buf(),
                message:
                    "holds a byte-order mark (U+FEFF) after its start, left untouched: remove it"
                        .into(),
            });
        }
        // YAML breaks lines at a lone CR too (`str::lines` does not): "#\r key: v" holds a key.
        let only_comments = text
            .split(['\n', '\r'])
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
        let Some(root) = doc.as_mapping() else {
            return Err(CoreError::Yaml {
                path: path.to_path_buf(),
                message: "the top level is not a mapping, left untouched".into(),
            });
        };
        if let Some(key) = duplicate_key(&root) {
            return Err(CoreError::Yaml {
                path: path.to_path_buf(),
                message: format!(
                    "`{key}` appears twice; Hermes reads only the last one and nxr would edit the first, so the file is left untouched: remove one"
                ),
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

    /// Puts `auxiliary.<task>` back on `auto`: drops the route nxr writes (provider, model,
    /// base_url) and keeps the person's other keys (timeout, extra_body, ...); a task left
    /// empty goes, and so does an empty `auxiliary:`, so Hermes's defaults apply.
    pub fn reset_aux(&mut self, task: &str) -> Result<()> {
        check_key(task)?;
        let root = self.root()?;
        let Some(aux) = root.get_mapping("auxiliary") else {
            return Ok(());
        };
        if let Some(m) = aux.get_mapping(task) {
            for k in ["provider", "model", "base_url"] {
                m.remove(k);
            }
            if m.keys().next().is_none() {
                aux.remove(task);
            }
        } else {
            aux.remove(task);
        }
        if aux.keys().next().is_none() {
            root.remove("auxiliary");
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

    /// `plugins.enabled`: the plugins Hermes loads (it loads none without the key).
    pub fn enabled_plugins(&self) -> Vec<String> {
        let Ok(node) = self.doc.try_get_path("plugins.enabled") else {
            return Vec::new();
        };
        let Some(seq) = node.as_sequence() else {
            return Vec::new();
        };
        seq.values().filter_map(|v| scalar(&v)).collect()
    }

    /// Adds `name` to `plugins.enabled` (block list), keeping the person's other plugins and
    /// the other `plugins:` keys. Returns false when it was already there.
    pub fn enable_plugin(&mut self, name: &str) -> Result<bool> {
        check_value("plugin", name)?;
        let mut names = self.enabled_plugins();
        if names.iter().any(|n| n == name) {
            return Ok(false);
        }
        names.push(name.to_string());
        let root = self.root()?;
        let items = |indent: &str| -> String {
            names
                .iter()
                .map(|n| format!("{indent}- {}\n", yaml_scalar(n)))
                .collect()
        };
        match root.get_mapping("plugins") {
            Some(p) => {
                let tmp = self.block(&format!("x:\n{}", items("  ")))?;
                let seq = tmp
                    .as_mapping()
                    .and_then(|m| m.get_sequence("x"))
                    .ok_or_else(|| self.internal("plugins list"))?;
                p.set("enabled", &seq);
            }
            None => {
                let tmp = self.block(&format!("x:\n  enabled:\n{}", items("    ")))?;
                let m = tmp
                    .as_mapping()
                    .and_then(|m| m.get_mapping("x"))
                    .ok_or_else(|| self.internal("plugins"))?;
                root.set("plugins", &m);
            }
        }
        Ok(true)
    }

    /// Sets `agent.<key>` to an integer, keeping the other `agent:` keys.
    pub fn set_agent_int(&mut self, key: &str, value: i64) -> Result<()> {
        check_key(key)?;
        let root = self.root()?;
        match root.get_mapping("agent") {
            Some(a) => a.set(key, value),
            None => {
                let tmp = self.block(&format!("x:\n  {key}: {value}\n"))?;
                let m = tmp
                    .as_mapping()
                    .and_then(|m| m.get_mapping("x"))
                    .ok_or_else(|| self.internal("agent"))?;
                root.set("agent", &m);
            }
        }
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
        let back = ConfigDoc::parse(&self.path, &text).map_err(|e| CoreError::Yaml {
            path: self.path.clone(),
            message: format!("nxr produced YAML it cannot read back, nothing written: {e}"),
        })?;
        // A damaged file (a stray tab, a line of garbage) can make the editor indent new keys
        // where they mean something else: what is written must read back as what was set.
        if back.owned() != self.owned() {
            return Err(CoreError::Yaml {
                path: self.path.clone(),
                message: "nxr's edit would not read back as intended in this file's layout, nothing written: fix the YAML by hand (`hermes config edit`) and try again".into(),
            });
        }
        atomic_write(&self.path, text.as_bytes(), None)
    }

    /// A node built from block-style YAML text (`x: ...`): nodes parsed from text keep
    /// their block layout when set into the file, where built ones are written in flow
    /// style (`{provider: ...}`) or with a bare `-` line.
    fn block(&self, text: &str) -> Result<Document> {
        Document::from_str(text).map_err(|_| self.internal("block node"))
    }

    /// Everything nxr sets in the file, for comparing a document with its written form.
    #[allow(clippy::type_complexity)]
    fn owned(
        &self,
    ) -> (
        RouteSlot,
        Vec<Option<RouteSlot>>,
        Vec<RouteSlot>,
        Vec<String>,
    ) {
        let aux = self.aux_tasks().iter().map(|t| self.aux_slot(t)).collect();
        (
            self.main_slot(),
            aux,
            self.fallback_providers(),
            self.disabled_skills(),
        )
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

/// The first key that appears twice in the top-level mapping or in a mapping nxr edits
/// (`model`, `skills`, `auxiliary` and its tasks), as a dotted path.
fn duplicate_key(root: &Mapping) -> Option<String> {
    fn first_twice(m: &Mapping) -> Option<String> {
        let mut seen = std::collections::HashSet::new();
        m.keys()
            .filter_map(|k| k.as_scalar().map(|s| s.as_string()))
            .find(|k| !seen.insert(k.clone()))
    }
    if let Some(k) = first_twice(root) {
        return Some(k);
    }
    for key in ["model", "skills", "auxiliary"] {
        let Some(m) = root.get_mapping(key) else {
            continue;
        };
        if let Some(k) = first_twice(&m) {
            return Some(format!("{key}.{k}"));
        }
    }
    let aux = root.get_mapping("auxiliary")?;
    aux.keys().filter_map(|k| scalar(&k)).find_map(|task| {
        let m = aux.get_mapping(&task)?;
        first_twice(&m).map(|k| format!("auxiliary.{task}.{k}"))
    })
}

fn scalar(node: &YamlNode) -> Option<String> {
    let s = node.as_scalar()?;
    // Only a plain null is absent: a quoted "null" is a name like any other (a skill or a
    // model may be called that, and nxr quotes such names when it writes them).
    if s.is_null() {
        None
    } else {
        Some(s.as_string())
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
    // Hermes reads config.yaml with PyYAML (YAML 1.1), which fails on a plain `=` and on `?`
    // inside a flow mapping where nxr's YAML 1.2 writer leaves them unquoted; no model id,
    // provider or skill name holds them (found by tests/props.rs).
    let misread = v == "=" || v.contains('?');
    if misread || v.chars().any(|c| c.is_control()) || v.len() > 512 {
        return Err(CoreError::usage(format!(
            "refusing to write {what} {:?}: control characters, '?', a bare '=' or over 512 bytes",
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

    // Found by tests/props.rs: inputs where Hermes (PyYAML on libyaml) and nxr disagreed.

    #[test]
    fn a_key_that_appears_twice_is_refused_because_hermes_reads_the_other_one() {
        let refused = |text: &str| {
            ConfigDoc::parse(Path::new("config.yaml"), text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(refused("model: a\nx: 1\nmodel: b\n").contains("`model` appears twice"));
        assert!(
            refused("model:\n  default: a\n  default: b\n").contains("`model.default` appears")
        );
        assert!(
            refused("auxiliary:\n  vision: {model: a, model: b}\n").contains("auxiliary.vision")
        );
    }

    #[test]
    fn a_quoted_null_is_a_name_and_a_plain_null_is_nothing() {
        let mut d = doc("skills:\n  disabled: [a]\n");
        d.set_disabled_skills(&["null".to_string(), "~".to_string()])
            .expect("set");
        let back = doc(&d.render());
        assert_eq!(back.disabled_skills(), vec!["null", "~"]);
        assert_eq!(
            doc("model:\n  default: null\n").get_str("model.default"),
            None
        );
    }

    #[test]
    fn values_hermes_would_misread_are_refused() {
        let mut d = doc("");
        for bad in ["=", "a?b", "Z?"] {
            let slot = RouteSlot {
                provider: "openrouter".into(),
                model: bad.into(),
                base_url: None,
            };
            assert!(d.set_main(&slot).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_lone_carriage_return_ends_a_comment_line() {
        // "#\r key: v" is a comment and then a key: not a comment-only file.
        let d = ConfigDoc::parse(Path::new("config.yaml"), "#\rmodel: x\n").expect("parse");
        assert_eq!(d.main_slot().model, "x");
    }

    #[test]
    fn a_byte_order_mark_after_the_start_is_refused() {
        assert!(ConfigDoc::parse(Path::new("c.yaml"), "\u{feff}a: 1\n").is_ok());
        assert!(ConfigDoc::parse(Path::new("c.yaml"), "a: 1\n\u{feff}b: 2\n").is_err());
    }

    #[test]
    fn a_save_that_would_read_back_differently_writes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("config.yaml");
        let text = "toolsets: [\"hermes-cli\"]\n\tbad: tab\n,fallback_providers:\n- provider: openrouter\n  model: openrouter/free\n# a comment";
        let mut d = ConfigDoc::parse(&p, text).expect("nxr's parser takes this damaged file");
        let slot = RouteSlot {
            provider: "openrouter".into(),
            model: "qwen/qwen3-coder:free".into(),
            base_url: None,
        };
        d.set_main(&slot).expect("set");
        assert!(d.save().is_err());
        assert!(!p.exists(), "nothing written");
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
