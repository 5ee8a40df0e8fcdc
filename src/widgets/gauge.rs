//! A one-line gauge drawn with box-drawing lines: heavy for the used part, light for the
//! rest, so it reads in 16 colours and with `NO_COLOR` alike.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{put_line, width};
use crate::core::view::Meaning;
use crate::widgets::theme::Theme;

pub struct Gauge<'a> {
    pub label: &'a str,
    /// 0..=1, or `None` when the amount is not known (drawn empty, said in `value`).
    pub ratio: Option<f64>,
    /// What the bar stands for, in words: "12 / 1,000 today".
    pub value: &'a str,
    pub meaning: Meaning,
}

/// Meaning for a fill level: warn at 70 %, error at 90 % (the budget thresholds).
pub fn meaning_for(ratio: f64) -> Meaning {
    if ratio >= 0.9 {
        Meaning::Error
    } else if ratio >= 0.7 {
        Meaning::Warning
    } else {
        Meaning::Success
    }
}

impl Gauge<'_> {
    pub fn render(&self, buf: &mut Buffer, area: Rect, theme: &Theme) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        let label_w = (width(self.label) as u16 + 1).min(area.width / 3);
        let value_w = (width(self.value) as u16 + 1).min(area.width / 2);
        let bar_w = area.width.saturating_sub(label_w + value_w + 2);
        let filled = match self.ratio {
            Some(r) => ((r.clamp(0.0, 1.0) * bar_w as f64).round()) as u16,
            None => 0,
        };
        let line = Line::from(vec![
            Span::styled(super::fit(self.label, label_w as usize), theme.header()),
            Span::raw(" ".repeat((label_w as usize).saturating_sub(width(self.label)).max(1))),
            Span::styled("━".repeat(filled as usize), theme.gauge(self.meaning)),
            Span::styled("─".repeat((bar_w - filled) as usize), theme.muted()),
            Span::raw(" "),
            Span::styled(self.value.to_string(), theme.meaning(self.meaning)),
        ]);
        put_line(buf, area.x, area.y, area.width, &line);
    }
}
