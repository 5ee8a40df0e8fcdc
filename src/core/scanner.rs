//! The scanner: the catalog scan every surface runs, when it is due, what a failed scan
//! does, and the advice that follows a good one.
//!
//! - **When:** every `scan-interval` (a setting, default 6 h; `NXR_SCAN_INTERVAL` in seconds
//!   overrides it, `0`/`off` turns scheduled scans off). A process that starts when the last
//!   good scan is older than that scans at once. The runtime's lease makes it one scan across
//!   every process.
//! - **Failures** (timeout, reset, 5xx, 429, garbage, truncated, an older catalog) keep the
//!   last good catalog and scores, add one `scan_failed` per streak and retry after 5, 15,
//!   then 45 minutes (never later than the interval, never before a 429's `Retry-After`).
//!   The streak lives in the database so every process agrees.
//! - **Advice** after every rescore ([`evaluate`]): `better_model` for each agent whose role
//!   now has a higher-scoring free model, `model_gone` for each slot whose model vanished or
//!   expires within 7 days. Advice a later scan made false is withdrawn. With
//!   `auto-upgrade-free-models` on, the scanner applies it itself to slots nxr set, from a
//!   free model to a free one only, and records `auto_upgrade`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::action::{self, Op};
use super::agents::{self, Agent};
use super::catalog::{self, Catalog};
use super::db;
use super::error::{CoreError, Result};
use super::hermes::{ConfigDoc, OPENROUTER, Profile, RouteSlot};
use super::models::{self, ScanReport};
use super::notifications::{self, AUTO_UPGRADE, BETTER_MODEL, MODEL_GONE, SCAN_FAILED};
use super::routing::{self, Needs, SlotKey};
use super::runtime::Runtime;
use super::scoring::{Role, Scorer};
use super::{Core, time};

/// How often the catalog is scanned unless set otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(6 * 3600);
/// Retries after a failed scan: 5, 15, then 45 minutes (each capped at the interval).
pub const BACKOFF: [Duration; 3] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(45 * 60),
];
/// A model whose `expiration_date` is this close counts as gone.
pub const EXPIRY_WARNING_DAYS: i64 = 7;
/// A free model must beat the agent's model by this many points to be advice.
pub const MIN_GAIN: f64 = 0.1;

pub const INTERVAL_SETTING: &str = "scan_interval";
pub const AUTO_UPGRADE_SETTING: &str = "auto_upgrade_free_models";
const FAILURES_SETTING: &str = "scanner_failures";
const RETRY_AT_SETTING: &str = "scanner_retry_at_ms";
const INTERVAL_ENV: &str = "NXR_SCAN_INTERVAL";

/// `90s`, `15m`, `6h`, `1d` (or plain seconds); `off` or `0` turns scheduled scans off.
pub fn parse_interval(s: &str) -> Result<Option<Duration>> {
    let t = s.trim().to_ascii_lowercase();
    if t == "off" || t == "0" {
        return Ok(None);
    }
    let bad = || {
        CoreError::usage(format!(
            "scan-interval {:?} is not a duration: use 90s, 15m, 6h, 1d or off",
            catalog::clip(s, 40)
        ))
    };
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t.as_str(), "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(bad()),
    };
    if secs == 0 {
        return Ok(None);
    }
    if secs < 60 {
        // OpenRouter's catalog changes a few times a day; a faster scan only spends its
        // rate limit. Tests use NXR_SCAN_INTERVAL for seconds.
        return Err(CoreError::usage(
            "scan-interval must be at least 1m (NXR_SCAN_INTERVAL takes seconds, for tests)",
        ));
    }
    Ok(Some(Duration::from_secs(secs)))
}

