//! The free-tier budget: today's (UTC) free-model requests against the account's daily
//! limit, the last minute against 20, the projection for the day, per-agent requests and
//! cost, the rate-limit log, the 70/90/100 % notifications and the gate that holds work at
//! 100 %. Everything is computed from what [`super::usage`] ingested; [`compute`] is pure.
//!
//! OpenRouter's free-tier limits apply to the whole account, so every agent shares one
//! counter, and failed attempts (429s from the ledger) count against it too.

use serde::{Deserialize, Serialize};

use super::Core;
use super::db;
use super::error::{CoreError, Result};
use super::notifications;
use super::secrets::{self, Payer};

/// Requests per minute on free models (every account).
pub const PER_MINUTE: i64 = 20;
/// Free-model requests per UTC day under 10 credits bought, and at 10 or more.
pub const DAILY_SMALL: i64 = 50;
pub const DAILY_LARGE: i64 = 1000;
/// The notification thresholds, in percent of the daily limit.
pub const THRESHOLDS: [i64; 3] = [70, 90, 100];
/// `/key`'s free-model counter, as last read (see [`refresh_key`]).
const KEY_DAILY_SETTING: &str = "openrouter_free_daily";
/// `/key` is asked again after this long.
const KEY_CHECK_SECS: i64 = 300;
/// The file the worker wrapper reads (in `NXR_HOME`).
pub const GATE_FILE: &str = "budget-gate.json";
/// The kanban worker wrapper's name, in `NXR_HOME/bin/` (see `cli/worker.rs`).
pub const WORKER_NAME: &str = "nxr-hermes-worker";
/// How many rate-limit events the budget shows.
const LOG_ROWS: i64 = 50;

/// A free model, as the usage tables store model ids: OpenRouter's `:free` variants and its
/// free router. The daily and per-minute limits count only these.
const FREE_SQL: &str = "(model LIKE '%:free' OR model = 'openrouter/free')";

/// [`FREE_SQL`] for one id: a model whose calls count against the free-tier limits.
pub fn is_free_model(model: &str) -> bool {
    model.ends_with(":free") || model == super::catalog::FREE_ROUTER_ID
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outlook {
    /// The projection stays under the limit.
    OnTrack,
    /// At the recent rate the limit is reached today, at `hits_at`.
    WillHit,
    /// The limit is used up.
    Reached,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentUsage {
    pub agent: String,
    pub profile: String,
    /// The agent's dollar cap per UTC day, if it has one.
    pub cap_usd: Option<f64>,
    pub today_requests: i64,
    pub today_cost_usd: f64,
    pub week_requests: i64,
    pub week_cost_usd: f64,
    pub month_requests: i64,
    pub month_cost_usd: f64,
    /// The last call nxr saw (RFC 3339), the agent's heartbeat.
    pub last_call: Option<String>,
    pub requests_24h: i64,
    pub errors_24h: i64,
    /// Failed share of the last 24 hours' attempts, 0 to 1.
    pub error_rate_24h: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateLimitEvent {
    pub agent: String,
    pub at: String,
    pub model: String,
    pub status: Option<i64>,
    pub reason: String,
    pub limit_kind: String,
    pub retry_count: Option<i64>,
    /// When OpenRouter said the limit resets (`X-RateLimit-Reset`).
    pub reset_at: Option<String>,
    pub message: String,
}

/// One point of the day's graph: requests used by the end of `hour` (UTC), or projected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Hours since 00:00 UTC (fractional for "now").
    pub hour: f64,
    pub requests: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// The account the gate belongs to (a masked key, or "no key").
    pub account: String,
    pub open: bool,
    /// Why it is closed.
    pub reason: Option<String>,
    /// When it opens by itself (00:00 UTC next day), while closed.
    pub opens_at: Option<String>,
    /// The UTC day the state is for: a gate file from an earlier day is open.
    pub day: String,
    /// Agents held by their own dollar cap while the gate is open for the others.
    #[serde(default)]
    pub held: Vec<Held>,
}

/// An agent whose spend today reached its dollar cap: its work is held until 00:00 UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub agent: String,
    /// The Hermes profile the worker wrapper sees as `-p PROFILE`.
    pub profile: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub now: String,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Free-model requests today (successful calls and failed attempts).
    pub used: i64,
    pub limit: i64,
    /// Where the limit comes from, in words.
    pub limit_source: String,
    /// `/key`'s own count today, when a key is stored and was read today.
    pub key_used: Option<i64>,
    /// "nxr counted N, OpenRouter says M" when the two differ.
    pub reconcile: Option<String>,
    pub percent: f64,
    pub last_minute: i64,
    pub per_minute: i64,
    /// Requests per hour over the last hour (or since midnight, when shorter).
    pub rate_per_hour: f64,
    /// The projected total for the day (see the README's estimator).
    pub projected: i64,
    pub outlook: Outlook,
    /// When the limit will be reached at the recent rate (`HH:MM` UTC).
    pub hits_at: Option<String>,
    /// One line: "on track: 120 of 1000 projected" / "will hit the limit at 17:40 UTC".
    pub outlook_text: String,
    /// Used by the end of each hour so far, then now.
    pub actual: Vec<Point>,
    /// From now to 24:00 at the recent rate.
    pub projection: Vec<Point>,
    pub agents: Vec<AgentUsage>,
    pub rate_limits: Vec<RateLimitEvent>,
    pub gate: Gate,
    /// Thresholds (70, 90, 100) already announced today.
    pub alerted: Vec<i64>,
    /// Kanban tasks nxr holds while the gate is closed (see [`super::holds`]).
    #[serde(default)]
    pub held_tasks: Vec<super::holds::KanbanHold>,
}

/// Everything [`compute`] needs, read from the database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    pub used: i64,
    /// Free-model requests per UTC hour today: (hour start, requests).
    pub hours: Vec<(i64, i64)>,
    pub last_minute: i64,
    /// Free-model calls in the rate window (the last hour, or since midnight).
    pub recent: i64,
    pub limit: i64,
    pub limit_source: String,
    pub key_used: Option<i64>,
    pub account: String,
    /// The newest `free-models-per-day` 429 today (unix ms).
    pub daily_429: Option<i64>,
    /// When a key whose account has credits was last checked (unix ms): it opens a gate
    /// closed by an earlier 429.
    pub credits_checked: Option<i64>,
    pub agents: Vec<AgentUsage>,
    pub rate_limits: Vec<RateLimitEvent>,
    pub alerted: Vec<i64>,
    pub held_tasks: Vec<super::holds::KanbanHold>,
}

