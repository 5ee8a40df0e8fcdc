//! Catalog scans and scoring as stored operations: `models scan`, `rescore`, the roster,
//! the best free pick per role and one model's score breakdown.

use std::collections::BTreeMap;

use serde::Serialize;

use super::catalog::{self, Catalog, CatalogInfo};
use super::db;
use super::error::{CoreError, Result};
use super::scoring::{Pick, Quality, Role, Scored, Scorer, SubScores, Weights};
use super::{Core, time};

/// Score history: every rescore of the last `KEEP_SCORES_DAYS` days is kept (at most
/// `KEEP_RECENT_SCORINGS` of them, for a user who rescores by hand all day), and before
/// that only the rescores that changed a role's pick. A scanner every 6 hours for a year
/// keeps about 120 recent rescores plus one per change of pick.
pub const KEEP_SCORES_DAYS: i64 = 30;
pub const KEEP_RECENT_SCORINGS: usize = 240;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleChange {
    pub role: Role,
    pub from: Option<String>,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RescoreReport {
    pub scored_at: String,
    pub catalog_id: i64,
    pub models: usize,
    pub rows_written: usize,
    /// The best free model for each role after this rescore.
    pub best: Vec<Pick>,
    /// Roles whose best free model differs from the previous rescore's.
    pub changed: Vec<RoleChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    pub catalog: CatalogInfo,
    pub rescore: RescoreReport,
    /// Models left out of the catalog, and why (an id with control characters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Stores a parsed catalog as the newest, records the scan and rescores, all stamped `now`
/// (a scan passes the clock; a test can pass any time to play a year of scans).
pub async fn ingest(core: &Core, catalog: Catalog, started: &str, now: &str) -> Result<ScanReport> {
    let (_conn, tx) = core.db.write().await?;
    let id = catalog::store(&tx, &catalog).await?;
    tx.commit().await?;
    record_scan(core, started, now, &catalog.source, "ok", None, Some(id)).await?;
    let rescore = rescore_at(core, now).await?;
    let conn = core.db.conn().await?;
    Ok(ScanReport {
        catalog: catalog::latest_info(&conn).await?,
        rescore,
        warnings: catalog.warnings,
    })
}

/// Records one scan (good or failed) in `scans`.
pub async fn record_scan(
    core: &Core,
    started: &str,
    finished: &str,
    source: &str,
    status: &str,
    error: Option<&str>,
    catalog_id: Option<i64>,
) -> Result<()> {
    let (_conn, tx) = core.db.write().await?;
    tx.execute(
        "INSERT INTO scans (started_at, finished_at, source, status, error, catalog_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        libsql::params![started, finished, source, status, error, catalog_id],
    )
    .await?;
    db::touch(&tx, "scans").await?;
    tx.commit().await?;
    Ok(())
}

/// Scores every model for every role and writes one `model_scores` row per (model, role),
/// all with the same `scored_at`, in one transaction.
pub async fn rescore(core: &Core) -> Result<RescoreReport> {
    rescore_at(core, &time::now()).await
}

/// [`rescore`] stamped `now`, which also dates the history it prunes.
pub async fn rescore_at(core: &Core, now: &str) -> Result<RescoreReport> {
    let scorer_catalog = core.shared_catalog().await?;
    let ollama = core.ollama_model().await?;

    let (_conn, tx) = core.db.write().await?;
    let catalog_id = match scorer_catalog.id {
        Some(id) => id,
        None => catalog::store(&tx, &scorer_catalog).await?,
    };
    let scorer = Scorer::new(&scorer_catalog);
    let mut scored_at = now.to_string();
    // Two rescores in the same microsecond would collide on UNIQUE(model_id, role, scored_at).
    if let Some(last) = last_scored_at(&tx).await?
        && last >= scored_at
    {
        scored_at = bump(&last);
    }
    let previous = best_free_at(&tx, None).await?;

    let stmt = tx
        .prepare(
            "INSERT INTO model_scores (model_id, role, is_free, qualified, disqualified_by, total,
               context_score, capability_score, size_score, recency_score, reliability_score,
               output_score, fit_score, price_score, rank, catalog_id, scored_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )
        .await?;
    let mut rows_written = 0;
    let mut best = Vec::new();
    for (role, ranked) in scorer.rank_all() {
        let (mut free_rank, mut paid_rank) = (0i64, 0i64);
        for r in ranked {
            // The breakdown of each row as it is written: the ranking itself holds only
            // each model's place and total.
            let s = scorer.score(r.index, role);
            let m = scorer.model(&s);
            let is_free = scorer.is_free(s.index);
            let rank = if s.qualified() {
                let r = if is_free {
                    &mut free_rank
                } else {
                    &mut paid_rank
                };
                *r += 1;
                Some(*r)
            } else {
                None
            };
            stmt.execute(libsql::params![
                m.id.as_str(),
                role.as_str(),
                is_free as i64,
                s.qualified() as i64,
                s.disqualified.map(|d| d.to_string()),
                s.total,
                s.sub.context,
                s.sub.capability,
                s.sub.size,
                s.sub.recency,
                s.sub.reliability,
                s.sub.output,
                s.sub.fit,
                s.sub.price,
                rank,
                catalog_id,
                scored_at.as_str()
            ])
            .await?;
            stmt.reset();
            rows_written += 1;
        }
        best.push(scorer.best_free(role, &ollama));
    }
    drop(stmt);
    // Each agent's score for its current model and role.
    let mut agents = tx.query("SELECT id, role, model FROM agents", ()).await?;
    let mut updates = Vec::new();
    while let Some(row) = agents.next().await? {
        let id = db::int(&row, 0)?;
        let role = Role::parse(&db::text(&row, 1)?).unwrap_or(Role::Custom);
        let model = db::text(&row, 2)?;
        let score = scorer_catalog
            .models
            .iter()
            .position(|m| m.id == model)
            .map(|i| scorer.score(i as u32, role).total);
        updates.push((id, score));
    }
    drop(agents);
    for (id, score) in updates {
        tx.execute(
            "UPDATE agents SET model_score = ?1 WHERE id = ?2",
            libsql::params![score, id],
        )
        .await?;
    }
    prune_history(&tx, &scored_at).await?;
    db::touch(&tx, "scores").await?;
    tx.commit().await?;

    let changed = best
        .iter()
        .filter_map(|p| {
            let before = previous.get(&p.role).cloned();
            (before.as_deref() != Some(p.model.as_str()) && !previous.is_empty()).then(|| {
                RoleChange {
                    role: p.role,
                    from: before,
                    to: p.model.clone(),
                }
            })
        })
        .collect();
    Ok(RescoreReport {
        scored_at,
        catalog_id,
        models: scorer_catalog.models.len(),
        rows_written,
        best,
        changed,
    })
}

/// Drops the score history nobody needs (see [`KEEP_SCORES_DAYS`]), then the scans and
/// catalog snapshots nothing refers to any more, so a scanner that runs for years keeps a
/// bounded database. A rescore that changed no pick is recognised by comparing its picks
/// with the rescore kept before it: pruning only ever removes rescores equal to their
/// predecessor, so the comparison gives the same answer before and after.
async fn prune_history(tx: &libsql::Transaction, now: &str) -> Result<()> {
    let cutoff = time::parse(now)
        .and_then(|t| {
            t.checked_sub(jiff::SignedDuration::from_hours(24 * KEEP_SCORES_DAYS))
                .ok()
        })
        .map(time::format)
        .unwrap_or_default();
    let mut all = Vec::new();
    let mut rows = tx
        .query(
            "SELECT DISTINCT scored_at FROM model_scores ORDER BY scored_at",
            (),
        )
        .await?;
    while let Some(row) = rows.next().await? {
        all.push(db::text(&row, 0)?);
    }
    drop(rows);
    let recent_from = all.len().saturating_sub(KEEP_RECENT_SCORINGS);
    let mut previous: Option<BTreeMap<Role, String>> = None;
    for (i, at) in all.iter().enumerate() {
        if i >= recent_from && at.as_str() >= cutoff.as_str() {
            break;
        }
        let picks = best_free_at(tx, Some(at)).await?;
        if previous.as_ref() == Some(&picks) {
            tx.execute(
                "DELETE FROM model_scores WHERE scored_at = ?1",
                [at.as_str()],
            )
            .await?;
        } else {
            previous = Some(picks);
        }
    }
    // The change marks only ever need their newest id (surfaces compare MAX(id)).
    tx.execute(
        "DELETE FROM changes WHERE id <= (SELECT MAX(id) FROM changes) - 1000",
        (),
    )
    .await?;
    catalog::prune(tx, &cutoff).await
}

fn bump(ts: &str) -> String {
    match time::parse(ts) {
        Some(t) => time::format(t + jiff::SignedDuration::from_micros(1)),
        None => time::now(),
    }
}

async fn last_scored_at(conn: &libsql::Connection) -> Result<Option<String>> {
    let mut rows = conn
        .query("SELECT MAX(scored_at) FROM model_scores", ())
        .await?;
    match rows.next().await? {
        Some(row) => db::opt_text(&row, 0),
        None => Ok(None),
    }
}

/// The stored best free model per role at a scoring (the newest when `at` is `None`).
pub async fn best_free_at(
    conn: &libsql::Connection,
    at: Option<&str>,
) -> Result<BTreeMap<Role, String>> {
    let at = match at {
        Some(a) => Some(a.to_string()),
        None => last_scored_at(conn).await?,
    };
    let mut out = BTreeMap::new();
    let Some(at) = at else {
        return Ok(out);
    };
    let mut rows = conn
        .query(
            "SELECT role, model_id FROM model_scores WHERE scored_at = ?1 AND is_free = 1 AND rank = 1",
            [at],
        )
        .await?;
    while let Some(row) = rows.next().await? {
        if let Ok(role) = Role::parse(&db::text(&row, 0)?) {
            out.insert(role, db::text(&row, 1)?);
        }
    }
    Ok(out)
}

/// One role's score for a model, for tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleScore {
    pub total: f64,
    pub qualified: bool,
    /// Rank among free qualified models for the role.
    pub rank: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disqualified_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RosterRow {
    pub model: String,
    pub name: String,
    pub context: u64,
    pub max_output: Option<u64>,
    pub tools: bool,
    pub scores: BTreeMap<Role, RoleScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Roster {
    pub catalog: CatalogInfo,
    pub roles: Vec<Role>,
    pub rows: Vec<RosterRow>,
}

/// Every free model with its score for every role, best first.
pub async fn roster(core: &Core) -> Result<Roster> {
    let catalog = core.shared_catalog().await?;
    let scorer = Scorer::new(&catalog);
    let mut rows: BTreeMap<u32, RosterRow> = BTreeMap::new();
    for role in Role::ALL {
        let mut rank = 0;
        for s in scorer.rank(role) {
            if !scorer.is_free(s.index) {
                continue;
            }
            let m = scorer.model(&s);
            if m.is_router() {
                continue;
            }
            let r = s.qualified().then(|| {
                rank += 1;
                rank
            });
            rows.entry(s.index)
                .or_insert_with(|| RosterRow {
                    model: m.id.clone(),
                    name: m.name.clone(),
                    context: m.context(),
                    max_output: m.top_provider.max_completion_tokens,
                    tools: m.supports("tools"),
                    scores: BTreeMap::new(),
                })
                .scores
                .insert(
                    role,
                    RoleScore {
                        total: s.total,
                        qualified: s.qualified(),
                        rank: r,
                        disqualified_by: s.disqualified.map(|d| d.to_string()),
                    },
                );
        }
    }
    let mut rows: Vec<RosterRow> = rows.into_values().collect();
    let key = |r: &RosterRow| {
        r.scores
            .values()
            .filter(|s| s.qualified)
            .map(|s| s.total)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    rows.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.model.cmp(&b.model))
    });
    let conn = core.db.conn().await?;
    Ok(Roster {
        catalog: catalog::latest_info(&conn).await?,
        roles: Role::ALL.to_vec(),
        rows,
    })
}

/// A model's score for one role with the weights, so "why this model?" has an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    pub role: Role,
    pub total: f64,
    pub qualified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disqualified_by: Option<String>,
    pub sub: SubScores,
    /// The weights that made this total: with quality when the role's benchmark is known
    /// in the model's price class, the proxies alone otherwise.
    pub weights: Weights,
    pub min_context: u64,
    /// The benchmark behind the quality sub-score, or why there is none.
    pub quality: Quality,
    /// `quality` in words: "coding index 38.7 (best free: 38.7)", "no benchmark data ...".
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelDetail {
    pub model: String,
    pub name: String,
    pub free: bool,
    pub context: u64,
    pub max_output: Option<u64>,
    pub prompt_per_million: Option<f64>,
    pub completion_per_million: Option<f64>,
    pub tools: bool,
    pub created: i64,
    pub expiration_date: Option<String>,
    pub output_modalities: Vec<String>,
    /// Why no role can use it, when that does not depend on the role: a router, a model
    /// that outputs audio or images, no tool calling, an expiry date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
    pub roles: Vec<Breakdown>,
}

pub fn breakdown(role: Role, s: &Scored, free: bool) -> Breakdown {
    Breakdown {
        role,
        total: s.total,
        qualified: s.qualified(),
        disqualified_by: s.disqualified.map(|d| d.to_string()),
        sub: s.sub,
        weights: Scorer::weights(s, role),
        min_context: role.spec().min_context,
        quality: s.quality,
        evidence: s.quality.describe(free),
    }
}

/// Why a model is no agent's model whatever the role, in words, or `None`.
pub fn excluded(m: &catalog::Model) -> Option<String> {
    use super::scoring::Disqualified;
    match super::scoring::unfit(m)? {
        Disqualified::Router => Some(format!(
            "excluded: a router (OpenRouter chooses the model for each request){}",
            if m.is_free() {
                ", though priced at zero"
            } else {
                ""
            }
        )),
        Disqualified::NotTextOnly | Disqualified::NoTextOutput => Some(format!(
            "excluded: output modality {} (not a text model)",
            m.architecture.output_modalities.join("+")
        )),
        Disqualified::NoTools => Some("excluded: no tool calling".to_string()),
        Disqualified::Expiring => Some(format!(
            "excluded: expires {}",
            m.expiration_date.as_deref().unwrap_or("soon")
        )),
        Disqualified::ContextBelow { .. } => None,
    }
}

/// One model's scores for the given roles (all when empty).
pub fn detail(catalog: &Catalog, id: &str, roles: &[Role]) -> Result<ModelDetail> {
    let index = catalog
        .models
        .iter()
        .position(|m| m.id == id)
        .ok_or_else(|| CoreError::NotFound {
            what: "model",
            name: catalog::clip(id, 120),
        })?;
    let scorer = Scorer::new(catalog);
    let m = &catalog.models[index];
    let roles: Vec<Role> = if roles.is_empty() {
        Role::ALL.to_vec()
    } else {
        roles.to_vec()
    };
    Ok(ModelDetail {
        model: m.id.clone(),
        name: m.name.clone(),
        free: m.is_free(),
        context: m.context(),
        max_output: m.top_provider.max_completion_tokens,
        prompt_per_million: m.prompt_per_million(),
        completion_per_million: m.completion_per_million(),
        tools: m.supports("tools"),
        created: m.created,
        expiration_date: m.expiration_date.clone(),
        output_modalities: m.architecture.output_modalities.clone(),
        excluded: excluded(m),
        roles: roles
            .into_iter()
            .map(|r| breakdown(r, &scorer.score(index as u32, r), m.is_free()))
            .collect(),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestFree {
    pub pick: Pick,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<ModelDetail>,
    pub catalog: CatalogInfo,
}

pub async fn best_free(core: &Core, role: Role) -> Result<BestFree> {
    let catalog = core.shared_catalog().await?;
    let pick = Scorer::new(&catalog).best_free(role, &core.ollama_model().await?);
    let detail = catalog
        .get(&pick.model)
        .and_then(|_| detail(&catalog, &pick.model, &[role]).ok());
    let conn = core.db.conn().await?;
    Ok(BestFree {
        pick,
        detail,
        catalog: catalog::latest_info(&conn).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::paths::{Endpoints, Paths};

    #[tokio::test]
    async fn the_catalog_is_parsed_once_per_snapshot_whatever_reads_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths = Paths {
            nxr_home: dir.path().join("nxr"),
            hermes_home: dir.path().join("hermes"),
        };
        let endpoints = Endpoints::unreachable();
        let core = Core::open(paths, endpoints).await.expect("open");
        let parses = || core.catalogs.parses();

        // Nothing scanned: the bundled catalog, parsed by the first reader only.
        for role in Role::ALL {
            best_free(&core, role).await.expect("pick");
        }
        roster(&core).await.expect("roster");
        core.clone()
            .catalog()
            .await
            .expect("a clone shares the cache");
        assert_eq!(parses(), 1);

        // A rescore stores the bundled catalog as the first snapshot: one parse for it.
        rescore(&core).await.expect("rescore");
        best_free(&core, Role::Engineer).await.expect("pick");
        roster(&core).await.expect("roster");
        assert_eq!(parses(), 2);

        // A newer snapshot (stored as another process would) replaces it on the next read.
        let before = best_free(&core, Role::Engineer)
            .await
            .expect("pick")
            .pick
            .model;
        let mut newer = Catalog::bundled();
        newer.models.retain(|m| m.id != before);
        let (_conn, tx) = core.db.write().await.expect("write");
        let id = catalog::store(&tx, &newer).await.expect("store");
        tx.commit().await.expect("commit");
        let pick = best_free(&core, Role::Engineer).await.expect("pick");
        for role in Role::ALL {
            best_free(&core, role).await.expect("pick");
        }
        rescore(&core).await.expect("rescore");
        assert_eq!(parses(), 3);
        assert_ne!(
            pick.pick.model, before,
            "the pick came from the old snapshot"
        );
        let shared = core.shared_catalog().await.expect("catalog");
        assert_eq!(shared.id, Some(id));
        assert_eq!(shared.models.len(), newer.models.len());
        assert_eq!(
            pick.pick.model,
            Scorer::new(&newer)
                .best_free(Role::Engineer, crate::core::scoring::DEFAULT_OLLAMA_MODEL)
                .model
        );
    }
}
