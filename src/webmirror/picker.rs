//! The fuzzy model picker as HTML: a plain GET form (query and filters live in the URL, so it
//! works without JavaScript), the matching rows with matched characters in `<mark>`, and the
//! price comparison panel. Matching itself is core's nucleo picker, settled per request.

use maud::{Markup, html};

use super::page::{PageCtx, action_form, marked, score};
use crate::core::picker::{CONTEXT_STEPS, Filters, PickerRow};
use crate::core::text;
use crate::core::view::{Comparison, PickerView, PriceCard};

/// The URL parameters that carry picker state.
pub const PARAMS: &[&str] = &[
    "slot", "q", "sel", "f", "free", "tools", "image", "ctx", "provider", "upgrade",
];

/// The filters the URL asks for (`f=1` marks that the form set them).
pub fn url_filters(ctx: &PageCtx) -> Option<Filters> {
    ctx.param("f")?;
    let on = |k: &str| ctx.param(k).is_some_and(|v| v == "1" || v == "on");
    Some(Filters {
        free_only: on("free"),
        tools_only: on("tools"),
        image_only: on("image"),
        min_context: ctx
            .param("ctx")
            .and_then(|v| v.parse().ok())
            .filter(|c| CONTEXT_STEPS.contains(c))
            .unwrap_or(0),
        provider: ctx
            .param("provider")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.chars().filter(|c| !c.is_control()).take(80).collect()),
    })
}

/// How a row is chosen on this page (a `set_slot` post, or the wizard's `activate`).
pub type UseButton<'a> = &'a dyn Fn(usize, &PickerRow) -> Markup;

/// `keep` are the page's own parameters the filter form carries along (agent, slot, ...);
/// `cancel` is where "cancel" leads.
pub fn render(
    p: &PickerView,
    ctx: &PageCtx,
    keep: &[(&str, String)],
    use_button: UseButton<'_>,
    cancel: &str,
) -> Markup {
    let f = &p.filters;
    html! {
        section.picker #picker aria-label="model picker" {
            h2 { (p.title) }
            p.m-muted { "Writes: " (p.target) " · ranked for " (p.role.label()) }
            @if let Some(n) = &p.needs {
                p.needs { "This slot " (n) ": models that do are listed first." }
            }
            @if !p.can_pay {
                p.m-warning.paid-note {
                    "Paid models are listed but cannot be used until an OpenRouter key with "
                    "credits is stored (" code { "nxr config set openrouter-key KEY" } ")."
                }
            }
            form #picker-form method="get" action=(ctx.path) {
                @for (k, v) in keep {
                    input type="hidden" name=(k) value=(v);
                }
                input type="hidden" name="f" value="1";
                label.query {
                    "Search "
                    input #picker-q type="search" name="q" value=(p.query) autocomplete="off"
                        placeholder="model id or name" autofocus;
                }
                label { input type="checkbox" name="free" value="1" checked[f.free_only]; " free only" }
                label { input type="checkbox" name="tools" value="1" checked[f.tools_only]; " tools" }
                label { input type="checkbox" name="image" value="1" checked[f.image_only]; " image input" }
                label {
                    " min context "
                    select name="ctx" {
                        @for c in CONTEXT_STEPS {
                            option value=(c) selected[f.min_context == c] {
                                @if c == 0 { "any" } @else { (text::tokens(c)) }
                            }
                        }
                    }
                }
                label {
                    " provider "
                    input type="text" name="provider" size="12"
                        value=(f.provider.clone().unwrap_or_default()) placeholder="any";
                }
                " "
                button type="submit" { "filter" }
            }
            div #picker-results {
                p.count { (p.matched) " of " (p.total) " models match" }
                @if p.rows.is_empty() {
                    p.empty { "No model matches; change the query or filters." }
                } @else {
                    table.picker-rows {
                        thead { tr {
                            th { "model" } th { "free" } th { "tools" } th { "image" } th { "context" }
                            th { "in $/M" } th { "out $/M" } th { "score" } th {}
                        } }
                        tbody {
                            @for (i, r) in p.rows.iter().enumerate() {
                                @let pos = p.offset + i;
                                @let sel = p.selected == Some(i);
                                tr class=(row_class(sel, r))
                                    data-model=(r.model) data-usable=(r.usable) {
                                    td.label {
                                        a href=(ctx.url_with(&["sel"], &[("sel", &pos.to_string())]))
                                            title=(r.label) {
                                            (marked(&r.label, &r.matches))
                                        }
                                        @if let Some(l) = &r.lacks {
                                            br; span.m-warning.lacks { "lacks: " (l) }
                                        }
                                    }
                                    td { @if r.free { span.m-success { "free" } } }
                                    td { @if r.tools { "tools" } }
                                    td { @if r.image { "image" } }
                                    td.num { (text::tokens(r.context)) }
                                    td.num { (r.prompt) }
                                    td.num { (r.completion) }
                                    td.num { (score(r.score)) }
                                    td.actions {
                                        @if let Some(why) = &r.reason {
                                            span.m-warning.unusable title=(why) { "needs a paying key" }
                                        } @else {
                                            (use_button(pos, r))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(c) = &p.comparison {
                    (comparison(c))
                }
                @if let Some(w) = &p.warning {
                    p.m-warning #picker-warning { "Highlighted model: " (w) }
                }
            }
            p { a.cancel href=(cancel) { "cancel" } }
        }
    }
}

fn row_class(selected: bool, r: &PickerRow) -> &'static str {
    match (selected, r.usable && r.qualified) {
        (true, _) => "selected",
        (false, true) => "",
        (false, false) => "m-muted",
    }
}

fn card(title: &str, c: &PriceCard) -> Markup {
    html! {
        div.card {
            h4 { (title) }
            p { code { (c.model) } }
            p.m-muted { (c.name) }
            dl {
                dt { "input" } dd { (c.prompt) "/M" }
                dt { "output" } dd { (c.completion) "/M" }
                dt { "context" } dd { (text::tokens(c.context)) }
                dt { "score" } dd { (score(c.score)) }
            }
        }
    }
}

fn comparison(c: &Comparison) -> Markup {
    html! {
        div.comparison aria-label="price comparison" {
            @if let Some(cur) = &c.current {
                (card("current", cur))
            }
            (card("candidate", &c.candidate))
            p.verdict {
                (c.verdict)
                @if let Some(d) = c.score_delta {
                    " · score "
                    span class=(if d >= 0.0 { "m-success" } else { "m-warning" }) {
                        @if d >= 0.0 { "+" } (format!("{d:.1}"))
                    }
                }
            }
            @if let Some(e) = &c.evidence {
                p.evidence { (e) }
            }
        }
    }
}

/// A "use" button posting `action` with `fields`; "use anyway" for a model that lacks what
/// the slot needs (the row says what).
pub fn use_form(ctx: &PageCtx, action: &str, fields: &[(&str, String)], row: &PickerRow) -> Markup {
    let label = if row.lacks.is_some() {
        "use anyway"
    } else {
        "use"
    };
    action_form(ctx, action, fields, html! { (label) }, "use")
}