fn day_start(now: i64) -> i64 {
    now - now.rem_euclid(86_400)
}

fn ts(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn ts_ms(ms: i64) -> String {
    super::time::format(
        jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    )
}

/// The budget from its inputs at `now` (unix seconds). The projection: the rate is the
/// free-model calls of the last hour (of the time since midnight when the day is younger,
/// at least one minute) per second; projected = used + rate x seconds left in the UTC day.
pub fn compute(i: &Inputs, now: i64) -> Budget {
    let d0 = day_start(now);
    let elapsed = (now - d0).max(0);
    let left = (86_400 - elapsed).max(0);
    let window = elapsed.clamp(60, 3600);
    let rate = i.recent as f64 / window as f64;
    let limit = i.limit.max(1);
    let projected = i.used + (rate * left as f64).round() as i64;
    let (outlook, hits_at) = if i.used >= limit {
        (Outlook::Reached, None)
    } else if rate > 0.0 && projected >= limit {
        let secs = ((limit - i.used) as f64 / rate).ceil() as i64;
        let at = ts(now + secs);
        (Outlook::WillHit, Some(at.strftime("%H:%M").to_string()))
    } else {
        (Outlook::OnTrack, None)
    };
    let outlook_text = match outlook {
        Outlook::OnTrack => format!("on track: {projected} of {limit} projected for the day"),
        Outlook::WillHit => format!(
            "will hit the limit at {} UTC ({projected} projected, limit {limit})",
            hits_at.as_deref().unwrap_or("?")
        ),
        Outlook::Reached => format!("limit reached: {} of {limit} used", i.used),
    };
    let mut actual = Vec::new();
    let mut sum = 0;
    for h in 0..=(elapsed / 3600) {
        let start = d0 + h * 3600;
        sum += i
            .hours
            .iter()
            .filter(|(s, _)| *s == start)
            .map(|(_, n)| n)
            .sum::<i64>();
        let end = ((h + 1) * 3600).min(elapsed);
        actual.push(Point {
            hour: end as f64 / 3600.0,
            requests: sum as f64,
        });
    }
    let projection = vec![
        Point {
            hour: elapsed as f64 / 3600.0,
            requests: i.used as f64,
        },
        Point {
            hour: 24.0,
            requests: projected as f64,
        },
    ];
    let gate = gate(i, now, limit);
    let reconcile = match i.key_used {
        Some(k) if k != i.used => Some(format!(
            "nxr counted {} today, OpenRouter's /key says {k}",
            i.used
        )),
        _ => None,
    };
    Budget {
        now: super::time::format(ts(now)),
        day: ts(now).strftime("%Y-%m-%d").to_string(),
        used: i.used,
        limit,
        limit_source: i.limit_source.clone(),
        key_used: i.key_used,
        reconcile,
        percent: (i.used as f64 * 100.0 / limit as f64 * 10.0).round() / 10.0,
        last_minute: i.last_minute,
        per_minute: PER_MINUTE,
        rate_per_hour: (rate * 3600.0 * 10.0).round() / 10.0,
        projected,
        outlook,
        hits_at,
        outlook_text,
        actual,
        projection,
        agents: i.agents.clone(),
        rate_limits: i.rate_limits.clone(),
        gate,
        alerted: i.alerted.clone(),
        held_tasks: i.held_tasks.clone(),
    }
}

/// The gate closes when today's count reaches the limit, or on a `free-models-per-day` 429
/// (unless a key with credits was stored after it); it opens at 00:00 UTC.
fn gate(i: &Inputs, now: i64, limit: i64) -> Gate {
    let d0 = day_start(now);
    let reason = if i.used >= limit {
        Some(format!(
            "the daily limit of {limit} free-model requests is used up ({} today)",
            i.used
        ))
    } else {
        match (i.daily_429, i.credits_checked) {
            (Some(at), Some(k)) if k > at => None,
            (Some(at), _) => Some(format!(
                "OpenRouter answered 429 free-models-per-day at {} UTC",
                ts(at / 1000).strftime("%H:%M")
            )),
            (None, _) => None,
        }
    };
    Gate {
        account: i.account.clone(),
        open: reason.is_none(),
        opens_at: reason
            .as_ref()
            .map(|_| super::time::format(ts(d0 + 86_400))),
        reason,
        day: ts(now).strftime("%Y-%m-%d").to_string(),
        held: i
            .agents
            .iter()
            .filter_map(|a| {
                let cap = a.cap_usd?;
                (a.today_cost_usd >= cap).then(|| Held {
                    agent: a.agent.clone(),
                    profile: a.profile.clone(),
                    reason: format!(
                        "{} spent ${:.2} today, its cap is ${cap:.2}",
                        a.agent, a.today_cost_usd
                    ),
                })
            })
            .collect(),
    }
}

/// Per-agent dollar caps per UTC day, by agent name (a setting).
const CAPS_SETTING: &str = "budget_agent_caps";

async fn caps(core: &Core) -> Result<std::collections::BTreeMap<String, f64>> {
    Ok(core
        .setting(CAPS_SETTING)
        .await?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default())
}

/// Sets (or with `None` removes) an agent's dollar cap per UTC day: once its spend today
/// reaches it, the worker wrapper holds that agent's work until 00:00 UTC, before any call.
pub async fn set_cap(core: &Core, agent: &str, usd: Option<f64>) -> Result<()> {
    if let Some(v) = usd
        && !(v.is_finite() && v >= 0.0)
    {
        return Err(CoreError::usage(format!(
            "a cap is dollars per day, 0 or more: not {v}"
        )));
    }
    let conn = core.db.conn().await?;
    let name = super::agents::find(&conn, agent).await?.name;
    let mut all = caps(core).await?;
    match usd {
        Some(v) => all.insert(name, v),
        None => all.remove(&name),
    };
    let json = serde_json::to_string(&all)
        .map_err(|e| CoreError::Db(format!("cannot store the caps: {e}")))?;
    core.set_setting(CAPS_SETTING, &json).await
}

/// `/key`'s free-model counter as nxr stored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeyDaily {
    key: String,
    limit: Option<i64>,
    used: Option<i64>,
    checked_at: i64,
}

