//! A table that always fits: fixed and filling columns, columns that hide on narrow
//! screens, cells cut with "…" instead of wrapping, a `>` gutter on the selected row (so the
//! selection reads without colour too) and a window that keeps the selection visible.
//! It returns each drawn row's area and absolute index for mouse clicks.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;

use super::put_line;
use crate::widgets::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// Exactly this many cells.
    Fixed(u16),
    /// A share of what is left, at least `min` cells; `weight` shares.
    Fill { min: u16, weight: u16 },
}

#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub title: &'a str,
    pub width: Width,
    /// Right-aligned (numbers).
    pub right: bool,
    /// Hidden when the table is narrower than this.
    pub min_table_width: u16,
}

impl<'a> Column<'a> {
    pub const fn fixed(title: &'a str, w: u16) -> Column<'a> {
        Column {
            title,
            width: Width::Fixed(w),
            right: false,
            min_table_width: 0,
        }
    }

    pub const fn fill(title: &'a str, min: u16) -> Column<'a> {
        Column {
            title,
            width: Width::Fill { min, weight: 1 },
            right: false,
            min_table_width: 0,
        }
    }

    pub const fn weight(mut self, weight: u16) -> Column<'a> {
        if let Width::Fill { min, .. } = self.width {
            self.width = Width::Fill { min, weight };
        }
        self
    }

    pub const fn right(mut self) -> Column<'a> {
        self.right = true;
        self
    }

    /// Shown only when the table is at least `w` cells wide.
    pub const fn from_width(mut self, w: u16) -> Column<'a> {
        self.min_table_width = w;
        self
    }
}

/// Cells between columns.
pub const SPACING: u16 = 1;
/// The selection gutter ("> ").
pub const GUTTER: u16 = 2;

/// Widths for the visible columns (`None` for hidden ones) in a table `total` cells wide
/// (gutter included): fixed columns get their width, filling columns their minimum, and
/// what is left is shared by weight (the last filling column takes the rounding).
pub fn widths(cols: &[Column<'_>], total: u16) -> Vec<Option<u16>> {
    let shown: Vec<bool> = cols.iter().map(|c| total >= c.min_table_width).collect();
    let visible = || cols.iter().zip(&shown).filter(|(_, s)| **s).map(|(c, _)| c);
    let n = visible().count() as u16;
    let avail = total
        .saturating_sub(GUTTER)
        .saturating_sub(n.saturating_sub(1) * SPACING);
    let mut base: u16 = 0;
    let mut weights: u16 = 0;
    for c in visible() {
        match c.width {
            Width::Fixed(w) => base += w,
            Width::Fill { min, weight } => {
                base += min;
                weights += weight.max(1);
            }
        }
    }
    let extra = avail.saturating_sub(base);
    let last_fill = cols
        .iter()
        .zip(&shown)
        .rposition(|(c, s)| *s && matches!(c.width, Width::Fill { .. }));
    let mut left = extra;
    let mut out = Vec::with_capacity(cols.len());
    for (i, (c, s)) in cols.iter().zip(&shown).enumerate() {
        if !*s {
            out.push(None);
            continue;
        }
        out.push(Some(match c.width {
            Width::Fixed(w) => w,
            Width::Fill { min, weight } => {
                let share = if Some(i) == last_fill {
                    left
                } else {
                    (extra as u32 * weight.max(1) as u32 / weights.max(1) as u32) as u16
                };
                let share = share.min(left);
                left -= share;
                min + share
            }
        }));
    }
    out
}

/// First row shown so `selected` is visible in `height` rows: whole pages, so rows do not
/// shift under the pointer while moving within a page.
pub fn page_offset(selected: usize, len: usize, height: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    let sel = selected.min(len - 1);
    (sel / height) * height
}

/// Draws a header and rows; returns (area, absolute index) of each drawn row.
/// `rows` are whole data rows; the table windows them itself around `selected`.
pub fn render(
    buf: &mut Buffer,
    area: Rect,
    cols: &[Column<'_>],
    rows: &[Vec<Line<'_>>],
    selected: Option<usize>,
    theme: &Theme,
) -> Vec<(Rect, usize)> {
    if area.height == 0 || area.width == 0 {
        return Vec::new();
    }
    let ws = widths(cols, area.width);
    // Header.
    let header: Vec<Line> = cols.iter().map(|c| Line::from(c.title)).collect();
    draw_row(
        buf,
        area.x,
        area.y,
        area.width,
        cols,
        &ws,
        &header,
        theme.header(),
    );
    let body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    let offset = page_offset(selected.unwrap_or(0), rows.len(), body.height as usize);
    let mut hits = Vec::new();
    for (i, row) in rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(body.height as usize)
    {
        let y = body.y + (i - offset) as u16;
        let rect = Rect {
            x: area.x,
            y,
            width: area.width,
            height: 1,
        };
        let is_sel = selected == Some(i);
        draw_row(buf, area.x, y, area.width, cols, &ws, row, Style::new());
        if is_sel {
            buf.set_string(area.x, y, ">", theme.key());
            buf.set_style(rect, theme.selected());
        }
        hits.push((rect, i));
    }
    hits
}

#[allow(clippy::too_many_arguments)]
fn draw_row(
    buf: &mut Buffer,
    x0: u16,
    y: u16,
    total: u16,
    cols: &[Column<'_>],
    ws: &[Option<u16>],
    cells: &[Line<'_>],
    base: Style,
) {
    let end = x0 + total;
    let mut x = x0 + GUTTER;
    let mut first = true;
    for (i, c) in cols.iter().enumerate() {
        let Some(w) = ws.get(i).copied().flatten() else {
            continue;
        };
        if !first {
            x += SPACING;
        }
        first = false;
        if x >= end {
            break;
        }
        let w = w.min(end - x);
        if let Some(cell) = cells.get(i) {
            let mut line = cell.clone();
            line.style = base.patch(line.style);
            let lw = line.width() as u16;
            let start = if c.right && lw < w { x + (w - lw) } else { x };
            put_line(buf, start, y, w - (start - x), &line);
        }
        x += w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_columns_share_the_rest_and_narrow_columns_hide() {
        let cols = [
            Column::fixed("A", 4),
            Column::fill("B", 5),
            Column::fill("C", 5).from_width(100),
        ];
        let w = widths(&cols, 40);
        assert_eq!(w, vec![Some(4), Some(40 - 2 - 1 - 4), None]);
        let w = widths(&cols, 120);
        assert_eq!(w[0], Some(4));
        assert_eq!(w[1].unwrap_or(0) + w[2].unwrap_or(0), 120 - 2 - 2 - 4);
        // Minimums first, then the rest by weight.
        let cols = [
            Column::fill("A", 10),
            Column::fill("B", 10).weight(3),
            Column::fixed("C", 5),
        ];
        assert_eq!(widths(&cols, 45), vec![Some(14), Some(22), Some(5)]);
    }

    #[test]
    fn the_window_pages_to_the_selection() {
        assert_eq!(page_offset(0, 100, 10), 0);
        assert_eq!(page_offset(9, 100, 10), 0);
        assert_eq!(page_offset(10, 100, 10), 10);
        assert_eq!(page_offset(99, 100, 10), 90);
        assert_eq!(page_offset(5, 3, 10), 0);
    }
}
