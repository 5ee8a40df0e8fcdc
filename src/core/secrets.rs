//! The OpenRouter key: kept in `NXR_HOME/secrets.env` (mode 0600, never in the database,
//! which may be a shared server) and copied into each agent profile's `.env` as
//! `OPENROUTER_API_KEY`, where Hermes reads it. Never printed in full.

use std::time::Duration;

use super::Core;
use super::error::{CoreError, Result};
use super::hermes::{self, Profile};
use super::openrouter::{AccountState, Credits, KeyInfo};

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

/// Validates the key with OpenRouter, then stores it for nxr and every agent profile, with
/// its account state (balance, limit). An invalid key or a network failure changes nothing.
pub async fn set_openrouter_key(core: &Core, key: &str, timeout: Duration) -> Result<KeyInfo> {
    let key = check_key_form(key)?;
    let or = core.openrouter(timeout)?;
    let info = or.key(key).await?;
    // A balance that cannot be read leaves the account unable to pay, not the key unstored.
    let credits = or.credits(key).await.unwrap_or(None);
    store(core, key).await?;
    record_account(core, key, &info, credits.as_ref()).await?;
    Ok(info)
}

const ACCOUNT_SETTING: &str = "openrouter_account";

/// Records what OpenRouter said about `key`'s account (see [`AccountState`]).
pub async fn record_account(
    core: &Core,
    key: &str,
    info: &KeyInfo,
    credits: Option<&Credits>,
) -> Result<AccountState> {
    let state = AccountState::of(
        &hermes::mask_key(key.trim()),
        info,
        credits,
        &super::time::now(),
    );
    // The same account read again changes nothing: no write, so no open page reloads.
    let stored = core
        .setting(ACCOUNT_SETTING)
        .await?
        .and_then(|j| serde_json::from_str::<AccountState>(&j).ok());
    if let Some(old) = stored
        && old.key == state.key
        && (old.limit, old.limit_remaining, old.usage, old.credits)
            == (
                state.limit,
                state.limit_remaining,
                state.usage,
                state.credits,
            )
    {
        return Ok(old);
    }
    let json = serde_json::to_string(&state)
        .map_err(|e| CoreError::Db(format!("cannot record the account: {e}")))?;
    core.set_setting(ACCOUNT_SETTING, &json).await?;
    Ok(state)
}

/// Who would pay for a paid model, as far as nxr knows without the network.
#[derive(Debug, Clone, PartialEq)]
pub enum Payer {
    /// No OpenRouter key is stored.
    NoKey,
    /// A key is stored but its account was never checked (or was checked for another key).
    Unchecked,
    /// The account cannot pay: the reason, and the state it was read from.
    CannotPay(String, AccountState),
    Pays(AccountState),
}

impl Payer {
    pub fn can_pay(&self) -> bool {
        matches!(self, Payer::Pays(_))
    }

    pub fn account(&self) -> Option<&AccountState> {
        match self {
            Payer::CannotPay(_, a) | Payer::Pays(a) => Some(a),
            Payer::NoKey | Payer::Unchecked => None,
        }
    }

    /// Why paid models cannot be used now, and what to do, or `None` when they can.
    pub fn reason(&self) -> Option<String> {
        match self {
            Payer::Pays(_) => None,
            Payer::NoKey => Some(
                "no OpenRouter key is stored (paid models need an OpenRouter key whose account has credits): run `nxr config set openrouter-key KEY`".into(),
            ),
            Payer::Unchecked => Some(
                "nxr has not checked the stored key's balance: run `nxr upgrade` (or `nxr config set openrouter-key KEY`) to check it".into(),
            ),
            Payer::CannotPay(why, _) => Some(format!(
                "{why}: buy credits at openrouter.ai/settings/credits (or raise the key's limit), then run `nxr upgrade` to check again"
            )),
        }
    }

    /// Why the paid `model` cannot be written, and what to do, or `None` when it can.
    pub fn refusal(&self, model: &str) -> Option<String> {
        self.reason().map(|why| {
            format!(
                "{} is a paid model and {why}; or choose a free model",
                super::text::clean_max(model, 100)
            )
        })
    }
}

/// The stored key's account, from the last check.
pub async fn payer(core: &Core) -> Result<Payer> {
    let Some(key) = openrouter_key(core) else {
        return Ok(Payer::NoKey);
    };
    let recorded = core
        .setting(ACCOUNT_SETTING)
        .await?
        .and_then(|j| serde_json::from_str::<AccountState>(&j).ok())
        .filter(|a| a.key == hermes::mask_key(key.trim()));
    Ok(match recorded {
        None => Payer::Unchecked,
        Some(a) => match a.cannot_pay() {
            Some(why) => Payer::CannotPay(why, a),
            None => Payer::Pays(a),
        },
    })
}

/// Every agent's profile name. Read here, not through `agents`, which asks this module for
/// the key and the payer: keys sit below agents, so no import loop.
async fn agent_profiles(core: &Core) -> Result<Vec<String>> {
    let conn = core.db.conn().await?;
    let mut rows = conn
        .query("SELECT profile FROM agents ORDER BY id", ())
        .await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(row.get::<String>(0)?);
    }
    Ok(out)
}

/// Stores a key already validated.
pub async fn store(core: &Core, key: &str) -> Result<()> {
    hermes::set_env(&file(core), KEY_VAR, key)?;
    for profile in agent_profiles(core).await? {
        let p = Profile::resolve(&core.paths.hermes_home, &profile);
        // On a shared database (NXR_DB_URL) some agents live on other machines: their
        // profiles are not here, and locking would create a hollow one.
        if !p.dir.is_dir() {
            continue;
        }
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
