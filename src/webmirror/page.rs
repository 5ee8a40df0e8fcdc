//! The HTML shell every page shares: navigation with the unread badge, the status line, the
//! banner, the key hints as buttons, and the small script that keeps the page live.

use maud::{DOCTYPE, Markup, html};

use crate::core::action::Action;
use crate::core::keymap;
use crate::core::view::{Body, Hint, Meaning, Overlay, Screen, Tab};

pub const STYLE: &str = include_str!("style.css");
pub const SCRIPT: &str = include_str!("live.js");

/// What a page needs besides the screen: where it is (to post back and build links) and the
/// per-run form token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCtx {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub csrf: String,
}

impl PageCtx {
    pub fn new(path: &str, query: Vec<(String, String)>, csrf: &str) -> PageCtx {
        PageCtx {
            path: path.to_string(),
            query,
            csrf: csrf.to_string(),
        }
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

/// The whole page: shell around the tab's body and overlay.
pub fn render_screen(screen: &Screen, ctx: &PageCtx) -> Markup {
    let title = page_title(screen.tab);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "nxr · " (title) }
                link rel="stylesheet" href="/static/style.css";
            }
            body data-tab=(tab_key(screen.tab)) {
                (nav(screen))
                div #live {
                    (status_line(screen))
                    @if let Some(b) = &screen.banner {
                        div class={"banner " (meaning_class(b.meaning))} role="status" { (b.text) }
                    }
                    main #main {
                        h1 { (title) }
                        @if let Some(setup) = &screen.setup {
                            (setup_view(setup))
                        } @else {
                            (body(screen, ctx))
                        }
                        @if let Some(o) = &screen.overlay {
                            (overlay(screen, o, ctx))
                        }
                    }
                    (hint_bar(screen, ctx))
                }
                script src="/static/live.js" defer {}
            }
        }
    }
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

fn nav(screen: &Screen) -> Markup {
    html! {
        nav.tabs {
            span.brand { "nxr" }
            @for t in &screen.tabs {
                a href=(t.path) class=(if t.tab == screen.tab { "tab current" } else { "tab" })
                    aria-current=[(t.tab == screen.tab).then_some("page")] {
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

fn status_line(screen: &Screen) -> Markup {
    let s = &screen.status;
    html! {
        div.status {
            span.workspace title="database" { (s.workspace) }
            " · "
            span class=(if s.catalog_stale { "catalog m-warning" } else { "catalog" }) {
                (s.catalog) " · " (s.catalog_age)
            }
            @if let Some(e) = &s.last_error {
                " · " span.m-error title="last error" { (e) }
            }
        }
    }
}

fn body(screen: &Screen, ctx: &PageCtx) -> Markup {
    match &screen.body {
        Body::Hermes(v) => super::hermes::render(v, ctx),
        Body::Models(v) => super::models::render(v, screen.overlay.as_ref(), ctx),
        Body::Agents(v) => super::agents::render(v, ctx),
        Body::Budget(v) => super::budget::render(v, ctx),
        Body::Create(v) => super::create::render(v, screen.overlay.as_ref(), ctx),
        Body::Notifications(v) => super::notifications::render(v, ctx),
    }
}

/// First run: the setup wizard covers the page until it is finished (its buttons are the
/// hints).
fn setup_view(v: &crate::core::view::SetupView) -> Markup {
    use crate::core::view::StepState;
    html! {
        section.setup aria-label="first-run setup" {
            p { (v.intro) }
            ol.setup-steps {
                @for st in &v.steps {
                    @let class = match st.state {
                        StepState::Pending => "m-muted",
                        StepState::Running => "m-accent",
                        StepState::Done => "m-success",
                        StepState::Failed => "m-error",
                    };
                    li class=(class) {
                        (st.number) ". " (st.title)
                        @if let Some(t) = &st.text { " · " (t) }
                    }
                }
            }
            @if let Some(e) = &v.error { p.m-error { (e) } }
            @if v.already_done { p.m-muted { "Setup had already finished: nothing was created." } }
            @if !v.agents.is_empty() {
                table.agents {
                    thead { tr { th { "agent" } th { "role" } th { "model" } th { "skills" } } }
                    tbody {
                        @for a in &v.agents {
                            tr { td { (a.name) } td { (a.role.label()) } td { code { (a.model) } } td { (a.skills.join(", ")) } }
                        }
                    }
                }
            }
            p.m-muted { (v.limits.text) }
            @if let Some(k) = &v.key { p { "OpenRouter key " code { (k) } } }
        }
    }
}

fn overlay(screen: &Screen, o: &Overlay, ctx: &PageCtx) -> Markup {
    match o {
        Overlay::Help(h) => html! {
            section.overlay.help aria-label="help" {
                h2 { "Keys and actions" }
                @for s in &h.sections {
                    h3 { (s.title) }
                    dl {
                        @for hint in &s.hints {
                            dt { kbd { (hint.keys) } }
                            dd { (hint.label) " " code.m-muted { (hint.action) } }
                        }
                    }
                }
                (action_form(ctx, "toggle_help", &[], html! { "close" }, "btn"))
            }
        },
        // The picker sits inside the page that opened it (models or create).
        Overlay::Picker(_) => html! {},
        Overlay::Skills(e) => super::agents::skill_editor(e, ctx, screen),
    }
}

/// The action a hint stands for, with its parameters (found through the key table).
pub fn hint_action(h: &Hint) -> Option<Action> {
    static TABLE: std::sync::OnceLock<Vec<(Hint, Action)>> = std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| {
            keymap::bindings()
                .iter()
                .map(|b| (keymap::hint(b), (b.action)()))
                .collect()
        })
        .iter()
        .find(|(hint, _)| hint == h)
        .map(|(_, a)| a.clone())
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

/// The key bar as buttons. Pages keep their own controls for what the URL carries (the
/// picker's filters, tabs); everything else posts the hint's action.
fn hint_bar(screen: &Screen, ctx: &PageCtx) -> Markup {
    html! {
        div.hints aria-label="actions" {
            @for h in &screen.hints {
                @if h.action != "quit" {
                    (hint_button(h, screen, ctx))
                }
            }
        }
    }
}

fn hint_button(h: &Hint, screen: &Screen, ctx: &PageCtx) -> Markup {
    let label = html! { kbd { (h.keys) } " " (h.label) };
    let Some(action) = hint_action(h) else {
        return html! { span.hint.m-muted { (label) } };
    };
    let mut fields: Vec<(String, String)> = action_fields(&action);
    // Picker state lives in the URL on the web: actions that change or close it go back to
    // the page without the picker parameters, so the session's state wins.
    let picker_open = matches!(screen.overlay, Some(Overlay::Picker(_)));
    if picker_open {
        fields.push(("back".into(), ctx.url_with(super::picker::PARAMS, &[])));
    }
    if h.action == "apply_recommendation"
        && let Body::Agents(v) = &screen.body
        && let Some(row) = v.rows.get(v.selected)
    {
        fields.retain(|(k, _)| k != "agent");
        fields.push(("agent".into(), row.name.clone()));
    }
    let fields: Vec<(&str, String)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    action_form(ctx, &h.action, &fields, label, "hint")
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
