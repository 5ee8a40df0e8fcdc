//! The key-hint bar: "key label" pairs from the one key table, as many as fit (never half of
//! one). Returns where each pair was drawn and its first key, so a click can press it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{put_line, width};
use crate::core::view::Hint;
use crate::widgets::theme::Theme;

/// The key name a hint's display keys start with ("j/↓" → "j").
pub fn first_key(h: &Hint) -> String {
    let k = h.keys.split('/').next().unwrap_or_default();
    match k {
        "↓" => "down",
        "↑" => "up",
        "←" => "left",
        "→" => "right",
        other => other,
    }
    .to_string()
}

pub fn render(buf: &mut Buffer, area: Rect, hints: &[Hint], theme: &Theme) -> Vec<(Rect, String)> {
    let mut x = area.x;
    let end = area.x + area.width;
    let mut hits = Vec::new();
    for h in hints {
        let keys = h.keys.replace("ctrl-", "^");
        let w = (width(&keys) + 1 + width(&h.label)) as u16;
        let gap = if x == area.x { 1 } else { 2 };
        if x + gap + w > end {
            break;
        }
        x += gap;
        let line = Line::from(vec![
            Span::styled(keys, theme.key()),
            Span::raw(" "),
            Span::styled(h.label.clone(), theme.muted()),
        ]);
        put_line(buf, x, area.y, w, &line);
        hits.push((
            Rect {
                x,
                y: area.y,
                width: w,
                height: 1,
            },
            first_key(h),
        ));
        x += w;
    }
    hits
}
