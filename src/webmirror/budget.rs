//! `/budget` (Tab 4): the free-tier gauge, the projection and the gate, the day's graph as
//! inline SVG (no script), the per-agent table, the rate-limit log and CSV links; and
//! `GET /budget/<table>.csv`.

use maud::{Markup, PreEscaped, html};

use super::page::{PageCtx, Text, meaning_class};
use super::server::{App, Reply, Req, status_of};
use crate::core::budget::{Budget, Outlook};
use crate::core::view::{BudgetView, Meaning};
use crate::widgets::gauge::meaning_for;

pub fn render(v: &BudgetView, _ctx: &PageCtx) -> Markup {
    let b = &v.budget;
    let ratio = b.used as f64 / b.limit.max(1) as f64;
    let minute = b.last_minute as f64 / b.per_minute.max(1) as f64;
    let outlook = match b.outlook {
        Outlook::OnTrack => Meaning::Success,
        Outlook::WillHit => Meaning::Warning,
        Outlook::Reached => Meaning::Error,
    };
    html! {
        section.budget {
            h2 { "Free tier today (" (b.day) " UTC), shared by " (v.agents) " agents" }
            dl.limits {
                dt { "requests today" }
                dd class={"num " (meaning_class(meaning_for(ratio)))} data-used=(b.used) data-limit=(b.limit) {
                    meter min="0" max=(b.limit) value=(b.used) {}
                    " " (b.used) " / " (b.limit) " (" (format!("{:.0}", b.percent)) " %)"
                }
                dt { "last minute" }
                dd class={"num " (meaning_class(meaning_for(minute)))} {
                    meter min="0" max=(b.per_minute) value=(b.last_minute) {}
                    " " (b.last_minute) " / " (b.per_minute)
                }
                dt { "projection" }
                dd class=(meaning_class(outlook)) { (b.outlook_text) }
                dt { "gate" }
                @match (&b.gate.reason, b.gate.open) {
                    (Some(why), false) => dd.m-error data-gate="closed" {
                        "CLOSED: work is held: " (Text(why)) "; opens "
                        (b.gate.opens_at.as_deref().unwrap_or("at 00:00 UTC"))
                    },
                    _ => dd.m-success data-gate="open" { "open: agents' work runs" },
                }
                @for h in &b.gate.held {
                    dt { "held" } dd.m-warning data-held=(h.profile) { (Text(&h.reason)) " until 00:00 UTC" }
                }
                dt { "limit" }
                dd.m-muted { (Text(&b.limit_source)) }
                @if let Some(r) = &b.reconcile {
                    dt { "OpenRouter's count" } dd.m-warning { (Text(r)) }
                }
            }
            @if let Some(n) = &v.note {
                p.note.m-muted { (n) }
            }
            (graph(b))
        }
        section {
            h2 { "Per agent: requests and cost" }
            table.agents-usage {
                thead { tr {
                    th { "agent" } th { "today" } th { "cost today" } th { "7 days" }
                    th { "cost 7 d" } th { "30 days" } th { "cost 30 d" } th { "last call" }
                    th { "errors 24 h" }
                } }
                tbody {
                    @for a in &b.agents {
                        tr data-agent=(a.agent) {
                            td { (Text(&a.agent)) }
                            td.num { (a.today_requests) }
                            td.num { (format!("${:.4}", a.today_cost_usd)) }
                            td.num { (a.week_requests) }
                            td.num { (format!("${:.4}", a.week_cost_usd)) }
                            td.num { (a.month_requests) }
                            td.num { (format!("${:.4}", a.month_cost_usd)) }
                            td { (a.last_call.as_deref().unwrap_or("-")) }
                            td.num { (a.errors_24h) " (" (format!("{:.0}", a.error_rate_24h * 100.0)) " %)" }
                        }
                    }
                }
            }
        }
        @if !b.held_tasks.is_empty() {
            section.held-tasks {
                h2 { "Held kanban tasks" }
                table.held-tasks {
                    thead { tr {
                        th { "task" } th { "title" } th { "assignee" } th { "board" } th { "held since" } th { "reason" }
                    } }
                    tbody {
                        @for h in &b.held_tasks {
                            tr data-held-task=(h.task_id) {
                                td { (Text(&h.task_id)) }
                                td { (Text(&h.title)) }
                                td { (Text(h.assignee.as_deref().unwrap_or("-"))) }
                                td { (Text(&h.board)) }
                                td { (h.held_at) }
                                td.m-warning { (Text(&h.reason)) }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Rate-limit log" }
            @if b.rate_limits.is_empty() {
                p.m-muted { "No rate-limited or failed calls." }
            } @else {
                table.rate-limits {
                    thead { tr {
                        th { "at" } th { "agent" } th { "status" } th { "limit" } th { "resets" } th { "model" }
                    } }
                    tbody {
                        @for e in &b.rate_limits {
                            tr {
                                td { (e.at) }
                                td { (Text(&e.agent)) }
                                td.num { (e.status.map(|s| s.to_string()).unwrap_or_else(|| "-".into())) }
                                td { (Text(if e.limit_kind.is_empty() { &e.reason } else { &e.limit_kind })) }
                                td { (e.reset_at.as_deref().unwrap_or("-")) }
                                td { (Text(&e.model)) }
                            }
                        }
                    }
                }
            }
            p.csv {
                "CSV: "
                @for (i, t) in v.csv_tables.iter().enumerate() {
                    @if i > 0 { " · " }
                    a href={ "/budget/" (t) ".csv" } download { (t) }
                }
            }
        }
    }
}

/// The day as an inline SVG: the limit, what was used hour by hour, and the projection to
/// 24:00 (dashed). Coordinates only; no script, no chart library.
fn graph(b: &Budget) -> Markup {
    const W: f64 = 480.0;
    const H: f64 = 160.0;
    let top = (b.limit.max(b.projected) as f64 * 1.1).max(1.0);
    let x = |h: f64| h / 24.0 * W;
    let y = |n: f64| H - n / top * H;
    let points = |pts: &mut dyn Iterator<Item = (f64, f64)>| -> String {
        pts.map(|(h, n)| format!("{:.1},{:.1}", x(h), y(n)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let used = points(
        &mut std::iter::once((0.0, 0.0)).chain(b.actual.iter().map(|p| (p.hour, p.requests))),
    );
    let projected = points(&mut b.projection.iter().map(|p| (p.hour, p.requests)));
    let limit_y = y(b.limit as f64);
    let svg = format!(
        r#"<svg class="day-graph" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="requests today and the projection to midnight UTC"><rect x="0" y="0" width="{W}" height="{H}" fill="none" stroke="currentColor" stroke-opacity="0.3"/><line class="limit" x1="0" y1="{limit_y:.1}" x2="{W}" y2="{limit_y:.1}" stroke="crimson"/><polyline class="projected" points="{projected}" fill="none" stroke="currentColor" stroke-dasharray="4 3"/><polyline class="used" points="{used}" fill="none" stroke="steelblue" stroke-width="2"/></svg>"#
    );
    // Numbers and fixed words only: nothing from the network is in it.
    html! { figure.graph { (PreEscaped(svg)) figcaption.m-muted { "00:00 to 24:00 UTC; dashed: the projection; red: the limit" } } }
}

/// `GET /budget/<table>.csv`: one of the budget's tables, as `nxr budget --csv` writes it.
pub(crate) fn csv(app: &App, req: &Req, table: &str) -> Reply {
    let result = app.rt.block_on(async {
        let b = crate::core::budget::load(&app.core).await?;
        crate::core::budget::csv(&b, table)
    });
    match result {
        Ok(text) => Reply::new(200, "text/csv; charset=utf-8", text.into_bytes()),
        Err(e) if e.is_usage() => req.error(404, &e.to_string()),
        Err(e) => req.error(status_of(&e), &e.to_string()),
    }
}
