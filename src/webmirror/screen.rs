//! A whole page from a [`Screen`]: the shell (from `page`) around the tab's page, its
//! overlay and the key bar. This is the one module that knows every page; `page` knows
//! none, so the pages can use `page` without a loop.

use maud::{Markup, PreEscaped, Render, html};

use super::page::{PageCtx, action_form, banner, escape_into, hint_entry, page_title, write_shell};
use crate::core::view::{Body, Hint, Overlay, Screen};

/// The whole page: shell around the tab's body and overlay. A session in first-run setup
/// shows the setup wizard instead (the web serves it at `/setup`).
pub fn render_screen(screen: &Screen, ctx: &PageCtx) -> Markup {
    let mut out = String::with_capacity(16 * 1024);
    render_screen_into(screen, ctx, &mut out);
    PreEscaped(out)
}

/// [`render_screen`] into a buffer the caller keeps (the server reuses one per worker, so a
/// page render allocates no large blocks).
pub fn render_screen_into(screen: &Screen, ctx: &PageCtx, out: &mut String) {
    if let Some(setup) = &screen.setup {
        return super::setup::render(screen, setup, ctx).render_to(out);
    }
    let title = page_title(screen.tab);
    write_shell(out, screen, ctx, Some(screen.tab), title, |out| {
        banner(screen).render_to(out);
        out.push_str("<main id=\"main\"><h1>");
        escape_into(title, out);
        out.push_str("</h1>");
        body_into(screen, ctx, out);
        if let Some(o) = &screen.overlay {
            overlay(screen, o, ctx).render_to(out);
        }
        out.push_str("</main>");
        hint_bar(screen, ctx).render_to(out);
    });
}

fn body_into(screen: &Screen, ctx: &PageCtx, out: &mut String) {
    match &screen.body {
        Body::Hermes(v) => super::hermes::render(v, ctx).render_to(out),
        Body::Models(v) => super::models::render(v, screen.overlay.as_ref(), ctx).render_to(out),
        Body::Agents(v) => super::agents::render_into(v, ctx, out),
        Body::Budget(v) => super::budget::render(v, ctx).render_to(out),
        Body::Create(v) => super::create::render(v, screen.overlay.as_ref(), ctx).render_to(out),
        Body::Notifications(v) => super::notifications::render(v, ctx).render_to(out),
    }
}

fn overlay(screen: &Screen, o: &Overlay, ctx: &PageCtx) -> Markup {
    match o {
        Overlay::Help(h) => html! {
            section.overlay.help aria-label="help" {
                h2 { "Keys in the terminal app, and what they do" }
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

/// The key bar as buttons. Pages keep their own controls for what the URL carries (the
/// picker's filters, tabs); everything else posts the hint's action. Hints without
/// parameters share one form (`form="hints"` on each button), so the bar carries the form
/// token once.
fn hint_bar(screen: &Screen, ctx: &PageCtx) -> Markup {
    let picker_open = matches!(screen.overlay, Some(Overlay::Picker(_)));
    let shared = !picker_open
        && screen
            .hints
            .iter()
            .any(|h| hint_entry(h).is_some_and(|e| e.fields.is_empty()));
    html! {
        div.hints aria-label="actions" {
            @if shared {
                form #hints method="post" action=(ctx.url()) {
                    input type="hidden" name="csrf" value=(ctx.csrf);
                }
            }
            @for h in &screen.hints {
                // Quitting is the terminal's; the picker's filters are the form's controls.
                @if h.action != "quit" && h.action != "toggle_picker_filter" {
                    (hint_button(h, screen, ctx))
                }
            }
        }
    }
}

fn hint_button(h: &Hint, screen: &Screen, ctx: &PageCtx) -> Markup {
    // The web says what to click: terminal keys (`ctrl-f` is the browser's Find) stay in
    // the terminal.
    let label = html! { (h.label) };
    let Some(entry) = hint_entry(h) else {
        return html! { span.hint.m-muted { (label) } };
    };
    let mut fields: Vec<(String, String)> = entry.fields.clone();
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
    if fields.is_empty() {
        return html! {
            button.hint form="hints" name="action" value=(h.action) data-action=(h.action) { (label) }
        };
    }
    let fields: Vec<(&str, String)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    action_form(ctx, &h.action, &fields, label, "hint")
}

#[cfg(test)]
mod tests {
    #[test]
    fn page_rs_names_no_page_so_the_pages_use_it_without_a_loop() {
        let src = include_str!("page.rs");
        let code = src.split("#[cfg(test)]").next().unwrap_or(src);
        for module in [
            "agents",
            "budget",
            "create",
            "export",
            "hermes",
            "models",
            "notifications",
            "picker",
            "screen",
            "server",
            "setup",
        ] {
            for path in [format!("super::{module}"), format!("webmirror::{module}")] {
                assert!(!code.contains(&path), "page.rs uses {path}");
            }
        }
    }
}