/// `6h`, `15m`, `90s`: an interval as a person writes it.
pub fn format_interval(d: Option<Duration>) -> String {
    let Some(d) = d else {
        return "off".into();
    };
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The scan interval in force: `NXR_SCAN_INTERVAL` (seconds), else the setting, else 6 h.
/// `None`: scheduled scans are off.
pub async fn interval(core: &Core) -> Result<Option<Duration>> {
    if let Ok(v) = std::env::var(INTERVAL_ENV)
        && !v.trim().is_empty()
    {
        return match v.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
            Ok(_) => Ok(None),
            Err(_) => parse_interval(&v),
        };
    }
    match core.setting(INTERVAL_SETTING).await? {
        Some(v) => Ok(parse_interval(&v).unwrap_or(Some(DEFAULT_INTERVAL))),
        None => Ok(Some(DEFAULT_INTERVAL)),
    }
}

pub async fn set_interval(core: &Core, value: &str) -> Result<Option<Duration>> {
    let d = parse_interval(value)?;
    core.set_setting(INTERVAL_SETTING, &format_interval(d))
        .await?;
    Ok(d)
}

pub async fn auto_upgrade(core: &Core) -> Result<bool> {
    Ok(core.setting(AUTO_UPGRADE_SETTING).await?.as_deref() == Some("true"))
}

pub async fn set_auto_upgrade(core: &Core, value: &str) -> Result<bool> {
    let on = match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => true,
        "false" | "off" | "no" | "0" => false,
        other => {
            return Err(CoreError::usage(format!(
                "auto-upgrade-free-models takes true or false, not {:?}",
                catalog::clip(other, 40)
            )));
        }
    };
    core.set_setting(AUTO_UPGRADE_SETTING, if on { "true" } else { "false" })
        .await?;
    Ok(on)
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The scanner's state, as `nxr daemon` and the screens show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub interval: String,
    pub auto_upgrade: bool,
    pub last_good_scan: Option<String>,
    /// Failed scans in a row since the last good one.
    pub failures: i64,
    /// When the next scan is due (unix ms), if scheduled scans are on.
    pub next_at_ms: Option<i64>,
}

async fn setting_i64(conn: &libsql::Connection, key: &str) -> Result<Option<i64>> {
    let mut rows = conn
        .query("SELECT value FROM settings WHERE key = ?1", [key])
        .await?;
    Ok(match rows.next().await? {
        Some(row) => db::text(&row, 0)?.parse().ok(),
        None => None,
    })
}

async fn put_setting(tx: &libsql::Connection, key: &str, value: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        libsql::params![key, value, time::now()],
    )
    .await?;
    Ok(())
}

pub async fn status(core: &Core) -> Result<Status> {
    let interval = interval(core).await?;
    let conn = core.db.conn().await?;
    let failures = setting_i64(&conn, FAILURES_SETTING).await?.unwrap_or(0);
    let retry_at = setting_i64(&conn, RETRY_AT_SETTING).await?;
    let mut rows = conn
        .query("SELECT MAX(finished_at) FROM scans WHERE status = 'ok'", ())
        .await?;
    let last = match rows.next().await? {
        Some(row) => db::opt_text(&row, 0)?,
        None => None,
    };
    drop(rows);
    let next_at_ms = interval.map(|i| {
        if failures > 0 {
            retry_at.unwrap_or(0)
        } else {
            last.as_deref()
                .and_then(time::parse)
                .map(|t| t.as_millisecond() + i.as_millis() as i64)
                .unwrap_or(0)
        }
    });
    Ok(Status {
        interval: format_interval(interval),
        auto_upgrade: auto_upgrade(core).await?,
        last_good_scan: last,
        failures,
        next_at_ms,
    })
}

/// True when a scheduled scan should start now.
pub async fn due(core: &Core) -> Result<bool> {
    let s = status(core).await?;
    Ok(s.next_at_ms.is_some_and(|at| now_ms() >= at))
}

/// The scheduler's tick: starts a scan job when one is due (the job checks again once it
/// holds the lease, so two processes that both saw it due scan once).
pub async fn tick(rt: &Runtime) -> Result<()> {
    if due(rt.core()).await? {
        rt.start_scheduled_scan().await?;
    }
    Ok(())
}

