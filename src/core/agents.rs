//! Agents: one nxr agent is one Hermes profile plus its row in `agents`. Creating, listing,
//! recommending models, rescoring and editing skills all go through here, whichever
//! surface asked.

use std::fs;

use serde::Serialize;

use super::catalog::{self, Catalog};
use super::db;
use super::error::{CoreError, Result};
use super::hermes::{self, ConfigDoc, Profile, RouteSlot};
use super::models::{self, RescoreReport};
use super::scoring::{Fallback, Pick, Role, Scorer};
use super::skills::{self, SkillSnapshot, Template};
use super::{Core, time};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    pub id: i64,
    pub name: String,
    pub profile: String,
    pub role: Role,
    pub model: String,
    pub provider: String,
    pub skillset: Vec<String>,
    pub model_score: Option<f64>,
    pub model_auto_assigned: bool,
    pub workspace_id: String,
    pub is_default: bool,
    pub created_at: String,
    pub updated_at: String,
}

const SELECT: &str = "SELECT id, name, profile, role, model, provider, skillset, model_score,
    model_auto_assigned, workspace_id, is_default, created_at, updated_at FROM agents";

fn from_row(row: &libsql::Row) -> Result<Agent> {
    Ok(Agent {
        id: db::int(row, 0)?,
        name: db::text(row, 1)?,
        profile: db::text(row, 2)?,
        role: Role::parse(&db::text(row, 3)?).unwrap_or(Role::Custom),
        model: db::text(row, 4)?,
        provider: db::text(row, 5)?,
        skillset: serde_json::from_str(&db::text(row, 6)?).unwrap_or_default(),
        model_score: db::opt_real(row, 7)?,
        model_auto_assigned: db::int(row, 8)? != 0,
        workspace_id: db::text(row, 9)?,
        is_default: db::int(row, 10)? != 0,
        created_at: db::text(row, 11)?,
        updated_at: db::text(row, 12)?,
    })
}

pub async fn list(conn: &libsql::Connection) -> Result<Vec<Agent>> {
    let mut rows = conn.query(&format!("{SELECT} ORDER BY id"), ()).await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(from_row(&row)?);
    }
    Ok(out)
}

/// Finds an agent by name, profile or numeric id.
pub async fn find(conn: &libsql::Connection, key: &str) -> Result<Agent> {
    let mut rows = conn
        .query(
            &format!("{SELECT} WHERE name = ?1 OR profile = ?1 OR CAST(id AS TEXT) = ?1 ORDER BY (name = ?1) DESC LIMIT 1"),
            [key],
        )
        .await?;
    match rows.next().await? {
        Some(row) => from_row(&row),
        None => Err(CoreError::NotFound {
            what: "agent",
            name: catalog::clip(key, 80),
        }),
    }
}

/// What `agents create` asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewAgent {
    pub name: String,
    pub role: Option<Role>,
    /// The skill template; defaults to the role's own.
    pub category: Option<Template>,
    /// Skills to install instead of the template's.
    pub skills: Option<Vec<String>>,
    /// A model chosen by hand instead of the scorer's pick.
    pub model: Option<String>,
    /// The Hermes profile; defaults to the name. Onboarding gives Hermes `default`.
    pub profile: Option<String>,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Created {
    pub agent: Agent,
    pub pick: Pick,
    pub profile_dir: String,
}

impl Created {
    pub fn summary(&self) -> String {
        let how = match self.pick.fallback {
            Some(Fallback::FreeRouter) => " (fallback: OpenRouter's free router)".to_string(),
            Some(Fallback::Ollama) => " (fallback: local Ollama)".to_string(),
            None => match self.pick.score {
                Some(s) if self.agent.model_auto_assigned => format!(" (score {s:.1})"),
                _ => String::new(),
            },
        };
        format!(
            "created {} ({}) on {}{how} with {} skills in {}",
            self.agent.name,
            self.agent.role,
            self.agent.model,
            self.agent.skillset.len(),
            self.profile_dir
        )
    }
}

