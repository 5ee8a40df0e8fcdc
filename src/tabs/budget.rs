//! Tab 4 Budget: the free-tier gauge (today and the last minute), the projection and the
//! gate, the day's graph (a ratatui `Chart`), the per-agent table (today, 7 and 30 days),
//! the kanban tasks held while the gate is closed and the rate-limit log.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType};

use super::{Ui, note, panel};
use crate::core::budget::{Budget, Outlook};
use crate::core::view::{BudgetView, Meaning};
use crate::widgets::gauge::{Gauge, meaning_for};
use crate::widgets::put_line;
use crate::widgets::table::{self, Column};

pub fn draw(f: &mut Frame, area: Rect, v: &BudgetView, ui: &mut Ui) {
    let b = &v.budget;
    let agent_rows = (b.agents.len().max(1) as u16).min(6) + 3;
    let [summary, agents, bottom] = Layout::vertical([
        Constraint::Length(7),
        Constraint::Length(agent_rows),
        Constraint::Min(4),
    ])
    .areas(area);
    draw_summary(f, summary, v, ui);
    draw_agents(f, agents, b, ui);
    let [graph, log] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
    draw_graph(f, graph, b, ui);
    let held_rows = (b.held_tasks.len() as u16).min(4) + 3;
    // A short screen keeps the log; the gate line still counts the held tasks.
    if b.held_tasks.is_empty() || log.height < held_rows + 5 {
        draw_log(f, log, b, ui);
    } else {
        let [held, log] =
            Layout::vertical([Constraint::Length(held_rows), Constraint::Min(3)]).areas(log);
        draw_held(f, held, b, ui);
        draw_log(f, log, b, ui);
    }
}

