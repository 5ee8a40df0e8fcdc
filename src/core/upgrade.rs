//! The API-key upgrade: read the account, recommend a paid model per agent, switch agents
//! to paid models (all, one, or a chosen model), and revert every agent to its last free
//! model from the assignment history. Only the model keys of each profile change; memory,
//! skills and sessions are left exactly as they were.

use std::time::Duration;

use serde::Serialize;

use super::Core;
use super::agents::{self, Agent};
use super::catalog::Catalog;
use super::db;
use super::error::{CoreError, Result};
use super::hermes::{self, RouteSlot};
use super::openrouter::{Credits, FreeTier, KeyInfo};
use super::scoring::Scorer;
use super::secrets;
use super::text;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub key: String,
    pub info: KeyInfo,
    pub credits: Option<Credits>,
    pub tier: FreeTier,
}

/// Validates the stored (or given) key and reads the account. Changes nothing.
pub async fn account(core: &Core, key: Option<&str>, timeout: Duration) -> Result<Account> {
    let key = match key {
        Some(k) => secrets::check_key_form(k)?.to_string(),
        None => secrets::openrouter_key(core).ok_or_else(|| {
            CoreError::usage(
                "no OpenRouter key yet: run `nxr config set openrouter-key KEY` (or pass --key)",
            )
        })?,
    };
    let or = core.openrouter(timeout)?;
    let info = or.key(&key).await?;
    let credits = or.credits(&key).await?;
    let tier = FreeTier::of(&info, credits.as_ref());
    Ok(Account {
        key: hermes::mask_key(&key),
        info,
        credits,
        tier,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceLine {
    pub model: String,
    pub name: String,
    pub free: bool,
    pub prompt: String,
    pub completion: String,
    pub prompt_per_million: Option<f64>,
    pub completion_per_million: Option<f64>,
    pub score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpgradeRow {
    pub agent: String,
    pub role: super::scoring::Role,
    pub current: PriceLine,
    pub recommended: Option<PriceLine>,
    /// Recommended score minus current score for the role.
    pub gain: Option<f64>,
    /// The model `revert` would return to.
    pub last_free: Option<String>,
}

fn line(catalog: &Catalog, scorer: &Scorer, role: super::scoring::Role, id: &str) -> PriceLine {
    let idx = catalog.models.iter().position(|m| m.id == id);
    let m = idx.map(|i| &catalog.models[i]);
    PriceLine {
        model: id.to_string(),
        name: m.map(|m| text::clean(&m.name)).unwrap_or_default(),
        free: m.is_none_or(|m| m.is_free()),
        prompt: text::per_million(m.and_then(|m| m.prompt_per_million()).or(Some(0.0))),
        completion: text::per_million(m.and_then(|m| m.completion_per_million()).or(Some(0.0))),
        prompt_per_million: m.and_then(|m| m.prompt_per_million()),
        completion_per_million: m.and_then(|m| m.completion_per_million()),
        score: idx
            .map(|i| scorer.score(i as u32, role))
            .filter(|s| s.qualified())
            .map(|s| s.total),
    }
}

/// Every agent's current model beside the paid model recommended for its role.
pub async fn plan(core: &Core) -> Result<Vec<UpgradeRow>> {
    let conn = core.db.conn().await?;
    let list = agents::list(&conn).await?;
    let catalog = core.catalog().await?;
    let scorer = Scorer::new(&catalog);
    let mut rows = Vec::new();
    for a in &list {
        let current = line(&catalog, &scorer, a.role, &a.model);
        let recommended = scorer
            .best_paid(a.role)
            .map(|s| line(&catalog, &scorer, a.role, &scorer.model(&s).id))
            .filter(|r| r.model != a.model);
        let gain = match (&recommended, current.score) {
            (Some(r), Some(c)) => r.score.map(|s| ((s - c) * 10.0).round() / 10.0),
            (Some(r), None) => r.score,
            _ => None,
        };
        rows.push(UpgradeRow {
            agent: a.name.clone(),
            role: a.role,
            current,
            recommended,
            gain,
            last_free: last_free(&conn, a.id).await?,
        });
    }
    Ok(rows)
}

async fn last_free(conn: &libsql::Connection, agent_id: i64) -> Result<Option<String>> {
    Ok(last_free_slot(conn, agent_id).await?.map(|(m, _)| m))
}

/// The newest free assignment in the history: (model, provider).
async fn last_free_slot(
    conn: &libsql::Connection,
    agent_id: i64,
) -> Result<Option<(String, String)>> {
    let mut rows = conn
        .query(
            "SELECT model, provider FROM agent_model_history WHERE agent_id = ?1 AND is_free = 1 ORDER BY id DESC LIMIT 1",
            [agent_id],
        )
        .await?;
    match rows.next().await? {
        Some(row) => Ok(Some((db::text(&row, 0)?, db::text(&row, 1)?))),
        None => Ok(None),
    }
}

/// Moves one agent to a paid model: the recommended one, or `model` when given.
pub async fn upgrade_agent(core: &Core, agent: &str, model: Option<&str>) -> Result<Agent> {
    if secrets::openrouter_key(core).is_none() {
        return Err(CoreError::usage(
            "paid models need an OpenRouter key: run `nxr config set openrouter-key KEY` first",
        ));
    }
    let conn = core.db.conn().await?;
    let a = agents::find(&conn, agent).await?;
    let catalog = core.catalog().await?;
    let scorer = Scorer::new(&catalog);
    let target = match model {
        Some(id) => {
            let m = catalog.get(id).ok_or_else(|| {
                CoreError::usage(format!(
                    "model {:?} is not in the catalog",
                    text::clean_max(id, 100)
                ))
            })?;
            m.id.clone()
        }
        None => scorer
            .best_paid(a.role)
            .map(|s| scorer.model(&s).id.clone())
            .ok_or_else(|| {
                CoreError::usage(format!(
                    "no paid model meets the {} role's requirements",
                    a.role
                ))
            })?,
    };
    if target == a.model {
        return Ok(a);
    }
    let free = catalog.get(&target).is_none_or(|m| m.is_free());
    agents::set_model(
        core,
        &a.name,
        RouteSlot {
            provider: "openrouter".into(),
            model: target,
            base_url: None,
        },
        "upgrade",
        free,
    )
    .await
}

/// Upgrades every agent that has a paid recommendation.
pub async fn upgrade_all(core: &Core) -> Result<Vec<Agent>> {
    let mut out = Vec::new();
    for row in plan(core).await? {
        if row.recommended.is_some() {
            out.push(upgrade_agent(core, &row.agent, None).await?);
        }
    }
    Ok(out)
}

/// Puts agents (one, or all) back on their last free model. Agents already on a free
/// model are left alone.
pub async fn revert(core: &Core, agent: Option<&str>) -> Result<Vec<Agent>> {
    let conn = core.db.conn().await?;
    let list = match agent {
        Some(name) => vec![agents::find(&conn, name).await?],
        None => agents::list(&conn).await?,
    };
    let catalog = core.catalog().await?;
    let mut out = Vec::new();
    for a in list {
        if catalog.get(&a.model).is_none_or(|m| m.is_free()) {
            continue;
        }
        let Some((model, provider)) = last_free_slot(&conn, a.id).await? else {
            continue;
        };
        let base_url = (provider == "custom").then(|| format!("{}/v1", core.endpoints.ollama));
        out.push(
            agents::set_model(
                core,
                &a.name,
                RouteSlot {
                    provider,
                    model,
                    base_url,
                },
                "revert",
                true,
            )
            .await?,
        );
    }
    Ok(out)
}
