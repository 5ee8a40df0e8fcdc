//! Agents: one nxr agent is one Hermes profile plus its row in `agents`. Creating, listing,
//! recommending models, rescoring and editing skills all go through here, whichever
//! surface asked.

use std::fs;

use serde::Serialize;

use super::catalog::{self, Catalog};
use super::db;
use super::error::{CoreError, Result};
use super::hermes::{self, ConfigDoc, OPENROUTER, Profile, RouteSlot};
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
    /// The catalog no longer lists the agent's model (set by readers that hold a catalog,
    /// see [`mark_gone`]; only serialized when true).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub model_gone: bool,
}

/// True when the catalog no longer lists the agent's OpenRouter model. Local models
/// (Ollama) are never in OpenRouter's catalog, and an empty catalog says nothing.
pub fn is_gone(a: &Agent, catalog: &Catalog) -> bool {
    a.provider == OPENROUTER && !catalog.models.is_empty() && catalog.get(&a.model).is_none()
}

/// Sets `model_gone` on each agent from the catalog.
pub fn mark_gone(agents: &mut [Agent], catalog: &Catalog) {
    for a in agents {
        a.model_gone = is_gone(a, catalog);
    }
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
        model_gone: false,
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
    ensure_payable(core, &catalog, &main_slot(&pick)).await?;
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

    let vision = super::routing::vision_pick(&catalog);
    let key = super::secrets::openrouter_key(core);
    let fresh = !profile.dir.exists() && profile.name != hermes::DEFAULT_PROFILE;
    let written = if fresh {
        write_new_profile(&profile, &pick, &desired, vision.as_ref(), key.as_deref())
    } else {
        write_profile(&profile, &pick, &desired, vision.as_ref()).and_then(|undo| match &key {
            Some(k) => match hermes::set_env(&profile.env_path(), super::secrets::KEY_VAR, k) {
                Ok(()) => Ok(undo),
                Err(e) => {
                    undo.undo();
                    Err(e)
                }
            },
            None => Ok(undo),
        })
    };
    let undo = match written {
        Ok(u) => u,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    if let Err(e) = tx.commit().await {
        undo.undo();
        return Err(e.into());
    }
    if fresh {
        hermes::unmark_creating(&profile.dir);
    }
    let agent = find(&conn, &new.name).await?;
    super::scanner::remember_created(core, &agent, &profile).await?;
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
                provider: OPENROUTER.into(),
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
            let _ = hermes::remove_dir_atomically(&self.profile.dir);
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

/// A new profile is built in a temp folder and renamed into place, so a crash part-way
/// leaves no half profile that `hermes profile list` would show. Until the database row is
/// committed it carries a creation mark: if nxr dies in between, the start-up sweep
/// ([`sweep_leftovers`]) removes the profile unless its row landed.
fn write_new_profile(
    profile: &Profile,
    pick: &Pick,
    desired: &[String],
    vision: Option<&RouteSlot>,
    key: Option<&str>,
) -> Result<ProfileUndo> {
    hermes::create_dir_atomically(&profile.dir, |tmp| {
        let staged = Profile {
            name: profile.name.clone(),
            dir: tmp.to_path_buf(),
        };
        hermes::mark_creating(tmp)?;
        // Nothing to undo inside the temp folder: a failure removes it whole.
        write_profile(&staged, pick, desired, vision)?;
        if let Some(k) = key {
            hermes::set_env(&staged.env_path(), super::secrets::KEY_VAR, k)?;
        }
        Ok(())
    })?;
    Ok(ProfileUndo {
        profile: profile.clone(),
        dir_existed: false,
        config_before: None,
        skills: skills::SyncUndo::default(),
    })
}

/// Clears what crashed nxr processes left in the Hermes profiles and `NXR_HOME` (see
/// [`hermes::sweep_leftovers`]); a profile whose creator died keeps living only if its agent
/// row was committed. Runs when a workspace opens; it never fails the caller.
pub async fn sweep_leftovers(core: &Core) {
    let unfinished = hermes::sweep_leftovers(
        &core.paths.hermes_home,
        &core.paths.nxr_home,
        &skills::is_curated_dir,
    );
    if unfinished.is_empty() {
        return;
    }
    let Ok(conn) = core.db.conn().await else {
        return;
    };
    for u in unfinished {
        match db::scalar_i64(
            &conn,
            "SELECT id FROM agents WHERE profile = ?1",
            [u.profile.as_str()],
        )
        .await
        {
            Ok(Some(_)) => u.keep(),
            Ok(None) => {
                tracing::warn!(profile = %u.profile, "removing a profile whose creation was interrupted");
                u.discard();
            }
            Err(e) => tracing::warn!("cannot check interrupted profile {}: {e}", u.profile),
        }
    }
}

fn write_profile(
    profile: &Profile,
    pick: &Pick,
    desired: &[String],
    vision: Option<&RouteSlot>,
) -> Result<ProfileUndo> {
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
                provider: OPENROUTER.into(),
                model: catalog::FREE_ROUTER_ID.into(),
                base_url: None,
            }])?;
        }
        // Left on `auto`, images from a text-only main model go to a paid default model.
        if let Some(v) = vision
            && config.aux_slot("vision").is_none()
        {
            config.set_aux("vision", v)?;
        }
        // The per-call ledger nxr's budget reads (and one attempt per call on a daily cap).
        super::ledger::install_files(&profile.dir)?;
        super::ledger::configure(&mut config)?;
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