/// A sum of dollar costs to the nearest billionth of a dollar (far below any per-call
/// price). Floating-point sums differ in their last bits with the order of the terms (a
/// day's running total, then the days; or every hour at once): rounded, the figure is the
/// same whichever way it was summed.
fn nano_usd(usd: f64) -> f64 {
    (usd * 1e9).round() / 1e9
}

/// Reads everything the budget needs at `now` (unix seconds).
pub async fn inputs(core: &Core, now: i64) -> Result<Inputs> {
    let conn = core.db.conn().await?;
    let d0 = day_start(now);
    let mut i = Inputs::default();
    let mut rows = conn
        .query(
            &format!(
                "SELECT hour, SUM(requests + errors) FROM usage_hourly
                 WHERE hour >= ?1 AND {FREE_SQL} GROUP BY hour ORDER BY hour"
            ),
            [d0],
        )
        .await?;
    while let Some(row) = rows.next().await? {
        i.hours.push((db::int(&row, 0)?, db::int(&row, 1)?));
    }
    drop(rows);
    i.used = i.hours.iter().map(|(_, n)| n).sum();
    let window = (now - d0).clamp(60, 3600);
    let mut rows = conn
        .query(
            &format!(
                "SELECT COALESCE(SUM(at >= ?1), 0), COALESCE(SUM(at >= ?2), 0) FROM usage_calls
                 WHERE at >= ?3 AND {FREE_SQL}"
            ),
            libsql::params![
                (now - 60) as f64,
                (now - window) as f64,
                (now - window.max(60)) as f64
            ],
        )
        .await?;
    if let Some(row) = rows.next().await? {
        i.last_minute = db::int(&row, 0)?;
        i.recent = db::int(&row, 1)?;
    }
    drop(rows);

    // The limit: /key's when a key is stored and was read, else by credits bought.
    let payer = secrets::payer(core).await?;
    let key = secrets::openrouter_key(core).map(|k| super::hermes::mask_key(k.trim()));
    i.account = key.clone().unwrap_or_else(|| "no key".into());
    let daily = core
        .setting(KEY_DAILY_SETTING)
        .await?
        .and_then(|j| serde_json::from_str::<KeyDaily>(&j).ok())
        .filter(|d| Some(&d.key) == key.as_ref());
    let bought = payer
        .account()
        .and_then(|a| a.credits)
        .map(|c| c.total_credits);
    (i.limit, i.limit_source) = match (daily.as_ref().and_then(|d| d.limit), bought) {
        (Some(l), _) => (
            l,
            format!("OpenRouter's /key reports {l} free-model requests a day"),
        ),
        (None, Some(b)) if b >= 10.0 => (
            DAILY_LARGE,
            format!("{b:.2} credits bought (10 or more): {DAILY_LARGE} a day"),
        ),
        (None, Some(b)) => (
            DAILY_SMALL,
            format!("{b:.2} credits bought (under 10): {DAILY_SMALL} a day"),
        ),
        (None, None) => (
            DAILY_SMALL,
            match payer {
                Payer::NoKey => format!("no key stored: the free tier's {DAILY_SMALL} a day"),
                _ => format!("credits unknown: {DAILY_SMALL} a day assumed"),
            },
        ),
    };
    i.key_used = daily
        .as_ref()
        .filter(|d| d.checked_at >= d0)
        .and_then(|d| d.used);
    if let Some(a) = payer.account()
        && a.credits.is_some_and(|c| c.total_credits > 0.0)
        && !matches!(payer, Payer::CannotPay(..))
    {
        i.credits_checked = super::time::parse(&a.checked_at).map(|t| t.as_millisecond());
    }
    i.daily_429 = db::scalar_i64(
        &conn,
        "SELECT MAX(at) FROM rate_limit_events WHERE at >= ?1 AND limit_kind LIKE 'free-models-per-day%'",
        [d0 * 1000],
    )
    .await?;

    // Per agent: today, 7 days, 30 days, the last call, the last 24 hours' errors. The
    // whole days come from `usage_daily` (about 30 rows per agent, kept equal to the hourly
    // sums by 0007's triggers); the 24 hours start on an hour, so they come from the
    // hourly rows of the last 25 hours.
    let caps = caps(core).await?;
    let (d7, d30, h24) = (d0 - 6 * 86_400, d0 - 29 * 86_400, now - 24 * 3600);
    let mut rows = conn
        .query(
            "SELECT a.name, a.profile,
               COALESCE(d.today, 0), COALESCE(d.today_cost, 0),
               COALESCE(d.week, 0), COALESCE(d.week_cost, 0),
               COALESCE(d.month, 0), COALESCE(d.month_cost, 0),
               COALESCE(h.requests, 0), COALESCE(h.errors, 0),
               (SELECT MAX(at) FROM usage_calls c WHERE c.agent = a.name),
               (SELECT MAX(hour) FROM usage_hourly u WHERE u.agent = a.name)
             FROM agents a
             LEFT JOIN (SELECT agent,
                   SUM(CASE WHEN day >= ?1 THEN requests + errors END) AS today,
                   SUM(CASE WHEN day >= ?1 THEN cost_usd END) AS today_cost,
                   SUM(CASE WHEN day >= ?2 THEN requests + errors END) AS week,
                   SUM(CASE WHEN day >= ?2 THEN cost_usd END) AS week_cost,
                   SUM(requests + errors) AS month, SUM(cost_usd) AS month_cost
                 FROM usage_daily WHERE day >= ?3 GROUP BY agent) d ON d.agent = a.name
             -- `+agent`: group after the range scan on `hour` (the primary key's first
             -- column) rather than walk every agent's whole history in agent order.
             LEFT JOIN (SELECT agent, SUM(requests) AS requests, SUM(errors) AS errors
                 FROM usage_hourly WHERE hour >= ?4 GROUP BY +agent) h ON h.agent = a.name
             ORDER BY a.id",
            libsql::params![d0, d7, d30, h24 - h24.rem_euclid(3600)],
        )
        .await?;
    while let Some(row) = rows.next().await? {
        let (req, err) = (db::int(&row, 8)?, db::int(&row, 9)?);
        let last = match db::opt_real(&row, 10)? {
            Some(at) => Some(super::time::format(
                jiff::Timestamp::from_millisecond((at * 1000.0) as i64)
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            )),
            None => db::opt_int(&row, 11)?.map(|h| super::time::format(ts(h))),
        };
        i.agents.push(AgentUsage {
            cap_usd: caps.get(&db::text(&row, 0)?).copied(),
            agent: db::text(&row, 0)?,
            profile: db::text(&row, 1)?,
            today_requests: db::int(&row, 2)?,
            today_cost_usd: nano_usd(db::real(&row, 3)?),
            week_requests: db::int(&row, 4)?,
            week_cost_usd: nano_usd(db::real(&row, 5)?),
            month_requests: db::int(&row, 6)?,
            month_cost_usd: nano_usd(db::real(&row, 7)?),
            last_call: last,
            requests_24h: req,
            errors_24h: err,
            error_rate_24h: if req + err > 0 {
                err as f64 / (req + err) as f64
            } else {
                0.0
            },
        });
    }
    drop(rows);

    let mut rows = conn
        .query(
            "SELECT agent, at, model, status, reason, limit_kind, retry_count, reset_at, message
             FROM rate_limit_events ORDER BY at DESC, id DESC LIMIT ?1",
            [LOG_ROWS],
        )
        .await?;
    while let Some(row) = rows.next().await? {
        i.rate_limits.push(RateLimitEvent {
            agent: db::text(&row, 0)?,
            at: ts_ms(db::int(&row, 1)?),
            model: db::text(&row, 2)?,
            status: db::opt_int(&row, 3)?,
            reason: db::text(&row, 4)?,
            limit_kind: db::text(&row, 5)?,
            retry_count: db::opt_int(&row, 6)?,
            reset_at: db::opt_int(&row, 7)?.map(ts_ms),
            message: db::text(&row, 8)?,
        });
    }
    drop(rows);

    let day = ts(now).strftime("%Y-%m-%d").to_string();
    let mut rows = conn
        .query(
            "SELECT threshold FROM budget_alerts WHERE day = ?1 ORDER BY threshold",
            [day],
        )
        .await?;
    while let Some(row) = rows.next().await? {
        i.alerted.push(db::int(&row, 0)?);
    }
    drop(rows);
    i.held_tasks = super::holds::open_holds(&conn).await?;
    Ok(i)
}

