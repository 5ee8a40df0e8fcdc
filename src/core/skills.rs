//! Curated skills (embedded `SKILL.md` files), the templates that choose them per role or
//! category, and a profile's skills on disk: listing, installing, enabling and disabling
//! them, in the shape of Paperclip's skill snapshot (`listSkills` / `syncSkills`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use yaml_edit::path::YamlPath;

use super::error::{CoreError, Result};
use super::hermes::{self, ConfigDoc, Profile, atomic_write};
use super::scoring::Role;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/skills.rs"));
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CuratedSkill {
    pub category: &'static str,
    pub name: &'static str,
    pub description: String,
    pub version: String,
    #[serde(skip)]
    pub text: &'static str,
}

/// Every skill nxr ships, sorted by name.
pub fn curated() -> &'static [CuratedSkill] {
    static ALL: OnceLock<Vec<CuratedSkill>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut v: Vec<CuratedSkill> = embedded::EMBEDDED
            .iter()
            .map(|(category, name, text)| {
                let fm = FrontMatter::parse(text).unwrap_or_default();
                CuratedSkill {
                    category,
                    name,
                    description: fm.description,
                    version: fm.version,
                    text,
                }
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(b.name));
        v
    })
}

pub fn find_curated(name: &str) -> Option<&'static CuratedSkill> {
    curated().iter().find(|s| s.name == name)
}

/// A starting skill set: one per built-in role and one per custom-agent category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    Pm,
    Engineer,
    Hermes,
    Tech,
    Creative,
    Business,
    Research,
    Media,
    Personal,
}

impl Template {
    pub const ALL: [Template; 9] = [
        Template::Pm,
        Template::Engineer,
        Template::Hermes,
        Template::Tech,
        Template::Creative,
        Template::Business,
        Template::Research,
        Template::Media,
        Template::Personal,
    ];

    /// The six categories a custom agent starts from.
    pub const CATEGORIES: [Template; 6] = [
        Template::Tech,
        Template::Creative,
        Template::Business,
        Template::Research,
        Template::Media,
        Template::Personal,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Template::Pm => "pm",
            Template::Engineer => "engineer",
            Template::Hermes => "hermes",
            Template::Tech => "tech",
            Template::Creative => "creative",
            Template::Business => "business",
            Template::Research => "research",
            Template::Media => "media",
            Template::Personal => "personal",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Template::Pm => "PM",
            Template::Engineer => "Engineer",
            Template::Hermes => "Hermes",
            Template::Tech => "Tech",
            Template::Creative => "Creative",
            Template::Business => "Business",
            Template::Research => "Research",
            Template::Media => "Media",
            Template::Personal => "Personal",
        }
    }

    /// The role whose scoring picks the model for this template.
    pub fn role(self) -> Role {
        match self {
            Template::Pm | Template::Business => Role::Pm,
            Template::Engineer | Template::Tech => Role::Engineer,
            Template::Hermes => Role::Hermes,
            Template::Creative | Template::Media => Role::Creative,
            Template::Research => Role::Research,
            Template::Personal => Role::Custom,
        }
    }

    /// The template a role starts from when no category is given.
    pub fn for_role(role: Role) -> Template {
        match role {
            Role::Pm => Template::Pm,
            Role::Engineer => Template::Engineer,
            Role::Hermes => Template::Hermes,
            Role::Creative => Template::Creative,
            Role::Research => Template::Research,
            Role::Custom => Template::Personal,
        }
    }

    pub fn skills(self) -> &'static [&'static str] {
        match self {
            Template::Pm => &[
                "planning",
                "task-breakdown",
                "prioritization",
                "status-reporting",
                "dependency-mapping",
                "sprint-planning",
                "risk-assessment",
                "stakeholder-comms",
            ],
            Template::Engineer => &[
                "coding",
                "debugging",
                "git-workflow",
                "testing",
                "code-review",
                "refactoring",
                "architecture",
                "documentation",
            ],
            Template::Hermes => &[
                "memory",
                "web-search",
                "file-ops",
                "cron",
                "usage-tracker",
                "model-scanner",
                "skill-creator",
                "session-search",
            ],
            Template::Tech => &[
                "coding",
                "debugging",
                "git-workflow",
                "testing",
                "documentation",
                "shell-scripting",
                "file-ops",
                "web-search",
            ],
            Template::Creative => &[
                "creative-writing",
                "brainstorming",
                "editing",
                "storytelling",
                "web-search",
                "memory",
            ],
            Template::Business => &[
                "market-research",
                "competitive-analysis",
                "financial-modeling",
                "meeting-notes",
                "stakeholder-comms",
                "status-reporting",
                "planning",
                "prioritization",
            ],
            Template::Research => &[
                "literature-review",
                "source-evaluation",
                "summarization",
                "data-analysis",
                "web-search",
                "memory",
                "session-search",
            ],
            Template::Media => &[
                "content-calendar",
                "copywriting",
                "social-media",
                "video-scripting",
                "seo",
                "summarization",
                "web-search",
            ],
            Template::Personal => &[
                "daily-planning",
                "email-drafting",
                "habit-tracking",
                "note-taking",
                "cron",
                "memory",
                "web-search",
            ],
        }
    }

    pub fn parse(s: &str) -> Result<Template> {
        let wanted = s.trim().to_ascii_lowercase();
        Template::ALL
            .into_iter()
            .find(|t| t.key() == wanted)
            .ok_or_else(|| {
                CoreError::usage(format!(
                    "unknown category {:?}; categories are: {}",
                    super::catalog::clip(s, 40),
                    Template::ALL.map(|t| t.key()).join(", ")
                ))
            })
    }

    pub fn skill_names(self) -> Vec<String> {
        self.skills().iter().map(|s| s.to_string()).collect()
    }
}