/// True when writing `route` could spend money through OpenRouter: a model the catalog lists
/// as paid, or one it does not know (it cannot be shown to be free) unless its id says `:free`
/// or it is the free router.
pub fn is_paid(catalog: &Catalog, route: &RouteSlot) -> bool {
    // OpenRouter's free router only ever picks free models.
    if route.provider != OPENROUTER || route.model == catalog::FREE_ROUTER_ID {
        return false;
    }
    match catalog.get(&route.model) {
        Some(m) => !m.is_free(),
        None => !route.model.ends_with(":free"),
    }
}

/// The write guard: a paid model goes into a profile only with a stored key whose account
/// can pay (see [`super::secrets::payer`]). Every path that writes a model to a profile
/// (creating an agent, the main slot, routing slots, upgrades) goes through it.
pub async fn ensure_payable(core: &Core, catalog: &Catalog, route: &RouteSlot) -> Result<()> {
    if !is_paid(catalog, route) {
        return Ok(());
    }
    match super::secrets::payer(core).await?.refusal(&route.model) {
        None => Ok(()),
        Some(why) => Err(CoreError::usage(why)),
    }
}

/// A paid model is recommended only when it beats the best free model for the role by at
/// least this many points (scores run 0 to 100): below that, the money buys nothing the
/// scorer can see, so the advice is to stay on free.
pub const PAID_MIN_GAIN: f64 = 3.0;

/// What the one recommendation says to do with an agent's model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Advice {
    /// The agent already runs the recommended model (or one as good).
    Stay,
    /// A better free model exists: a free-to-free move, not an upgrade.
    SwitchFree,
    /// A paid model, with a key whose account can pay and a real gain over the free pick.
    Upgrade,
    /// The agent's model is no longer in the catalog: move it to the recommended one.
    Replace,
}

/// The paid model worth paying for: the best paid model for the role, when it beats the
/// best free pick by [`PAID_MIN_GAIN`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaidOption {
    pub model: String,
    pub score: f64,
    /// Points over the best free pick (the whole score when nothing free qualifies).
    pub gain: f64,
}

/// The one recommendation for an agent. `nxr agents recommend`, `nxr upgrade`'s plan, Tab 3,
/// `/agents/manage` and Bulk Upgrade all read it from [`recommend_with`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub agent: String,
    pub role: Role,
    pub current_model: String,
    pub current_score: Option<f64>,
    /// The catalog no longer lists the agent's model.
    pub model_gone: bool,
    /// The best free model for the role (or its fallback): always free.
    pub best_free: String,
    pub best_free_score: Option<f64>,
    pub fallback: Option<Fallback>,
    /// The paid model worth paying for, if one beats the free pick by enough; whether it is
    /// recommended depends on a key that can pay.
    pub paid: Option<PaidOption>,
    /// What to run: the paid option when the stored key can pay for it, else the best free.
    pub recommended_model: String,
    pub recommended_score: Option<f64>,
    pub advice: Advice,
    /// The recommendation is a paid model the agent does not run yet.
    pub upgrade_available: bool,
    /// The recommended model's benchmark for the role, or "no benchmark data".
    pub evidence: Option<String>,
}

