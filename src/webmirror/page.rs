//! The HTML shell every page shares: navigation with the unread badge, the status line, the
//! banner, the key hints as buttons, and the small script that keeps the page live.

use maud::{DOCTYPE, Markup, PreEscaped, Render, html};

use crate::core::action::Action;
use crate::core::keymap;
use crate::core::view::{Hint, Meaning, Screen, Tab};

pub const STYLE: &str = include_str!("style.css");
pub const SCRIPT: &str = include_str!("live.js");

/// What a page needs besides the screen: where it is (to post back and build links) and the
/// per-run form token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCtx {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub csrf: String,
    /// No onboarding has finished yet: the navigation points to `/setup`.
    pub setup_needed: bool,
}

impl PageCtx {
    pub fn new(path: &str, query: Vec<(String, String)>, csrf: &str) -> PageCtx {
        PageCtx {
            path: path.to_string(),
            query,
            csrf: csrf.to_string(),
            setup_needed: false,
        }
    }

    pub fn with_setup_needed(mut self, needed: bool) -> PageCtx {
        self.setup_needed = needed;
        self
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// This page's URL (path and query).
    pub fn url(&self) -> String {
        build_url(&self.path, &self.query)
    }

    /// This page's URL with `drop` removed and `set` replacing or adding parameters.
    pub fn url_with(&self, drop: &[&str], set: &[(&str, &str)]) -> String {
        let mut q: Vec<(String, String)> = self
            .query
            .iter()
            .filter(|(k, _)| !drop.contains(&k.as_str()) && !set.iter().any(|(s, _)| s == k))
            .cloned()
            .collect();
        for (k, v) in set {
            q.push((k.to_string(), v.to_string()));
        }
        build_url(&self.path, &q)
    }
}

pub fn build_url(path: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        s.append_pair(k, v);
    }
    format!("{path}?{}", s.finish())
}

/// CSS class for a semantic role.
pub fn meaning_class(m: Meaning) -> &'static str {
    match m {
        Meaning::Normal => "m-normal",
        Meaning::Muted => "m-muted",
        Meaning::Accent => "m-accent",
        Meaning::Success => "m-success",
        Meaning::Warning => "m-warning",
        Meaning::Error => "m-error",
    }
}

/// The page title for a tab.
pub fn page_title(tab: Tab) -> &'static str {
    match tab {
        Tab::Hermes => "Hermes",
        Tab::Models => "Models · routing slots",
        Tab::Agents => "Agents",
        Tab::Budget => "Budget",
        Tab::Create => "Create an agent",
        Tab::Notifications => "Notifications",
    }
}

/// A form that posts one action back to this page. `fields` are the action's parameters.
pub fn action_form(
    ctx: &PageCtx,
    action: &str,
    fields: &[(&str, String)],
    label: Markup,
    class: &str,
) -> Markup {
    html! {
        form.inline method="post" action=(ctx.url()) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="action" value=(action);
            @for (k, v) in fields {
                input type="hidden" name=(k) value=(v);
            }
            button type="submit" class=(class) data-action=(action) { (label) }
        }
    }
}

pub fn banner(screen: &Screen) -> Markup {
    html! {
        @if let Some(b) = &screen.banner {
            div class={"banner " (meaning_class(b.meaning))} role="status" { (Text(&b.text)) }
        }
    }
}

/// The document around a page's content: head, navigation, the status line and the script
/// that keeps it live. `current` is the tab whose page this is (`None` for `/setup`).
pub fn shell(
    screen: &Screen,
    ctx: &PageCtx,
    current: Option<Tab>,
    title: &str,
    content: Markup,
) -> Markup {
    let mut out = String::with_capacity(content.0.len() + 2048);
    write_shell(&mut out, screen, ctx, current, title, |out| {
        out.push_str(&content.0)
    });
    PreEscaped(out)
}

