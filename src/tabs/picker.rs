//! The model picker overlay: the query, the filter toggles, the matches (nucleo, matched
//! characters highlighted) and a price comparison of the current model against the
//! highlighted one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{Hit, Ui, note, popup};
use crate::core::text;
use crate::core::view::{Comparison, PickerView, PriceCard};
use crate::widgets::{self, fit, put_line, width};

/// Rows under the list: a rule and three lines of comparison.
const COMPARE_ROWS: u16 = 4;

pub fn draw(f: &mut Frame, area: Rect, v: &PickerView, ui: &mut Ui) {
    let title = match &v.needs {
        Some(n) => format!("{} · role {} · {n}", v.title, v.role.label()),
        None => format!("{} · role {}", v.title, v.role.label()),
    };
    let inner = popup(
        f,
        area,
        &title,
        "type to search · ↑/↓ move · enter picks · esc cancels",
        ui,
    );
    if inner.height < 4 || inner.width < 20 {
        return;
    }
    query_line(f, inner, v, ui);
    filter_line(f, widgets::row(inner, 1), v, ui);
    // Core sized the list for the full comparison; a banner row is paid for by its rule.
    let compare_h = match (inner.height >= 12, ui.banner_shown) {
        (false, _) => 0,
        (true, false) => COMPARE_ROWS,
        (true, true) => COMPARE_ROWS - 1,
    };
    let list = Rect {
        y: inner.y + 2,
        height: inner.height - 2 - compare_h,
        ..inner
    };
    if v.rows.is_empty() {
        let msg = if v.total == 0 {
            "No model passes the filters: turn one off (^f free, ^t tools, ^g image, ^x context, ^o provider)."
        } else {
            "No model matches the query."
        };
        note(
            f,
            Rect {
                x: list.x + 2,
                width: list.width.saturating_sub(2),
                ..list
            },
            msg,
            ui.theme.muted(),
        );
    } else {
        let hits = widgets::picker::render(
            f.buffer_mut(),
            list,
            &v.rows,
            v.selected,
            v.offset,
            &ui.theme,
        );
        let sel = v.selected.map(|s| s + v.offset);
        for (r, i) in hits {
            ui.hit(
                r,
                Hit::Row {
                    index: i,
                    selected: Some(i) == sel,
                },
            );
        }
    }
    if compare_h > 0 {
        let cmp = Rect {
            y: list.y + list.height,
            height: compare_h,
            ..inner
        };
        comparison(f, cmp, v.comparison.as_ref(), v.warning.as_deref(), ui);
    }
}

fn query_line(f: &mut Frame, inner: Rect, v: &PickerView, ui: &Ui) {
    let count = format!("{}/{} ", v.matched, v.total);
    let cw = width(&count) as u16;
    let room = inner.width.saturating_sub(cw + 4) as usize;
    // Show the end of a long query: that is where typing happens.
    let q = widgets::fit_left(&v.query, room);
    let line = Line::from(vec![
        Span::styled("> ", ui.theme.key()),
        Span::raw(q.clone()),
    ]);
    let used = put_line(
        f.buffer_mut(),
        inner.x + 1,
        inner.y,
        inner.width - cw - 1,
        &line,
    );
    let cursor_x = inner.x + 1 + used;
    if cursor_x < inner.x + inner.width - cw {
        f.buffer_mut()
            .set_string(cursor_x, inner.y, " ", ui.theme.selected());
        f.set_cursor_position((cursor_x, inner.y));
    }
    put_line(
        f.buffer_mut(),
        inner.x + inner.width - cw,
        inner.y,
        cw,
        &Line::styled(count, ui.theme.muted()),
    );
}

