//! Free-by-default onboarding: five steps (detect, catalog, score, agents, summary) that
//! leave three working agents (PM, Engineer and Hermes in the root profile) on the best
//! free models, with no key, no money and no network needed. The CLI, the TUI's first-run
//! wizard and the web's `/setup` all drive the same [`Onboarding`], one step at a time, so
//! they end in the same database and profile state. Running it again creates nothing;
//! running two flows at once still yields exactly three agents.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::agents::{self, NewAgent};
use super::catalog::{self, Catalog};
use super::db;
use super::detect::{self, Detection};
use super::error::{CoreError, Result};
use super::hermes::{self, ConfigDoc, Profile, RouteSlot};
use super::hermes_version;
use super::models;
use super::openrouter::FreeTier;
use super::scoring::{Pick, Role};
use super::secrets;
use super::{Core, time};

/// The three agents every workspace starts with: (agent name, role, profile).
pub const DEFAULT_AGENTS: [(&str, Role, &str); 3] = [
    ("pm", Role::Pm, "pm"),
    ("engineer", Role::Engineer, "engineer"),
    ("hermes", Role::Hermes, hermes::DEFAULT_PROFILE),
];

/// Auxiliary tasks that suit a small local model.
pub const LOCAL_AUX_TASKS: [&str; 2] = ["compression", "title_generation"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    Cli,
    Tui,
    Web,
}

