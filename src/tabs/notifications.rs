//! Tab 6 Notifications: newest first (of one type with `f`), unread marked, withdrawn advice
//! muted; the selected one's text below with what can be done about it, auto-upgrade and
//! Telegram in the panel titles.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;

use super::{Ui, clickable_table, note, panel};
use crate::core::view::NotificationsView;
use crate::widgets::table::Column;

const COLUMNS: [Column<'static>; 4] = [
    Column::fixed("NEW", 3),
    Column::fixed("WHEN (UTC)", 16),
    Column::fixed("KIND", 15).from_width(70),
    Column::fill("TITLE", 16),
];

fn title(v: &NotificationsView) -> String {
    format!(
        "Notifications · {} unread · {} · auto-upgrade {}",
        v.unread,
        v.filter.as_deref().unwrap_or("every type"),
        if v.auto_upgrade { "on" } else { "off" }
    )
}

/// What the detail panel says under the text: the state, what `a` and `t` would do.
fn detail(v: &NotificationsView, i: usize) -> String {
    let Some(n) = v.rows.get(i) else {
        return String::new();
    };
    let state = match n.state.as_str() {
        "withdrawn" => "Withdrawn: a later scan made it false.".to_string(),
        "applied" => "Applied.".to_string(),
        _ if n.actionable => "a applies it.".to_string(),
        _ => String::new(),
    };
    let forward = v
        .telegram
        .iter()
        .find(|t| t.kind == n.kind)
        .map(|t| if t.enabled { "on" } else { "off" })
        .unwrap_or("off");
    let telegram = match &v.telegram_chat {
        Some(chat) => format!(
            "Telegram ({chat}): {} {forward}{}.",
            n.kind,
            if n.forwarded { ", sent" } else { "" }
        ),
        None => format!(
            "Telegram: {} {forward}; no TELEGRAM_BOT_TOKEN and TELEGRAM_HOME_CHANNEL found.",
            n.kind
        ),
    };
    let what: Vec<&str> = [state.as_str(), telegram.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    format!("{}\n\n{}", n.body, what.join(" "))
}

pub fn draw(f: &mut Frame, area: Rect, v: &NotificationsView, ui: &mut Ui) {
    let title = title(v);
    if let Some(empty) = &v.empty {
        let inner = panel(f, area, &title, ui);
        note(f, inner, empty, ui.theme.muted());
        return;
    }
    let [list, below] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let inner = panel(f, list, &title, ui);
    let rows: Vec<Vec<Line>> = v
        .rows
        .iter()
        .map(|n| {
            let quiet = n.read || n.state != "active";
            let style = if quiet {
                ui.theme.muted()
            } else {
                ratatui::style::Style::new()
            };
            let mark = match n.state.as_str() {
                "withdrawn" => Line::styled("-", ui.theme.muted()),
                "applied" => Line::styled("+", ui.theme.muted()),
                _ if !n.read => Line::styled("*", ui.theme.warn()),
                _ => Line::from(""),
            };
            vec![
                mark,
                Line::styled(n.created_at.clone(), ui.theme.muted()),
                Line::styled(n.kind.clone(), style),
                Line::styled(n.title.clone(), style),
            ]
        })
        .collect();
    clickable_table(f, inner, &COLUMNS, &rows, v.selected, ui);
    if let Some(n) = v.rows.get(v.selected) {
        let inner = panel(f, below, &n.title, ui);
        note(
            f,
            inner,
            &detail(v, v.selected),
            ratatui::style::Style::new(),
        );
    }
}