/// [`shell`] writing straight into `out`; `content` writes the inside of `div#live` after
/// the status line.
pub fn write_shell(
    out: &mut String,
    screen: &Screen,
    ctx: &PageCtx,
    current: Option<Tab>,
    title: &str,
    content: impl FnOnce(&mut String),
) {
    // `<html>` and `<body>` are opened and closed by hand so the content can go straight
    // into `out`.
    out.push_str(DOCTYPE.0);
    out.push_str("<html lang=\"en\">");
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { "nxr · " (title) }
            link rel="stylesheet" href="/static/style.css";
        }
    }
    .render_to(out);
    out.push_str("<body data-tab=\"");
    out.push_str(current.map(tab_key).unwrap_or("setup"));
    out.push_str("\">");
    nav(screen, ctx, current).render_to(out);
    out.push_str("<div id=\"live\">");
    budget_warning(screen).render_to(out);
    status_line(screen).render_to(out);
    content(out);
    out.push_str("</div><script src=\"/static/live.js\" defer></script></body></html>");
}

fn tab_key(tab: Tab) -> &'static str {
    match tab {
        Tab::Hermes => "hermes",
        Tab::Models => "models",
        Tab::Agents => "agents",
        Tab::Budget => "budget",
        Tab::Create => "create",
        Tab::Notifications => "notifications",
    }
}

fn nav(screen: &Screen, ctx: &PageCtx, current: Option<Tab>) -> Markup {
    let setup_here = current.is_none();
    html! {
        nav.tabs {
            span.brand { "nxr" }
            @if ctx.setup_needed || setup_here {
                a href="/setup" class=(if setup_here { "tab setup current" } else { "tab setup" })
                    aria-current=[setup_here.then_some("page")]
                    title=[ctx.setup_needed.then_some("no setup has finished yet: start here")] {
                    "Setup"
                }
            }
            @for t in &screen.tabs {
                @let here = Some(t.tab) == current;
                a href=(t.path) class=(if here { "tab current" } else { "tab" })
                    aria-current=[here.then_some("page")] {
                    span.num { (t.number) }
                    " " (t.title)
                    @if let Some(n) = t.badge {
                        " " span.badge title="unread notifications" { (n) }
                    }
                }
            }
        }
    }
}

/// The free-tier warning under the navigation, from 70 % of today's limit: the same text
/// as the TUI's, a link to the budget. Inside `#live`, so the live refresh brings it and
/// takes it away.
fn budget_warning(screen: &Screen) -> Markup {
    html! {
        @if let Some(w) = &screen.warning {
            p id="budget-warning" role="status"
                class={"budget-warning " (meaning_class(w.meaning)) " level-" (w.level)} {
                a href=(w.tab.path()) { (Text(&w.text)) " \u{b7} " (Text(&w.more)) }
            }
        }
    }
}

fn status_line(screen: &Screen) -> Markup {
    let s = &screen.status;
    html! {
        div.status {
            span.workspace title="database" { (Text(&s.workspace)) }
            " · "
            span class=(if s.catalog_stale { "catalog m-warning" } else { "catalog" }) {
                (Text(&s.catalog)) " · " (Text(&s.catalog_age))
            }
            @if let Some(e) = &s.last_error {
                " · " span.m-error title="last error" { (Text(e)) }
            }
        }
    }
}

/// The action a hint stands for, with its parameters (found through the key table).
pub fn hint_action(h: &Hint) -> Option<Action> {
    hint_entry(h).map(|e| e.action.clone())
}

/// A key-table entry: the hint, its action and the action's parameters as form fields.
pub struct HintEntry {
    hint: Hint,
    pub action: Action,
    pub fields: Vec<(String, String)>,
}

/// The key table's entry for a hint, looked up by action name (every page renders its
/// hints, so this is built once).
pub fn hint_entry(h: &Hint) -> Option<&'static HintEntry> {
    type Table = std::collections::HashMap<String, Vec<HintEntry>>;
    static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| {
            let mut t = Table::new();
            for b in keymap::bindings() {
                let hint = keymap::hint(b);
                let action = (b.action)();
                t.entry(hint.action.clone()).or_default().push(HintEntry {
                    fields: action_fields(&action),
                    hint,
                    action,
                });
            }
            t
        })
        .get(&h.action)?
        .iter()
        .find(|e| e.hint == *h)
}