impl Flow {
    fn as_str(self) -> &'static str {
        match self {
            Flow::Cli => "cli",
            Flow::Tui => "tui",
            Flow::Web => "web",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupStep {
    Detect,
    Catalog,
    Score,
    Agents,
    Summary,
}

impl SetupStep {
    pub const ALL: [SetupStep; 5] = [
        SetupStep::Detect,
        SetupStep::Catalog,
        SetupStep::Score,
        SetupStep::Agents,
        SetupStep::Summary,
    ];

    pub fn title(self) -> &'static str {
        match self {
            SetupStep::Detect => "Detect the environment",
            SetupStep::Catalog => "Load the model catalog",
            SetupStep::Score => "Score free models per role",
            SetupStep::Agents => "Create the agents",
            SetupStep::Summary => "Summary",
        }
    }

    pub fn number(self) -> usize {
        SetupStep::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    pub step: SetupStep,
    pub ok: bool,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub name: String,
    pub role: Role,
    pub model: String,
    pub skills: Vec<String>,
    pub profile_dir: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limits {
    pub per_minute: u32,
    pub per_day: u32,
    pub per_day_with_credits: u32,
    pub text: String,
    pub upgrade: String,
}

pub fn limits() -> Limits {
    Limits {
        per_minute: 20,
        per_day: 50,
        per_day_with_credits: 1000,
        text: "Free models: 20 requests/minute and 50 requests/day (1,000/day once 10 credits are bought); the day is the UTC day.".into(),
        upgrade: "To upgrade: nxr config set openrouter-key KEY, then nxr upgrade".into(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InitReport {
    /// True when an earlier run had finished: nothing was created.
    pub already_done: bool,
    pub steps: Vec<StepReport>,
    pub detection: Detection,
    pub agents: Vec<AgentSummary>,
    pub limits: Limits,
    pub key: Option<String>,
    pub tier: Option<FreeTier>,
    pub completed_at: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// An OpenRouter key to validate and store.
    pub key: Option<String>,
    pub fetch_timeout: Option<Duration>,
}

/// What the `onboarding` row says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub flow: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub agents_created: Vec<String>,
    pub initial_free_models: serde_json::Value,
}

pub async fn record(core: &Core) -> Result<Option<Record>> {
    let conn = core.db.conn().await?;
    let mut rows = conn
        .query(
            "SELECT flow, started_at, completed_at, agents_created, initial_free_models FROM onboarding WHERE workspace_id = 'default'",
            (),
        )
        .await?;
    let Some(row) = rows.next().await? else {
        return Ok(None);
    };
    Ok(Some(Record {
        flow: db::text(&row, 0)?,
        started_at: db::text(&row, 1)?,
        completed_at: db::opt_text(&row, 2)?,
        agents_created: serde_json::from_str(&db::text(&row, 3)?).unwrap_or_default(),
        initial_free_models: serde_json::from_str(&db::text(&row, 4)?)
            .unwrap_or(serde_json::Value::Null),
    }))
}

/// True once a flow has finished.
pub async fn completed(core: &Core) -> Result<bool> {
    Ok(record(core)
        .await?
        .is_some_and(|r| r.completed_at.is_some()))
}

/// One onboarding run, advanced a step at a time. A session clones it into the task that
/// runs a step, and shows its own copy meanwhile.
#[derive(Clone)]
pub struct Onboarding {
    flow: Flow,
    opts: InitOptions,
    next: Option<SetupStep>,
    already_done: bool,
    steps: Vec<StepReport>,
    detection: Detection,
    catalog: Option<Catalog>,
    picks: Vec<Pick>,
    agents: Vec<AgentSummary>,
    tier: Option<FreeTier>,
    completed_at: Option<String>,
}

impl Onboarding {
    pub fn new(flow: Flow, opts: InitOptions) -> Onboarding {
        Onboarding {
            flow,
            opts,
            next: Some(SetupStep::Detect),
            already_done: false,
            steps: Vec::new(),
            detection: Detection::default(),
            catalog: None,
            picks: Vec::new(),
            agents: Vec::new(),
            tier: None,
            completed_at: None,
        }
    }

    pub fn flow(&self) -> Flow {
        self.flow
    }

    pub fn next_step(&self) -> Option<SetupStep> {
        self.next
    }

    pub fn steps(&self) -> &[StepReport] {
        &self.steps
    }

    pub fn done(&self) -> bool {
        self.next.is_none()
    }

    /// Runs the next step. A step that fails stops the run with the error; nothing of a
    /// half-created agent stays behind (agent creation is all-or-nothing).
    pub async fn step(&mut self, core: &Core) -> Result<Option<StepReport>> {
        let Some(step) = self.next else {
            return Ok(None);
        };
        let report = match step {
            SetupStep::Detect => self.detect(core).await?,
            SetupStep::Catalog => self.load_catalog(core).await?,
            SetupStep::Score => self.score(core).await?,
            SetupStep::Agents => self.create_agents(core).await?,
            SetupStep::Summary => self.summary(core).await?,
        };
        self.next = match step {
            _ if self.already_done => None,
            SetupStep::Detect => Some(SetupStep::Catalog),
            SetupStep::Catalog => Some(SetupStep::Score),
            SetupStep::Score => Some(SetupStep::Agents),
            SetupStep::Agents => Some(SetupStep::Summary),
            SetupStep::Summary => None,
        };
        self.steps.push(report.clone());
        Ok(Some(report))
    }

    async fn detect(&mut self, core: &Core) -> Result<StepReport> {
        // Claim the workspace's onboarding row (or find that a flow already finished).
        let (_conn, tx) = core.db.write().await?;
        let done = db::scalar_i64(
            &tx,
            "SELECT 1 FROM onboarding WHERE workspace_id = 'default' AND completed_at IS NOT NULL",
            (),
        )
        .await?
        .is_some();
        if !done {
            tx.execute(
                "INSERT INTO onboarding (workspace_id, flow, started_at) VALUES ('default', ?1, ?2)
                 ON CONFLICT(workspace_id) DO NOTHING",
                libsql::params![self.flow.as_str(), time::now()],
            )
            .await?;
            db::touch(&tx, "onboarding").await?;
        }
        tx.commit().await?;
        if done {
            self.already_done = true;
            let conn = core.db.conn().await?;
            self.agents = agents::list(&conn)
                .await?
                .into_iter()
                .filter(|a| a.is_default)
                .map(|a| summary_of(core, &a))
                .collect();
            self.completed_at = record(core).await?.and_then(|r| r.completed_at);
            return Ok(StepReport {
                step: SetupStep::Detect,
                ok: true,
                text: "already set up: nothing to do (agents are listed below)".into(),
            });
        }
        if let Some(key) = self.opts.key.clone() {
            let key = secrets::check_key_form(&key)?.to_string();
            let or = core.openrouter(Duration::from_secs(10))?;
            let info = or.key(&key).await?;
            let credits = or.credits(&key).await.unwrap_or(None);
            self.tier = Some(FreeTier::of(&info, credits.as_ref()));
            secrets::store(core, &key).await?;
            secrets::record_account(core, &key, &info, credits.as_ref()).await?;
        }
        self.detection = detect::detect(&core.endpoints.ollama, Duration::from_millis(1500)).await;
        if let Some(q) = self.detection.ollama.as_ref().and_then(|o| o.qwen.clone()) {
            core.set_setting("ollama_model", &q).await?;
        }
        let d = &self.detection;
        let mut text = format!(
            "Ollama: {}; speech to text: {}; hermes CLI: {}{}",
            match &d.ollama {
                Some(o) => format!(
                    "found at {} ({} models{})",
                    o.url,
                    o.models.len(),
                    o.qwen
                        .as_ref()
                        .map(|q| format!(", using {q}"))
                        .unwrap_or_default()
                ),
                None => "not found".into(),
            },
            d.whisper.as_deref().unwrap_or("not found"),
            match &d.hermes {
                Some(h) => h
                    .version
                    .clone()
                    .map(|v| format!("hermes-agent {v}"))
                    .unwrap_or_else(|| "found".into()),
                None => "not found (pip install hermes-agent)".into(),
            },
            if self.opts.key.is_some() {
                "; key validated"
            } else {
                ""
            }
        );
        let (_conn, tx) = core.db.write().await?;
        tx.execute(
            "UPDATE onboarding SET key_provided = ?1, ollama_detected = ?2, ollama_url = ?3, ollama_models = ?4,
                 whisper_detected = ?5, whisper_source = ?6, hermes_cli_detected = ?7, hermes_version = ?8
             WHERE workspace_id = 'default' AND completed_at IS NULL",
            libsql::params![
                self.opts.key.is_some() as i64,
                d.ollama.is_some() as i64,
                d.ollama.as_ref().map(|o| o.url.clone()),
                serde_json::to_string(&d.ollama.as_ref().map(|o| o.models.clone()).unwrap_or_default()).unwrap_or_default(),
                d.whisper.is_some() as i64,
                d.whisper.clone(),
                d.hermes.is_some() as i64,
                d.hermes.as_ref().and_then(|h| h.version.clone())
            ],
        )
        .await?;
        tx.commit().await?;
        // Outside the verified range: said once, in the step everyone sees, and setup goes on.
        if let Some(v) = d.hermes.as_ref().and_then(|h| h.version.as_deref())
            && let Some(w) = hermes_version::warn_once(core, v).await?
        {
            text.push_str(&format!(". Warning: {w}"));
        }
        Ok(StepReport {
            step: SetupStep::Detect,
            ok: true,
            text,
        })
    }

    async fn load_catalog(&mut self, core: &Core) -> Result<StepReport> {
        let timeout = self.opts.fetch_timeout.unwrap_or(Duration::from_secs(4));
        let fresh = match core.openrouter(timeout)?.models().await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::info!(error = %e, "onboarding: using the stored or bundled catalog");
                None
            }
        };
        let text = match fresh {
            Some(c) => {
                let (_conn, tx) = core.db.write().await?;
                let id = catalog::store(&tx, &c).await?;
                tx.commit().await?;
                let text = format!(
                    "fetched {} models ({} free) from OpenRouter",
                    c.models.len(),
                    c.free_count()
                );
                self.catalog = Some(Catalog { id: Some(id), ..c });
                text
            }
            None => {
                let c = core.catalog().await?;
                let text = format!(
                    "offline: using the {} catalog of {} ({} models, {} free)",
                    if c.source == catalog::BUNDLED_SOURCE {
                        "bundled"
                    } else {
                        "stored"
                    },
                    c.fetched_at.get(..10).unwrap_or(&c.fetched_at),
                    c.models.len(),
                    c.free_count()
                );
                self.catalog = Some(c);
                text
            }
        };
        Ok(StepReport {
            step: SetupStep::Catalog,
            ok: true,
            text,
        })
    }

    async fn score(&mut self, core: &Core) -> Result<StepReport> {
        let report = models::rescore(core).await?;
        self.picks = report.best.clone();
        let text = DEFAULT_AGENTS
            .iter()
            .filter_map(|(_, role, _)| self.picks.iter().find(|p| p.role == *role))
            .map(|p| {
                format!(
                    "{}: {}{}",
                    p.role.label(),
                    p.model,
                    p.score.map(|s| format!(" ({s:.1})")).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        Ok(StepReport {
            step: SetupStep::Score,
            ok: true,
            text: format!("scored {} models for 6 roles. {text}", report.models),
        })
    }

    async fn create_agents(&mut self, core: &Core) -> Result<StepReport> {
        let mut made = Vec::new();
        let mut kept = Vec::new();
        for (name, role, profile) in DEFAULT_AGENTS {
            let conn = core.db.conn().await?;
            if let Ok(a) = agents::find(&conn, name).await {
                kept.push(a.name.clone());
                continue;
            }
            let result = agents::create(
                core,
                NewAgent {
                    name: name.to_string(),
                    role: Some(role),
                    profile: Some(profile.to_string()),
                    is_default: true,
                    ..NewAgent::default()
                },
            )
            .await;
            match result {
                Ok(c) => made.push(c.agent.name.clone()),
                // Another flow created it a moment ago: that is the same agent.
                Err(CoreError::Usage(m)) if m.contains("already exists") => {
                    kept.push(name.to_string())
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(q) = self.detection.ollama.as_ref().and_then(|o| o.qwen.clone()) {
            let base = format!(
                "{}/v1",
                self.detection
                    .ollama
                    .as_ref()
                    .map(|o| o.url.clone())
                    .unwrap_or_default()
            );
            for (_, _, profile) in DEFAULT_AGENTS {
                let p = Profile::resolve(&core.paths.hermes_home, profile);
                let _lock = p.lock()?;
                let mut config = ConfigDoc::load(&p.config_path())?;
                for task in LOCAL_AUX_TASKS {
                    config.set_aux(
                        task,
                        &RouteSlot {
                            provider: "custom".into(),
                            model: q.clone(),
                            base_url: Some(base.clone()),
                        },
                    )?;
                }
                config.save()?;
            }
        }
        let conn = core.db.conn().await?;
        self.agents = agents::list(&conn)
            .await?
            .into_iter()
            .filter(|a| DEFAULT_AGENTS.iter().any(|(n, _, _)| *n == a.name))
            .map(|a| summary_of(core, &a))
            .collect();
        let text = if kept.is_empty() {
            format!("created {}", made.join(", "))
        } else if made.is_empty() {
            format!("{} already existed: nothing created", kept.join(", "))
        } else {
            format!(
                "created {}; {} already existed",
                made.join(", "),
                kept.join(", ")
            )
        };
        let local = if self
            .detection
            .ollama
            .as_ref()
            .is_some_and(|o| o.qwen.is_some())
        {
            "; compression and title generation run on local Ollama"
        } else {
            ""
        };
        Ok(StepReport {
            step: SetupStep::Agents,
            ok: true,
            text: format!("{text}{local}"),
        })
    }

    async fn summary(&mut self, core: &Core) -> Result<StepReport> {
        let now = time::now();
        let created: Vec<String> = self.agents.iter().map(|a| a.name.clone()).collect();
        let models: serde_json::Map<String, serde_json::Value> = self
            .agents
            .iter()
            .map(|a| (a.name.clone(), serde_json::Value::String(a.model.clone())))
            .collect();
        let (_conn, tx) = core.db.write().await?;
        tx.execute(
            "UPDATE onboarding SET completed_at = ?1, agents_created = ?2, initial_free_models = ?3
             WHERE workspace_id = 'default' AND completed_at IS NULL",
            libsql::params![
                now.as_str(),
                serde_json::to_string(&created).unwrap_or_default(),
                serde_json::Value::Object(models).to_string()
            ],
        )
        .await?;
        db::touch(&tx, "onboarding").await?;
        tx.commit().await?;
        self.completed_at = record(core).await?.and_then(|r| r.completed_at);
        Ok(StepReport {
            step: SetupStep::Summary,
            ok: true,
            // The limits are their own part of the summary (`report().limits`); saying them
            // here too printed the sentence twice.
            text: format!("{} agents ready.", self.agents.len()),
        })
    }

    pub fn report(&self, core: &Core) -> InitReport {
        InitReport {
            already_done: self.already_done,
            steps: self.steps.clone(),
            detection: self.detection.clone(),
            agents: self.agents.clone(),
            limits: limits(),
            key: secrets::openrouter_key(core).map(|k| hermes::mask_key(&k)),
            tier: self.tier.clone(),
            completed_at: self.completed_at.clone(),
        }
    }

    pub fn picks(&self) -> &[Pick] {
        &self.picks
    }

    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_ref()
    }
}

fn summary_of(core: &Core, a: &agents::Agent) -> AgentSummary {
    AgentSummary {
        name: a.name.clone(),
        role: a.role,
        model: a.model.clone(),
        skills: a.skillset.clone(),
        profile_dir: Profile::resolve(&core.paths.hermes_home, &a.profile)
            .dir
            .display()
            .to_string(),
    }
}

/// Runs every step, telling `progress` before and after each.
pub async fn run(
    core: &Core,
    flow: Flow,
    opts: InitOptions,
    progress: &mut (dyn FnMut(SetupStep, Option<&StepReport>) + Send),
) -> Result<InitReport> {
    let mut o = Onboarding::new(flow, opts);
    while let Some(step) = o.next_step() {
        progress(step, None);
        let r = o.step(core).await?;
        progress(step, r.as_ref());
    }
    Ok(o.report(core))
}
