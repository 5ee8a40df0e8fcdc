//! One slice per screen. Each file owns its screen's state, a pure `update` that turns a
//! screen intent into state changes and [`Effect`]s (no I/O, no await, tested without
//! either), and the view builder for its part of the [`super::view::Screen`]. The
//! [`super::session::Session`] routes intents to slices, runs their effects (the domain op,
//! the reload, the banner) and keeps the [`Data`] cache they all read.
//!
//! The file names match `src/tabs/<name>.rs` and `src/webmirror/<name>.rs`: a feature is the
//! same name in core, the TUI and the web.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use jiff::Timestamp;

use super::action::Op;
use super::agents::{Agent, Recommendation};
use super::catalog::{Catalog, CatalogInfo};
use super::hermes::Profile;
use super::notifications::Notification;
use super::routing::Slots;
use super::scoring::Pick;
use super::secrets;
use super::skills::SkillSnapshot;
use super::upgrade::UpgradeRow;
use super::view::{Meaning, Tab};

pub mod agents;
pub mod budget;
pub mod create;
pub mod hermes;
pub mod models;
pub mod notifications;
pub mod picker;
pub mod setup;

/// Said by every surface, so it names no key: the TUI and the web both have a Create tab.
pub const NO_AGENTS: &str = "No agents yet: create one on the Create tab.";

/// What the database and the profiles hold, as the session last read it. Slices read it
/// through [`Ctx`]; only the session writes it.
pub struct Data {
    pub mark: i64,
    pub agents: Vec<Agent>,
    pub catalog: Arc<Catalog>,
    pub catalog_info: CatalogInfo,
    pub recs: Vec<Recommendation>,
    pub notifications: Vec<Notification>,
    pub unread: i64,
    /// The Models tab agent's slots, with its config.yaml's mtime when read.
    pub slots: Option<(
        String,
        Option<SystemTime>,
        std::result::Result<Slots, String>,
    )>,
    /// The selected agent's skills (read when the Agents tab or the skill editor needs it).
    pub skills: Option<(String, std::result::Result<SkillSnapshot, String>)>,
    pub plan: Vec<UpgradeRow>,
    pub key_configured: bool,
    pub payer: secrets::Payer,
    /// The hermes-agent version the onboarding recorded.
    pub hermes_version: Option<String>,
    /// The local model the fallback chain ends on.
    pub ollama: String,
    /// `auto-upgrade-free-models`.
    pub auto_upgrade: bool,
    /// Which notification types go to Telegram, and where.
    pub forwarding: super::telegram::Forwarding,
    /// Every agent's gateway as the last probe saw it.
    pub gateways: Vec<super::gateway::GatewayStatus>,
    /// The local Ollama as last checked (None: not checked yet).
    pub ollama_card: Option<super::ollama::OllamaCard>,
    /// What the free-tier budget is computed from, as last read (`None` until read); the
    /// view computes it at the screen's "now".
    pub budget: Option<super::budget::Inputs>,
}

impl Data {
    /// Nothing read yet but the catalog: `mark` -1 makes the first refresh load everything.
    pub fn new(catalog: Arc<Catalog>, catalog_info: CatalogInfo) -> Data {
        Data {
            mark: -1,
            agents: Vec::new(),
            catalog_info,
            catalog,
            recs: Vec::new(),
            notifications: Vec::new(),
            unread: 0,
            slots: None,
            skills: None,
            plan: Vec::new(),
            key_configured: false,
            payer: secrets::Payer::NoKey,
            hermes_version: None,
            ollama: String::new(),
            auto_upgrade: false,
            forwarding: super::telegram::Forwarding::default(),
            gateways: Vec::new(),
            ollama_card: None,
            budget: None,
        }
    }
}

/// What every slice may read: the cache, where profiles live, and now.
pub struct Ctx<'a> {
    pub data: &'a Data,
    pub hermes_home: &'a Path,
    pub now: Timestamp,
    /// Wakes the input loop when a picker's matcher has news.
    pub notify: &'a Arc<dyn Fn() + Sync + Send>,
}