/// The newest `created` in a catalog: how new it is.
fn newest(c: &Catalog) -> i64 {
    c.models.iter().map(|m| m.created).max().unwrap_or(0)
}

/// The catalog scan every surface runs: load (a file, else OpenRouter), refuse a catalog
/// older than the one in use unless `force`, store, rescore, then advise ([`evaluate`]). A
/// scan from the network that fails is counted in the failure streak.
pub async fn scan(
    core: &Core,
    from: Option<&Path>,
    timeout: Duration,
    force: bool,
) -> Result<ScanReport> {
    let source = match from {
        Some(p) => p.display().to_string(),
        None => format!("{}/models", core.endpoints.openrouter),
    };
    let started = time::now();
    let loaded = match from {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(body) => Catalog::parse(&body, &source, &time::now()).map_err(|e| (e, None)),
            Err(e) => Err((CoreError::io(path, e), None)),
        },
        None => match core.openrouter(timeout) {
            Ok(or) => or.models_or_retry_at().await,
            Err(e) => Err((e, None)),
        },
    };
    let loaded = match loaded {
        Ok(c) => refuse_older(core, c, from.is_some(), force)
            .await
            .map_err(|e| (e, None)),
        Err(e) => Err(e),
    };
    let catalog = match loaded {
        Ok(c) => c,
        Err((e, retry_at)) => {
            let text = e.to_string();
            models::record_scan(
                core,
                &started,
                &time::now(),
                &source,
                "failed",
                Some(&text),
                None,
            )
            .await?;
            if from.is_none() {
                record_failure(core, &text, retry_at).await?;
            }
            return Err(e);
        }
    };
    let report = models::ingest(core, catalog, &started, &time::now()).await?;
    if from.is_none() {
        record_success(core).await?;
    }
    agents::after_rescore(core, &report.rescore).await?;
    Ok(report)
}

/// A catalog whose newest model is older than the newest of the catalog in use does not
/// replace it silently (a stale mirror, an old file). The bundled catalog never blocks a
/// scan: it is a default, not something a scan found.
async fn refuse_older(core: &Core, c: Catalog, from_file: bool, force: bool) -> Result<Catalog> {
    if force {
        return Ok(c);
    }
    let conn = core.db.conn().await?;
    let Some(current) = catalog::load_latest(&conn).await? else {
        return Ok(c);
    };
    if current.source == catalog::BUNDLED_SOURCE || newest(&c) >= newest(&current) {
        return Ok(c);
    }
    let day = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_else(|_| t.to_string())
    };
    let what = format!(
        "{} is older than the catalog in use (its newest model is from {}, the one in use has one from {})",
        catalog::clip(&c.source, 200),
        day(newest(&c)),
        day(newest(&current))
    );
    Err(if from_file {
        CoreError::usage(format!(
            "{what}; nothing changed. Add --force to use it anyway"
        ))
    } else {
        CoreError::Catalog(format!("{what}; the catalog in use stays"))
    })
}

/// One more failed scan: back off, and tell a person once per streak.
pub async fn record_failure(core: &Core, error: &str, retry_at_ms: Option<i64>) -> Result<()> {
    let cap = interval(core).await?.unwrap_or(DEFAULT_INTERVAL);
    let (_c, tx) = core.db.write().await?;
    let failures = setting_i64(&tx, FAILURES_SETTING).await?.unwrap_or(0) + 1;
    let wait = BACKOFF[(failures as usize - 1).min(BACKOFF.len() - 1)].min(cap);
    let mut retry = now_ms() + wait.as_millis() as i64;
    if let Some(r) = retry_at_ms {
        retry = retry.max(r);
    }
    put_setting(&tx, FAILURES_SETTING, &failures.to_string()).await?;
    put_setting(&tx, RETRY_AT_SETTING, &retry.to_string()).await?;
    let when = jiff::Timestamp::from_millisecond(retry)
        .map(|t| t.strftime("%H:%M:%S UTC").to_string())
        .unwrap_or_default();
    notifications::add_keyed(
        &tx,
        SCAN_FAILED,
        "Catalog scans are failing",
        &format!(
            "{}. nxr keeps the last good catalog and scores, and retries at {when} (then backs off up to the scan interval).",
            super::text::clean_max(error, 400)
        ),
        &serde_json::json!({"error": error, "retry_at_ms": retry, "failures": failures}),
        Some(SCAN_FAILED),
    )
    .await?;
    db::touch(&tx, "scans").await?;
    tx.commit().await?;
    Ok(())
}

