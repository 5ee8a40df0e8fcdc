//! Tab 1 Hermes: every agent's Hermes profile with its role, model and skills, and an honest
//! note about the gateway processes this version does not track yet.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;

use super::{Ui, clickable_table, note, panel};
use crate::core::view::HermesView;
use crate::widgets::table::Column;

const COLUMNS: [Column<'static>; 6] = [
    Column::fill("AGENT", 8),
    Column::fixed("ROLE", 9),
    Column::fill("MODEL", 16).weight(3),
    Column::fixed("SKILLS", 6).right(),
    Column::fixed("CONFIG", 7),
    Column::fill("PROFILE DIR", 12).weight(2).from_width(100),
];

pub fn draw(f: &mut Frame, area: Rect, v: &HermesView, ui: &mut Ui) {
    let [top, bottom] = Layout::vertical([Constraint::Min(4), Constraint::Length(5)]).areas(area);
    let inner = panel(
        f,
        top,
        &format!("Agents · Hermes home {}", v.hermes_home),
        ui,
    );
    if let Some(empty) = &v.empty {
        note(f, inner, empty, ui.theme.muted());
    } else {
        let rows: Vec<Vec<Line>> = v
            .rows
            .iter()
            .map(|r| {
                vec![
                    Line::from(r.agent.clone()),
                    Line::from(r.role.label()),
                    Line::from(r.model.clone()),
                    Line::from(r.skills.to_string()),
                    if r.config_present {
                        Line::styled("ok", ui.theme.good())
                    } else {
                        Line::styled("missing", ui.theme.error())
                    },
                    Line::styled(r.dir.clone(), ui.theme.muted()),
                ]
            })
            .collect();
        clickable_table(f, inner, &COLUMNS, &rows, v.selected, ui);
    }
    let inner = panel(f, bottom, "Hermes · gateway processes", ui);
    let [version, rest] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    note(
        f,
        version,
        &v.hermes_version,
        ui.theme.meaning(v.hermes_version_meaning),
    );
    note(f, rest, &v.processes_note, ui.theme.muted());
}