/// The recommendation for every agent. `can_pay`: the stored key's account can pay (see
/// [`super::secrets::payer`]); without it a paid model is never recommended.
pub fn recommend_with(
    agents: &[Agent],
    catalog: &Catalog,
    ollama: &str,
    can_pay: bool,
) -> Vec<Recommendation> {
    let scorer = Scorer::new(catalog);
    let mut free_picks: std::collections::BTreeMap<Role, Pick> = Default::default();
    let mut paid_picks: std::collections::BTreeMap<Role, Option<PaidOption>> = Default::default();
    agents
        .iter()
        .map(|a| {
            let free = free_picks
                .entry(a.role)
                .or_insert_with(|| scorer.best_free(a.role, ollama))
                .clone();
            let paid = paid_picks
                .entry(a.role)
                .or_insert_with(|| {
                    let s = scorer.best_paid(a.role)?;
                    let gain = s.total - free.score.unwrap_or(0.0);
                    (gain >= PAID_MIN_GAIN).then(|| PaidOption {
                        model: scorer.model(&s).id.clone(),
                        score: s.total,
                        gain: (gain * 10.0).round() / 10.0,
                    })
                })
                .clone();
            let idx = catalog.models.iter().position(|m| m.id == a.model);
            let current_score = idx
                .map(|i| scorer.score(i as u32, a.role))
                .filter(|s| s.qualified())
                .map(|s| s.total);
            let model_gone = is_gone(a, catalog);
            let (recommended_model, recommended_score) = match (&paid, can_pay) {
                (Some(p), true) => (p.model.clone(), Some(p.score)),
                _ => (free.model.clone(), free.score),
            };
            let recommended_paid = can_pay && paid.is_some();
            let advice = if model_gone {
                Advice::Replace
            } else if recommended_model == a.model {
                Advice::Stay
            } else if recommended_paid {
                Advice::Upgrade
            } else {
                let on_paid = catalog.get(&a.model).is_some_and(|m| !m.is_free());
                match (recommended_score, current_score) {
                    // Leaving a paid model that no longer earns its price saves money.
                    _ if on_paid => Advice::SwitchFree,
                    (Some(new), Some(old)) if new > old => Advice::SwitchFree,
                    (Some(_), None) => Advice::SwitchFree,
                    _ => Advice::Stay,
                }
            };
            Recommendation {
                evidence: scorer.evidence(&recommended_model, a.role),
                agent: a.name.clone(),
                role: a.role,
                current_model: a.model.clone(),
                current_score,
                model_gone,
                best_free: free.model.clone(),
                best_free_score: free.score,
                fallback: free.fallback,
                paid,
                upgrade_available: advice == Advice::Upgrade,
                recommended_model,
                recommended_score,
                advice,
            }
        })
        .collect()
}

pub async fn recommend(core: &Core) -> Result<Vec<Recommendation>> {
    let conn = core.db.conn().await?;
    let agents = list(&conn).await?;
    let catalog = core.catalog().await?;
    let can_pay = super::secrets::payer(core).await?.can_pay();
    Ok(recommend_with(
        &agents,
        &catalog,
        &core.ollama_model().await?,
        can_pay,
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

/// Where `agents rescore` keeps the recommendation it last reported for each agent.
const REPORTED_SETTING: &str = "agents_rescore_reported";

/// Rescores, and reports the agents whose recommendation changed since the last report: the
/// same change is reported once, however many times `agents rescore` runs.
pub async fn rescore(core: &Core) -> Result<AgentsRescore> {
    let report = models::rescore(core).await?;
    let changed = after_rescore(core, &report).await?;
    let mut reported: std::collections::BTreeMap<String, String> = core
        .setting(REPORTED_SETTING)
        .await?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    let changed: Vec<AgentChange> = changed
        .into_iter()
        .filter(|c| reported.get(&c.agent) != Some(&c.recommendation))
        .collect();
    let conn = core.db.conn().await?;
    for a in list(&conn).await? {
        if let Some(p) = report.best.iter().find(|p| p.role == a.role) {
            reported.insert(a.name.clone(), p.model.clone());
        }
    }
    let json = serde_json::to_string(&reported)
        .map_err(|e| CoreError::Db(format!("cannot record the report: {e}")))?;
    core.set_setting(REPORTED_SETTING, &json).await?;
    Ok(AgentsRescore {
        rescore: report,
        changed,
    })
}

/// After a rescore (on demand or after a scan): the agents whose role's best free model
/// changed; then the scanner brings its advice up to date ([`super::scanner::evaluate`]).
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
            // A new pick the agent already runs is nothing to act on.
            (*was != now.model && a.model != now.model).then(|| AgentChange {
                agent: a.name.clone(),
                role: a.role,
                current_model: a.model.clone(),
                previous_recommendation: Some(was.clone()),
                recommendation: now.model.clone(),
            })
        })
        .collect();
    // The advice itself (better models, models going away, auto-upgrade) is the scanner's.
    super::scanner::evaluate(core).await?;
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
    let catalog = core.catalog().await?;
    // `free` from the caller is trusted only for a model the catalog no longer knows (a
    // revert to a model the history recorded as free); the catalog decides the rest.
    if !free || catalog.get(&slot.model).is_some() {
        ensure_payable(core, &catalog, &slot).await?;
    }
    let (conn, tx) = core.db.write().await?;
    let agent = match find(&tx, key).await {
        Ok(a) => a,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
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
            "{} already runs the best free model {}",
            agent.name, agent.model
        )));
    }
    set_model(core, &agent.name, main_slot(&pick), "recommendation", true).await
}