/// A good scan ends the failure streak, and its `scan_failed` no longer holds.
pub async fn record_success(core: &Core) -> Result<()> {
    let (_c, tx) = core.db.write().await?;
    tx.execute(
        "DELETE FROM settings WHERE key IN (?1, ?2)",
        libsql::params![FAILURES_SETTING, RETRY_AT_SETTING],
    )
    .await?;
    notifications::withdraw_except(&tx, &[SCAN_FAILED], &BTreeSet::new()).await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------- advice

/// Why a model counts as gone: not listed any more, or expiring within 7 days. OpenRouter's
/// own routers (`openrouter/free`) are never gone: they are not models that retire.
pub fn why_gone(catalog: &Catalog, id: &str, now: jiff::Timestamp) -> Option<String> {
    if id.starts_with("openrouter/") || catalog.models.is_empty() {
        return None;
    }
    let Some(m) = catalog.get(id) else {
        return Some("is no longer in OpenRouter's catalog".into());
    };
    let date = m.expiration_date.as_deref()?;
    let at = date.parse::<jiff::Timestamp>().ok().or_else(|| {
        date.parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })?;
    let days = (at.as_second() - now.as_second()) / 86_400;
    (days <= EXPIRY_WARNING_DAYS).then(|| {
        if at <= now {
            format!("expired on {}", catalog::clip(date, 40))
        } else {
            format!("expires on {}", catalog::clip(date, 40))
        }
    })
}

/// One piece of advice about one slot of one agent.
#[derive(Debug, Clone, PartialEq)]
struct Advice {
    kind: &'static str,
    agent: String,
    role: Role,
    slot: SlotKey,
    old: String,
    new: Option<RouteSlot>,
    /// Why (model_gone) or the score gain (better_model).
    reason: String,
    delta: Option<f64>,
    old_score: Option<f64>,
    new_score: Option<f64>,
    /// The scanner may apply it itself: nxr set the slot, it runs a free model and the
    /// replacement is free.
    auto: bool,
    /// A person set this slot by hand: report only.
    by_hand: bool,
}

impl Advice {
    fn key(&self) -> String {
        match self.kind {
            BETTER_MODEL => format!(
                "{BETTER_MODEL}:{}:{}:{}",
                self.agent,
                self.slot,
                self.new.as_ref().map(|n| n.model.as_str()).unwrap_or("")
            ),
            _ => format!("{}:{}:{}:{}", self.kind, self.agent, self.slot, self.old),
        }
    }

    fn action(&self) -> Option<Op> {
        let new = self.new.as_ref()?;
        Some(Op::SetSlot {
            agent: self.agent.clone(),
            slot: self.slot.clone(),
            model: new.model.clone(),
            provider: Some(new.provider.clone()),
            base_url: new.base_url.clone(),
            force: false,
        })
    }

    fn slot_words(&self) -> String {
        match &self.slot {
            SlotKey::Main => "main model".into(),
            SlotKey::Aux(t) => format!("{t} slot"),
            SlotKey::Fallback(i) => format!("fallback {}", i + 1),
            SlotKey::NewFallback => "new fallback".into(),
        }
    }

    fn text(&self) -> (String, String) {
        let new = self.new.as_ref().map(|n| n.model.as_str());
        match self.kind {
            BETTER_MODEL => (
                format!("A better free model for {}", self.agent),
                format!(
                    "{} ({}) runs {}; the best free model for its role is now {}{}.",
                    self.agent,
                    self.role,
                    self.old,
                    new.unwrap_or("?"),
                    self.delta
                        .map(|d| format!(" ({d:+.1} points)"))
                        .unwrap_or_default()
                ),
            ),
            _ => {
                let then = match (new, self.by_hand) {
                    (Some(n), false) => format!(" Replacement: {n}."),
                    (Some(n), true) => format!(
                        " It was set by hand, so nxr only reports it; a replacement that fits: {n}."
                    ),
                    (None, _) => {
                        " No free model fits this slot: choose one on the Models tab.".into()
                    }
                };
                (
                    format!(
                        "{} {}: {}'s {}",
                        self.old,
                        short(&self.reason),
                        self.agent,
                        self.slot_words()
                    ),
                    format!(
                        "{}'s {} uses {}, which {}.{then}",
                        self.agent,
                        self.slot_words(),
                        self.old,
                        self.reason
                    ),
                )
            }
        }
    }

    fn payload(&self) -> serde_json::Value {
        serde_json::json!({
            "agent": self.agent,
            "role": self.role,
            "slot": self.slot.to_string(),
            "old_model": self.old,
            "new_model": self.new.as_ref().map(|n| n.model.clone()),
            "score_delta": self.delta,
            "old_score": self.old_score,
            "new_score": self.new_score,
            "reason": self.reason,
            "set_by_hand": self.by_hand,
            "action": self.action(),
        })
    }
}

fn short(reason: &str) -> &'static str {
    if reason.starts_with("is no longer") {
        "is gone"
    } else {
        "is expiring"
    }
}