/// The action's parameters as form fields (everything but the `action` tag).
pub fn action_fields(a: &Action) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(a) else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(k, v)| k != "action" && !v.is_null())
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, s)
        })
        .collect()
}

/// Text with the characters at `matches` (char indices) wrapped in `<mark>`.
pub fn marked(label: &str, matches: &[u32]) -> Markup {
    let mut parts: Vec<(bool, String)> = Vec::new();
    for (i, c) in label.chars().enumerate() {
        let m = matches.binary_search(&(i as u32)).is_ok();
        match parts.last_mut() {
            Some((pm, s)) if *pm == m => s.push(c),
            _ => parts.push((m, c.to_string())),
        }
    }
    html! {
        @for (m, s) in &parts {
            @if *m { mark { (s) } } @else { (s) }
        }
    }
}

/// "42.1" or "-".
pub fn score(s: Option<f64>) -> String {
    crate::core::text::score(s)
}

/// A complete small page for errors and the login prompt.
pub fn plain_page(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "nxr · " (title) }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                main #main {
                    h1 { (title) }
                    p { (message) }
                    p { a href="/" { "nxr home" } }
                }
            }
        }
    }
}

/// Text escaped for HTML as maud escapes it (`&`, `<`, `>`, `"`), copying the runs between
/// those characters whole instead of byte by byte: the agents table splices hundreds of
/// model names per page.
#[derive(Debug, Clone, Copy)]
pub struct Text<'a>(pub &'a str);

impl maud::Render for Text<'_> {
    fn render_to(&self, out: &mut String) {
        escape_into(self.0, out);
    }
}

pub fn escape_into(s: &str, out: &mut String) {
    let bytes = s.as_bytes();
    let mut from = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none of them needs escaping (most text).
        if let Some(chunk) = bytes.get(i..i + 8)
            && let Ok(word) = <[u8; 8]>::try_from(chunk)
            && !has_special(u64::from_le_bytes(word))
        {
            i += 8;
            continue;
        }
        let rep = match bytes[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => {
                i += 1;
                continue;
            }
        };
        // `i` sits on an ASCII byte, so both slices end on character boundaries.
        out.push_str(&s[from..i]);
        out.push_str(rep);
        i += 1;
        from = i;
    }
    out.push_str(&s[from..]);
}

/// `s` escaped, borrowed when nothing needed escaping: for a value a row repeats.
pub fn escaped(s: &str) -> std::borrow::Cow<'_, str> {
    let bytes = s.as_bytes();
    let mut words = bytes.chunks_exact(8);
    let clean = words
        .by_ref()
        .all(|w| <[u8; 8]>::try_from(w).is_ok_and(|w| !has_special(u64::from_le_bytes(w))))
        && !words
            .remainder()
            .iter()
            .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"'));
    if clean {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    escape_into(s, &mut out);
    std::borrow::Cow::Owned(out)
}

/// Whether any of the eight bytes is `&`, `<`, `>` or `"` (the zero-byte test on the word
/// XORed with each of them repeated).
fn has_special(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    (zero(w ^ (LO * b'&' as u64))
        | zero(w ^ (LO * b'<' as u64))
        | zero(w ^ (LO * b'>' as u64))
        | zero(w ^ (LO * b'"' as u64)))
        != 0
}

/// A score as `text::score` writes it ("42.1" or "-"), straight into the page.
#[derive(Debug, Clone, Copy)]
pub struct Score(pub Option<f64>);

impl maud::Render for Score {
    fn render_to(&self, out: &mut String) {
        match self.0 {
            None => out.push('-'),
            Some(v) => one_decimal(v, out),
        }
    }
}

