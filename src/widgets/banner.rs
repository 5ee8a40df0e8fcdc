//! The banner: the last action's result or error, one line, cut to fit; and the free-tier
//! warning line every tab shows from 70 % of today's limit.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

use super::put_line;
use crate::core::budget::Warning;
use crate::core::view::{Banner, Meaning};
use crate::widgets::theme::Theme;

pub fn prefix(m: Meaning) -> &'static str {
    match m {
        Meaning::Error => "error: ",
        Meaning::Warning => "warning: ",
        Meaning::Success => "ok: ",
        Meaning::Normal | Meaning::Muted | Meaning::Accent => "",
    }
}

pub fn render(buf: &mut Buffer, area: Rect, banner: &Banner, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let style = theme.meaning(banner.meaning);
    let line = Line::from(vec![
        Span::raw(" "),
        Span::styled(prefix(banner.meaning), style),
        Span::styled(banner.text.clone(), style),
    ]);
    put_line(buf, area.x, area.y, area.width, &line);
}

/// The free-tier warning, cut to fit (the TUI has no room to spare at 80 columns); from 90 % (an `Error`) reversed as well, so it reads
/// stronger without colour too.
pub fn render_warning(buf: &mut Buffer, area: Rect, w: &Warning, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let mut style = theme.meaning(w.meaning);
    if w.meaning == Meaning::Error {
        style = style.add_modifier(Modifier::REVERSED);
    }
    // Where to look joins the text only when both fit: the text is what must be read.
    let full = format!(" {} \u{b7} {} ", w.text, w.more);
    let text = if super::width(&full) <= area.width as usize {
        full
    } else {
        format!(" {} ", w.text)
    };
    put_line(buf, area.x, area.y, area.width, &Line::styled(text, style));
}
