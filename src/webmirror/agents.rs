//! `/agents/manage`: every agent with its current and recommended model, the selected agent's
//! skills, and the buttons the TUI's keys offer (rescore, apply recommendation, skills).
//!
//! URL: `?agent=NAME` selects an agent.

use maud::{Markup, PreEscaped, Render, html};

use super::page::{PageCtx, Score, Text, action_form, escape_into, escaped, one_decimal};
use crate::core::agents::Advice;
use crate::core::scoring::Fallback;
use crate::core::skills::{SkillOrigin, SkillState};
use crate::core::view::{AgentRow, AgentsView, Body, Screen, SkillEditorView};

pub fn state_name(s: SkillState) -> &'static str {
    match s {
        SkillState::Available => "available",
        SkillState::Configured => "configured",
        SkillState::Installed => "installed",
        SkillState::Missing => "missing",
        SkillState::Stale => "stale",
        SkillState::External => "external",
    }
}

fn state_class(s: SkillState) -> &'static str {
    match s {
        SkillState::Installed => "m-success",
        SkillState::Missing | SkillState::Stale => "m-warning",
        SkillState::Configured | SkillState::Available | SkillState::External => "m-muted",
    }
}

fn origin_name(o: SkillOrigin) -> &'static str {
    match o {
        SkillOrigin::CompanyManaged => "managed by nxr",
        SkillOrigin::UserInstalled => "installed by hand",
        SkillOrigin::ExternalUnknown => "unknown",
    }
}

pub fn fallback_name(f: Fallback) -> &'static str {
    match f {
        Fallback::FreeRouter => "fallback: OpenRouter free router",
        Fallback::Ollama => "fallback: local Ollama",
    }
}

/// A hidden form that the buttons of a table post through (`form="ID"` on each button), so a
/// table carries its form token and action once, not once per row.
fn shared_form(ctx: &PageCtx, id: &str, action: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        form id=(id) method="post" action=(ctx.url()) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="action" value=(action);
            @for (k, v) in fields {
                input type="hidden" name=(k) value=(v);
            }
        }
    }
}

/// A score gain: "+3.3", "-1.0".
struct Gain(f64);

impl maud::Render for Gain {
    fn render_to(&self, out: &mut String) {
        if self.0 >= 0.0 {
            out.push('+');
        }
        one_decimal(self.0, out);
    }
}

/// The picker that upgrades `agent` to a model of the person's choosing: the routing page's
/// picker on the main slot, all models (not only free ones), whose "use" buttons send
/// `open_upgrade` with the model, so the same question comes first (see `models.rs`).
pub fn choose_url(agent: &str) -> String {
    super::page::build_url(
        "/models/switch",
        &[
            ("agent".into(), agent.into()),
            ("slot".into(), "main".into()),
            ("upgrade".into(), "1".into()),
            ("f".into(), "1".into()),
            ("tools".into(), "1".into()),
        ],
    )
}

