//! Every change a person can ask for, from any surface. A key press, a web form and a CLI
//! subcommand all become an [`Action`]: a domain operation ([`Op`], which goes through
//! [`apply`], so the same request gives the same database and profile state whichever surface
//! it came from), a screen intent ([`Intent`], which a session resolves against what is on
//! screen) or, from the runtime only, a job's report ([`JobEvent`]).

use serde::{Deserialize, Serialize};

use super::Core;
use super::agents::{self, AgentsRescore, Created, NewAgent, SkillEdit};
use super::error::{CoreError, Result};
use super::hermes::{OPENROUTER, RouteSlot};
use super::models::{self, ScanReport};
use super::notifications;
use super::picker::{FilterKind, Filters};
use super::routing;
use super::runtime::JobKind;
use super::scoring::Role;
use super::secrets;
use super::skills::{SkillSnapshot, Template};
use super::upgrade;
use super::view::Tab;

/// A domain operation: what [`apply`] executes, whoever asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Op {
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
}

/// A screen intent: it acts on what is selected on screen, so only a session can apply it
/// (the session turns it into an [`Op`] on the selected agent, slot or row when it needs one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Intent {
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
}

/// What a background job reports (past tense). Not a user action: it has no `Deserialize`,
/// so no form or API body can name one; only the runtime sends them.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// A job of the runtime began (today only the catalog scan).
    ScanStarted {
        job: i64,
    },
    ScanProgress {
        job: i64,
        text: String,
    },
    ScanFinished {
        job: i64,
        text: String,
    },
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

/// Anything a session applies. Its JSON is the inner [`Op`]'s or [`Intent`]'s own
/// (`{"action": "set_model", ...}`), so forms, the API and scripts name either kind the same
/// way; a [`JobEvent`] has no JSON name and cannot be read from one.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Op(Op),
    Intent(Intent),
    Event(JobEvent),
}

impl From<Op> for Action {
    fn from(op: Op) -> Action {
        Action::Op(op)
    }
}

impl From<Intent> for Action {
    fn from(intent: Intent) -> Action {
        Action::Intent(intent)
    }
}

impl From<JobEvent> for Action {
    fn from(event: JobEvent) -> Action {
        Action::Event(event)
    }
}

impl PartialEq<Op> for Action {
    fn eq(&self, other: &Op) -> bool {
        matches!(self, Action::Op(op) if op == other)
    }
}

impl PartialEq<Intent> for Action {
    fn eq(&self, other: &Intent) -> bool {
        matches!(self, Action::Intent(i) if i == other)
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Action::Op(op) => op.serialize(s),
            Action::Intent(i) => i.serialize(s),
            Action::Event(_) => Err(serde::ser::Error::custom(
                "a job event is not an action anyone can send",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Action, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        // The tag decides the kind: an op's error (a missing field) is about the op, and only
        // a name that is neither gets the "unknown action" answer.
        let op_err = match Op::deserialize(&v) {
            Ok(op) => return Ok(Action::Op(op)),
            Err(e) => e,
        };
        let intent_err = match Intent::deserialize(&v) {
            Ok(i) => return Ok(Action::Intent(i)),
            Err(e) => e,
        };
        let unknown = |e: &serde_json::Error| e.to_string().starts_with("unknown variant");
        Err(D::Error::custom(
            match (unknown(&op_err), unknown(&intent_err)) {
                (false, _) => op_err.to_string(),
                (true, false) => intent_err.to_string(),
                (true, true) => match v.get("action").and_then(|a| a.as_str()) {
                    Some(name) => format!("unknown action {:?}", super::text::clean_max(name, 60)),
                    None => "the body names no action".to_string(),
                },
            },
        ))
    }
}

fn tag<T: Serialize>(t: &T) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_string))
        .unwrap_or_default()
}

impl Action {
    /// The public name (the serde tag) of this action; a job event's name is for logs only.
    pub fn name(&self) -> String {
        match self {
            Action::Op(op) => tag(op),
            Action::Intent(i) => tag(i),
            Action::Event(e) => e.name().to_string(),
        }
    }
}

impl Op {
    /// The public name (the serde tag) of this operation.
    pub fn name(&self) -> String {
        tag(self)
    }
}

impl JobEvent {
    pub fn name(&self) -> &'static str {
        match self {
            JobEvent::ScanStarted { .. } => "scan_started",
            JobEvent::ScanProgress { .. } => "scan_progress",
            JobEvent::ScanFinished { .. } => "scan_finished",
            JobEvent::JobFailed { .. } => "job_failed",
        }
    }
}

/// The catalog scan every surface runs (the CLI, a session, the runtime's job): fetch or
/// load, store, rescore, then follow the new scores where agents asked to.
pub async fn scan(
    core: &Core,
    from: Option<&std::path::Path>,
    timeout: std::time::Duration,
) -> Result<ScanReport> {
    let report = models::scan(core, from, timeout).await?;
    agents::after_rescore(core, &report.rescore).await?;
    Ok(report)
}

