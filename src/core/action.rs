//! Every change a person can ask for, from any surface. A key press, a web form and a CLI
//! subcommand all become one of these and go through [`apply`], so the same request gives
//! the same database and profile state whichever surface it came from.

use serde::{Deserialize, Serialize};

use super::Core;
use super::agents::{self, AgentsRescore, Created, NewAgent, SkillEdit};
use super::error::{CoreError, Result};
use super::hermes::{OPENROUTER, RouteSlot};
use super::models::ScanReport;
use super::notifications;
use super::picker::{FilterKind, Filters};
use super::routing;
use super::runtime::JobKind;
use super::scoring::Role;
use super::secrets;
use super::skills::{SkillSnapshot, Template};
use super::upgrade;
use super::view::Tab;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Load a catalog (from a file, else from OpenRouter), store it and rescore.
    ScanModels {
        #[serde(default)]
        from: Option<String>,
    },
    /// Score every model for every role and store the rows.
    Rescore,
    CreateAgent {
        name: String,
        #[serde(default)]
        role: Option<Role>,
        #[serde(default)]
        category: Option<Template>,
        #[serde(default)]
        skills: Option<Vec<String>>,
        #[serde(default)]
        model: Option<String>,
    },
    AddSkills {
        agent: String,
        skills: Vec<String>,
    },
    RemoveSkills {
        agent: String,
        skills: Vec<String>,
    },
    /// Make the agent load exactly `desired` (or re-apply its current set when absent).
    SyncSkills {
        agent: String,
        #[serde(default)]
        desired: Option<Vec<String>>,
    },
    /// Point an agent's main model at another model.
    SetModel {
        agent: String,
        model: String,
        #[serde(default)]
        provider: Option<String>,
        #[serde(default)]
        base_url: Option<String>,
    },
    /// Point one routing slot (`main`, `aux:<task>` or a bare task name, `fallback:<n>`,
    /// `fallback:new`) of an agent's config.yaml at a model, or back to `auto`. A model that
    /// lacks what the slot needs is refused unless `force`.
    SetSlot {
        agent: String,
        slot: String,
        model: String,
        #[serde(default)]
        provider: Option<String>,
        #[serde(default)]
        base_url: Option<String>,
        #[serde(default)]
        force: bool,
    },
    /// Drop one entry of the agent's `fallback_providers` chain.
    RemoveFallback {
        agent: String,
        index: usize,
    },
    /// Move the agent to the best free model for its role.
    ApplyRecommendation {
        #[serde(default)]
        agent: Option<String>,
    },
    MarkRead {
        #[serde(default)]
        id: Option<i64>,
    },
    MarkAllRead,
    /// Validate an OpenRouter key and store it for nxr and every agent.
    SetOpenrouterKey {
        key: String,
    },
    /// Move one agent to a paid model (the recommended one unless `model` is given).
    UpgradeAgent {
        #[serde(default)]
        agent: Option<String>,
        #[serde(default)]
        model: Option<String>,
    },
    /// Move every agent to its recommended paid model.
    UpgradeAll,
    /// Put one agent back on its last free model (a session reads `None` as the selected
    /// agent).
    RevertUpgrade {
        #[serde(default)]
        agent: Option<String>,
    },
    /// Put every agent on a paid model back on its last free model.
    RevertAll,

    // ---- Screen intents: they act on what is selected on screen ----
    SwitchTab {
        tab: Tab,
    },
    NextTab,
    PrevTab,
    MoveSelection {
        delta: i64,
    },
    SelectRow {
        index: usize,
    },
    /// Enter: open, confirm or go on, whatever the screen offers.
    Activate,
    /// Esc: close the overlay or step back.
    Cancel,
    ToggleHelp,
    Quit,
    /// Tab 2: the seven core slots, or every slot Hermes knows plus the fallback chain.
    ToggleAllSlots,
    /// Tab 2: show another agent's slots.
    SelectAgent {
        agent: String,
    },
    CycleAgent {
        delta: i64,
    },
    /// Tab 2: remove the fallback under the cursor.
    RemoveSelectedSlot,
    /// Tab 2: put the slot under the cursor back on `auto`.
    AutoSelectedSlot,
    OpenPicker,
    SetPickerQuery {
        query: String,
    },
    TogglePickerFilter {
        filter: FilterKind,
    },
    SetPickerFilters {
        filters: Filters,
    },
    /// Tab 3: choose the selected agent's skills.
    OpenSkillEditor,
    /// Tick a skill in the skill editor or the wizard (`None`: the highlighted one).
    ToggleSkill {
        #[serde(default)]
        name: Option<String>,
    },
    ChooseCategory {
        category: Template,
    },
    SetWizardName {
        name: String,
    },
    WizardBack,
    Refresh,
    /// Setup wizard: run the five onboarding steps (with a key, or free).
    StartSetup {
        #[serde(default)]
        key: Option<String>,
    },
    /// Setup wizard: leave the finished summary for the dashboard.
    FinishSetup,
    /// Tab 3: show the bulk upgrade's per-agent plan and confirmation.
    OpenBulkUpgrade,
    /// Tab 3: ask before moving one agent to a paid model, showing the model, its price, the
    /// score gain and the balance; only the answer "yes" (`activate`) writes. `agent: None`
    /// is the selected agent (the TUI's `p`); `model: None` is that agent's recommended
    /// paid pick. A web button names both, so the question is about the row it sits in.
    OpenUpgrade {
        #[serde(default)]
        agent: Option<String>,
        #[serde(default)]
        model: Option<String>,
    },
    /// Tab 3: ask before putting every agent back on its free model.
    OpenRevertAll,
    #[serde(skip)]
    Resize {
        width: u16,
        height: u16,
    },

    // ---- Events: what background jobs report (past tense). Not user actions: no form or
    // API body can name them (`serde(skip)`); only the runtime sends them. ----
    /// A job of the runtime began (today only the catalog scan).
    #[serde(skip)]
    ScanStarted {
        job: i64,
    },
    #[serde(skip)]
    ScanProgress {
        job: i64,
        text: String,
    },
    #[serde(skip)]
    ScanFinished {
        job: i64,
        text: String,
    },
    #[serde(skip)]
    JobFailed {
        job: i64,
        kind: JobKind,
        error: String,
    },
}

