//! Every change a person can ask for, from any surface. A key press, a web form and a CLI
//! subcommand all become one of these and go through [`apply`], so the same request gives
//! the same database and profile state whichever surface it came from.

use serde::{Deserialize, Serialize};

use super::Core;
use super::agents::{self, AgentsRescore, Created, NewAgent, SkillEdit};
use super::error::Result;
use super::hermes::RouteSlot;
use super::models::{self, ScanReport};
use super::scoring::Role;
use super::skills::{SkillSnapshot, Template};

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
}

pub async fn apply(core: &Core, action: Action) -> Result<Outcome> {
    match action {
        Action::ScanModels { from } => {
            let path = from.map(std::path::PathBuf::from);
            models::scan(core, path.as_deref(), std::time::Duration::from_secs(20))
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
            let free = catalog.get(&model).is_none_or(|m| m.is_free());
            let slot = RouteSlot {
                provider: provider.unwrap_or_else(|| "openrouter".into()),
                model,
                base_url,
            };
            agents::set_model(core, &agent, slot, "set by hand", free)
                .await
                .map(|a| Outcome::ModelSet(Box::new(a)))
        }
    }
}