/// What [`evaluate`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evaluation {
    /// New notifications (ids).
    pub added: Vec<i64>,
    /// Advice a later scan made false.
    pub withdrawn: u64,
    /// Slots the scanner moved itself: "scout main: a -> b".
    pub moved: Vec<String>,
}

/// The slots nxr set: (agent id, slot) -> the model it wrote.
async fn managed(conn: &libsql::Connection) -> Result<BTreeMap<(i64, String), String>> {
    let mut rows = conn
        .query("SELECT agent_id, slot, model FROM managed_slots", ())
        .await?;
    let mut out = BTreeMap::new();
    while let Some(row) = rows.next().await? {
        out.insert((db::int(&row, 0)?, db::text(&row, 1)?), db::text(&row, 2)?);
    }
    Ok(out)
}

/// Remembers that nxr set `slot` of `agent` to `model` (at creation, by auto-upgrade, or by
/// a person applying nxr's advice).
pub async fn remember_slot(core: &Core, agent: &str, slot: &str, model: &str) -> Result<()> {
    let (_c, tx) = core.db.write().await?;
    tx.execute(
        "INSERT INTO managed_slots (agent_id, slot, model, set_at)
         SELECT id, ?2, ?3, ?4 FROM agents WHERE name = ?1
         ON CONFLICT(agent_id, slot) DO UPDATE SET model = excluded.model, set_at = excluded.set_at",
        libsql::params![agent, slot, model, time::now()],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// After `agents create`: the slots nxr chose (the main model when the scorer picked it, the
/// vision pin, the free router as first fallback) are nxr's to keep current.
pub async fn remember_created(core: &Core, agent: &Agent, profile: &Profile) -> Result<()> {
    if agent.model_auto_assigned {
        remember_slot(core, &agent.name, "main", &agent.model).await?;
    }
    // Read what the profile holds first: the YAML document is not `Send`, so it must not
    // live across an await (this runs on the setup's own task).
    let (vision, first_fallback) = {
        let Ok(config) = ConfigDoc::load(&profile.config_path()) else {
            return Ok(());
        };
        let vision = config
            .aux_slot("vision")
            .filter(|v| v.provider == OPENROUTER)
            .map(|v| v.model.clone());
        let first_fallback = config
            .fallback_providers()
            .first()
            .filter(|f| f.model == catalog::FREE_ROUTER_ID)
            .map(|f| f.model.clone());
        (vision, first_fallback)
    };
    if let Some(model) = vision {
        remember_slot(core, &agent.name, "aux:vision", &model).await?;
    }
    if let Some(model) = first_fallback {
        remember_slot(core, &agent.name, "fallback:0", &model).await?;
    }
    Ok(())
}

/// The free model that best fits a slot's needs, for an agent of `role`.
fn replacement(
    scorer: &Scorer,
    catalog: &Catalog,
    role: Role,
    slot: &SlotKey,
    avoid: &str,
    ollama: &str,
) -> Option<(RouteSlot, Option<f64>)> {
    let needs = Needs::of_slot(slot);
    let route = |id: &str| RouteSlot {
        provider: OPENROUTER.into(),
        model: id.to_string(),
        base_url: None,
    };
    match slot {
        SlotKey::Main => {
            let p = scorer.best_free(role, ollama);
            Some((
                RouteSlot {
                    provider: p.provider,
                    model: p.model,
                    base_url: p.base_url,
                },
                p.score,
            ))
        }
        SlotKey::Aux(task) if task == "vision" => routing::vision_pick(catalog).map(|r| (r, None)),
        _ => {
            let score_role = if matches!(slot, SlotKey::Aux(_)) {
                Role::Custom
            } else {
                role
            };
            scorer
                .best(score_role, |m, free| {
                    free && !m.is_router() && m.id != avoid && needs.lacks(m).is_none()
                })
                .map(|s| (route(&scorer.model(&s).id), Some(s.total)))
        }
    }
}

async fn last_was_free(conn: &libsql::Connection, agent_id: i64) -> Result<bool> {
    Ok(db::scalar_i64(
        conn,
        "SELECT is_free FROM agent_model_history WHERE agent_id = ?1 ORDER BY id DESC LIMIT 1",
        [agent_id],
    )
    .await?
    .unwrap_or(0)
        != 0)
}

/// What advice about every agent is judged against.
struct World<'a> {
    catalog: &'a Catalog,
    scorer: &'a Scorer<'a>,
    managed: &'a BTreeMap<(i64, String), String>,
    ollama: &'a str,
    now: jiff::Timestamp,
}

fn advise(w: &World, a: &Agent, config: Option<&ConfigDoc>, was_free: bool) -> Vec<Advice> {
    let World {
        catalog,
        scorer,
        managed,
        ollama,
        now,
    } = *w;
    let mut out = Vec::new();
    let score_of = |id: &str, role: Role| {
        catalog
            .models
            .iter()
            .position(|m| m.id == id)
            .map(|i| scorer.score(i as u32, role))
            .filter(|s| s.qualified())
            .map(|s| s.total)
    };
    let is_managed = |slot: &SlotKey, model: &str| {
        managed.get(&(a.id, slot.to_string())).map(String::as_str) == Some(model)
    };
    let round = |x: f64| (x * 10.0).round() / 10.0;
    if a.provider == OPENROUTER {
        let free_now = catalog
            .get(&a.model)
            .map(|m| m.is_free())
            .unwrap_or(was_free);
        let slot = SlotKey::Main;
        let by_hand = !is_managed(&slot, &a.model);
        let pick = replacement(scorer, catalog, a.role, &slot, &a.model, ollama);
        if let Some(reason) = why_gone(catalog, &a.model, now) {
            out.push(Advice {
                kind: MODEL_GONE,
                agent: a.name.clone(),
                role: a.role,
                slot,
                old: a.model.clone(),
                auto: !by_hand && free_now && pick.is_some(),
                new: pick.map(|p| p.0),
                reason,
                delta: None,
                old_score: None,
                new_score: None,
                by_hand,
            });
        } else if let Some((new, Some(new_score))) = pick
            && new.model != a.model
        {
            let old_score = score_of(&a.model, a.role);
            let delta = old_score.map(|o| round(new_score - o));
            if delta.is_none_or(|d| d >= MIN_GAIN) {
                out.push(Advice {
                    kind: BETTER_MODEL,
                    agent: a.name.clone(),
                    role: a.role,
                    slot,
                    old: a.model.clone(),
                    new: Some(new),
                    reason: "scores higher".into(),
                    delta,
                    old_score: old_score.map(round),
                    new_score: Some(round(new_score)),
                    auto: !by_hand && free_now,
                    by_hand,
                });
            }
        }
    }
    let Some(config) = config else {
        return out;
    };
    let mut slots: Vec<(SlotKey, RouteSlot)> = config
        .aux_tasks()
        .into_iter()
        .filter_map(|t| config.aux_slot(&t).map(|s| (SlotKey::Aux(t), s)))
        .collect();
    slots.extend(
        config
            .fallback_providers()
            .into_iter()
            .enumerate()
            .map(|(i, s)| (SlotKey::Fallback(i), s)),
    );
    for (slot, route) in slots {
        if route.provider != OPENROUTER {
            continue;
        }
        let Some(reason) = why_gone(catalog, &route.model, now) else {
            continue;
        };
        let by_hand = !is_managed(&slot, &route.model);
        let free_now = catalog.get(&route.model).is_none_or(|m| m.is_free());
        let new = replacement(scorer, catalog, a.role, &slot, &a.model, ollama).map(|p| p.0);
        out.push(Advice {
            kind: MODEL_GONE,
            agent: a.name.clone(),
            role: a.role,
            auto: !by_hand && free_now && new.is_some(),
            slot,
            old: route.model.clone(),
            new,
            reason,
            delta: None,
            old_score: None,
            new_score: None,
            by_hand,
        });
    }
    out
}

/// Compares every agent's slots with the catalog in use and brings the advice up to date:
/// new advice is added once, advice that no longer holds is withdrawn, and with
/// auto-upgrade on the scanner moves the slots nxr set (free to free only).
pub async fn evaluate(core: &Core) -> Result<Evaluation> {
    let catalog = core.catalog().await?;
    if catalog.models.is_empty() {
        return Ok(Evaluation::default());
    }
    let scorer = Scorer::new(&catalog);
    let ollama = core.ollama_model().await?;
    let auto = auto_upgrade(core).await?;
    let conn = core.db.conn().await?;
    let all = agents::list(&conn).await?;
    let managed = managed(&conn).await?;
    let world = World {
        catalog: &catalog,
        scorer: &scorer,
        managed: &managed,
        ollama: &ollama,
        now: jiff::Timestamp::now(),
    };
    let mut advice = Vec::new();
    for a in &all {
        let was_free = last_was_free(&conn, a.id).await?;
        // The parsed file is not `Send`: it lives only in this synchronous stretch.
        let profile = Profile::resolve(&core.paths.hermes_home, &a.profile);
        let config = ConfigDoc::load(&profile.config_path()).ok();
        advice.extend(advise(&world, a, config.as_ref(), was_free));
    }
    drop(conn);

    let mut eval = Evaluation::default();
    let mut keep = BTreeSet::new();
    let mut to_add = Vec::new();
    for adv in advice {
        let is_free_target = adv
            .new
            .as_ref()
            .and_then(|n| catalog.get(&n.model))
            .is_some_and(|m| m.is_free());
        if auto
            && adv.auto
            && is_free_target
            && let Some(to) = adv.new.clone()
        {
            let new = to.model.clone();
            // The very write `set_slot` does for a person (`Op::SetSlot`), guards included.
            match action::set_slot(
                core,
                &adv.agent,
                &adv.slot,
                to.model,
                Some(to.provider),
                to.base_url,
                false,
            )
            .await
            {
                Ok(_) => {
                    remember_slot(core, &adv.agent, &adv.slot.to_string(), &new).await?;
                    let line = format!("{} {}: {} -> {new}", adv.agent, adv.slot, adv.old);
                    let why = match adv.kind {
                        BETTER_MODEL => adv
                            .delta
                            .map(|d| format!("it scores {d:+.1} points higher"))
                            .unwrap_or_else(|| "it scores higher".into()),
                        _ => format!("{} {}", adv.old, adv.reason),
                    };
                    let (_c, tx) = core.db.write().await?;
                    if let Some(id) = notifications::add_keyed(
                        &tx,
                        AUTO_UPGRADE,
                        &format!("{} moved to {new}", adv.agent),
                        &format!(
                            "nxr moved {}'s {} from {} to {new} ({why}), because auto-upgrade-free-models is on. Revert: nxr upgrade --revert --agent {}.",
                            adv.agent,
                            adv.slot_words(),
                            adv.old,
                            adv.agent
                        ),
                        &{
                            let mut p = adv.payload();
                            p["action"] = serde_json::Value::Null;
                            p["moved_because"] = adv.kind.into();
                            p
                        },
                        None,
                    )
                    .await?
                    {
                        eval.added.push(id);
                    }
                    tx.commit().await?;
                    eval.moved.push(line);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(agent = %adv.agent, error = %e, "auto-upgrade failed; notifying instead");
                }
            }
        }
        keep.insert(adv.key());
        to_add.push(adv);
    }
    let (_c, tx) = core.db.write().await?;
    eval.withdrawn =
        notifications::withdraw_except(&tx, &[BETTER_MODEL, MODEL_GONE], &keep).await?;
    for adv in &to_add {
        let (title, body) = adv.text();
        if let Some(id) = notifications::add_keyed(
            &tx,
            adv.kind,
            &title,
            &body,
            &adv.payload(),
            Some(&adv.key()),
        )
        .await?
        {
            eval.added.push(id);
        }
    }
    tx.commit().await?;
    Ok(eval)
}

/// After a person applied a notification: the slot now holds nxr's advice, so nxr keeps it
/// current from here on.
pub async fn remember_applied(core: &Core, act: &Op) -> Result<()> {
    if let Op::SetSlot {
        agent, slot, model, ..
    } = act
    {
        remember_slot(core, agent, &slot.to_string(), model).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_people_write_them() {
        assert_eq!(
            parse_interval("90s").expect("90s"),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_interval("15m").expect("15m"),
            Some(Duration::from_secs(900))
        );
        assert_eq!(
            parse_interval(" 6h ").expect("6h"),
            Some(Duration::from_secs(21_600))
        );
        assert_eq!(
            parse_interval("1d").expect("1d"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(parse_interval("off").expect("off"), None);
        for bad in ["", "6x", "h", "-5m", "10s", "1.5h"] {
            assert!(parse_interval(bad).is_err(), "{bad:?} was accepted");
        }
        for s in ["90s", "15m", "6h", "1d", "off"] {
            let d = parse_interval(s).expect("parses");
            assert_eq!(format_interval(d), s);
        }
    }

    #[test]
    fn a_model_expiring_within_a_week_counts_as_gone_and_a_router_never_does() {
        let body = r#"{"data":[
            {"id":"a/soon:free","created":1,"expiration_date":"2026-12-05"},
            {"id":"a/later:free","created":1,"expiration_date":"2027-02-01"},
            {"id":"a/steady:free","created":1}
        ]}"#;
        let c = Catalog::parse(body, "t", "t").expect("parse");
        let now: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().expect("ts");
        assert_eq!(
            why_gone(&c, "a/soon:free", now).as_deref(),
            Some("expires on 2026-12-05")
        );
        assert_eq!(why_gone(&c, "a/later:free", now), None);
        assert_eq!(why_gone(&c, "a/steady:free", now), None);
        assert_eq!(
            why_gone(&c, "a/vanished:free", now).as_deref(),
            Some("is no longer in OpenRouter's catalog")
        );
        assert_eq!(why_gone(&c, "openrouter/free", now), None);
        let later: jiff::Timestamp = "2026-12-06T00:00:00Z".parse().expect("ts");
        assert_eq!(
            why_gone(&c, "a/soon:free", later).as_deref(),
            Some("expired on 2026-12-05")
        );
    }
}