/// Applies a change to the workspace.
pub async fn apply(core: &Core, op: Op) -> Result<Outcome> {
    match op {
        Op::ScanModels { from } => {
            let path = from.map(std::path::PathBuf::from);
            scan(core, path.as_deref(), std::time::Duration::from_secs(20))
                .await
                .map(Outcome::Scanned)
        }
        Op::Rescore => agents::rescore(core).await.map(Outcome::Rescored),
        Op::CreateAgent {
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
        Op::AddSkills { agent, skills } => {
            agents::edit_skills(core, &agent, SkillEdit::Add(skills))
                .await
                .map(Outcome::Skills)
        }
        Op::RemoveSkills { agent, skills } => {
            agents::edit_skills(core, &agent, SkillEdit::Remove(skills))
                .await
                .map(Outcome::Skills)
        }
        Op::SyncSkills { agent, desired } => {
            let edit = match desired {
                Some(d) => SkillEdit::Set(d),
                None => SkillEdit::Sync,
            };
            agents::edit_skills(core, &agent, edit)
                .await
                .map(Outcome::Skills)
        }
        Op::SetModel {
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
        Op::SetSlot {
            agent,
            slot,
            model,
            provider,
            base_url,
            force,
        } => {
            let slot_key = routing::SlotKey::parse(&slot)?;
            if model.trim() == routing::AUTO {
                return routing::set_auto(core, &agent, &slot_key)
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
            routing::set_slot(core, &agent, &slot_key, route)
                .await
                .map(Outcome::Routing)
        }
        Op::RemoveFallback { agent, index } => routing::remove_fallback(core, &agent, index)
            .await
            .map(Outcome::Routing),
        Op::ApplyRecommendation { agent } => {
            let agent =
                agent.ok_or_else(|| CoreError::usage("apply_recommendation needs an agent"))?;
            agents::apply_recommendation(core, &agent)
                .await
                .map(|a| Outcome::ModelSet(Box::new(a)))
        }
        Op::MarkRead { id } => notifications::mark_read(core, id)
            .await
            .map(|n| Outcome::Marked { count: n }),
        Op::MarkAllRead => notifications::mark_read(core, None)
            .await
            .map(|n| Outcome::Marked { count: n }),
        Op::SetOpenrouterKey { key } => {
            secrets::set_openrouter_key(core, &key, std::time::Duration::from_secs(15)).await?;
            Ok(Outcome::KeyStored {
                key: super::hermes::mask_key(key.trim()),
            })
        }
        Op::UpgradeAgent { agent, model } => {
            let agent = agent.ok_or_else(|| CoreError::usage("upgrade_agent needs an agent"))?;
            upgrade::upgrade_agent(core, &agent, model.as_deref())
                .await
                .map(|a| Outcome::Upgraded { agents: vec![a] })
        }
        Op::UpgradeAll => upgrade::upgrade_all(core)
            .await
            .map(|agents| Outcome::Upgraded { agents }),
        Op::RevertUpgrade { agent } => {
            let agent = agent.ok_or_else(|| {
                CoreError::usage("revert_upgrade needs an agent (revert_all reverts every agent)")
            })?;
            upgrade::revert(core, &agent)
                .await
                .map(|agents| Outcome::Reverted { agents })
        }
        Op::RevertAll => upgrade::revert_all(core)
            .await
            .map(|agents| Outcome::Reverted { agents }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: serde_json::Value) -> std::result::Result<Action, String> {
        serde_json::from_value::<Action>(v).map_err(|e| e.to_string())
    }

    #[test]
    fn one_json_shape_names_ops_and_intents_and_never_a_job_event() {
        let op = read(serde_json::json!({"action": "set_model", "agent": "pm", "model": "m"}));
        assert!(matches!(op, Ok(Action::Op(Op::SetModel { .. }))), "{op:?}");
        let intent = read(serde_json::json!({"action": "switch_tab", "tab": "agents"}));
        assert_eq!(
            intent,
            Ok(Action::Intent(Intent::SwitchTab { tab: Tab::Agents }))
        );
        // The JSON of each kind is the inner enum's own, so it reads back the same.
        for a in [op, intent].into_iter().flatten() {
            let json = serde_json::to_value(&a).unwrap_or_default();
            assert_eq!(read(json), Ok(a));
        }
        for forged in [
            serde_json::json!({"action": "scan_finished", "job": 1, "text": "done"}),
            serde_json::json!({"action": "job_failed", "job": 1, "kind": "scan", "error": "x"}),
            serde_json::json!({"action": "resize", "width": 1, "height": 1}),
        ] {
            let e = read(forged).expect_err("not an action anyone can send");
            assert!(e.contains("unknown action"), "{e}");
        }
        let e = read(serde_json::json!({"action": "set_model", "agent": "pm"}))
            .expect_err("missing model");
        assert!(e.contains("model"), "{e}");
        assert!(serde_json::to_value(Action::from(JobEvent::ScanStarted { job: 1 })).is_err());
    }
}