/// `format!("{v:.1}")` without the float formatter: `v * 10` rounded to an integer, where a
/// value near a tie (scores like 80.85) is decided exactly, as the formatter does (it rounds
/// the exact binary value, half to even).
pub fn one_decimal(v: f64, out: &mut String) {
    use std::fmt::Write;
    let t = v * 10.0;
    if !v.is_finite() || t.abs() >= 1e15 {
        let _ = write!(out, "{v:.1}");
        return;
    }
    // floor(t) without a libm call (|t| < 1e15 fits an i64 exactly).
    let trunc = t as i64;
    let k = (if (trunc as f64) > t { trunc - 1 } else { trunc }) as f64;
    let n = if (t - k - 0.5).abs() > 1e-6 {
        if t - k > 0.5 { k + 1.0 } else { k }
    } else {
        // The exact product is t + e (fma gives the product's rounding error exactly), and
        // t - (k + 0.5) is exact (Sterbenz): their sum has the sign of the exact distance
        // to the tie.
        let e = v.mul_add(10.0, -t);
        let d = (t - (k + 0.5)) + e;
        // Above the tie, or exactly on it with k odd (half to even): round up.
        if d > 0.0 || (d == 0.0 && k % 2.0 != 0.0) {
            k + 1.0
        } else {
            k
        }
    };
    // The formatter keeps the sign of a negative number that rounds to zero ("-0.0").
    if v.is_sign_negative() {
        out.push('-');
    }
    let n = (n as i64).unsigned_abs();
    out.push_str(itoa_buf(n / 10).as_str());
    out.push('.');
    out.push_str(itoa_buf(n % 10).as_str());
}

/// A small stack buffer holding a number's digits.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("")
    }
}

fn itoa_buf(mut n: u64) -> Digits {
    let mut d = Digits {
        buf: [0; 20],
        start: 20,
    };
    loop {
        d.start -= 1;
        d.buf[d.start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    d
}

/// 1000 → "1,000".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_exactly_as_maud_does() {
        for s in [
            "",
            "plain",
            "<script>alert(\"x\")</script>",
            "a&b<c>d\"e'f",
            "\u{e9}l\u{e8}ve & <\u{1f600}>",
            "&&&",
            "tail<",
            "0123456789abcdef<0123456789abcdef>01234567\"89abc&",
            "qwen/qwen3-coder:free is a long name without anything to escape",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}<\u{1f600}\u{1f600}\u{1f600}&",
        ] {
            let mut ours = String::new();
            Text(s).render_to(&mut ours);
            let theirs = maud::html! { (s) }.into_string();
            assert_eq!(ours, theirs, "{s:?}");
            assert_eq!(escaped(s), theirs);
        }
        // And a few thousand random strings over the characters that matter.
        let alphabet = [
            "a",
            "&",
            "<",
            ">",
            "\"",
            "'",
            "\u{e9}",
            "\u{1f600}",
            "/",
            "0",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((x >> (i % 60)) as usize + i) % alphabet.len()])
                .collect();
            let mut ours = String::new();
            Text(&s).render_to(&mut ours);
            assert_eq!(ours, maud::html! { (s) }.into_string(), "{s:?}");
        }
    }

    #[test]
    fn scores_read_as_the_formatter_writes_them() {
        let mut x = -3.0f64;
        while x < 120.0 {
            for v in [
                x,
                x + 0.05,
                x + 0.049_999_999,
                x + 0.050_000_001,
                x + 1.0 / 3.0,
            ] {
                let mut ours = String::new();
                Score(Some(v)).render_to(&mut ours);
                assert_eq!(ours, format!("{v:.1}"), "{v:?}");
            }
            x += 0.0125;
        }
        let mut s = String::new();
        Score(None).render_to(&mut s);
        assert_eq!(s, crate::core::text::score(None));
        for k in -40_000..40_000 {
            for v in [
                k as f64 / 20.0,
                k as f64 / 100.0,
                k as f64 / 1000.0,
                k as f64 * 0.05,
            ] {
                let mut ours = String::new();
                one_decimal(v, &mut ours);
                assert_eq!(ours, format!("{v:.1}"), "{v:?}");
            }
        }
        for v in [
            0.25,
            0.35,
            80.25,
            -0.05,
            -0.04,
            -0.0,
            1e20,
            f64::NAN,
            f64::INFINITY,
        ] {
            let mut ours = String::new();
            one_decimal(v, &mut ours);
            assert_eq!(ours, format!("{v:.1}"), "{v:?}");
        }
    }

    #[test]
    fn thousands_get_commas() {
        assert_eq!(thousands(20), "20");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