/// What an action produced, for the surface to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Scanned(ScanReport),
    Rescored(AgentsRescore),
    Created(Box<Created>),
    Skills(SkillSnapshot),
    ModelSet(Box<agents::Agent>),
    Routing(routing::Slots),
    Marked { count: u64 },
    KeyStored { key: String },
    Upgraded { agents: Vec<agents::Agent> },
    Reverted { agents: Vec<agents::Agent> },
}

impl Action {
    /// The public name (the serde tag) of this action.
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_string))
            .unwrap_or_default()
    }
}

/// The catalog scan every surface runs (the CLI, a session, the runtime's job): fetch or
/// load, store, rescore, then advise (see [`super::scanner::scan`]).
pub async fn scan(
    core: &Core,
    from: Option<&std::path::Path>,
    timeout: std::time::Duration,
) -> Result<ScanReport> {
    super::scanner::scan(core, from, timeout, false).await
}

/// `Action::SetSlot`: every slot (main, auxiliary, fallback) goes through the same checks.
/// Its own function so the scanner's auto-upgrade runs this very write on its job (the
/// whole of [`apply`] is not `Send`).
pub async fn set_slot(
    core: &Core,
    agent: &str,
    slot: &str,
    model: String,
    provider: Option<String>,
    base_url: Option<String>,
    force: bool,
) -> Result<Outcome> {
    let slot_key = routing::SlotKey::parse(slot)?;
    if model.trim() == routing::AUTO {
        return routing::set_auto(core, agent, &slot_key)
            .await
            .map(Outcome::Routing);
    }
    let route = RouteSlot {
        provider: provider.unwrap_or_else(|| OPENROUTER.into()),
        model,
        base_url,
    };
    let catalog = core.catalog().await?;
    routing::check_known(&catalog, &route)?;
    // Every slot (main, auxiliary, fallback) can spend money: one guard for all.
    agents::ensure_payable(core, &catalog, &route).await?;
    routing::check_needs(&catalog, &slot_key, &route.model, force)?;
    routing::set_slot(core, agent, &slot_key, route)
        .await
        .map(Outcome::Routing)
}

