//! The banner: the last action's result or error, one line, cut to fit.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::put_line;
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
