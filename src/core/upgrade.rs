//! The API-key upgrade: read the account, recommend a paid model per agent, switch agents
//! to paid models (all, one, or a chosen model), and revert every agent to its last free
//! model from the assignment history. Only the model keys of each profile change; memory,
//! skills and sessions are left exactly as they were.

use std::time::Duration;

use serde::Serialize;

use super::Core;
use super::agents::{self, Agent, PAID_MIN_GAIN};
use super::catalog::Catalog;
use super::db;
use super::error::{CoreError, Result};
use super::hermes::{self, OPENROUTER, RouteSlot};
use super::openrouter::{AccountState, Credits, FreeTier, KeyInfo};
use super::scoring::Scorer;
use super::secrets;
use super::text;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub key: String,
    pub info: KeyInfo,
    pub credits: Option<Credits>,
    pub tier: FreeTier,
    /// Balance and limit: whether paid models can be paid for.
    pub state: AccountState,
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
        state: AccountState::of(
            &hermes::mask_key(&key),
            &info,
            credits.as_ref(),
            &super::time::now(),
        ),
        info,
        credits,
        tier,
    })
}

/// Records a checked account as the stored key's (after the key itself is stored).
pub async fn remember(core: &Core, key: Option<&str>, account: &Account) -> Result<()> {
    let key = match key {
        Some(k) => k.trim().to_string(),
        None => secrets::openrouter_key(core).unwrap_or_default(),
    };
    secrets::record_account(core, &key, &account.info, account.credits.as_ref()).await?;
    Ok(())
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
    /// The paid model worth paying for (see [`agents::PAID_MIN_GAIN`]), unless the agent
    /// runs it already.
    pub recommended: Option<PriceLine>,
    /// Recommended score minus current score for the role.
    pub gain: Option<f64>,
    /// No paid model beats the free pick by enough: the advice is to stay on free.
    pub stay_on_free: bool,
    /// Why there is no paid recommendation: "stay on free: ...".
    pub note: Option<String>,
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

/// Every agent's current model beside the paid model worth paying for, from the one
/// recommendation ([`agents::recommend_with`]) as it stands with a paying key.
pub async fn plan(core: &Core) -> Result<Vec<UpgradeRow>> {
    let conn = core.db.conn().await?;
    let list = agents::list(&conn).await?;
    let catalog = core.catalog().await?;
    let recs = agents::recommend_with(&list, &catalog, &core.ollama_model().await?, true);
    let scorer = Scorer::new(&catalog);
    let mut rows = Vec::new();
    for (a, rec) in list.iter().zip(&recs) {
        let current = line(&catalog, &scorer, a.role, &a.model);
        let recommended = rec
            .paid
            .as_ref()
            .filter(|p| p.model != a.model)
            .map(|p| line(&catalog, &scorer, a.role, &p.model));
        let gain = match (&recommended, current.score) {
            (Some(r), Some(c)) => r.score.map(|s| ((s - c) * 10.0).round() / 10.0),
            (Some(r), None) => r.score,
            _ => None,
        };
        let note = match (&rec.paid, &recommended) {
            (_, Some(_)) => None,
            (Some(_), None) => Some("already on the paid pick".to_string()),
            (None, None) => Some(match scorer.best_paid(a.role) {
                Some(s) => format!(
                    "stay on free: the best paid model, {}, gains {:+.1} over {} (less than {PAID_MIN_GAIN})",
                    scorer.model(&s).id,
                    s.total - rec.best_free_score.unwrap_or(0.0),
                    rec.best_free
                ),
                None => "stay on free: no paid model meets the role's requirements".to_string(),
            }),
        };
        rows.push(UpgradeRow {
            agent: a.name.clone(),
            role: a.role,
            current,
            recommended,
            gain,
            stay_on_free: rec.paid.is_none(),
            note,
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

/// Moves one agent to a paid model: the recommended one, or `model` when given. The write
/// guard refuses a paid model unless the stored key's account can pay.
pub async fn upgrade_agent(core: &Core, agent: &str, model: Option<&str>) -> Result<Agent> {
    let conn = core.db.conn().await?;
    let a = agents::find(&conn, agent).await?;
    let catalog = core.catalog().await?;
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
        None => {
            let row = plan(core)
                .await?
                .into_iter()
                .find(|r| r.agent == a.name)
                .ok_or_else(|| CoreError::usage(format!("no plan for {}", a.name)))?;
            match row.recommended {
                Some(r) => r.model,
                // The agent runs its paid pick already.
                None if !row.stay_on_free => return Ok(a),
                None => {
                    return Err(CoreError::usage(format!(
                        "{}: {}; choose a model with `nxr upgrade --agent {} --model ID` if you want one anyway",
                        a.name,
                        row.note.unwrap_or_default(),
                        a.name
                    )));
                }
            }
        }
    };
    if target == a.model {
        return Ok(a);
    }
    let free = catalog.get(&target).is_none_or(|m| m.is_free());
    agents::set_model(
        core,
        &a.name,
        RouteSlot {
            provider: OPENROUTER.into(),
            model: target,
            base_url: None,
        },
        "upgrade",
        free,
    )
    .await
}

/// Upgrades every agent that has a paid recommendation. Refused as a whole, before any
/// write, when the stored key cannot pay.
pub async fn upgrade_all(core: &Core) -> Result<Vec<Agent>> {
    let rows = plan(core).await?;
    if let Some(first) = rows.iter().find_map(|r| r.recommended.as_ref())
        && let Some(why) = secrets::payer(core).await?.refusal(&first.model)
    {
        return Err(CoreError::usage(why));
    }
    let mut out = Vec::new();
    for row in rows {
        if row.recommended.is_some() {
            out.push(upgrade_agent(core, &row.agent, None).await?);
        }
    }
    Ok(out)
}

/// Puts one agent back on its last free model (nothing to do when it runs a free one).
pub async fn revert(core: &Core, agent: &str) -> Result<Vec<Agent>> {
    let conn = core.db.conn().await?;
    let a = agents::find(&conn, agent).await?;
    revert_list(core, &conn, vec![a]).await
}

/// Puts every agent on a paid model back on its last free model.
pub async fn revert_all(core: &Core) -> Result<Vec<Agent>> {
    let conn = core.db.conn().await?;
    let list = agents::list(&conn).await?;
    revert_list(core, &conn, list).await
}

async fn revert_list(
    core: &Core,
    conn: &libsql::Connection,
    list: Vec<Agent>,
) -> Result<Vec<Agent>> {
    let catalog = core.catalog().await?;
    let mut out = Vec::new();
    for a in list {
        if catalog.get(&a.model).is_none_or(|m| m.is_free()) {
            continue;
        }
        let Some((model, provider)) = last_free_slot(conn, a.id).await? else {
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
