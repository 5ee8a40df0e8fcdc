//! Reusable ratatui pieces that take plain data (view-struct fields) and draw it: the picker
//! list, tables, the gauge, the wizard's step bar, the key-hint bar, the banner and the
//! status line. None of them keeps state between frames; the ones people click return the
//! screen areas they drew so the caller can map a click back to an Action.

pub mod banner;
pub mod gauge;
pub mod hints;
pub mod picker;
pub mod status;
pub mod table;
pub mod theme;
pub mod wizard;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The mark left where text was cut.
pub const ELLIPSIS: &str = "…";

/// Display width of a string in terminal cells.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` cells, ending in "…" when something was cut.
pub fn fit(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > max - 1 {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push_str(ELLIPSIS);
    out
}

/// `s` cut from the left to at most `max` cells ("…les/pm/config.yaml"): for paths, whose
/// end says the most.
pub fn fit_left(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut tail: Vec<char> = Vec::new();
    let mut w = 0;
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(0);
        if w + cw > max - 1 {
            break;
        }
        tail.push(c);
        w += cw;
    }
    let mut out = String::from(ELLIPSIS);
    out.extend(tail.into_iter().rev());
    out
}

/// Draws a line of spans into one row of `area` starting at its left edge, cutting it with
/// "…" when it is wider. Returns the number of cells used.
pub fn put_line(buf: &mut Buffer, x: u16, y: u16, max: u16, line: &Line<'_>) -> u16 {
    let max = max as usize;
    if max == 0 {
        return 0;
    }
    let total: usize = line.spans.iter().map(|s| s.width()).sum();
    let cut = total > max;
    let room = if cut { max - 1 } else { max };
    let mut used = 0usize;
    let mut last_style = Style::new();
    'outer: for span in &line.spans {
        let style = line.style.patch(span.style);
        for c in span.content.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > room {
                break 'outer;
            }
            if cw > 0 {
                let mut tmp = [0u8; 4];
                buf.set_stringn(x + used as u16, y, c.encode_utf8(&mut tmp), cw, style);
            }
            used += cw;
            last_style = style;
        }
    }
    if cut {
        buf.set_stringn(x + used as u16, y, ELLIPSIS, 1, last_style);
        used += 1;
    }
    used as u16
}

/// Word-wraps `s` into lines of at most `max` cells (long words are cut into pieces).
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let need = if line.is_empty() {
            width(word)
        } else {
            width(&line) + 1 + width(word)
        };
        if need <= max {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            out.push(std::mem::take(&mut line));
        }
        let mut rest = word.to_string();
        while width(&rest) > max {
            let mut head = String::new();
            let mut w = 0;
            let mut chars = rest.chars();
            for c in chars.by_ref() {
                let cw = c.width().unwrap_or(0);
                if w + cw > max {
                    let mut tail = String::from(c);
                    tail.extend(chars);
                    rest = tail;
                    break;
                }
                head.push(c);
                w += cw;
            }
            out.push(head);
        }
        line = rest;
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// A span of `s` fitted to `max` cells.
pub fn span_fit<'a>(s: &str, max: usize, style: Style) -> Span<'a> {
    Span::styled(fit(s, max), style)
}

/// The area of `w`×`h` centred in `area` (clamped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The row of `area` at offset `i` (zero height when outside).
pub fn row(area: Rect, i: u16) -> Rect {
    if i >= area.height {
        return Rect {
            x: area.x,
            y: area.y + area.height,
            width: area.width,
            height: 0,
        };
    }
    Rect {
        x: area.x,
        y: area.y + i,
        width: area.width,
        height: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_with_an_ellipsis() {
        assert_eq!(fit("hello", 10), "hello");
        assert_eq!(fit("hello world", 6), "hello…");
        assert_eq!(fit("hello", 0), "");
        assert_eq!(fit_left("/a/b/config.yaml", 8), "…ig.yaml");
        assert_eq!(width(&fit("日本語テキスト", 7)), 7);
    }

    #[test]
    fn wrapping_keeps_words_and_cuts_long_ones() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert!(wrap("", 5).is_empty());
    }

    #[test]
    fn lines_are_cut_to_the_area() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 1));
        let used = put_line(
            &mut buf,
            0,
            0,
            6,
            &Line::from(vec![Span::raw("abc"), Span::raw("defgh")]),
        );
        assert_eq!(used, 6);
        let text: String = (0..6).map(|x| buf[(x, 0)].symbol().to_string()).collect();
        assert_eq!(text, "abcde…");
    }
}
