//! The OpenRouter key: kept in `NXR_HOME/secrets.env` (mode 0600, never in the database,
//! which may be a shared server) and copied into each agent profile's `.env` as
//! `OPENROUTER_API_KEY`, where Hermes reads it. Never printed in full.

use std::time::Duration;

use super::Core;
use super::agents;
use super::error::{CoreError, Result};
use super::hermes::{self, Profile};
use super::openrouter::KeyInfo;

pub const KEY_VAR: &str = "OPENROUTER_API_KEY";

fn file(core: &Core) -> std::path::PathBuf {
    secrets_file(&core.paths)
}

/// `NXR_HOME/secrets.env`: nxr's own secrets (mode 0600).
pub fn secrets_file(paths: &super::paths::Paths) -> std::path::PathBuf {
    paths.nxr_home.join("secrets.env")
}

/// The stored key, else `OPENROUTER_API_KEY` from the environment.
pub fn openrouter_key(core: &Core) -> Option<String> {
    openrouter_key_in(&core.paths)
}

/// [`openrouter_key`] without an open workspace (`nxr doctor` opens nothing).
pub fn openrouter_key_in(paths: &super::paths::Paths) -> Option<String> {
    hermes::get_env(&secrets_file(paths), KEY_VAR)
        .filter(|k| !k.trim().is_empty())
        .or_else(|| std::env::var(KEY_VAR).ok().filter(|k| !k.trim().is_empty()))
}

/// Checks a key's form before any network call.
pub fn check_key_form(key: &str) -> Result<&str> {
    let key = key.trim();
    if key.is_empty() || key.len() > 256 || key.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(CoreError::usage(
            "that does not look like an OpenRouter key (expected sk-or-...)",
        ));
    }
    Ok(key)
}

/// Validates the key with OpenRouter, then stores it for nxr and every agent profile.
/// An invalid key or a network failure changes nothing.
pub async fn set_openrouter_key(core: &Core, key: &str, timeout: Duration) -> Result<KeyInfo> {
    let key = check_key_form(key)?;
    let info = core.openrouter(timeout)?.key(key).await?;
    store(core, key).await?;
    Ok(info)
}

/// Stores a key already validated.
pub async fn store(core: &Core, key: &str) -> Result<()> {
    hermes::set_env(&file(core), KEY_VAR, key)?;
    let conn = core.db.conn().await?;
    for a in agents::list(&conn).await? {
        let p = Profile::resolve(&core.paths.hermes_home, &a.profile);
        let _lock = p.lock()?;
        hermes::set_env(&p.env_path(), KEY_VAR, key)?;
    }
    // The key itself stays out of the database; the change mark tells every open surface
    // (other sessions, the TUI, browser pages) that paid models are now possible.
    let (_conn, tx) = core.db.write().await?;
    super::db::touch(&tx, "openrouter_key").await?;
    tx.commit().await?;
    Ok(())
}