/// Creates the agent in the database and as a Hermes profile. Either both happen or neither:
/// the database row is inserted inside a write transaction that commits only after the
/// profile files are written, and the files are put back if anything fails.
pub async fn create(core: &Core, new: NewAgent) -> Result<Created> {
    let profile_name = new.profile.clone().unwrap_or_else(|| new.name.clone());
    if profile_name == hermes::DEFAULT_PROFILE && new.profile.is_some() {
        // Only onboarding's Hermes agent lives in the root profile; its name may be "hermes".
        if new.name.is_empty() || new.name.len() > 64 {
            hermes::validate_profile_name(&new.name)?;
        }
    } else {
        hermes::validate_profile_name(&new.name)?;
        hermes::validate_profile_name(&profile_name)?;
    }
    let template = new
        .category
        .unwrap_or_else(|| Template::for_role(new.role.unwrap_or(Role::Custom)));
    let role = new.role.unwrap_or_else(|| template.role());
    let profile = Profile::resolve(&core.paths.hermes_home, &profile_name);

    let catalog = core.catalog().await?;
    let pick = pick_model(core, &catalog, role, new.model.as_deref()).await?;
    let desired = {
        let config = ConfigDoc::load(&profile.config_path())?;
        let wanted = new.skills.clone().unwrap_or_else(|| template.skill_names());
        skills::validate_desired(&profile, &config, &wanted)?
    };

    let (conn, tx) = core.db.write().await?;
    let taken = db::scalar_i64(
        &tx,
        "SELECT id FROM agents WHERE name = ?1 OR profile = ?2",
        libsql::params![new.name.as_str(), profile_name.as_str()],
    )
    .await?;
    if taken.is_some() {
        tx.rollback().await?;
        return Err(CoreError::usage(format!(
            "an agent named {:?} (or using profile {:?}) already exists; `nxr --no-tui agents list` shows it",
            new.name, profile_name
        )));
    }
    let now = time::now();
    let auto = new.model.is_none();
    let score = pick.score;
    tx.execute(
        "INSERT INTO agents (name, profile, model, provider, created_at, updated_at, role, skillset,
                             model_score, model_auto_assigned, is_default)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10)",
        libsql::params![
            new.name.as_str(),
            profile_name.as_str(),
            pick.model.as_str(),
            pick.provider.as_str(),
            now.as_str(),
            role.as_str(),
            serde_json::to_string(&desired).unwrap_or_else(|_| "[]".into()),
            score,
            auto as i64,
            new.is_default as i64
        ],
    )
    .await?;
    let id = tx.last_insert_rowid();
    let is_free = catalog.get(&pick.model).is_none_or(|m| m.is_free());
    tx.execute(
        "INSERT INTO agent_model_history (agent_id, model, provider, is_free, reason, assigned_at)
         VALUES (?1, ?2, ?3, ?4, 'created', ?5)",
        libsql::params![
            id,
            pick.model.as_str(),
            pick.provider.as_str(),
            is_free as i64,
            now.as_str()
        ],
    )
    .await?;
    db::touch(&tx, "agents").await?;

    let undo = match write_profile(&profile, &pick, &desired) {
        Ok(u) => u,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    if let Some(key) = super::secrets::openrouter_key(core)
        && let Err(e) = hermes::set_env(&profile.env_path(), super::secrets::KEY_VAR, &key)
    {
        tx.rollback().await?;
        undo.undo();
        return Err(e);
    }
    if let Err(e) = tx.commit().await {
        undo.undo();
        return Err(e.into());
    }
    let agent = find(&conn, &new.name).await?;
    Ok(Created {
        agent,
        pick,
        profile_dir: profile.dir.display().to_string(),
    })
}

async fn pick_model(
    core: &Core,
    catalog: &Catalog,
    role: Role,
    model: Option<&str>,
) -> Result<Pick> {
    let scorer = Scorer::new(catalog);
    match model {
        None => Ok(scorer.best_free(role, &core.ollama_model().await?)),
        Some(id) => {
            let idx = catalog.models.iter().position(|m| m.id == id).ok_or_else(|| {
                CoreError::usage(format!(
                    "model {:?} is not in the catalog; `nxr --no-tui models roster` lists free ones",
                    catalog::clip(id, 120)
                ))
            })?;
            let s = scorer.score(idx as u32, role);
            Ok(Pick {
                role,
                model: id.to_string(),
                provider: "openrouter".into(),
                base_url: None,
                score: Some(s.total),
                sub: Some(s.sub),
                fallback: None,
            })
        }
    }
}

/// Undo for a profile write: what existed before.
struct ProfileUndo {
    profile: Profile,
    dir_existed: bool,
    config_before: Option<String>,
    skills: skills::SyncUndo,
}

impl ProfileUndo {
    fn undo(self) {
        if !self.dir_existed && self.profile.name != hermes::DEFAULT_PROFILE {
            let _ = fs::remove_dir_all(&self.profile.dir);
            return;
        }
        self.skills.undo();
        let path = self.profile.config_path();
        match self.config_before {
            Some(t) => {
                let _ = hermes::atomic_write(&path, t.as_bytes(), None);
            }
            None => {
                let _ = fs::remove_file(&path);
            }
        }
    }
}

