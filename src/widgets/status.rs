//! The status line: workspace, catalog age (with a stale marker), the last error and the web
//! mirror's address. Each part is cut to what is left so the line never wraps; the web
//! address is kept whole when it fits; the catalog's date and size join its age when there
//! is room, so the catalog is mentioned once.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{fit, fit_left, put_line, width};
use crate::core::view::Status;
use crate::widgets::theme::Theme;

const SEP: &str = " │ ";

pub fn render(buf: &mut Buffer, area: Rect, s: &Status, theme: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let total = area.width as usize;
    let web = s.web_url.as_ref().map(|u| format!("web {u}"));
    let web_w = web.as_ref().map_or(0, |w| width(w) + SEP.len());
    let err = s.last_error.as_ref().map(|e| format!("last error: {e}"));
    let err_min = if err.is_some() { SEP.len() + 24 } else { 0 };

    let mut spans: Vec<Span> = vec![Span::raw(" ")];
    let mut room = total.saturating_sub(1);
    let push = |spans: &mut Vec<Span>, room: &mut usize, text: String, style: Style| {
        *room = room.saturating_sub(width(&text));
        spans.push(Span::styled(text, style));
    };

    let short = if s.catalog_stale {
        format!("catalog {} (stale)", s.catalog_age)
    } else {
        format!("catalog {}", s.catalog_age)
    };
    let long = if s.catalog_stale {
        format!("catalog {} (stale: run `nxr models scan`)", s.catalog_age)
    } else {
        short.clone()
    };
    // The workspace gets what the others leave (at least 12 cells, at most 60).
    let reserve = SEP.len() + width(&short) + err_min + web_w;
    let ws_max = room.saturating_sub(reserve).clamp(12.min(room), 60);
    push(
        &mut spans,
        &mut room,
        fit_left(&s.workspace, ws_max),
        theme.muted(),
    );
    // The catalog is named once: with its date, size and age when there is room, else
    // its age alone.
    let full = format!("{} · {}", s.catalog, long.trim_start_matches("catalog "));
    let age = if width(&full) + SEP.len() + web_w + err_min <= room {
        full
    } else if width(&long) + SEP.len() + web_w + err_min <= room {
        long
    } else {
        short
    };
    let age_style = if s.catalog_stale {
        theme.warn()
    } else {
        theme.muted()
    };
    push(&mut spans, &mut room, SEP.to_string(), theme.muted());
    let age = fit(&age, room);
    push(&mut spans, &mut room, age, age_style);

    if let Some(e) = err {
        let r = room.saturating_sub(SEP.len() + web_w);
        if r >= 8 {
            push(&mut spans, &mut room, SEP.to_string(), theme.muted());
            push(&mut spans, &mut room, fit(&e, r), theme.error());
        }
    }
    if let Some(w) = web
        && room >= SEP.len() + 8
    {
        push(&mut spans, &mut room, SEP.to_string(), theme.muted());
        let w = fit(&w, room);
        push(&mut spans, &mut room, w, theme.key());
    }
    put_line(buf, area.x, area.y, area.width, &Line::from(spans));
}