pub fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The budget now, without reading the agents' files (what a screen shows between ticks).
pub async fn load(core: &Core) -> Result<Budget> {
    let now = now_secs();
    Ok(compute(&inputs(core, now).await?, now))
}

/// Ingests new usage, then builds the budget, announces thresholds crossed and writes the
/// gate file: what `nxr budget` and every tick run.
pub async fn refresh(core: &Core) -> Result<(Budget, super::usage::IngestReport)> {
    let report = super::usage::ingest(core).await?;
    let now = now_secs();
    let mut budget = compute(&inputs(core, now).await?, now);
    let fired = announce(core, &budget).await?;
    budget.alerted.extend(fired);
    budget.alerted.sort_unstable();
    budget.alerted.dedup();
    write_gate(core, &budget.gate)?;
    install_worker(&core.paths.nxr_home)?;
    Ok((budget, report))
}

/// Adds a `rate_limit_70/90/100` notification for each threshold crossed and not yet
/// announced today; returns the ones added.
pub async fn announce(core: &Core, b: &Budget) -> Result<Vec<i64>> {
    let due: Vec<i64> = THRESHOLDS
        .into_iter()
        .filter(|t| b.used * 100 >= t * b.limit && !b.alerted.contains(t))
        .collect();
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let (_conn, tx) = core.db.write().await?;
    let mut fired = Vec::new();
    for t in due {
        // The primary key makes "once per UTC day" hold across processes.
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO budget_alerts (day, threshold, used, lim, fired_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                libsql::params![b.day.as_str(), t, b.used, b.limit, super::time::now()],
            )
            .await?;
        if n == 0 {
            continue;
        }
        let (title, body) = threshold_text(t, b);
        notifications::add(
            &tx,
            &format!("rate_limit_{t}"),
            &title,
            &body,
            &serde_json::json!({
                "threshold": t, "used": b.used, "limit": b.limit, "day": b.day,
                "projected": b.projected, "gate_open": b.gate.open,
            }),
        )
        .await?;
        fired.push(t);
    }
    tx.commit().await?;
    Ok(fired)
}

