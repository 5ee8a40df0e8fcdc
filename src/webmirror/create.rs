//! `/agents/new`: the Tab 5 wizard, category → model → skills → name → confirm. The wizard's
//! state lives in the browser's session; each button posts the same action the TUI's key
//! sends, so the result is the agent `nxr --no-tui agents create` makes with the same choices.

use maud::{Markup, html};

use super::agents::fallback_name;
use super::page::{PageCtx, action_form, score};
use super::picker;
use crate::core::text;
use crate::core::view::{CreateView, ModelChoice, Overlay, WizardStep};

fn step_key(s: WizardStep) -> &'static str {
    match s {
        WizardStep::Category => "category",
        WizardStep::Model => "model",
        WizardStep::Skills => "skills",
        WizardStep::Name => "name",
        WizardStep::Confirm => "confirm",
    }
}

pub fn render(v: &CreateView, overlay: Option<&Overlay>, ctx: &PageCtx) -> Markup {
    html! {
        ol.steps {
            @for s in &v.steps {
                li class=(if s.current { "current" } else if s.done { "done" } else { "" }) {
                    (s.title)
                }
            }
        }
        section.wizard data-step=(step_key(v.step)) {
            @match v.step {
                WizardStep::Category => (category(v, ctx)),
                WizardStep::Model => (model(v, overlay, ctx)),
                WizardStep::Skills => (skills(v, ctx)),
                WizardStep::Name => (name(v, ctx)),
                WizardStep::Confirm => (confirm(v, ctx)),
            }
        }
        p.cli { "Same as: " code { (v.equivalent_cli) } }
    }
}

fn category(v: &CreateView, ctx: &PageCtx) -> Markup {
    html! {
        h2 { "What kind of agent?" }
        ul.categories {
            @for (i, c) in v.categories.iter().enumerate() {
                li class=(if i == v.category { "selected" } else { "" }) data-category=(c.key) {
                    (action_form(ctx, "choose_category", &[("category", c.key.clone())],
                        html! { strong { (c.label) } }, "choose"))
                    " " span.m-muted { (c.role.label()) " · " (c.skills.join(", ")) }
                }
            }
        }
    }
}

fn model_card(m: &ModelChoice) -> Markup {
    html! {
        div.card.model-choice {
            p {
                code #wizard-model { (m.model) }
                @if !m.name.is_empty() { " " span.m-muted { (m.name) } }
            }
            p {
                @if m.chosen_by_hand { "chosen by hand" } @else { "the scorer's pick" }
                " · score " strong { (score(m.score)) }
                @if let Some(f) = m.fallback { " · " span.m-warning { (fallback_name(f)) } }
            }
            p { "input " (m.prompt) "/M · output " (m.completion) "/M · context " (text::tokens(m.context)) }
            @if let Some(b) = &m.breakdown {
                table.breakdown {
                    caption { "Why this model (" (b.role.label()) "): sub-score × weight" }
                    thead { tr { th { "part" } th { "score" } th { "weight" } } }
                    tbody {
                        @for (label, s, w) in [
                            ("context", b.sub.context, b.weights.context),
                            ("capability", b.sub.capability, b.weights.capability),
                            ("size", b.sub.size, b.weights.size),
                            ("recency", b.sub.recency, b.weights.recency),
                            ("reliability", b.sub.reliability, b.weights.reliability),
                            ("output", b.sub.output, b.weights.output),
                            ("fit", b.sub.fit, b.weights.fit),
                            ("price", b.sub.price, b.weights.price),
                        ] {
                            tr { td { (label) } td.num { (format!("{s:.2}")) } td.num { (format!("{w:.2}")) } }
                        }
                    }
                    tfoot { tr { td { "total" } td.num colspan="2" { (format!("{:.1}", b.total)) } } }
                }
                @if let Some(d) = &b.disqualified_by { p.m-warning { "Misses: " (d) } }
            }
        }
    }
}

fn model(v: &CreateView, overlay: Option<&Overlay>, ctx: &PageCtx) -> Markup {
    html! {
        h2 { "Model for a " (v.role.label()) " agent" }
        @if let Some(m) = &v.model { (model_card(m)) }
        @if let Some(Overlay::Picker(p)) = overlay {
            (picker::render(p, ctx, &[], &|pos, row| picker::use_form(ctx, "activate", &[
                ("row", pos.to_string()),
                ("back", "/agents/new".to_string()),
            ], row), &ctx.url_with(picker::PARAMS, &[])))
        } @else {
            div.buttons {
                (action_form(ctx, "activate", &[], html! { "use this model" }, "btn primary"))
                (action_form(ctx, "open_picker", &[], html! { "pick another" }, "btn"))
                (action_form(ctx, "wizard_back", &[], html! { "back" }, "btn"))
            }
        }
    }
}

fn skills(v: &CreateView, ctx: &PageCtx) -> Markup {
    html! {
        h2 { "Skills" }
        ul.choices {
            @for (i, c) in v.skills.iter().enumerate() {
                li class=(if i == v.skill_selected { "selected" } else { "" }) data-skill=(c.name) {
                    (action_form(ctx, "toggle_skill", &[("name", c.name.clone())],
                        html! { @if c.checked { "☑" } @else { "☐" } }, "toggle"))
                    " " strong { (c.name) }
                    @if c.suggested { " " span.m-accent { "suggested" } }
                    " " span.m-muted { (c.description) }
                }
            }
        }
        div.buttons {
            (action_form(ctx, "activate", &[], html! { "next" }, "btn primary"))
            (action_form(ctx, "wizard_back", &[], html! { "back" }, "btn"))
        }
    }
}

fn name(v: &CreateView, ctx: &PageCtx) -> Markup {
    html! {
        h2 { "Name" }
        form method="post" action=(ctx.url()) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="action" value="set_wizard_name";
            input type="hidden" name="then" value="activate";
            label {
                "Name (also the Hermes profile): "
                input #wizard-name type="text" name="name" value=(v.name) maxlength="64"
                    pattern="[a-z0-9][a-z0-9_-]{0,63}" autocomplete="off" autofocus;
            }
            " "
            button type="submit" { "next" }
        }
        @if let Some(e) = &v.name_error { p.m-error #name-error { (e) } }
        div.buttons { (action_form(ctx, "wizard_back", &[], html! { "back" }, "btn")) }
    }
}

fn confirm(v: &CreateView, ctx: &PageCtx) -> Markup {
    let cat = v.categories.get(v.category);
    let ticked: Vec<&str> = v
        .skills
        .iter()
        .filter(|c| c.checked)
        .map(|c| c.name.as_str())
        .collect();
    html! {
        h2 { "Create this agent?" }
        dl.summary {
            dt { "name" } dd { strong { (v.name) } }
            dt { "category" } dd { (cat.map(|c| c.label.as_str()).unwrap_or("-")) }
            dt { "role" } dd { (v.role.label()) }
            dt { "model" } dd { code { (v.model.as_ref().map(|m| m.model.as_str()).unwrap_or("-")) } }
            dt { "skills" } dd { (ticked.join(", ")) }
        }
        @if let Some(e) = &v.name_error { p.m-error { (e) } }
        div.buttons {
            (action_form(ctx, "activate", &[], html! { "create agent" }, "btn primary"))
            (action_form(ctx, "wizard_back", &[], html! { "back" }, "btn"))
        }
    }
}
