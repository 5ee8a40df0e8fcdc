//! The `?` overlay: every binding that applies here, generated from the key table that
//! drives input, flowed into as many columns as fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Ui, popup};
use crate::core::view::HelpView;
use crate::widgets::{fit, put_line};

const COLUMN: u16 = 38;
const KEYS: usize = 16;

pub fn draw(f: &mut Frame, area: Rect, v: &HelpView, ui: &mut Ui) {
    let inner = popup(f, area, "Help · keys", "esc or ? closes", ui);
    if inner.height == 0 || inner.width < 10 {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    for (i, s) in v.sections.iter().enumerate() {
        if i > 0 {
            lines.push(Line::from(""));
        }
        lines.push(Line::styled(s.title.clone(), ui.theme.header()));
        for h in &s.hints {
            lines.push(Line::from(vec![
                Span::styled(format!("{:<KEYS$}", fit(&h.keys, KEYS - 1)), ui.theme.key()),
                Span::raw(h.label.clone()),
            ]));
        }
    }
    let cols = (inner.width / COLUMN).max(1);
    let col_w = inner.width / cols;
    let h = inner.height as usize;
    let capacity = h * cols as usize;
    if lines.len() > capacity && capacity > 0 {
        lines.truncate(capacity - 1);
        lines.push(Line::styled(
            "… more: make the window larger",
            ui.theme.muted(),
        ));
    }
    // Blank lines at the top of a column are wasted rows.
    let mut col = 0u16;
    let mut row = 0usize;
    for l in lines {
        if row == 0 && l.width() == 0 {
            continue;
        }
        if row >= h {
            col += 1;
            row = 0;
            if col >= cols {
                break;
            }
            if l.width() == 0 {
                continue;
            }
        }
        put_line(
            f.buffer_mut(),
            inner.x + 1 + col * col_w,
            inner.y + row as u16,
            col_w.saturating_sub(2),
            &l,
        );
        row += 1;
    }
}