fn main_slot(pick: &Pick) -> RouteSlot {
    RouteSlot {
        provider: pick.provider.clone(),
        model: pick.model.clone(),
        base_url: pick.base_url.clone(),
    }
}

fn write_profile(profile: &Profile, pick: &Pick, desired: &[String]) -> Result<ProfileUndo> {
    let dir_existed = profile.dir.exists();
    let _lock = profile.lock()?;
    let config_before = fs::read_to_string(profile.config_path()).ok();
    let mut undo = ProfileUndo {
        profile: profile.clone(),
        dir_existed,
        config_before,
        skills: skills::SyncUndo::default(),
    };
    let result = (|| -> Result<skills::SyncUndo> {
        let mut config = ConfigDoc::load(&profile.config_path())?;
        config.set_main(&main_slot(pick))?;
        if config.fallback_providers().is_empty() && pick.model != catalog::FREE_ROUTER_ID {
            config.set_fallback_providers(&[RouteSlot {
                provider: "openrouter".into(),
                model: catalog::FREE_ROUTER_ID.into(),
                base_url: None,
            }])?;
        }
        config.save()?;
        skills::apply(profile, &mut config, desired)
    })();
    match result {
        Ok(s) => {
            undo.skills = s;
            Ok(undo)
        }
        Err(e) => {
            undo.undo();
            Err(e)
        }
    }
}

/// One row of `agents recommend`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub agent: String,
    pub role: Role,
    pub current_model: String,
    pub current_score: Option<f64>,
    pub recommended_model: String,
    pub recommended_score: Option<f64>,
    pub fallback: Option<Fallback>,
    pub upgrade_available: bool,
    /// The recommended model's benchmark for the role, or "no benchmark data".
    pub evidence: Option<String>,
}

