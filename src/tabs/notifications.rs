//! Tab 6 Notifications: newest first, unread marked, the selected one's text below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;

use super::{Ui, clickable_table, note, panel};
use crate::core::view::NotificationsView;
use crate::widgets::table::Column;

const COLUMNS: [Column<'static>; 4] = [
    Column::fixed("NEW", 3),
    Column::fixed("WHEN (UTC)", 16),
    Column::fixed("KIND", 12).from_width(70),
    Column::fill("TITLE", 16),
];

pub fn draw(f: &mut Frame, area: Rect, v: &NotificationsView, ui: &mut Ui) {
    let title = format!("Notifications · {} unread", v.unread);
    if let Some(empty) = &v.empty {
        let inner = panel(f, area, &title, ui);
        note(f, inner, empty, ui.theme.muted());
        return;
    }
    let [list, detail] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let inner = panel(f, list, &title, ui);
    let rows: Vec<Vec<Line>> = v
        .rows
        .iter()
        .map(|n| {
            let style = if n.read {
                ui.theme.muted()
            } else {
                ratatui::style::Style::new()
            };
            vec![
                if n.read {
                    Line::from("")
                } else {
                    Line::styled("*", ui.theme.warn())
                },
                Line::styled(n.created_at.clone(), ui.theme.muted()),
                Line::styled(n.kind.clone(), style),
                Line::styled(n.title.clone(), style),
            ]
        })
        .collect();
    clickable_table(f, inner, &COLUMNS, &rows, v.selected, ui);
    if let Some(n) = v.rows.get(v.selected) {
        let inner = panel(f, detail, &n.title, ui);
        note(f, inner, &n.body, ratatui::style::Style::new());
    }
}