/// The parts of a SKILL.md front matter nxr reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrontMatter {
    pub name: String,
    pub description: String,
    pub version: String,
    pub managed: bool,
}

impl FrontMatter {
    pub fn parse(text: &str) -> Option<FrontMatter> {
        let rest = text.strip_prefix("---")?;
        let rest = rest
            .strip_prefix('\n')
            .or_else(|| rest.strip_prefix("\r\n"))?;
        let end = rest.find("\n---")?;
        let yaml = &rest[..end];
        let doc = yaml_edit::Document::from_str(yaml).ok()?;
        let get = |p: &str| {
            doc.try_get_path(p)
                .ok()
                .and_then(|n| n.as_scalar().map(|s| s.as_string()))
                .unwrap_or_default()
        };
        Some(FrontMatter {
            name: get("name"),
            description: get("description"),
            version: get("version"),
            managed: get("metadata.nxr.managed") == "true",
        })
    }
}

/// A skill found in a profile's `skills/` folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstalledSkill {
    pub name: String,
    pub category: Option<String>,
    pub dir: PathBuf,
    pub description: String,
    pub managed: bool,
    pub disabled: bool,
    /// A managed copy that differs from the version this nxr ships.
    pub stale: bool,
}

/// Walks `skills/[<category>/]<name>/SKILL.md` (two levels, as Hermes does).
pub fn scan(profile: &Profile, config: &ConfigDoc) -> Result<Vec<InstalledSkill>> {
    let disabled: BTreeSet<String> = config.disabled_skills().into_iter().collect();
    let root = profile.skills_dir();
    let mut out = Vec::new();
    let entries = match fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(CoreError::io(&root, e)),
    };
    let mut push = |dir: PathBuf, category: Option<String>| {
        let Ok(text) = fs::read_to_string(dir.join("SKILL.md")) else {
            return;
        };
        let fm = FrontMatter::parse(&text).unwrap_or_default();
        let name = if fm.name.trim().is_empty() {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            fm.name.clone()
        };
        let stale = fm.managed && find_curated(&name).is_some_and(|c| c.text != text);
        out.push(InstalledSkill {
            disabled: disabled.contains(&name),
            name,
            category,
            dir,
            description: fm.description,
            managed: fm.managed,
            stale,
        });
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() || entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.join("SKILL.md").is_file() {
            push(path, None);
            continue;
        }
        let category = entry.file_name().to_string_lossy().into_owned();
        if let Ok(inner) = fs::read_dir(&path) {
            for sub in inner.flatten() {
                let p = sub.path();
                if p.join("SKILL.md").is_file() {
                    push(p, Some(category.clone()));
                }
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.dir.cmp(&b.dir)));
    Ok(out)
}