fn threshold_text(t: i64, b: &Budget) -> (String, String) {
    let title = format!(
        "{t} % of today's free-model requests used ({} of {})",
        b.used, b.limit
    );
    let body = match t {
        100 => format!(
            "The daily limit is reached: nxr holds agents' work until 00:00 UTC ({}). Buy 10 credits on OpenRouter to raise the limit to {DAILY_LARGE}, then store the key with `nxr config set openrouter-key -`.",
            b.gate.opens_at.as_deref().unwrap_or("midnight")
        ),
        _ => format!(
            "{}. `nxr budget` shows which agent uses what.",
            b.outlook_text
        ),
    };
    (title, body)
}

/// Writes the gate for the worker wrapper, atomically, when it changed.
pub fn write_gate(core: &Core, gate: &Gate) -> Result<()> {
    let path = core.paths.nxr_home.join(GATE_FILE);
    let body = serde_json::to_vec_pretty(gate)
        .map_err(|e| CoreError::Db(format!("cannot write the gate: {e}")))?;
    if std::fs::read(&path).ok().as_deref() == Some(body.as_slice()) {
        return Ok(());
    }
    std::fs::create_dir_all(&core.paths.nxr_home)
        .map_err(|e| CoreError::io(&core.paths.nxr_home, e))?;
    super::hermes::atomic_write(&path, &body, Some(0o644))
}