/// The kanban tasks nxr holds while the gate is closed, and when they open.
fn draw_held(f: &mut Frame, area: Rect, b: &Budget, ui: &mut Ui) {
    let inner = panel(f, area, "Held kanban tasks", ui);
    let cols = [
        Column::fixed("TASK", 10),
        Column::fill("TITLE", 8).weight(2),
        Column::fill("AGENT", 5),
        Column::fixed("OPENS", 5).from_width(40),
    ];
    let hhmm = |s: &str| {
        crate::core::time::parse(s)
            .map(|t| t.strftime("%H:%M").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let rows: Vec<Vec<Line>> = b
        .held_tasks
        .iter()
        .map(|h| {
            vec![
                Line::from(h.task_id.clone()),
                Line::from(h.title.clone()),
                Line::from(h.assignee.clone().unwrap_or_else(|| "-".into())),
                Line::from(
                    h.opens_at
                        .as_deref()
                        .map(hhmm)
                        .unwrap_or_else(|| "-".into()),
                ),
            ]
        })
        .collect();
    table::render(f.buffer_mut(), inner, &cols, &rows, None, &ui.theme);
}

fn outlook_meaning(b: &Budget) -> Meaning {
    match b.outlook {
        Outlook::OnTrack => Meaning::Success,
        Outlook::WillHit => Meaning::Warning,
        Outlook::Reached => Meaning::Error,
    }
}

fn draw_summary(f: &mut Frame, area: Rect, v: &BudgetView, ui: &mut Ui) {
    let b = &v.budget;
    let inner = panel(
        f,
        area,
        &format!(
            "Free tier today ({} UTC), shared by {} agents",
            b.day, v.agents
        ),
        ui,
    );
    let t = &ui.theme;
    let row = |i: u16| Rect {
        x: inner.x + 1,
        y: inner.y + i,
        width: inner.width.saturating_sub(2),
        height: 1,
    };
    let ratio = b.used as f64 / b.limit.max(1) as f64;
    let today = format!("{} / {} ({:.0} %)", b.used, b.limit, b.percent);
    let minute = format!("{} / {}", b.last_minute, b.per_minute);
    let gauges = [
        ("today", ratio, today.as_str()),
        (
            "minute",
            b.last_minute as f64 / b.per_minute.max(1) as f64,
            minute.as_str(),
        ),
    ];
    for (i, (label, ratio, value)) in gauges.into_iter().enumerate() {
        if (i as u16) < inner.height {
            Gauge {
                label,
                ratio: Some(ratio),
                value,
                meaning: meaning_for(ratio),
            }
            .render(f.buffer_mut(), row(i as u16), t);
        }
    }
    let gate = match (&b.gate.reason, b.gate.open) {
        (Some(why), false) => Line::from(vec![
            Span::styled("gate CLOSED ", t.error()),
            Span::raw(format!(
                "work is held: {why}; opens {}",
                b.gate.opens_at.as_deref().unwrap_or("at 00:00 UTC")
            )),
        ]),
        _ => Line::from(vec![
            Span::styled("gate open ", t.good()),
            Span::styled("agents' work runs", t.muted()),
        ]),
    };
    let mut gate = gate;
    for h in &b.gate.held {
        gate.spans
            .push(Span::styled(format!(" · held: {}", h.reason), t.warn()));
    }
    if !b.held_tasks.is_empty() {
        gate.spans.push(Span::styled(
            match b.held_tasks.len() {
                1 => " · 1 kanban task held".to_string(),
                n => format!(" · {n} kanban tasks held"),
            },
            t.warn(),
        ));
    }
    let mut lines = vec![
        Line::from(Span::styled(
            b.outlook_text.clone(),
            t.meaning(outlook_meaning(b)),
        )),
        gate,
        Line::from(Span::styled(b.limit_source.clone(), t.muted())),
    ];
    if let Some(r) = &b.reconcile {
        lines.push(Line::from(Span::styled(r.clone(), t.warn())));
    }
    if let Some(n) = &v.note {
        lines.push(Line::from(Span::styled(n.clone(), t.muted())));
    }
    for (i, l) in lines.iter().enumerate() {
        let y = 2 + i as u16;
        if y < inner.height {
            let r = row(y);
            put_line(f.buffer_mut(), r.x, r.y, r.width, l);
        }
    }
}

fn money(v: f64) -> String {
    format!("${v:.2}")
}

fn draw_agents(f: &mut Frame, area: Rect, b: &Budget, ui: &mut Ui) {
    let inner = panel(f, area, "Per agent: requests and cost", ui);
    if b.agents.is_empty() {
        note(f, inner, crate::core::screens::NO_AGENTS, ui.theme.muted());
        return;
    }
    let cols = [
        Column::fill("AGENT", 8),
        Column::fixed("TODAY", 6).right(),
        Column::fixed("COST", 7).right().from_width(60),
        Column::fixed("7 DAYS", 6).right(),
        Column::fixed("30 DAYS", 7).right(),
        Column::fixed("COST 30D", 8).right().from_width(70),
        Column::fixed("LAST CALL", 9).from_width(90),
        Column::fixed("ERR 24H", 7).right(),
    ];
    let now = crate::core::time::parse(&b.now);
    let rows: Vec<Vec<Line>> = b
        .agents
        .iter()
        .map(|a| {
            let last = match (
                a.last_call.as_deref().and_then(crate::core::time::parse),
                now,
            ) {
                (Some(t), Some(n)) => format!("{} ago", crate::core::time::age(t, n)),
                _ => "-".into(),
            };
            vec![
                Line::from(a.agent.clone()),
                Line::from(a.today_requests.to_string()),
                Line::from(money(a.today_cost_usd)),
                Line::from(a.week_requests.to_string()),
                Line::from(a.month_requests.to_string()),
                Line::from(money(a.month_cost_usd)),
                Line::from(last),
                Line::from(format!("{:.0} %", a.error_rate_24h * 100.0)),
            ]
        })
        .collect();
    let r = Rect {
        x: inner.x,
        width: inner.width,
        ..inner
    };
    table::render(f.buffer_mut(), r, &cols, &rows, None, &ui.theme);
}

fn draw_graph(f: &mut Frame, area: Rect, b: &Budget, ui: &mut Ui) {
    let inner = panel(f, area, "Today and the projection", ui);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let t = &ui.theme;
    let actual: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
        .chain(b.actual.iter().map(|p| (p.hour, p.requests)))
        .collect();
    let projection: Vec<(f64, f64)> = b.projection.iter().map(|p| (p.hour, p.requests)).collect();
    let limit = [(0.0, b.limit as f64), (24.0, b.limit as f64)];
    let top = (b.limit.max(b.projected) as f64 * 1.1).max(1.0);
    let datasets = vec![
        Dataset::default()
            .name("limit")
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(t.error())
            .data(&limit),
        Dataset::default()
            .name("projected")
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(t.meaning(outlook_meaning(b)))
            .data(&projection),
        Dataset::default()
            .name("used")
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(t.key())
            .data(&actual),
    ];
    // The colours say which line is which (the panel title names them); a legend box would
    // cover the day's end.
    let chart = Chart::new(datasets)
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([0.0, 24.0])
                .labels(["00", "12", "24"])
                .style(t.muted()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(["0".to_string(), format!("{:.0}", top)])
                .style(t.muted()),
        )
        .style(Style::new());
    f.render_widget(chart, inner);
}

fn draw_log(f: &mut Frame, area: Rect, b: &Budget, ui: &mut Ui) {
    let inner = panel(f, area, "Rate-limit log", ui);
    if b.rate_limits.is_empty() {
        note(
            f,
            inner,
            "No rate-limited or failed calls.",
            ui.theme.muted(),
        );
        return;
    }
    let cols = [
        Column::fixed("AT", 5),
        Column::fill("AGENT", 5),
        Column::fixed("ST", 3),
        Column::fill("LIMIT", 8).weight(2),
        Column::fixed("RESETS", 5).from_width(40),
    ];
    let hhmm = |s: &str| {
        crate::core::time::parse(s)
            .map(|t| t.strftime("%H:%M").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let rows: Vec<Vec<Line>> = b
        .rate_limits
        .iter()
        .map(|e| {
            vec![
                Line::from(hhmm(&e.at)),
                Line::from(e.agent.clone()),
                Line::from(
                    e.status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
                Line::from(if e.limit_kind.is_empty() {
                    e.reason.clone()
                } else {
                    e.limit_kind.clone()
                }),
                Line::from(
                    e.reset_at
                        .as_deref()
                        .map(hhmm)
                        .unwrap_or_else(|| "-".into()),
                ),
            ]
        })
        .collect();
    table::render(f.buffer_mut(), inner, &cols, &rows, None, &ui.theme);
}