pub fn recommend_with(agents: &[Agent], catalog: &Catalog, ollama: &str) -> Vec<Recommendation> {
    let scorer = Scorer::new(catalog);
    agents
        .iter()
        .map(|a| {
            let current_score = catalog
                .models
                .iter()
                .position(|m| m.id == a.model)
                .map(|i| scorer.score(i as u32, a.role))
                .filter(|s| s.qualified())
                .map(|s| s.total);
            let on_paid = catalog.get(&a.model).is_some_and(|m| !m.is_free());
            // An upgraded agent is compared with the best paid model, a free one with the best free.
            let pick = match on_paid.then(|| scorer.best_paid(a.role)).flatten() {
                Some(s) => Pick {
                    role: a.role,
                    model: scorer.model(&s).id.clone(),
                    provider: "openrouter".into(),
                    base_url: None,
                    score: Some(s.total),
                    sub: Some(s.sub),
                    fallback: None,
                },
                None => scorer.best_free(a.role, ollama),
            };
            let upgrade_available = pick.model != a.model
                && match (pick.score, current_score) {
                    (Some(new), Some(old)) => new > old,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
            Recommendation {
                evidence: scorer.evidence(&pick.model, a.role),
                agent: a.name.clone(),
                role: a.role,
                current_model: a.model.clone(),
                current_score,
                recommended_model: pick.model,
                recommended_score: pick.score,
                fallback: pick.fallback,
                upgrade_available,
            }
        })
        .collect()
}

pub async fn recommend(core: &Core) -> Result<Vec<Recommendation>> {
    let conn = core.db.conn().await?;
    let agents = list(&conn).await?;
    let catalog = core.catalog().await?;
    Ok(recommend_with(
        &agents,
        &catalog,
        &core.ollama_model().await?,
    ))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentChange {
    pub agent: String,
    pub role: Role,
    pub current_model: String,
    pub previous_recommendation: Option<String>,
    pub recommendation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentsRescore {
    pub rescore: RescoreReport,
    /// Agents whose recommended model changed since the previous rescore.
    pub changed: Vec<AgentChange>,
}

pub async fn rescore(core: &Core) -> Result<AgentsRescore> {
    let report = models::rescore(core).await?;
    let changed = after_rescore(core, &report).await?;
    Ok(AgentsRescore {
        rescore: report,
        changed,
    })
}

/// After a rescore (on demand or after a scan): the agents whose role's best free model
/// changed, and one notification for each agent that does not run it yet, with the score
/// delta and the one-click action that applies it.
pub async fn after_rescore(core: &Core, report: &RescoreReport) -> Result<Vec<AgentChange>> {
    let conn = core.db.conn().await?;
    let agents = list(&conn).await?;
    // Compare with the last scoring of the catalog before this one, not with the previous
    // scoring: `models scan` rescores as soon as it stores a catalog, which would hide the
    // new catalog's changes from every later `agents rescore`.
    let before = previous_catalog_picks(&conn, report.catalog_id).await?;
    let changed: Vec<AgentChange> = agents
        .iter()
        .filter_map(|a| {
            let now = report.best.iter().find(|p| p.role == a.role)?;
            let was = before.get(&a.role)?;
            (*was != now.model).then(|| AgentChange {
                agent: a.name.clone(),
                role: a.role,
                current_model: a.model.clone(),
                previous_recommendation: Some(was.clone()),
                recommendation: now.model.clone(),
            })
        })
        .collect();
    let to_notify: Vec<&AgentChange> = changed
        .iter()
        .filter(|c| c.current_model != c.recommendation)
        .collect();
    if to_notify.is_empty() {
        return Ok(changed);
    }
    let catalog = core.catalog().await?;
    let scorer = Scorer::new(&catalog);
    let score_of = |id: &str, role: Role| {
        catalog
            .models
            .iter()
            .position(|m| m.id == id)
            .map(|i| scorer.score(i as u32, role))
            .filter(|s| s.qualified())
            .map(|s| s.total)
    };
    let (_c, tx) = core.db.write().await?;
    for c in to_notify {
        let old = score_of(&c.current_model, c.role);
        let new = score_of(&c.recommendation, c.role);
        let delta = match (old, new) {
            (Some(o), Some(n)) => Some(((n - o) * 10.0).round() / 10.0),
            _ => None,
        };
        let title = format!("A better free model for {}", c.agent);
        let body = format!(
            "{} ({}) runs {}; the best free model for its role is now {}{}.",
            c.agent,
            c.role,
            c.current_model,
            c.recommendation,
            delta
                .map(|d| format!(" ({d:+.1} points)"))
                .unwrap_or_default()
        );
        let payload = serde_json::json!({
            "agent": c.agent,
            "role": c.role,
            "old_model": c.current_model,
            "new_model": c.recommendation,
            "score_delta": delta,
            "previous_recommendation": c.previous_recommendation,
            "action": {"action": "apply_recommendation", "agent": c.agent},
        });
        // The same change is listed until the next catalog: notify about it once.
        let seen = db::scalar_i64(
            &tx,
            "SELECT COUNT(*) FROM notifications WHERE kind = 'better_model'
               AND json_extract(payload, '$.agent') = ?1
               AND json_extract(payload, '$.new_model') = ?2",
            libsql::params![c.agent.as_str(), c.recommendation.as_str()],
        )
        .await?
        .unwrap_or(0);
        if seen == 0 {
            super::notifications::add(&tx, "better_model", &title, &body, &payload).await?;
        }
    }
    tx.commit().await?;
    Ok(changed)
}

/// The best free model per role at the newest scoring of any catalog other than `catalog_id`.
async fn previous_catalog_picks(
    conn: &libsql::Connection,
    catalog_id: i64,
) -> Result<std::collections::BTreeMap<Role, String>> {
    let mut rows = conn
        .query(
            "SELECT MAX(scored_at) FROM model_scores WHERE catalog_id <> ?1",
            [catalog_id],
        )
        .await?;
    let at = match rows.next().await? {
        Some(row) => db::opt_text(&row, 0)?,
        None => None,
    };
    drop(rows);
    match at {
        Some(at) => models::best_free_at(conn, Some(&at)).await,
        None => Ok(std::collections::BTreeMap::new()),
    }
}

/// The agent's skills as Paperclip's snapshot.
pub async fn skills(core: &Core, key: &str) -> Result<SkillSnapshot> {
    let conn = core.db.conn().await?;
    let agent = find(&conn, key).await?;
    let profile = Profile::resolve(&core.paths.hermes_home, &agent.profile);
    let config = ConfigDoc::load(&profile.config_path())?;
    skills::snapshot(&profile, &config, &agent.skillset)
}

/// How to change an agent's skill set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkillEdit {
    Add(Vec<String>),
    Remove(Vec<String>),
    /// Replace the wanted set (Paperclip's `syncSkills`).
    Set(Vec<String>),
    /// Make disk match the current wanted set.
    Sync,
}

/// Changes what the agent loads, on disk and in the database, together.
pub async fn edit_skills(core: &Core, key: &str, edit: SkillEdit) -> Result<SkillSnapshot> {
    let (conn, tx) = core.db.write().await?;
    let agent = match find(&tx, key).await {
        Ok(a) => a,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    let profile = Profile::resolve(&core.paths.hermes_home, &agent.profile);
    let lock = profile.lock()?;
    let mut config = ConfigDoc::load(&profile.config_path())?;
    let wanted: Vec<String> = match edit {
        SkillEdit::Add(add) => {
            let mut w = agent.skillset.clone();
            for s in add {
                if !w.contains(&s) {
                    w.push(s);
                }
            }
            w
        }
        SkillEdit::Remove(remove) => {
            let unknown: Vec<&String> = remove
                .iter()
                .filter(|r| !agent.skillset.contains(r))
                .collect();
            if !unknown.is_empty() {
                tx.rollback().await?;
                return Err(CoreError::usage(format!(
                    "{} does not have skill{} {}",
                    agent.name,
                    if unknown.len() == 1 { "" } else { "s" },
                    unknown
                        .iter()
                        .map(|s| catalog::clip(s, 60))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            agent
                .skillset
                .iter()
                .filter(|s| !remove.contains(s))
                .cloned()
                .collect()
        }
        SkillEdit::Set(set) => set,
        SkillEdit::Sync => agent.skillset.clone(),
    };
    let desired = match skills::validate_desired(&profile, &config, &wanted) {
        Ok(d) => d,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    let undo = match skills::apply(&profile, &mut config, &desired) {
        Ok(u) => u,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    tx.execute(
        "UPDATE agents SET skillset = ?1, updated_at = ?2 WHERE id = ?3",
        libsql::params![
            serde_json::to_string(&desired).unwrap_or_else(|_| "[]".into()),
            time::now(),
            agent.id
        ],
    )
    .await?;
    db::touch(&tx, "agents").await?;
    if let Err(e) = tx.commit().await {
        undo.undo();
        return Err(e.into());
    }
    drop(lock);
    let _ = conn;
    skills::snapshot(&profile, &config, &desired)
}

/// Points an agent's main slot at another model (config.yaml and database together).
pub async fn set_model(
    core: &Core,
    key: &str,
    slot: RouteSlot,
    reason: &str,
    free: bool,
) -> Result<Agent> {
    let (conn, tx) = core.db.write().await?;
    let agent = match find(&tx, key).await {
        Ok(a) => a,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    let catalog = core.catalog().await?;
    let score = catalog
        .models
        .iter()
        .position(|m| m.id == slot.model)
        .map(|i| Scorer::new(&catalog).score(i as u32, agent.role).total);
    let now = time::now();
    tx.execute(
        "UPDATE agents SET model = ?1, provider = ?2, model_score = ?3, model_auto_assigned = 0, updated_at = ?4 WHERE id = ?5",
        libsql::params![slot.model.as_str(), slot.provider.as_str(), score, now.as_str(), agent.id],
    )
    .await?;
    tx.execute(
        "INSERT INTO agent_model_history (agent_id, model, provider, is_free, reason, assigned_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        libsql::params![
            agent.id,
            slot.model.as_str(),
            slot.provider.as_str(),
            free as i64,
            reason,
            now.as_str()
        ],
    )
    .await?;
    db::touch(&tx, "agents").await?;
    let profile = Profile::resolve(&core.paths.hermes_home, &agent.profile);
    let lock = profile.lock()?;
    let before = fs::read_to_string(profile.config_path()).ok();
    let written = (|| {
        let mut config = ConfigDoc::load(&profile.config_path())?;
        config.set_main(&slot)?;
        config.save()
    })();
    if let Err(e) = written {
        tx.rollback().await?;
        return Err(e);
    }
    if let Err(e) = tx.commit().await {
        if let Some(t) = before {
            let _ = hermes::atomic_write(&profile.config_path(), t.as_bytes(), None);
        }
        return Err(e.into());
    }
    drop(lock);
    find(&conn, &agent.name).await
}

/// Moves an agent to the best free model for its role (Tab 3's "apply", a notification's
/// one-click action).
pub async fn apply_recommendation(core: &Core, key: &str) -> Result<Agent> {
    let conn = core.db.conn().await?;
    let agent = find(&conn, key).await?;
    let catalog = core.catalog().await?;
    let pick = Scorer::new(&catalog).best_free(agent.role, &core.ollama_model().await?);
    if pick.model == agent.model {
        return Err(CoreError::usage(format!(
            "{} already runs the recommended model {}",
            agent.name, agent.model
        )));
    }
    set_model(core, &agent.name, main_slot(&pick), "recommendation", true).await
}
