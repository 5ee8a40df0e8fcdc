//! The fuzzy picker's list: one row per candidate with the characters nucleo matched
//! highlighted, price per million input/output tokens, context, and the score for the
//! agent's role ("-" when the model misses the role's requirements).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::table::{self, Column};
use crate::core::picker::PickerRow;
use crate::core::text;
use crate::widgets::theme::Theme;

pub const COLUMNS: [Column<'static>; 8] = [
    Column::fill("MODEL", 16),
    Column::fixed("IN/M", 7).right(),
    Column::fixed("OUT/M", 7).right(),
    Column::fixed("CTX", 5).right(),
    Column::fixed("SCORE", 5).right(),
    Column::fixed("IMAGE", 5),
    Column::fixed("TOOLS", 5).from_width(70),
    Column::fixed("NOTE", 8).from_width(90),
];

/// The NOTE cell: why a row cannot be used, or that it misses the slot's needs (the
/// highlighted row's full reason shows under the list).
pub fn note(r: &PickerRow) -> &'static str {
    if !r.usable {
        "need key"
    } else if r.lacks.is_some() {
        "misfit"
    } else {
        ""
    }
}

/// The label with matched characters in the match style.
pub fn highlighted<'a>(label: &str, matches: &[u32], base: Style, theme: &Theme) -> Line<'a> {
    let mut spans: Vec<Span<'a>> = Vec::new();
    let mut cur = String::new();
    let mut cur_match = false;
    let mut next = matches.iter().copied().peekable();
    for (i, c) in label.chars().enumerate() {
        while next.peek().is_some_and(|m| (*m as usize) < i) {
            next.next();
        }
        let is_match = next.peek().is_some_and(|m| *m as usize == i);
        if is_match != cur_match && !cur.is_empty() {
            let style = if cur_match {
                base.patch(theme.matched())
            } else {
                base
            };
            spans.push(Span::styled(std::mem::take(&mut cur), style));
        }
        cur_match = is_match;
        cur.push(c);
    }
    if !cur.is_empty() {
        let style = if cur_match {
            base.patch(theme.matched())
        } else {
            base
        };
        spans.push(Span::styled(cur, style));
    }
    Line::from(spans)
}

/// One candidate as table cells.
pub fn cells<'a>(r: &PickerRow, theme: &Theme) -> Vec<Line<'a>> {
    let price = |p: &str| {
        if p == "free" {
            Line::styled(p.to_string(), theme.good())
        } else {
            Line::from(p.to_string())
        }
    };
    let base = if r.usable {
        Style::new()
    } else {
        theme.muted()
    };
    let yes_no = |b: bool| {
        if b {
            Line::from("yes")
        } else {
            Line::styled("no", theme.muted())
        }
    };
    vec![
        highlighted(&r.label, &r.matches, base, theme),
        price(&r.prompt),
        price(&r.completion),
        Line::from(text::tokens(r.context)),
        if r.qualified {
            Line::from(text::score(r.score))
        } else {
            Line::styled("-", theme.muted())
        },
        yes_no(r.image),
        yes_no(r.tools),
        Line::styled(note(r), theme.warn()),
    ]
}

/// Draws the header and the visible rows. `offset` is the position of `rows[0]` among all
/// matches; the returned hits carry that absolute position.
pub fn render(
    buf: &mut Buffer,
    area: Rect,
    rows: &[PickerRow],
    selected: Option<usize>,
    offset: usize,
    theme: &Theme,
) -> Vec<(Rect, usize)> {
    let data: Vec<Vec<Line>> = rows.iter().map(|r| cells(r, theme)).collect();
    // Core already windowed the rows to fit, so the table never pages them again.
    let area = Rect {
        height: area.height.min(data.len() as u16 + 1),
        ..area
    };
    table::render(buf, area, &COLUMNS, &data, selected, theme)
        .into_iter()
        .map(|(r, i)| (r, i + offset))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matched_characters_get_their_own_spans() {
        let t = Theme::no_color();
        let line = highlighted("qwen/coder", &[0, 1, 5], Style::new(), &t);
        let parts: Vec<(&str, bool)> = line
            .spans
            .iter()
            .map(|s| (s.content.as_ref(), s.style == t.matched()))
            .collect();
        assert_eq!(
            parts,
            vec![("qw", true), ("en/", false), ("c", true), ("oder", false)]
        );
    }
}