/// Keeps `<NXR_HOME>/bin/nxr-hermes-worker` a symlink to this nxr binary (the kanban worker
/// wrapper gateways get as `HERMES_BIN`). Returns its path.
pub fn install_worker(nxr_home: &std::path::Path) -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe().map_err(|e| CoreError::io("current executable", e))?;
    let bin = nxr_home.join("bin");
    let link = bin.join(WORKER_NAME);
    if std::fs::read_link(&link).ok().as_deref() == Some(exe.as_path()) {
        return Ok(link);
    }
    std::fs::create_dir_all(&bin).map_err(|e| CoreError::io(&bin, e))?;
    // A new link beside the old one, renamed over it: a gateway never finds it missing.
    let tmp = bin.join(format!(".{WORKER_NAME}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&exe, &tmp).map_err(|e| CoreError::io(&tmp, e))?;
    std::fs::rename(&tmp, &link).map_err(|e| CoreError::io(&link, e))?;
    Ok(link)
}

/// The gate as the wrapper sees it: the file's state for today; a missing, unreadable or
/// earlier day's file is open (midnight opens every gate).
pub fn read_gate(nxr_home: &std::path::Path, now: i64) -> Gate {
    let day = ts(now).strftime("%Y-%m-%d").to_string();
    let open = Gate {
        account: String::new(),
        open: true,
        reason: None,
        opens_at: None,
        day: day.clone(),
        held: Vec::new(),
    };
    match std::fs::read(nxr_home.join(GATE_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Gate>(&b).ok())
    {
        Some(g) if g.day == day => g,
        _ => open,
    }
}

/// Reads `/key` (when a key is stored and the last read is older than five minutes) and
/// stores its free-model counter: the limit's truth, and the count nxr reconciles with.
pub async fn refresh_key(core: &Core, force: bool) -> Result<bool> {
    let Some(key) = secrets::openrouter_key(core) else {
        return Ok(false);
    };
    let masked = super::hermes::mask_key(key.trim());
    let now = now_secs();
    let stored = core
        .setting(KEY_DAILY_SETTING)
        .await?
        .and_then(|j| serde_json::from_str::<KeyDaily>(&j).ok())
        .filter(|d| d.key == masked);
    if !force && stored.is_some_and(|d| now - d.checked_at < KEY_CHECK_SECS) {
        return Ok(false);
    }
    let info = core
        .openrouter(std::time::Duration::from_secs(10))?
        .key(key.trim())
        .await?;
    let daily = KeyDaily {
        key: masked,
        limit: info
            .free_model_daily_requests
            .and_then(|d| d.limit)
            .map(|l| l as i64),
        used: info
            .free_model_daily_requests
            .and_then(|d| d.used)
            .map(|u| u as i64),
        checked_at: now,
    };
    let json = serde_json::to_string(&daily)
        .map_err(|e| CoreError::Db(format!("cannot store /key's counter: {e}")))?;
    core.set_setting(KEY_DAILY_SETTING, &json).await?;
    Ok(true)
}

/// The periodic work: read new usage, announce thresholds, keep the gate file current,
/// hold or release kanban tasks with the gate, and every five minutes `/key`'s counter. A
/// failed `/key` read keeps the last one.
pub async fn tick(rt: &super::runtime::Runtime) -> Result<()> {
    static SYNCED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let core = rt.core();
    // Once per process: agents created before nxr installed the ledger get it now.
    if !SYNCED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        for (agent, r) in super::ledger::sync_all(core).await? {
            if let Err(e) = r {
                tracing::warn!("nxr-ledger not installed for {agent}: {e}");
            }
        }
    }
    if let Err(e) = refresh_key(core, false).await {
        tracing::warn!("budget: /key not read: {e}");
    }
    let (budget, report) = refresh(core).await?;
    for w in &report.warnings {
        tracing::warn!("usage: {w}");
    }
    mark_day(core, now_secs()).await?;
    // Kanban holds follow the gate: held while it is closed, released when it opens.
    let holds = super::holds::sync(core, &budget.gate).await?;
    if holds != super::holds::SyncReport::default() {
        tracing::info!(
            held = ?holds.held,
            released = ?holds.released,
            failed = ?holds.failed,
            "kanban holds"
        );
    }
    Ok(())
}

/// The tables `nxr budget --csv TABLE` and `GET /budget/<table>.csv` export.
pub const CSV_TABLES: [&str; 3] = ["agents", "hours", "rate-limits"];

/// One of the budget's tables as CSV (the `csv` crate quotes what needs quoting).
pub fn csv(b: &Budget, table: &str) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| CoreError::Db(format!("cannot write CSV: {e}"));
    match table {
        "agents" => {
            w.write_record([
                "agent",
                "today_requests",
                "today_cost_usd",
                "week_requests",
                "week_cost_usd",
                "month_requests",
                "month_cost_usd",
                "last_call",
                "requests_24h",
                "errors_24h",
                "error_rate_24h",
            ])
            .map_err(err)?;
            for a in &b.agents {
                w.write_record([
                    a.agent.clone(),
                    a.today_requests.to_string(),
                    format!("{:.6}", a.today_cost_usd),
                    a.week_requests.to_string(),
                    format!("{:.6}", a.week_cost_usd),
                    a.month_requests.to_string(),
                    format!("{:.6}", a.month_cost_usd),
                    a.last_call.clone().unwrap_or_default(),
                    a.requests_24h.to_string(),
                    a.errors_24h.to_string(),
                    format!("{:.4}", a.error_rate_24h),
                ])
                .map_err(err)?;
            }
        }
        "hours" => {
            w.write_record(["hour_utc", "requests_so_far", "kind"])
                .map_err(err)?;
            for (p, kind) in b
                .actual
                .iter()
                .map(|p| (p, "actual"))
                .chain(b.projection.iter().skip(1).map(|p| (p, "projected")))
            {
                w.write_record([
                    format!("{:.2}", p.hour),
                    format!("{}", p.requests),
                    kind.into(),
                ])
                .map_err(err)?;
            }
        }
        "rate-limits" => {
            w.write_record([
                "at",
                "agent",
                "model",
                "status",
                "limit_kind",
                "reason",
                "retry_count",
                "reset_at",
                "message",
            ])
            .map_err(err)?;
            for e in &b.rate_limits {
                w.write_record([
                    e.at.clone(),
                    e.agent.clone(),
                    e.model.clone(),
                    e.status.map(|s| s.to_string()).unwrap_or_default(),
                    e.limit_kind.clone(),
                    e.reason.clone(),
                    e.retry_count.map(|s| s.to_string()).unwrap_or_default(),
                    e.reset_at.clone().unwrap_or_default(),
                    e.message.clone(),
                ])
                .map_err(err)?;
            }
        }
        other => {
            return Err(CoreError::usage(format!(
                "no budget table {:?}: use {}",
                super::text::clean_max(other, 40),
                CSV_TABLES.join(", ")
            )));
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| CoreError::Db(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| CoreError::Db(format!("cannot write CSV: {e}")))
}

/// The UTC day the budget ticks last saw (a setting).
const DAY_SETTING: &str = "budget_day";

/// Records a new UTC day once. Midnight resets the free-tier count without any new usage, so
/// nothing else would change in the database; this change is what every surface (a TUI, a
/// web page, in any process) reloads on, so yesterday's gauge and warning go. The first day
/// a database records is no change (every surface read today's budget). One write
/// transaction: several processes record a day once. True when the day was new.
pub async fn mark_day(core: &Core, now: i64) -> Result<bool> {
    let day = ts(now).strftime("%Y-%m-%d").to_string();
    if core.setting(DAY_SETTING).await?.as_deref() == Some(day.as_str()) {
        return Ok(false);
    }
    let (_conn, tx) = core.db.write().await?;
    let mut rows = tx
        .query("SELECT value FROM settings WHERE key = ?1", [DAY_SETTING])
        .await?;
    let seen = match rows.next().await? {
        Some(row) => db::opt_text(&row, 0)?,
        None => None,
    };
    drop(rows);
    if seen.as_deref() == Some(day.as_str()) {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        libsql::params![DAY_SETTING, day.as_str(), super::time::now()],
    )
    .await?;
    if seen.is_some() {
        db::touch(&tx, "budget_day").await?;
    }
    tx.commit().await?;
    Ok(seen.is_some())
}

/// The one-line free-tier warning every screen shows from 70 % of today's limit, in the TUI's
/// chrome and under the web mirror's navigation (both draw this text as it is: `text`, then
/// `more` where there is room).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// The highest threshold reached: 70, 90, or 100 (also when a daily 429 closed the gate
    /// before the count got there).
    pub level: i64,
    /// `Warning` at 70 %, `Error` from 90 % (the renderers draw it stronger).
    pub meaning: super::view::Meaning,
    /// What is used and what comes next, short enough for an 80-column terminal.
    pub text: String,
    /// Where to look: "Tab 4 for the budget".
    pub more: String,
    /// The budget's tab (its page on the web).
    pub tab: super::view::Tab,
}

/// The warning for a budget, or `None` below 70 % with the gate open. The percent is rounded
/// down, so the text never says 70 % before the 70 % threshold is crossed.
pub fn warning(b: &Budget) -> Option<Warning> {
    use super::view::{Meaning, Tab};
    let limit = b.limit.max(1);
    let level = if b.gate.open {
        THRESHOLDS
            .into_iter()
            .rev()
            .find(|t| b.used * 100 >= t * limit)?
    } else {
        100
    };
    let until = b
        .gate
        .opens_at
        .as_deref()
        .and_then(|t| t.get(11..16))
        .unwrap_or("00:00");
    let used = format!("Free tier: {}/{limit} requests today", b.used);
    let text = match (b.gate.open, b.gate.reason.as_deref()) {
        // A closed gate at the limit: "50/50" says 100 % already.
        (false, _) if b.used >= limit => {
            format!("{used} \u{2014} gate closed: work is held until {until} UTC")
        }
        (false, why) => format!(
            "{used} \u{2014} gate closed: work is held until {until} UTC ({})",
            why.unwrap_or("OpenRouter said the day's limit is reached")
        ),
        (true, _) => {
            let percent = b.used * 100 / limit;
            match b.hits_at.as_deref() {
                Some(at) => {
                    format!("{used} ({percent} %) \u{2014} will hit the limit at {at} UTC")
                }
                None => format!(
                    "{used} ({percent} %) \u{2014} projected {} of {limit} by 24:00 UTC",
                    b.projected
                ),
            }
        }
    };
    let tab = Tab::Budget;
    Some(Warning {
        level,
        meaning: if level >= 90 {
            Meaning::Error
        } else {
            Meaning::Warning
        },
        text,
        more: format!("Tab {} for the budget", tab.number()),
        tab,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-02 12:00:00 UTC
    const NOON: i64 = 1_796_212_800;

    fn inputs(used: i64, recent: i64, limit: i64) -> Inputs {
        Inputs {
            used,
            recent,
            limit,
            account: "no key".into(),
            ..Inputs::default()
        }
    }

    #[test]
    fn the_projection_adds_the_last_hours_rate_times_the_hours_left() {
        // 10 calls in the last hour, 12 hours left: 120 more.
        let b = compute(&inputs(30, 10, 1000), NOON);
        assert_eq!(b.projected, 150);
        assert_eq!(b.outlook, Outlook::OnTrack);
        assert_eq!(b.rate_per_hour, 10.0);
        assert!(b.outlook_text.starts_with("on track"), "{}", b.outlook_text);
    }

    #[test]
    fn a_fast_rate_says_when_the_limit_will_be_hit() {
        // 20 used, 10 an hour: 30 more reach 50 three hours from noon.
        let b = compute(&inputs(20, 10, 50), NOON);
        assert_eq!(b.outlook, Outlook::WillHit);
        assert_eq!(b.hits_at.as_deref(), Some("15:00"));
        assert!(
            b.outlook_text.contains("will hit the limit at 15:00 UTC"),
            "{}",
            b.outlook_text
        );
        assert!(b.gate.open);
    }

    #[test]
    fn the_gate_closes_at_the_limit_and_opens_at_midnight() {
        let b = compute(&inputs(50, 0, 50), NOON);
        assert_eq!(b.outlook, Outlook::Reached);
        assert!(!b.gate.open);
        assert_eq!(
            b.gate.opens_at.as_deref(),
            Some("2026-12-03T00:00:00.000000Z")
        );
        // The next day's inputs (nothing used yet) open it.
        assert!(compute(&inputs(0, 0, 50), NOON + 43_200).gate.open);
    }

    #[test]
    fn a_daily_429_closes_the_gate_until_a_key_with_credits_is_stored_after_it() {
        let mut i = inputs(3, 0, 50);
        i.daily_429 = Some((NOON - 60) * 1000);
        assert!(!compute(&i, NOON).gate.open);
        i.credits_checked = Some((NOON - 120) * 1000);
        assert!(!compute(&i, NOON).gate.open, "a key checked before the 429");
        i.credits_checked = Some(NOON * 1000);
        assert!(compute(&i, NOON).gate.open);
    }

    #[test]
    fn an_agent_at_its_cap_is_held_while_the_gate_stays_open() {
        let mut i = inputs(3, 0, 50);
        let usage = |agent: &str, cost: f64, cap: Option<f64>| AgentUsage {
            agent: agent.into(),
            profile: agent.into(),
            cap_usd: cap,
            today_requests: 1,
            today_cost_usd: cost,
            week_requests: 1,
            week_cost_usd: cost,
            month_requests: 1,
            month_cost_usd: cost,
            last_call: None,
            requests_24h: 1,
            errors_24h: 0,
            error_rate_24h: 0.0,
        };
        i.agents = vec![
            usage("pm", 1.0, Some(1.0)),
            usage("eng", 0.99, Some(1.0)),
            usage("scout", 9.0, None),
        ];
        let g = compute(&i, NOON).gate;
        assert!(g.open);
        assert_eq!(
            g.held
                .iter()
                .map(|h| h.profile.as_str())
                .collect::<Vec<_>>(),
            ["pm"]
        );
    }

    #[test]
    fn the_day_graph_accumulates_hours_and_ends_at_now() {
        let mut i = inputs(7, 0, 50);
        let d0 = day_start(NOON);
        i.hours = vec![(d0, 2), (d0 + 5 * 3600, 5)];
        let b = compute(&i, NOON + 1800);
        assert_eq!(b.actual.len(), 13);
        assert_eq!(b.actual[0].requests, 2.0);
        assert_eq!(b.actual[4].requests, 2.0);
        assert_eq!(b.actual[5].requests, 7.0);
        assert_eq!(b.actual[12].hour, 12.5);
        assert_eq!(b.projection.last().map(|p| p.hour), Some(24.0));
    }

    #[test]
    fn csv_quotes_what_an_error_message_holds_and_refuses_unknown_tables() {
        let mut b = compute(&inputs(1, 0, 50), NOON);
        b.rate_limits.push(RateLimitEvent {
            agent: "pm".into(),
            at: "2026-12-02T11:00:00.000000Z".into(),
            model: "m:free".into(),
            status: Some(429),
            reason: "rate_limit".into(),
            limit_kind: "free-models-per-day".into(),
            retry_count: Some(0),
            reset_at: None,
            message: "Rate limit exceeded, \"daily\"".into(),
        });
        let text = csv(&b, "rate-limits").expect("csv");
        assert!(
            text.contains(r#""Rate limit exceeded, ""daily""""#),
            "{text}"
        );
        assert!(csv(&b, "nope").expect_err("unknown").is_usage());
    }

    #[test]
    fn a_gate_file_from_yesterday_is_open() {
        let dir = tempfile::tempdir().expect("tmp");
        let closed = Gate {
            account: "x".into(),
            open: false,
            reason: Some("used up".into()),
            opens_at: None,
            day: "2026-12-02".into(),
            held: Vec::new(),
        };
        std::fs::write(
            dir.path().join(GATE_FILE),
            serde_json::to_vec(&closed).expect("json"),
        )
        .expect("write");
        assert!(!read_gate(dir.path(), NOON).open);
        assert!(read_gate(dir.path(), NOON + 86_400).open);
        assert!(read_gate(&dir.path().join("none"), NOON).open);
    }

    #[test]
    fn no_warning_below_70_percent_and_one_from_70() {
        assert_eq!(warning(&compute(&inputs(69, 0, 100), NOON)), None, "69 %");
        // 69.9 % is still below: the percent is never rounded up into a warning.
        assert_eq!(warning(&compute(&inputs(699, 0, 1000), NOON)), None);
        let w = warning(&compute(&inputs(35, 0, 50), NOON)).expect("70 %");
        assert_eq!(w.level, 70);
        assert_eq!(w.meaning, crate::core::view::Meaning::Warning);
        assert_eq!(
            w.text,
            "Free tier: 35/50 requests today (70 %) \u{2014} projected 35 of 50 by 24:00 UTC"
        );
        assert_eq!(w.more, "Tab 4 for the budget");
    }

    #[test]
    fn the_warning_says_when_the_limit_will_be_hit() {
        // 38 used, 10 in the last hour: 12 more reach 50 at 13:12.
        let w = warning(&compute(&inputs(38, 10, 50), NOON)).expect("76 %");
        assert_eq!(
            w.text,
            "Free tier: 38/50 requests today (76 %) \u{2014} will hit the limit at 13:12 UTC"
        );
    }

    #[test]
    fn at_90_percent_the_warning_is_stronger() {
        let w = warning(&compute(&inputs(45, 10, 50), NOON)).expect("90 %");
        assert_eq!(w.level, 90);
        assert_eq!(w.meaning, crate::core::view::Meaning::Error);
        assert!(
            w.text.starts_with("Free tier: 45/50 requests today (90 %)"),
            "{}",
            w.text
        );
    }

    #[test]
    fn at_100_percent_the_warning_says_the_gate_holds_work_until_midnight() {
        let w = warning(&compute(&inputs(50, 10, 50), NOON)).expect("100 %");
        assert_eq!(w.level, 100);
        assert_eq!(
            w.text,
            "Free tier: 50/50 requests today \u{2014} gate closed: work is held until 00:00 UTC"
        );
    }

    #[test]
    fn a_daily_429_shows_the_closed_gate_below_70_percent() {
        let mut i = inputs(3, 0, 50);
        i.daily_429 = Some((NOON - 60) * 1000);
        let w = warning(&compute(&i, NOON)).expect("closed gate");
        assert_eq!(w.level, 100);
        assert!(
            w.text.ends_with("gate closed: work is held until 00:00 UTC (OpenRouter answered 429 free-models-per-day at 11:59 UTC)"),
            "{}",
            w.text
        );
    }

    #[test]
    fn a_bigger_limit_takes_the_warning_away() {
        assert!(warning(&compute(&inputs(40, 0, 50), NOON)).is_some());
        assert_eq!(warning(&compute(&inputs(40, 0, 1000), NOON)), None);
    }

    #[tokio::test]
    async fn a_new_utc_day_is_one_change_so_every_surface_reloads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths = crate::core::paths::Paths {
            nxr_home: dir.path().join("nxr"),
            hermes_home: dir.path().join("hermes"),
        };
        let endpoints = crate::core::paths::Endpoints::unreachable();
        let core = Core::open(paths, endpoints).await.expect("open");
        let mark = core.change_mark().await.expect("mark");
        assert!(!mark_day(&core, NOON).await.expect("first"));
        assert_eq!(
            core.change_mark().await.expect("mark"),
            mark,
            "the first day recorded is no change"
        );
        assert!(!mark_day(&core, NOON + 3600).await.expect("same day"));
        assert_eq!(core.change_mark().await.expect("mark"), mark, "no change");
        assert!(mark_day(&core, NOON + 43_200).await.expect("next day"));
        assert!(
            core.change_mark().await.expect("mark") > mark,
            "a change to reload on"
        );
    }
}
