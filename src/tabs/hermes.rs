//! Tab 1 Hermes: every agent's gateway process (state, PID, uptime, model, platforms, tmux
//! viewers, heartbeat, watchdog), the Ollama card and the installed hermes-agent version.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;

use super::{Ui, clickable_table, note, panel};
use crate::core::view::HermesView;
use crate::widgets::table::Column;

const COLUMNS: [Column<'static>; 9] = [
    Column::fill("AGENT", 8),
    Column::fixed("GATEWAY", 10),
    Column::fixed("PID", 7).right(),
    Column::fixed("UPTIME", 7),
    Column::fill("MODEL", 14).weight(3),
    Column::fixed("PLATFORMS", 10).from_width(100),
    Column::fixed("VIEW", 4).right(),
    Column::fixed("HEARTBEAT", 10).from_width(100),
    Column::fixed("WATCH", 7),
];

pub fn draw(f: &mut Frame, area: Rect, v: &HermesView, ui: &mut Ui) {
    let [top, bottom] = Layout::vertical([Constraint::Min(4), Constraint::Length(6)]).areas(area);
    let inner = panel(
        f,
        top,
        &format!("Gateways · Hermes home {}", v.hermes_home),
        ui,
    );
    if let Some(empty) = &v.empty {
        note(f, inner, empty, ui.theme.muted());
    } else {
        let dash = |o: Option<String>| o.unwrap_or_else(|| "-".into());
        let rows: Vec<Vec<Line>> = v
            .rows
            .iter()
            .map(|r| {
                let g = &r.gateway;
                vec![
                    Line::from(r.agent.clone()),
                    Line::styled(g.label.clone(), ui.theme.meaning(g.meaning)),
                    Line::from(dash(g.pid.map(|p| p.to_string()))),
                    Line::from(dash(g.uptime.clone())),
                    if r.config_present {
                        Line::from(r.model.clone())
                    } else {
                        Line::styled("no config.yaml", ui.theme.error())
                    },
                    Line::from(if g.platforms.is_empty() {
                        "-".to_string()
                    } else {
                        g.platforms.join(",")
                    }),
                    Line::from(g.viewers.to_string()),
                    Line::styled(dash(g.heartbeat.clone()), ui.theme.muted()),
                    match (g.watch, g.gave_up) {
                        (true, true) => Line::styled("gave up", ui.theme.error()),
                        (true, false) => Line::styled("on", ui.theme.good()),
                        (false, _) => Line::styled("off", ui.theme.muted()),
                    },
                ]
            })
            .collect();
        clickable_table(f, inner, &COLUMNS, &rows, v.selected, ui);
    }
    let inner = panel(f, bottom, "Hermes · Ollama", ui);
    let [version, ollama, routes, how] = Layout::vertical([Constraint::Length(1); 4]).areas(inner);
    note(
        f,
        version,
        &v.hermes_version,
        ui.theme.meaning(v.hermes_version_meaning),
    );
    let card = &v.ollama;
    let models = if card.models.is_empty() {
        String::new()
    } else {
        format!(": {}", card.models.join(", "))
    };
    note(
        f,
        ollama,
        &format!("Ollama {} {}{models}", card.url, card.summary)
            .trim_start()
            .replace("Ollama  ", "Ollama "),
        ui.theme.meaning(card.meaning),
    );
    let routed = if card.routes.is_empty() {
        "no agent routes a slot to Ollama".to_string()
    } else {
        format!("routed to Ollama: {}", card.routes.join("; "))
    };
    note(f, routes, &routed, ui.theme.muted());
    // Why the selected gateway is in its state, else how to watch one.
    match v.rows.get(v.selected).and_then(|r| {
        r.gateway
            .detail
            .as_ref()
            .map(|d| (r.agent.as_str(), d.as_str()))
    }) {
        Some((agent, d)) => note(f, how, &format!("{agent}: {d}"), ui.theme.muted()),
        None => note(f, how, &v.processes_note, ui.theme.muted()),
    }
}
