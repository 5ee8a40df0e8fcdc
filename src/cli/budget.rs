//! `nxr budget [--json] [--csv TABLE]`: reads new usage from every agent's Hermes files,
//! then prints today's free-tier count against the limit, the projection, the gate, the
//! per-agent table and the rate-limit log (or one table as CSV).

use std::io::Write;

use clap::Args;

use super::{Table, emit};
use crate::core::budget::{self, Budget};
use crate::core::text::clean;
use crate::core::{Core, CoreError};

#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// Print one table as CSV instead: agents, hours or rate-limits.
    #[arg(long, value_name = "TABLE")]
    pub csv: Option<String>,
    /// Ask OpenRouter's /key for the account's own count first (needs a stored key).
    #[arg(long)]
    pub check: bool,
    /// Install (or repair) the nxr-ledger Hermes plugin in every agent's profile first;
    /// idempotent. New agents get it when they are created.
    #[arg(long)]
    pub sync_ledger: bool,
    /// Cap an agent's spend per UTC day: AGENT=USD (AGENT=off removes it). At the cap the
    /// worker wrapper holds that agent's work, before any call, until 00:00 UTC.
    #[arg(long, value_name = "AGENT=USD")]
    pub cap: Vec<String>,
}

pub async fn budget(core: &Core, args: BudgetArgs, json: bool) -> Result<(), CoreError> {
    if let Some(t) = &args.csv
        && !budget::CSV_TABLES.contains(&t.as_str())
    {
        return Err(CoreError::usage(format!(
            "no budget table {:?}: use {}",
            clean(t),
            budget::CSV_TABLES.join(", ")
        )));
    }
    for c in &args.cap {
        let Some((agent, usd)) = c.split_once('=') else {
            return Err(CoreError::usage(format!(
                "--cap wants AGENT=USD (or AGENT=off), not {:?}",
                clean(c)
            )));
        };
        let usd = match usd.trim() {
            "off" => None,
            v => Some(v.parse::<f64>().map_err(|_| {
                CoreError::usage(format!(
                    "--cap {}: {:?} is not dollars",
                    clean(agent),
                    clean(v)
                ))
            })?),
        };
        budget::set_cap(core, agent.trim(), usd).await?;
    }
    if args.sync_ledger {
        for (agent, r) in crate::core::ledger::sync_all(core).await? {
            match r {
                Ok(true) => eprintln!("nxr: {}: nxr-ledger installed", clean(&agent)),
                Ok(false) => {}
                Err(e) => eprintln!(
                    "nxr: warning: {}: nxr-ledger not installed: {}",
                    clean(&agent),
                    clean(&e)
                ),
            }
        }
    }
    if args.check {
        budget::refresh_key(core, true).await?;
    }
    let (b, report) = budget::refresh(core).await?;
    for w in &report.warnings {
        eprintln!("nxr: warning: usage not read for {}", clean(w));
    }
    if let Some(t) = args.csv {
        let text = budget::csv(&b, &t)?;
        return emit(false, &(), |out| out.write_all(text.as_bytes()));
    }
    emit(json, &b, |out| print(out, &b))
}

fn money(v: f64) -> String {
    format!("${v:.4}")
}

fn print(out: &mut dyn Write, b: &Budget) -> std::io::Result<()> {
    writeln!(
        out,
        "free-model requests today ({} UTC): {} of {} ({:.1} %)",
        b.day, b.used, b.limit, b.percent
    )?;
    writeln!(out, "  limit: {}", clean(&b.limit_source))?;
    if let Some(r) = &b.reconcile {
        writeln!(out, "  {}", clean(r))?;
    }
    writeln!(
        out,
        "last minute: {} of {} · rate {:.1}/h",
        b.last_minute, b.per_minute, b.rate_per_hour
    )?;
    writeln!(out, "projection: {}", b.outlook_text)?;
    match (&b.gate.reason, b.gate.open) {
        (Some(why), false) => writeln!(
            out,
            "gate: CLOSED, work is held: {} (opens {})",
            clean(why),
            b.gate.opens_at.as_deref().unwrap_or("at 00:00 UTC")
        )?,
        _ => writeln!(out, "gate: open")?,
    }
    for h in &b.gate.held {
        writeln!(out, "  held: {} until 00:00 UTC", clean(&h.reason))?;
    }
    if !b.held_tasks.is_empty() {
        writeln!(out, "held kanban tasks ({}):", b.held_tasks.len())?;
        let mut t = Table::new(vec![
            "TASK",
            "TITLE",
            "ASSIGNEE",
            "BOARD",
            "HELD SINCE",
            "OPENS",
        ]);
        for h in &b.held_tasks {
            t.row(vec![
                clean(&h.task_id),
                clean(&h.title),
                clean(h.assignee.as_deref().unwrap_or("-")),
                clean(&h.board),
                h.held_at.clone(),
                h.opens_at.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        t.print(out)?;
    }
    let mut t = Table::new(vec![
        "AGENT",
        "TODAY",
        "COST",
        "7 DAYS",
        "COST",
        "30 DAYS",
        "COST",
        "LAST CALL",
        "ERRORS 24H",
    ]);
    for a in &b.agents {
        t.row(vec![
            clean(&a.agent),
            a.today_requests.to_string(),
            money(a.today_cost_usd),
            a.week_requests.to_string(),
            money(a.week_cost_usd),
            a.month_requests.to_string(),
            money(a.month_cost_usd),
            a.last_call.clone().unwrap_or_else(|| "-".into()),
            format!("{} ({:.0} %)", a.errors_24h, a.error_rate_24h * 100.0),
        ]);
    }
    t.print(out)?;
    if b.rate_limits.is_empty() {
        return writeln!(out, "rate-limit log: empty");
    }
    writeln!(out, "rate-limit log (newest first):")?;
    let mut t = Table::new(vec!["AT", "AGENT", "STATUS", "LIMIT", "RESETS", "MODEL"]);
    for e in &b.rate_limits {
        t.row(vec![
            e.at.clone(),
            clean(&e.agent),
            e.status.map(|s| s.to_string()).unwrap_or_default(),
            clean(if e.limit_kind.is_empty() {
                &e.reason
            } else {
                &e.limit_kind
            }),
            e.reset_at.clone().unwrap_or_else(|| "-".into()),
            clean(&e.model),
        ]);
    }
    t.print(out)
}
