//! The nxr-ledger Hermes plugin (`plugins/nxr-ledger/`, embedded): installed into every
//! profile nxr manages and switched on with `plugins.enabled` in its `config.yaml` (the
//! person's other plugins stay), it appends every API call and API error to
//! `nxr-ledger.jsonl`, which [`super::usage`] ingests. Agents on a free model (a daily cap)
//! also get `agent.api_max_retries: 1`: one attempt per call, since failed attempts count
//! against the cap too.

use std::path::Path;

use super::Core;
use super::error::{CoreError, Result};
use super::hermes::{self, ConfigDoc, Profile};

pub const PLUGIN: &str = "nxr-ledger";
const FILES: [(&str, &str); 2] = [
    (
        "plugin.yaml",
        include_str!("../../plugins/nxr-ledger/plugin.yaml"),
    ),
    (
        "__init__.py",
        include_str!("../../plugins/nxr-ledger/__init__.py"),
    ),
];
/// Attempts per call for agents on a daily cap.
pub const CAPPED_RETRIES: i64 = 1;

/// Writes the plugin's files into `<dir>/plugins/nxr-ledger/` where they differ; true when
/// something was written.
pub fn install_files(dir: &Path) -> Result<bool> {
    let folder = dir.join("plugins").join(PLUGIN);
    let mut wrote = false;
    for (name, body) in FILES {
        let path = folder.join(name);
        if std::fs::read(&path).ok().as_deref() == Some(body.as_bytes()) {
            continue;
        }
        std::fs::create_dir_all(&folder).map_err(|e| CoreError::io(&folder, e))?;
        hermes::atomic_write(&path, body.as_bytes(), Some(0o644))?;
        wrote = true;
    }
    Ok(wrote)
}

/// Switches the plugin on, and one attempt per call on a free model; true when the
/// document changed.
pub fn configure(config: &mut ConfigDoc) -> Result<bool> {
    let mut changed = config.enable_plugin(PLUGIN)?;
    let capped = super::budget::is_free_model(&config.main_slot().model);
    if capped
        && config.get_str("agent.api_max_retries").as_deref()
            != Some(CAPPED_RETRIES.to_string().as_str())
    {
        config.set_agent_int("api_max_retries", CAPPED_RETRIES)?;
        changed = true;
    }
    Ok(changed)
}

/// Installs the plugin into one existing profile and switches it on; idempotent (writes
/// nothing when all is in place). True when something changed.
pub fn install(profile: &Profile) -> Result<bool> {
    let _lock = profile.lock()?;
    let files = install_files(&profile.dir)?;
    let mut config = ConfigDoc::load(&profile.config_path())?;
    let changed = configure(&mut config)?;
    if changed {
        config.save()?;
    }
    Ok(files || changed)
}

/// Installs the plugin into every agent's profile found on this machine: the sync path for
/// agents created before nxr had it. Returns (agent, changed or the error) per agent.
pub async fn sync_all(core: &Core) -> Result<Vec<(String, std::result::Result<bool, String>)>> {
    let conn = core.db.conn().await?;
    let mut rows = conn
        .query("SELECT name, profile FROM agents ORDER BY id", ())
        .await?;
    let mut agents = Vec::new();
    while let Some(row) = rows.next().await? {
        agents.push((super::db::text(&row, 0)?, super::db::text(&row, 1)?));
    }
    drop(rows);
    let mut out = Vec::new();
    for (name, profile) in agents {
        let p = Profile::resolve(&core.paths.hermes_home, &profile);
        // On a shared database some agents live on other machines.
        if !p.exists() {
            continue;
        }
        out.push((name, install(&p).map_err(|e| e.to_string())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switching_the_ledger_on_keeps_the_persons_plugins_and_comments() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.yaml");
        let text = "# mine\nmodel:\n  provider: openrouter\n  default: a/b:free\nplugins:\n  enabled:\n    - disk-cleanup\n  disabled: []\nagent:\n  max_turns: 60\n";
        let mut c = ConfigDoc::parse(&path, text).expect("parse");
        assert!(configure(&mut c).expect("configure"));
        assert_eq!(c.enabled_plugins(), ["disk-cleanup", PLUGIN]);
        assert_eq!(c.get_str("agent.api_max_retries").as_deref(), Some("1"));
        assert_eq!(c.get_str("agent.max_turns").as_deref(), Some("60"));
        let out = c.render();
        assert!(out.starts_with("# mine\n"), "{out}");
        assert!(out.contains("disabled: []"), "{out}");
        // Again: nothing to change.
        let mut again = ConfigDoc::parse(&path, &out).expect("parse");
        assert!(!configure(&mut again).expect("configure"));
    }

    #[test]
    fn a_config_without_plugins_gets_a_block_list_and_a_paid_agent_keeps_its_retries() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.yaml");
        let text = "model:\n  provider: openrouter\n  default: anthropic/claude-sonnet-4.6\n";
        let mut c = ConfigDoc::parse(&path, text).expect("parse");
        assert!(configure(&mut c).expect("configure"));
        assert_eq!(c.enabled_plugins(), [PLUGIN]);
        assert_eq!(c.get_str("agent.api_max_retries"), None);
        assert!(
            c.render()
                .contains("plugins:\n  enabled:\n    - nxr-ledger\n"),
            "{}",
            c.render()
        );
    }
}
