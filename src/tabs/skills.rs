//! The skill editor overlay (Tab 3, `s`): tick the skills the agent should load; enter
//! syncs the profile (files and `skills.disabled`) the same way the CLI does.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Hit, Ui, popup};
use crate::core::view::SkillEditorView;
use crate::widgets::centered;
use crate::widgets::table::{self, Column};

const COLUMNS: [Column<'static>; 3] = [
    Column::fill("SKILL", 16),
    Column::fixed("NOW", 4),
    Column::fill("DESCRIPTION", 10).weight(2).from_width(60),
];

pub fn draw(f: &mut Frame, area: Rect, v: &SkillEditorView, ui: &mut Ui) {
    // Narrow screens: the whole body, so nothing beneath peeks through.
    let w = if area.width < 100 {
        area.width
    } else {
        area.width.saturating_sub(4).min(100)
    };
    let h = (v.choices.len() as u16 + 3).min(area.height);
    let rect = centered(area, w, h);
    let checked = v.choices.iter().filter(|c| c.checked).count();
    let inner = popup(
        f,
        rect,
        &format!("Skills of {} · {checked} ticked", v.agent),
        "space toggles · enter applies · esc cancels",
        ui,
    );
    let rows: Vec<Vec<Line>> = v
        .choices
        .iter()
        .map(|c| {
            vec![
                Line::from(format!(
                    "[{}] {}",
                    if c.checked { "x" } else { " " },
                    c.name
                )),
                if c.suggested {
                    Line::styled("yes", ui.theme.muted())
                } else {
                    Line::from("")
                },
                Line::styled(c.description.clone(), ui.theme.muted()),
            ]
        })
        .collect();
    let hits = table::render(
        f.buffer_mut(),
        inner,
        &COLUMNS,
        &rows,
        Some(v.selected),
        &ui.theme,
    );
    for (r, i) in hits {
        if let Some(c) = v.choices.get(i) {
            ui.hit(
                r,
                Hit::Toggle {
                    index: i,
                    name: c.name.clone(),
                },
            );
        }
    }
}
