//! Tab 2 Models: the selected agent's routing slots from its Hermes config.yaml (the seven
//! core slots, or every auxiliary slot and the fallback chain), each opening the picker.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Hit, Ui, clickable_table, note, panel};
use crate::core::view::{ModelsView, SlotKind};
use crate::widgets::table::Column;
use crate::widgets::{fit_left, put_line, width};

const COLUMNS: [Column<'static>; 5] = [
    Column::fill("SLOT", 12),
    Column::fixed("PROVIDER", 10),
    Column::fill("MODEL", 20).weight(3),
    Column::fixed("COST", 4),
    Column::fill("BASE URL", 16).from_width(110),
];

/// Rows under the table for the selected slot: what it needs and what it could cost.
const DETAIL_ROWS: u16 = 2;

pub fn draw(f: &mut Frame, area: Rect, v: &ModelsView, ui: &mut Ui) {
    let title = match (&v.agent, v.role) {
        (Some(a), Some(r)) => format!(
            "Routing slots · {a} ({}) · {}",
            r.label(),
            if v.show_all {
                "all slots and fallbacks"
            } else {
                "core slots"
            }
        ),
        _ => "Routing slots".to_string(),
    };
    let inner = panel(f, area, &title, ui);
    if let Some(empty) = &v.empty {
        note(f, inner, empty, ui.theme.muted());
        return;
    }
    if inner.height < 3 {
        return;
    }
    // Agent chips: click one to show its slots.
    let y = inner.y;
    let mut x = inner.x + 1;
    let end = inner.x + inner.width;
    let label = "agent ";
    put_line(
        f.buffer_mut(),
        x,
        y,
        end - x,
        &Line::styled(label, ui.theme.muted()),
    );
    x += label.len() as u16;
    for a in &v.agents {
        let current = v.agent.as_deref() == Some(a.as_str());
        let text = if current {
            format!("[{a}]")
        } else {
            format!(" {a} ")
        };
        let w = width(&text) as u16;
        if x + w + 1 > end {
            put_line(
                f.buffer_mut(),
                x,
                y,
                end - x,
                &Line::styled("…", ui.theme.muted()),
            );
            break;
        }
        let style = if current {
            ui.theme.active()
        } else {
            ratatui::style::Style::new()
        };
        put_line(f.buffer_mut(), x, y, w, &Line::styled(text, style));
        ui.hit(
            Rect {
                x,
                y,
                width: w,
                height: 1,
            },
            Hit::Agent(a.clone()),
        );
        x += w + 1;
    }
    let cfg = v.config_path.as_deref().unwrap_or("(no config.yaml)");
    let room = inner.width.saturating_sub(9) as usize;
    put_line(
        f.buffer_mut(),
        inner.x + 1,
        inner.y + 1,
        inner.width.saturating_sub(1),
        &Line::from(vec![
            Span::styled("config ", ui.theme.muted()),
            Span::raw(fit_left(cfg, room)),
        ]),
    );
    let detail_h = if inner.height >= 8 { DETAIL_ROWS } else { 0 };
    let list = Rect {
        y: inner.y + 2,
        height: inner.height - 2 - detail_h,
        ..inner
    };
    if let Some(e) = &v.error {
        note(
            f,
            list,
            &format!("cannot read the routing slots: {e}"),
            ui.theme.error(),
        );
        return;
    }
    let rows: Vec<Vec<Line>> = v
        .slots
        .iter()
        .map(|s| {
            let slot = match s.kind {
                SlotKind::NewFallback => Line::styled(s.label.clone(), ui.theme.muted()),
                SlotKind::Main => Line::styled(s.label.clone(), ui.theme.key()),
                SlotKind::Auxiliary | SlotKind::Fallback => Line::from(s.label.clone()),
            };
            let model = if s.kind == SlotKind::NewFallback {
                Line::styled("enter: add a fallback model", ui.theme.muted())
            } else if s.auto || s.model.is_empty() {
                Line::styled("auto (Hermes chooses)", ui.theme.muted())
            } else {
                Line::from(s.model.clone())
            };
            vec![
                slot,
                Line::from(s.provider.clone()),
                model,
                match s.paid {
                    Some(_) => Line::styled("paid", ui.theme.warn()),
                    None => Line::from(""),
                },
                Line::styled(s.base_url.clone().unwrap_or_default(), ui.theme.muted()),
            ]
        })
        .collect();
    clickable_table(f, list, &COLUMNS, &rows, v.selected, ui);
    if detail_h > 0
        && let Some(s) = v.slots.get(v.selected)
    {
        let y = list.y + list.height;
        let w = inner.width.saturating_sub(2);
        let needs = match &s.needs {
            Some(n) => format!("{}: {n}", s.label),
            None => format!("{}: no special needs", s.label),
        };
        put_line(
            f.buffer_mut(),
            inner.x + 1,
            y,
            w,
            &Line::styled(needs, ui.theme.muted()),
        );
        if let Some(p) = &s.paid {
            put_line(
                f.buffer_mut(),
                inner.x + 1,
                y + 1,
                w,
                &Line::styled(format!("! {p}"), ui.theme.warn()),
            );
        }
    }
}