/// Applies a change to the workspace. Screen intents are resolved by the session first;
/// passing one here is a usage error.
pub async fn apply(core: &Core, action: Action) -> Result<Outcome> {
    match action {
        Action::ScanModels { from } => {
            let path = from.map(std::path::PathBuf::from);
            scan(core, path.as_deref(), std::time::Duration::from_secs(20))
                .await
                .map(Outcome::Scanned)
        }
        Action::Rescore => agents::rescore(core).await.map(Outcome::Rescored),
        Action::CreateAgent {
            name,
            role,
            category,
            skills,
            model,
        } => agents::create(
            core,
            NewAgent {
                name,
                role,
                category,
                skills,
                model,
                profile: None,
                is_default: false,
            },
        )
        .await
        .map(|c| Outcome::Created(Box::new(c))),
        Action::AddSkills { agent, skills } => {
            agents::edit_skills(core, &agent, SkillEdit::Add(skills))
                .await
                .map(Outcome::Skills)
        }
        Action::RemoveSkills { agent, skills } => {
            agents::edit_skills(core, &agent, SkillEdit::Remove(skills))
                .await
                .map(Outcome::Skills)
        }
        Action::SyncSkills { agent, desired } => {
            let edit = match desired {
                Some(d) => SkillEdit::Set(d),
                None => SkillEdit::Sync,
            };
            agents::edit_skills(core, &agent, edit)
                .await
                .map(Outcome::Skills)
        }
        Action::SetModel {
            agent,
            model,
            provider,
            base_url,
        } => {
            let catalog = core.catalog().await?;
            let slot = RouteSlot {
                provider: provider.unwrap_or_else(|| OPENROUTER.into()),
                model,
                base_url,
            };
            let free = !agents::is_paid(&catalog, &slot);
            agents::set_model(core, &agent, slot, "set by hand", free)
                .await
                .map(|a| Outcome::ModelSet(Box::new(a)))
        }
        Action::SetSlot {
            agent,
            slot,
            model,
            provider,
            base_url,
            force,
        } => set_slot(core, &agent, &slot, model, provider, base_url, force).await,
        Action::RemoveFallback { agent, index } => routing::remove_fallback(core, &agent, index)
            .await
            .map(Outcome::Routing),
        Action::ApplyRecommendation { agent } => {
            let agent =
                agent.ok_or_else(|| CoreError::usage("apply_recommendation needs an agent"))?;
            agents::apply_recommendation(core, &agent)
                .await
                .map(|a| Outcome::ModelSet(Box::new(a)))
        }
        Action::MarkRead { id } => notifications::mark_read(core, id)
            .await
            .map(|n| Outcome::Marked { count: n }),
        Action::MarkAllRead => notifications::mark_read(core, None)
            .await
            .map(|n| Outcome::Marked { count: n }),
        Action::SetOpenrouterKey { key } => {
            secrets::set_openrouter_key(core, &key, std::time::Duration::from_secs(15)).await?;
            Ok(Outcome::KeyStored {
                key: super::hermes::mask_key(key.trim()),
            })
        }
        Action::UpgradeAgent { agent, model } => {
            let agent = agent.ok_or_else(|| CoreError::usage("upgrade_agent needs an agent"))?;
            upgrade::upgrade_agent(core, &agent, model.as_deref())
                .await
                .map(|a| Outcome::Upgraded { agents: vec![a] })
        }
        Action::UpgradeAll => upgrade::upgrade_all(core)
            .await
            .map(|agents| Outcome::Upgraded { agents }),
        Action::RevertUpgrade { agent } => {
            let agent = agent.ok_or_else(|| {
                CoreError::usage("revert_upgrade needs an agent (revert_all reverts every agent)")
            })?;
            upgrade::revert(core, &agent)
                .await
                .map(|agents| Outcome::Reverted { agents })
        }
        Action::RevertAll => upgrade::revert_all(core)
            .await
            .map(|agents| Outcome::Reverted { agents }),
        Action::SwitchTab { .. }
        | Action::NextTab
        | Action::PrevTab
        | Action::MoveSelection { .. }
        | Action::SelectRow { .. }
        | Action::Activate
        | Action::Cancel
        | Action::ToggleHelp
        | Action::Quit
        | Action::ToggleAllSlots
        | Action::SelectAgent { .. }
        | Action::CycleAgent { .. }
        | Action::RemoveSelectedSlot
        | Action::AutoSelectedSlot
        | Action::OpenPicker
        | Action::SetPickerQuery { .. }
        | Action::TogglePickerFilter { .. }
        | Action::SetPickerFilters { .. }
        | Action::OpenSkillEditor
        | Action::ToggleSkill { .. }
        | Action::ChooseCategory { .. }
        | Action::SetWizardName { .. }
        | Action::WizardBack
        | Action::Refresh
        | Action::StartSetup { .. }
        | Action::FinishSetup
        | Action::OpenBulkUpgrade
        | Action::OpenUpgrade { .. }
        | Action::OpenRevertAll
        | Action::Resize { .. }
        | Action::ScanStarted { .. }
        | Action::ScanProgress { .. }
        | Action::ScanFinished { .. }
        | Action::JobFailed { .. } => Err(CoreError::usage(format!(
            "{:?} acts on a screen; send it to a session",
            action.name()
        ))),
    }
}