impl Ctx<'_> {
    pub fn profile_of(&self, a: &Agent) -> Profile {
        Profile::resolve(self.hermes_home, &a.profile)
    }

    /// Paid models can be written: the one fact every picker marks paid rows by, the same
    /// account state the write guard (`agents::ensure_payable`) checks again at the write.
    pub fn can_pay(&self) -> bool {
        self.data.payer.can_pay()
    }

    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.data.agents.iter().find(|a| a.name == name)
    }
}

/// What a slice asks the session to do after its state changed. The session runs them in
/// order; the first that fails stops the rest and lands in the banner, so a slice puts
/// "close this" after the op it depends on.
pub enum Effect {
    /// Run a domain operation through `action::apply`, report its outcome, reload.
    Apply(Op),
    /// Start a catalog scan (on the runtime when there is one).
    StartScan,
    /// Run a slow domain operation (a gateway start or stop) off the input loop, on the
    /// runtime when there is one; its end comes back as a job event.
    Background(Op),
    /// Say something in the banner.
    Say(Meaning, String),
    /// A success: says it and clears the last error.
    Ok(String),
    /// Esc with nothing open: the banner goes.
    DropBanner,
    /// Withdraw an error banner that no longer holds.
    ClearError,
    /// Reload everything from the database.
    Refresh,
    /// Re-read the Models tab agent's config.yaml.
    ReloadSlots,
    /// Show a tab, keeping what is open on it.
    ShowTab(Tab),
    /// Open the model picker.
    OpenPicker(Box<picker::State>),
    /// Open the skill editor.
    OpenSkills(agents::SkillEditor),
    /// Close the picker, the skill editor or help.
    CloseOverlay,
    /// The model the picker chose for the agent being created.
    WizardModel(Box<Pick>),
}

pub type Effects = Vec<Effect>;

/// `i` moved by `delta` within `n` rows (clamped; 0 when there are none).
pub fn step(cur: usize, n: usize, delta: i64) -> usize {
    if n == 0 {
        0
    } else {
        (cur as i64 + delta).clamp(0, n as i64 - 1) as usize
    }
}

/// Row `index` of `n` (the last when past the end).
pub fn pick(index: usize, n: usize) -> usize {
    index.min(n.saturating_sub(1))
}

pub fn shorten_home(p: &str) -> String {
    match dirs::home_dir() {
        Some(h) if !h.as_os_str().is_empty() && h != std::path::Path::new("/") => {
            let h = h.display().to_string();
            match p.strip_prefix(&h) {
                Some(rest) => format!("~{rest}"),
                None => p.to_string(),
            }
        }
        _ => p.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A [`Data`] with no database behind it, for the slices' pure tests.
    use super::*;
    use crate::core::agents::Agent;
    use crate::core::scoring::Role;

    pub fn agent(name: &str, role: Role) -> Agent {
        Agent {
            id: 0,
            name: name.into(),
            profile: name.into(),
            role,
            model: "openrouter/free".into(),
            provider: "openrouter".into(),
            skillset: Vec::new(),
            model_score: None,
            model_auto_assigned: true,
            workspace_id: String::new(),
            is_default: false,
            created_at: String::new(),
            updated_at: String::new(),
            model_gone: false,
        }
    }

    pub fn data(agents: Vec<Agent>) -> Data {
        let catalog = Arc::new(Catalog {
            models: Vec::new(),
            fetched_at: String::new(),
            source: String::new(),
            id: None,
            warnings: Vec::new(),
        });
        let info = CatalogInfo {
            id: None,
            fetched_at: String::new(),
            source: String::new(),
            model_count: 0,
            free_count: 0,
        };
        Data {
            mark: 0,
            agents,
            ..Data::new(catalog, info)
        }
    }

    pub fn ctx(data: &Data) -> Ctx<'_> {
        static NOTIFY: std::sync::OnceLock<Arc<dyn Fn() + Sync + Send>> =
            std::sync::OnceLock::new();
        Ctx {
            data,
            hermes_home: Path::new("/nonexistent-hermes-home"),
            now: Timestamp::UNIX_EPOCH,
            notify: NOTIFY.get_or_init(|| Arc::new(|| {})),
        }
    }
}