fn filter_line(f: &mut Frame, area: Rect, v: &PickerView, ui: &mut Ui) {
    let fl = &v.filters;
    let tick = |b: bool| if b { "[x]" } else { "[ ]" };
    let chips = [
        ("ctrl-f", format!("{} free ^f", tick(fl.free_only))),
        ("ctrl-t", format!("{} tools ^t", tick(fl.tools_only))),
        ("ctrl-g", format!("{} image ^g", tick(fl.image_only))),
        (
            "ctrl-x",
            if fl.min_context == 0 {
                "context any ^x".to_string()
            } else {
                format!("context >= {} ^x", text::tokens(fl.min_context))
            },
        ),
        (
            "ctrl-o",
            format!(
                "provider {} ^o",
                fl.provider
                    .as_deref()
                    .map(text::clean)
                    .unwrap_or_else(|| "any".into())
            ),
        ),
    ];
    let mut x = area.x + 1;
    let end = area.x + area.width;
    for (key, label) in chips {
        let w = width(&label) as u16;
        if x + w > end {
            break;
        }
        let on = label.starts_with("[x]")
            || (key == "ctrl-x" && fl.min_context > 0)
            || (key == "ctrl-o" && fl.provider.is_some());
        let style = if on { ui.theme.key() } else { ui.theme.muted() };
        put_line(f.buffer_mut(), x, area.y, w, &Line::styled(label, style));
        ui.hit(
            Rect {
                x,
                y: area.y,
                width: w,
                height: 1,
            },
            Hit::Key(key.to_string()),
        );
        x += w + 3;
    }
}

fn card_line<'a>(tag: &str, c: &PriceCard, delta: Option<f64>, ui: &Ui, w: u16) -> Line<'a> {
    let t = &ui.theme;
    let price = format!("{} / {}", c.prompt, c.completion);
    let score = match (c.score, delta) {
        (Some(s), Some(d)) => format!("score {s:.1} ({d:+.1})"),
        (Some(s), None) => format!("score {s:.1}"),
        (None, _) => "score -".to_string(),
    };
    let tail = format!("  {price:>15}  {:>5}  {score}", text::tokens(c.context));
    let room = (w as usize).saturating_sub(tag.len() + width(&tail) + 2);
    Line::from(vec![
        Span::styled(tag.to_string(), t.muted()),
        Span::styled(format!("{:<room$}", fit(&c.model, room)), t.key()),
        Span::styled(tail, if c.free { t.good() } else { Style::new() }),
    ])
}

fn comparison(f: &mut Frame, area: Rect, c: Option<&Comparison>, warning: Option<&str>, ui: &Ui) {
    let ruled = area.height >= COMPARE_ROWS;
    if ruled {
        let rule = "─".repeat(area.width as usize);
        put_line(
            f.buffer_mut(),
            area.x,
            area.y,
            area.width,
            &Line::styled(rule, ui.theme.border()),
        );
        put_line(
            f.buffer_mut(),
            area.x + 2,
            area.y,
            area.width.saturating_sub(2),
            &Line::styled(" price per million tokens, in / out ", ui.theme.header()),
        );
    }
    let top = area.y + u16::from(ruled);
    let Some(c) = c else {
        return;
    };
    let w = area.width.saturating_sub(2);
    let mut lines = Vec::new();
    match &c.current {
        Some(cur) => lines.push(card_line("now  ", cur, None, ui, w)),
        None => lines.push(Line::styled(
            "now  not set: Hermes picks its own",
            ui.theme.muted(),
        )),
    }
    lines.push(card_line("new  ", &c.candidate, c.score_delta, ui, w));
    // A reason not to pick the highlighted model comes before its price verdict.
    let last = match warning {
        Some(w) => format!("! {w}"),
        None => c.verdict.clone(),
    };
    lines.push(Line::from(vec![
        Span::styled("     ", ui.theme.muted()),
        Span::styled(last, ui.theme.warn()),
        Span::styled(
            c.evidence
                .as_deref()
                .map(|e| format!(" · {e}"))
                .unwrap_or_default(),
            ui.theme.muted(),
        ),
    ]));
    for (i, l) in lines.iter().enumerate() {
        let y = top + i as u16;
        if y < area.y + area.height {
            put_line(f.buffer_mut(), area.x + 1, y, w, l);
        }
    }
}
