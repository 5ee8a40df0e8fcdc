//! `/agents/manage`: every agent with its current and recommended model, the selected agent's
//! skills, and the buttons the TUI's keys offer (rescore, apply recommendation, skills).
//!
//! URL: `?agent=NAME` selects an agent.

use maud::{Markup, html};

use super::page::{PageCtx, action_form, score};
use crate::core::scoring::Fallback;
use crate::core::skills::{SkillOrigin, SkillState};
use crate::core::view::{AgentsView, Body, Screen, SkillEditorView};

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

pub fn render(v: &AgentsView, ctx: &PageCtx) -> Markup {
    let selected = v.rows.get(v.selected);
    html! {
        @if let Some(e) = &v.empty {
            p.empty { (e) " " a href="/agents/new" { "Create an agent" } }
        }
        @if !v.rows.is_empty() {
            table.agents {
                thead { tr {
                    th { "agent" } th { "role" } th { "model" } th { "score" }
                    th { "recommended" } th { "score" } th { "paid pick" } th { "skills" } th {}
                } }
                tbody {
                    @for (i, r) in v.rows.iter().enumerate() {
                        tr class=(if i == v.selected { "selected" } else { "" }) data-agent=(r.name) {
                            td { a href=(ctx.url_with(&["agent"], &[("agent", r.name.as_str())])) { (r.name) } }
                            td { (r.role.label()) }
                            td { code { (r.model) } }
                            td.num { (score(r.score)) }
                            td {
                                code { (r.recommended) }
                                @if let Some(f) = r.fallback { " " span.m-warning { (fallback_name(f)) } }
                            }
                            td.num { (score(r.recommended_score)) }
                            td {
                                @if let Some(p) = &r.paid {
                                    code { (p.model) } " " span.m-muted { (p.prompt) "/" (p.completion) " per M" }
                                    @if let Some(g) = p.gain { " " span.m-accent { "+" (format!("{g:.1}")) } }
                                }
                                @if let Some(f) = r.last_free.as_ref().filter(|f| **f != r.model) {
                                    " " span.m-muted { "was " (f) }
                                }
                            }
                            td.num { (r.skills) }
                            td.actions {
                                @if r.upgrade_available {
                                    span.m-accent { "better model " }
                                    (action_form(ctx, "apply_recommendation",
                                        &[("agent", r.name.clone())], html! { "apply" }, "btn"))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(b) = &v.bulk {
            section.overlay.bulk aria-label="upgrade every agent" {
                h2 { "Upgrade every agent to its paid pick?" }
                @if !b.key_configured { p.m-warning { "No OpenRouter key is stored: run nxr upgrade or nxr config set openrouter-key first." } }
                table {
                    thead { tr { th { "agent" } th { "role" } th { "now" } th { "paid pick" } th { "gain" } } }
                    tbody {
                        @for r in &b.rows {
                            tr {
                                td { (r.agent) } td { (r.role.label()) }
                                td { code { (r.current) } " " span.m-muted { (r.current_prompt) "/" (r.current_completion) } }
                                @if let Some(p) = &r.recommended {
                                    td { code { (p.model) } " " span.m-muted { (p.prompt) "/" (p.completion) } }
                                    td.num { (score(p.gain)) }
                                } @else {
                                    td.m-muted { "no paid model qualifies" } td {}
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(a) = selected {
            section.skills aria-label="skills" {
                h2 { "Skills of " (a.name) }
                @if let Some(e) = &v.skills_error { p.m-error { (e) } }
                @if v.skills.is_empty() && v.skills_error.is_none() {
                    p.m-muted { "No skills." }
                }
                @if !v.skills.is_empty() {
                    table.skill-rows {
                        thead { tr { th { "skill" } th { "state" } th { "wanted" } th { "origin" } th {} } }
                        tbody {
                            @for s in &v.skills {
                                tr data-skill=(s.name) {
                                    td { (s.name) @if let Some(d) = &s.detail { " " span.m-muted { (d) } } }
                                    td class=(state_class(s.state)) { (state_name(s.state)) }
                                    td { @if s.desired { "yes" } @else { "no" } }
                                    td.m-muted { (s.origin.map(origin_name).unwrap_or("")) }
                                    td.actions {
                                        @if s.desired {
                                            (action_form(ctx, "remove_skills", &[
                                                ("agent", a.name.clone()),
                                                ("skills", s.name.clone()),
                                            ], html! { "remove" }, "btn"))
                                        } @else if s.managed || s.state == SkillState::External {
                                            (action_form(ctx, "add_skills", &[
                                                ("agent", a.name.clone()),
                                                ("skills", s.name.clone()),
                                            ], html! { "add" }, "btn"))
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