/// Writes one curated skill into the profile, replacing an older managed copy.
pub fn install(profile: &Profile, skill: &CuratedSkill) -> Result<PathBuf> {
    let dir = skill_dir(profile, skill);
    if dir.is_dir() {
        atomic_write(&dir.join("SKILL.md"), skill.text.as_bytes(), Some(0o644))?;
    } else {
        // A new skill folder appears with its SKILL.md or not at all: a crash must not leave
        // a folder holding only a temp file.
        hermes::create_dir_atomically(&dir, |tmp| {
            atomic_write(&tmp.join("SKILL.md"), skill.text.as_bytes(), Some(0o644))
        })?;
    }
    Ok(dir)
}

/// Whether a folder under `skills/<category>/` may be one nxr writes (a shipped skill), so
/// the start-up sweep looks inside it for leftovers.
pub fn is_curated_dir(name: &str) -> bool {
    find_curated(name).is_some()
}

/// Paperclip's skill snapshot (`GET /api/agents/<id>/skills`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillSnapshot {
    pub adapter_type: String,
    pub supported: bool,
    pub mode: String,
    pub desired_skills: Vec<String>,
    pub entries: Vec<SkillEntry>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillEntry {
    pub key: String,
    pub runtime_name: String,
    pub desired: bool,
    pub managed: bool,
    pub state: SkillState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<SkillOrigin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkillState {
    /// Shipped by nxr, not in this profile, not wanted.
    Available,
    /// On disk but switched off in `skills.disabled`: Hermes does not load it.
    Configured,
    /// On disk and loaded by Hermes.
    Installed,
    /// Wanted but not on disk.
    Missing,
    /// nxr's copy on disk is older than the one this nxr ships.
    Stale,
    /// Loaded by Hermes but not in the agent's wanted set.
    External,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkillOrigin {
    CompanyManaged,
    UserInstalled,
    ExternalUnknown,
}

pub const ADAPTER_TYPE: &str = "hermes_local";

/// What the profile holds against what the agent should have.
pub fn snapshot(
    profile: &Profile,
    config: &ConfigDoc,
    desired: &[String],
) -> Result<SkillSnapshot> {
    let installed = scan(profile, config)?;
    let wanted: BTreeSet<&str> = desired.iter().map(String::as_str).collect();
    let mut entries = Vec::new();
    let mut seen = BTreeSet::new();
    let mut warnings = Vec::new();
    for s in &installed {
        if !seen.insert(s.name.clone()) {
            warnings.push(format!(
                "skill {:?} is installed twice; Hermes loads one of them ({})",
                s.name,
                s.dir.display()
            ));
            continue;
        }
        let desired = wanted.contains(s.name.as_str());
        let state = if s.disabled {
            SkillState::Configured
        } else if s.stale {
            SkillState::Stale
        } else if desired {
            SkillState::Installed
        } else {
            SkillState::External
        };
        let origin = if s.managed {
            SkillOrigin::CompanyManaged
        } else {
            SkillOrigin::UserInstalled
        };
        let detail = match state {
            SkillState::Configured => Some("disabled in config.yaml (skills.disabled)".to_string()),
            SkillState::Stale => Some("this nxr ships a newer version; sync to update".to_string()),
            SkillState::External => {
                Some("loaded by Hermes, not in the agent's skill set".to_string())
            }
            _ => None,
        };
        entries.push(SkillEntry {
            key: s.name.clone(),
            runtime_name: s.name.clone(),
            desired,
            managed: s.managed,
            state,
            origin: Some(origin),
            read_only: (!s.managed).then_some(true),
            source_path: Some(s.dir.join("SKILL.md").display().to_string()),
            detail,
        });
    }
    for name in desired {
        if seen.insert(name.clone()) {
            entries.push(SkillEntry {
                key: name.clone(),
                runtime_name: name.clone(),
                desired: true,
                managed: find_curated(name).is_some(),
                state: SkillState::Missing,
                origin: find_curated(name).map(|_| SkillOrigin::CompanyManaged),
                read_only: None,
                source_path: None,
                detail: Some(if find_curated(name).is_some() {
                    "not on disk; sync installs it".to_string()
                } else {
                    "not on disk and not shipped by nxr".to_string()
                }),
            });
        }
    }
    for c in curated() {
        if seen.insert(c.name.to_string()) {
            entries.push(SkillEntry {
                key: c.name.to_string(),
                runtime_name: c.name.to_string(),
                desired: false,
                managed: true,
                state: SkillState::Available,
                origin: Some(SkillOrigin::CompanyManaged),
                read_only: None,
                source_path: None,
                detail: Some(c.description.clone()),
            });
        }
    }
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(SkillSnapshot {
        adapter_type: ADAPTER_TYPE.to_string(),
        supported: true,
        mode: "persistent".to_string(),
        desired_skills: desired.to_vec(),
        entries,
        warnings,
    })
}

/// Checks a wanted skill set: every name must be shipped by nxr or already on disk.
pub fn validate_desired(
    profile: &Profile,
    config: &ConfigDoc,
    desired: &[String],
) -> Result<Vec<String>> {
    let installed = scan(profile, config)?;
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for name in desired {
        let name = name.trim();
        if name.is_empty() || out.iter().any(|n: &String| n == name) {
            continue;
        }
        if find_curated(name).is_none() && !installed.iter().any(|s| s.name == name) {
            unknown.push(super::catalog::clip(name, 60));
        } else {
            out.push(name.to_string());
        }
    }
    if !unknown.is_empty() {
        return Err(CoreError::usage(format!(
            "unknown skill{} {}: not shipped by nxr and not in this profile (`nxr --no-tui agents skills NAME` lists them)",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", ")
        )));
    }
    Ok(out)
}

/// What a sync changed on disk, so a failed database write can undo it.
#[derive(Debug, Default)]
pub struct SyncUndo {
    created: Vec<PathBuf>,
    removed: Vec<(PathBuf, String)>,
    config: Option<(PathBuf, Option<String>)>,
}

impl SyncUndo {
    /// Puts the profile back as it was before the sync.
    pub fn undo(self) {
        for dir in self.created {
            let _ = hermes::remove_dir_atomically(&dir);
        }
        for (dir, text) in self.removed {
            if dir.is_dir() {
                let _ = atomic_write(&dir.join("SKILL.md"), text.as_bytes(), None);
            } else {
                let _ = hermes::create_dir_atomically(&dir, |tmp| {
                    atomic_write(&tmp.join("SKILL.md"), text.as_bytes(), Some(0o644))
                });
            }
        }
        if let Some((path, old)) = self.config {
            match old {
                Some(t) => {
                    let _ = atomic_write(&path, t.as_bytes(), None);
                }
                None => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
}

/// Makes the profile load exactly `desired`: installs shipped skills that are missing or
/// stale, deletes nxr's own copies that are no longer wanted, and switches user-installed
/// ones on or off through `skills.disabled` (their files are never deleted).
/// The caller holds the profile lock and has validated `desired`.
pub fn apply(profile: &Profile, config: &mut ConfigDoc, desired: &[String]) -> Result<SyncUndo> {
    let mut undo = SyncUndo::default();
    let result = apply_inner(profile, config, desired, &mut undo);
    match result {
        Ok(()) => Ok(undo),
        Err(e) => {
            undo.undo();
            Err(e)
        }
    }
}

fn apply_inner(
    profile: &Profile,
    config: &mut ConfigDoc,
    desired: &[String],
    undo: &mut SyncUndo,
) -> Result<()> {
    profile.ensure_dirs()?;
    let installed = scan(profile, config)?;
    let wanted: BTreeSet<&str> = desired.iter().map(String::as_str).collect();
    for name in desired {
        let on_disk = installed.iter().find(|s| &s.name == name);
        match (on_disk, find_curated(name)) {
            (None, Some(c)) => {
                let dir = profile.skills_dir().join(c.category).join(c.name);
                let existed = dir.exists();
                install(profile, c)?;
                if !existed {
                    undo.created.push(dir);
                }
            }
            (Some(s), Some(c)) if s.stale => {
                let old = fs::read_to_string(s.dir.join("SKILL.md")).unwrap_or_default();
                undo.removed.push((s.dir.clone(), old));
                atomic_write(&s.dir.join("SKILL.md"), c.text.as_bytes(), Some(0o644))?;
            }
            _ => {}
        }
    }
    for s in &installed {
        if s.managed && !wanted.contains(s.name.as_str()) {
            let old = fs::read_to_string(s.dir.join("SKILL.md")).unwrap_or_default();
            hermes::remove_dir_atomically(&s.dir)?;
            undo.removed.push((s.dir.clone(), old));
        }
    }
    let old_disabled = config.disabled_skills();
    let mut disabled: Vec<String> = old_disabled
        .iter()
        .filter(|n| !wanted.contains(n.as_str()))
        .cloned()
        .collect();
    for s in &installed {
        if !s.managed && !wanted.contains(s.name.as_str()) && !disabled.contains(&s.name) {
            disabled.push(s.name.clone());
        }
    }
    if disabled != old_disabled {
        let path = config.path().to_path_buf();
        let before = fs::read_to_string(&path).ok();
        config.set_disabled_skills(&disabled)?;
        config.save()?;
        undo.config = Some((path, before));
    }
    Ok(())
}

/// The folder a skill would be installed into (for messages).
pub fn skill_dir(profile: &Profile, skill: &CuratedSkill) -> PathBuf {
    profile.skills_dir().join(skill.category).join(skill.name)
}

pub fn is_within(path: &Path, root: &Path) -> bool {
    path.starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_names_shipped_skills() {
        for t in Template::ALL {
            for s in t.skills() {
                assert!(find_curated(s).is_some(), "{} needs skill {s}", t.key());
            }
        }
        assert_eq!(Template::Pm.skills().len(), 8);
        assert_eq!(Template::Engineer.skills().len(), 8);
        assert_eq!(Template::Hermes.skills().len(), 8);
        assert_eq!(Template::CATEGORIES.len(), 6);
    }

    #[test]
    fn every_shipped_skill_has_hermes_front_matter() {
        assert!(curated().len() >= 46, "{} skills", curated().len());
        for s in curated() {
            let fm = FrontMatter::parse(s.text).expect(s.name);
            assert_eq!(fm.name, s.name);
            assert!(!fm.description.is_empty(), "{}", s.name);
            assert!(fm.description.len() <= 1024, "{}", s.name);
            assert!(fm.managed, "{} carries metadata.nxr.managed", s.name);
            assert!(
                s.text.lines().count() > 20,
                "{} has real instructions",
                s.name
            );
        }
    }

    #[test]
    fn sync_installs_removes_and_disables_then_round_trips() {
        let home = tempfile::tempdir().expect("tmp");
        let profile = Profile::resolve(home.path(), "pm");
        profile.ensure_dirs().expect("dirs");
        // A skill the user put there by hand.
        let mine = profile.skills_dir().join("mine");
        fs::create_dir_all(&mine).expect("mkdir");
        fs::write(
            mine.join("SKILL.md"),
            "---\nname: mine\ndescription: my own\n---\n# Mine\n",
        )
        .expect("write");
        let mut config = ConfigDoc::load(&profile.config_path()).expect("load");

        let want = Template::Pm.skill_names();
        apply(&profile, &mut config, &want).expect("sync");
        let snap = snapshot(&profile, &config, &want).expect("snap");
        let loaded: Vec<_> = snap
            .entries
            .iter()
            .filter(|e| e.state == SkillState::Installed)
            .map(|e| e.key.clone())
            .collect();
        let mut sorted = want.clone();
        sorted.sort();
        assert_eq!(loaded, sorted);
        let mine_entry = snap.entries.iter().find(|e| e.key == "mine").expect("mine");
        assert_eq!(
            mine_entry.state,
            SkillState::Configured,
            "a user's skill outside the set is switched off"
        );
        assert_eq!(mine_entry.origin, Some(SkillOrigin::UserInstalled));
        assert_eq!(mine_entry.read_only, Some(true));
        assert!(
            mine.join("SKILL.md").is_file(),
            "never deletes a user's files"
        );

        // Remove one, add the user's skill back, sync again.
        let mut want2: Vec<String> = want.iter().filter(|s| *s != "planning").cloned().collect();
        want2.push("mine".into());
        apply(&profile, &mut config, &want2).expect("sync 2");
        let snap = snapshot(&profile, &config, &want2).expect("snap");
        let state = |k: &str| snap.entries.iter().find(|e| e.key == k).map(|e| e.state);
        assert_eq!(state("planning"), Some(SkillState::Available));
        assert_eq!(state("mine"), Some(SkillState::Installed));
        assert!(config.disabled_skills().is_empty());
        assert!(
            !profile
                .skills_dir()
                .join("project-management/planning")
                .exists()
        );
    }

    #[test]
    fn unknown_skills_are_refused_by_name() {
        let home = tempfile::tempdir().expect("tmp");
        let profile = Profile::resolve(home.path(), "x");
        let config = ConfigDoc::load(&profile.config_path()).expect("load");
        let err = validate_desired(&profile, &config, &["coding".into(), "nope<script>".into()])
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("nope<script>"), "{err}");
    }
}
