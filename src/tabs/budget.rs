//! Tab 4 Budget: the free-tier limits every key lives under, and plainly what this version
//! does not read yet (usage per agent).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

use super::{Ui, note, panel};
use crate::core::view::{BudgetView, Meaning};
use crate::widgets::gauge::Gauge;
use crate::widgets::put_line;

pub fn draw(f: &mut Frame, area: Rect, v: &BudgetView, ui: &mut Ui) {
    let [limits, rest] = Layout::vertical([Constraint::Length(8), Constraint::Min(3)]).areas(area);
    let inner = panel(f, limits, "OpenRouter free tier", ui);
    let t = &ui.theme;
    let lines = [
        Line::from(vec![
            Span::styled(format!("{:>5}", v.per_minute), t.key()),
            Span::raw(" requests per minute, per key"),
        ]),
        Line::from(vec![
            Span::styled(format!("{:>5}", v.per_day), t.key()),
            Span::raw(" requests per UTC day with less than 10 credits bought"),
        ]),
        Line::from(vec![
            Span::styled(format!("{:>5}", v.per_day_with_credits), t.key()),
            Span::raw(" requests per UTC day with 10 credits or more"),
        ]),
        Line::from(vec![
            Span::styled(format!("{:>5}", v.agents), t.key()),
            Span::raw(if v.agents == 1 {
                " agent shares these limits"
            } else {
                " agents share these limits"
            }),
        ]),
    ];
    for (i, l) in lines.iter().enumerate() {
        if (i as u16) < inner.height {
            put_line(
                f.buffer_mut(),
                inner.x + 1,
                inner.y + i as u16,
                inner.width.saturating_sub(2),
                l,
            );
        }
    }
    if inner.height > 5 {
        let g = Gauge {
            label: "today",
            ratio: None,
            value: &format!("? / {} (usage not read yet)", v.per_day),
            meaning: Meaning::Muted,
        };
        g.render(
            f.buffer_mut(),
            Rect {
                x: inner.x + 1,
                y: inner.y + 5,
                width: inner.width.saturating_sub(2),
                height: 1,
            },
            t,
        );
    }
    let inner = panel(f, rest, "Usage and spend", ui);
    note(f, inner, &v.note, ui.theme.muted());
}
