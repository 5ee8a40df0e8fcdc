//! The create wizard's step bar: "1 Category > [2 Model] > 3 Skills > ...", the current step
//! in brackets (so it reads without colour), finished steps marked done.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::put_line;
use crate::core::view::{StepTitle, WizardStep};
use crate::widgets::theme::Theme;

/// Draws the bar; returns each step's area (clicks on done steps go back to them).
pub fn render(
    buf: &mut Buffer,
    area: Rect,
    steps: &[StepTitle],
    theme: &Theme,
) -> Vec<(Rect, WizardStep)> {
    let mut spans = vec![Span::raw(" ")];
    let mut hits = Vec::new();
    let mut x = area.x + 1;
    for (i, s) in steps.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" > ", theme.muted()));
            x += 3;
        }
        let text = if s.current {
            format!("[{} {}]", i + 1, s.title)
        } else {
            format!(" {} {} ", i + 1, s.title)
        };
        let style = if s.current {
            theme.active()
        } else if s.done {
            theme.good()
        } else {
            theme.muted()
        };
        let w = super::width(&text) as u16;
        hits.push((
            Rect {
                x,
                y: area.y,
                width: w,
                height: 1,
            },
            s.step,
        ));
        x += w;
        spans.push(Span::styled(text, style));
    }
    put_line(buf, area.x, area.y, area.width, &Line::from(spans));
    hits.retain(|(r, _)| r.x + r.width <= area.x + area.width);
    hits
}
