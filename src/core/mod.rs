//! Everything nxr knows and decides. No UI crate is imported here: the TUI, the web mirror
//! and the CLI render the view structs built in [`view`] and send [`action::Action`]s back.

pub mod action;
pub mod agents;
pub mod budget;
pub mod catalog;
pub mod db;
pub mod detect;
pub mod doctor;
pub mod error;
pub mod export;
pub mod gateway;
pub mod hermes;
pub mod hermes_version;
pub mod holds;
pub mod keymap;
pub mod ledger;
pub mod models;
pub mod notifications;
pub mod ollama;
pub mod onboarding;
pub mod openrouter;
pub mod paths;
pub mod picker;
pub mod routing;
pub mod runtime;
pub mod scanner;
pub mod schedule;
pub mod scoring;
pub mod screens;
pub mod secrets;
pub mod session;
pub mod skills;
pub mod telegram;
pub mod text;
pub mod time;
pub mod upgrade;
pub mod usage;
pub mod view;

use std::time::Duration;

pub use error::{CoreError, Result};

use catalog::Catalog;
use db::Db;
use paths::{Endpoints, Paths};

/// An open workspace: where things are, the database, and the service endpoints.
#[derive(Clone)]
pub struct Core {
    pub paths: Paths,
    pub endpoints: Endpoints,
    pub db: Db,
    /// The newest catalog, parsed once per snapshot (shared by the clones of this `Core`).
    pub catalogs: catalog::Cache,
}

impl Core {
    /// Opens (and if needed creates and migrates) the database named by the settings.
    pub async fn open(paths: Paths, endpoints: Endpoints) -> Result<Core> {
        let db = match &endpoints.db_url {
            Some(url) => Db::open_remote(url, endpoints.db_token.as_deref().unwrap_or("")).await?,
            None => Db::open_local(&paths.db_file()).await?,
        };
        let core = Core {
            paths,
            endpoints,
            db,
            catalogs: catalog::Cache::default(),
        };
        agents::sweep_leftovers(&core).await;
        Ok(core)
    }

    pub async fn from_env() -> Result<Core> {
        Core::open(Paths::from_env(), Endpoints::from_env()).await
    }

    /// The newest stored catalog, or the bundled one when nothing was scanned yet: a copy
    /// of the shared one ([`Core::shared_catalog`]), for a caller that changes it.
    pub async fn catalog(&self) -> Result<Catalog> {
        Ok(Catalog::clone(&*self.shared_catalog().await?))
    }

    /// The newest stored catalog (or the bundled one), parsed once per snapshot and shared.
    pub async fn shared_catalog(&self) -> Result<std::sync::Arc<Catalog>> {
        let conn = self.db.conn().await?;
        self.catalogs.latest(&conn).await
    }

    pub fn openrouter(&self, timeout: Duration) -> Result<openrouter::OpenRouter> {
        openrouter::OpenRouter::new(&self.endpoints.openrouter, timeout)
    }

    /// The local model the last fallback uses (a setting, else Qwen 3 8B).
    pub async fn ollama_model(&self) -> Result<String> {
        Ok(self
            .setting("ollama_model")
            .await?
            .unwrap_or_else(|| scoring::DEFAULT_OLLAMA_MODEL.to_string()))
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        let conn = self.db.conn().await?;
        let mut rows = conn
            .query("SELECT value FROM settings WHERE key = ?1", [key])
            .await?;
        match rows.next().await? {
            Some(row) => Ok(db::opt_text(&row, 0)?),
            None => Ok(None),
        }
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let (_conn, tx) = self.db.write().await?;
        tx.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            libsql::params![key, value, time::now()],
        )
        .await?;
        db::touch(&tx, "settings").await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest change id in the database (see [`db::touch`]).
    pub async fn change_mark(&self) -> Result<i64> {
        let conn = self.db.conn().await?;
        db::change_mark(&conn).await
    }
}