/// The page's body, written into `out` (the page buffer) section by section, one table row
/// at a time.
pub fn render_into(v: &AgentsView, ctx: &PageCtx, out: &mut String) {
    let any_paid = v.rows.iter().any(|r| !r.free);
    html! {
        @if let Some(e) = &v.empty {
            p.empty { (e) " " a href="/agents/new" { "Create an agent" } }
        }
        (shared_form(ctx, "fa", "apply_recommendation", &[]))
        // Upgrade buttons only ask: the question (price, gain, balance) is answered by "Yes".
        (shared_form(ctx, "fu", "open_upgrade", &[]))
        (shared_form(ctx, "fv", "revert_upgrade", &[]))
        form #fb method="post" action=(ctx.url()) {
            input type="hidden" name="csrf" value=(ctx.csrf);
        }
        @if !v.key_configured {
            form #key-form.key method="post" action=(ctx.url()) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="action" value="set_openrouter_key";
                label {
                    "OpenRouter key "
                    // Never filled back in: a stored key is not in any page.
                    input #openrouter-key type="password" name="key" autocomplete="off"
                        spellcheck="false" size="40" required placeholder="sk-or-...";
                }
                " " button type="submit" { "Store key" }
                " " span.m-muted { "Paid models need one. nxr checks it with OpenRouter, then stores it in every profile's .env." }
            }
        }
        @if !v.rows.is_empty() {
            p.buttons {
                button.primary #bulk-open form="fb" name="action" value="open_bulk_upgrade" { "Bulk Upgrade" }
                @if any_paid {
                    " " button #revert-all form="fb" name="action" value="open_revert_all" { "Revert every agent to free…" }
                }
                @if v.key_configured { " " span.m-muted { "An OpenRouter key is stored." } }
                @if let Some(a) = &v.account { " " span.m-muted #account { "Account: " (a) } }
            }
        }
        @if let Some(c) = &v.confirm {
            section.overlay.confirm #confirm aria-label="confirm" data-action=(c.action) {
                h2 { (c.title) }
                @for l in &c.lines { p { (l) } }
                p.buttons {
                    button.primary #confirm-yes form="fb" name="action" value="activate" { "Yes" }
                    " " button #confirm-no form="fb" name="action" value="cancel" { "No" }
                }
            }
        }
        @if let Some(b) = &v.bulk {
            section.overlay.bulk #bulk aria-label="upgrade every agent" {
                h2 { "Upgrade every agent to its paid pick?" }
                @if let Some(why) = &b.cannot_pay {
                    p.m-warning #cannot-pay { (why) }
                }
                @if let Some(a) = &b.account {
                    p.m-muted { "Account: " (a) }
                }
                table {
                    thead { tr {
                        th { "agent" } th { "role" } th { "now" } th { "$/M in/out" }
                        th { "paid pick" } th { "$/M in/out" } th { "score gain" }
                    } }
                    tbody {
                        @for r in &b.rows {
                            tr data-agent=(Text(&r.agent)) {
                                td { (Text(&r.agent)) } td { (r.role.label()) }
                                td { code { (Text(&r.current)) } }
                                td.num { (r.current_prompt) "/" (r.current_completion) }
                                @if let Some(p) = &r.recommended {
                                    td { code { (Text(&p.model)) } }
                                    td.num { (p.prompt) "/" (p.completion) }
                                    td.num { @if let Some(g) = p.gain { (Gain(g)) } @else { "-" } }
                                } @else if r.stay_on_free {
                                    td.m-muted colspan="3" title=[r.note.as_deref()] { "stay on free" }
                                } @else {
                                    td.m-muted colspan="3" { "already on its paid pick" }
                                }
                            }
                        }
                    }
                }
                p.buttons {
                    button.primary #bulk-confirm form="fb" name="action" value="upgrade_all" { "Upgrade all" }
                    " " button #bulk-cancel form="fb" name="action" value="cancel" { "Cancel" }
                }
            }
        }
    }
    .render_to(out);
    if !v.rows.is_empty() {
        // This page's query with `agent=` last: each row's link (relative to this page)
        // appends its (encoded) name.
        let select = ctx.url_with(&["agent"], &[("agent", "")]);
        let select = &select[select.find('?').unwrap_or(0)..];
        out.push_str("<table class=\"agents\">");
        html! {
            thead { tr {
                th { "agent" } th { "role" } th { "model" } th { "score" }
                th { "best free" } th { "paid pick ($/M in/out, gain)" } th { "skills" }
                th { "last call" } th { "cost today" } th { "errors 24 h" } th {}
            } }
        }
        .render_to(out);
        out.push_str("<tbody>");
        out.reserve(v.rows.len() * 400);
        for (i, r) in v.rows.iter().enumerate() {
            row(r, i == v.selected, select, v.can_pay).render_to(out);
        }
        out.push_str("</tbody></table>");
    }
    let selected = v.rows.get(v.selected);
    html! {
        @if let Some(a) = selected {
            section.model #model aria-label="model" {
                h2 { "Model of " (a.name) }
                p {
                    code { (a.model) }
                    @if a.free { " (free)" } @else { " (paid)" }
                    @if let Some(f) = a.last_free.as_ref().filter(|f| **f != a.model) {
                        " · revert returns to " code { (f) }
                    }
                }
                p.buttons {
                    @if let Some(p) = &a.paid {
                        @if v.can_pay {
                            button.primary form="fu" name="agent" value=(a.name) {
                                "Upgrade to " (p.model)
                            }
                            " "
                        } @else {
                            span.m-muted #upgrade-needs-key {
                                "Upgrading to " (p.model) " needs an OpenRouter key whose account can pay. "
                            }
                        }
                    }
                    a.btn #choose-model href=(choose_url(&a.name)) { "Choose a model…" }
                    @if !a.free && a.last_free.is_some() {
                        " " button form="fv" name="agent" value=(a.name) { "Revert to free" }
                    }
                }
            }
            section.skills aria-label="skills" {
                h2 { "Skills of " (a.name) }
                @if let Some(e) = &v.skills_error { p.m-error { (e) } }
                @if v.skills.is_empty() && v.skills_error.is_none() {
                    p.m-muted { "No skills." }
                }
                @if !v.skills.is_empty() {
                    (shared_form(ctx, "fsr", "remove_skills", &[("agent", &a.name)]))
                    (shared_form(ctx, "fsa", "add_skills", &[("agent", &a.name)]))
                    table.skill-rows {
                        thead { tr { th { "skill" } th { "state" } th { "wanted" } th { "origin" } th {} } }
                        tbody {
                            @for s in &v.skills {
                                tr data-skill=(s.name) {
                                    td { (s.name) @if let Some(d) = &s.detail { " " span.m-muted { (d) } } }
                                    td class=(state_class(s.state)) { (state_name(s.state)) }
                                    td { @if s.desired { "yes" } @else { "no" } }
                                    td.m-muted { (s.origin.map(origin_name).unwrap_or("")) }
                                    td {
                                        @if s.desired {
                                            button form="fsr" name="skills" value=(s.name) { "remove" }
                                        } @else if s.managed || s.state == SkillState::External {
                                            button form="fsa" name="skills" value=(s.name) { "add" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                p {
                    (action_form(ctx, "open_skill_editor", &[], html! { "add or remove skills…" }, "btn"))
                }
            }
        }
    }
    .render_to(out);
}

/// One agent's row: its model beside the best free one and the paid pick, and the buttons
/// (posted through the shared forms above the table).
fn row(r: &AgentRow, selected: bool, select: &str, can_pay: bool) -> Markup {
    let name = escaped(&r.name);
    let name = PreEscaped(&*name);
    html! {
        tr class=[selected.then_some("selected")] data-agent=(name) {
            td { a href={ (Text(select)) (Encoded(&r.name)) } { (name) } }
            td { (Text(r.role.label())) }
            td { (Text(&r.model)) @if !r.free { " " b { "paid" } } }
            td {
                @if r.model_gone {
                    span.m-warning.gone { "gone from the catalog: replace with " (Text(&r.recommended)) }
                } @else {
                    (Score(r.score))
                }
            }
            td {
                @if r.best_free == r.model && r.fallback.is_none() {
                    small { "same" }
                } @else {
                    (Text(&r.best_free)) " " (Score(r.best_free_score))
                    @if let Some(f) = r.fallback { " " span.m-warning { (fallback_name(f)) } }
                }
                @if let Some(e) = &r.evidence {
                    br; small.evidence { (Text(e)) }
                }
            }
            td {
                @if let Some(p) = &r.paid {
                    (Text(&p.model)) " " small { (Text(&p.prompt)) "/" (Text(&p.completion)) }
                    @if let Some(g) = p.gain { " " b { (Gain(g)) } }
                } @else if r.free {
                    small.m-muted.stay { "stay on free" }
                }
                @if let Some(f) = r.last_free.as_ref().filter(|f| **f != r.model) {
                    @if r.paid.is_some() { " " }
                    small { "was " (Text(f)) }
                }
            }
            td { (r.skills) }
            td.num { @if let Some(a) = &r.last_call_ago { (a) " ago" } @else { "-" } }
            td.num { (format!("${:.2}", r.cost_today_usd)) }
            td.num { (format!("{:.0} %", r.error_rate_24h * 100.0)) }
            td {
                @if matches!(r.advice, Advice::SwitchFree | Advice::Replace) && r.best_free != r.model {
                    button form="fa" name="agent" value=(name) { "apply free" }
                }
                // A paid pick is only offered as an upgrade when the key can pay for it.
                @if r.paid.is_some() && can_pay {
                    button form="fu" name="agent" value=(name) { "upgrade" }
                }
                @if !r.free && r.last_free.is_some() {
                    button form="fv" name="agent" value=(name) { "revert" }
                }
            }
        }
    }
}

/// A URL query value, percent-encoded as a form would send it.
struct Encoded<'a>(&'a str);

impl maud::Render for Encoded<'_> {
    fn render_to(&self, out: &mut String) {
        for part in form_urlencoded::byte_serialize(self.0.as_bytes()) {
            escape_into(part, out);
        }
    }
}

/// The skill editor overlay: every skill nxr ships or the profile holds, ticked when wanted.
/// Applying sends `sync_skills` with the ticked set; "add" sends `add_skills` for one.
pub fn skill_editor(e: &SkillEditorView, ctx: &PageCtx, screen: &Screen) -> Markup {
    let back = match &screen.body {
        Body::Agents(_) => ctx.url(),
        _ => "/agents/manage".to_string(),
    };
    html! {
        section.overlay.skill-editor aria-label="skill editor" {
            h2 { "Skills for " (e.agent) }
            form method="post" action=(ctx.url()) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="action" value="sync_skills";
                input type="hidden" name="agent" value=(e.agent);
                input type="hidden" name="close" value="1";
                input type="hidden" name="back" value=(back);
                // An empty list is a real choice (no skills): mark that the field was sent.
                input type="hidden" name="desired" value="";
                ul.choices {
                    @for (i, c) in e.choices.iter().enumerate() {
                        li class=(if i == e.selected { "selected" } else { "" }) {
                            label {
                                input type="checkbox" name="desired" value=(c.name) checked[c.checked];
                                " " strong { (c.name) }
                                @if c.suggested { " " span.m-accent { "current" } }
                                " " span.m-muted { (c.description) }
                            }
                        }
                    }
                }
                button type="submit" { "apply" }
            }
            (action_form(ctx, "cancel", &[], html! { "cancel" }, "btn"))
        }
    }
}
