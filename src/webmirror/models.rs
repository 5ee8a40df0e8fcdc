//! `/models/switch`: the routing slots of one agent (the seven core slots, or all of them with
//! the fallback chain) and the fuzzy picker that points a slot at another model.
//!
//! URL: `?agent=A&all=1&slot=KEY&q=...&f=1&free=1&tools=1&ctx=N&provider=P&sel=N`.

use maud::{Markup, html};

use super::page::{PageCtx, action_form};
use super::picker::{self, PARAMS};
use crate::core::hermes::OPENROUTER;
use crate::core::routing::SlotKey;
use crate::core::view::{ModelsView, Overlay, SlotKind};

pub fn render(v: &ModelsView, overlay: Option<&Overlay>, ctx: &PageCtx) -> Markup {
    let agent = v.agent.clone().unwrap_or_default();
    let all = if v.show_all { "1" } else { "" };
    let base: Vec<(&str, &str)> = if v.show_all {
        vec![("agent", agent.as_str()), ("all", all)]
    } else {
        vec![("agent", agent.as_str())]
    };
    let mut drop_all: Vec<&str> = PARAMS.to_vec();
    drop_all.extend(["agent", "all"]);
    let back = ctx.url_with(&drop_all, &base);
    // `upgrade=1`: the picker was opened from the agents page to upgrade this agent to a
    // model of the person's choosing; "use" sends `open_upgrade`, which closes the picker
    // and asks on the agents page (price, balance) before anything is written.
    let upgrade = ctx.param("upgrade") == Some("1") && ctx.param("slot") == Some("main");
    let agents_page = super::page::build_url("/agents/manage", &[("agent".into(), agent.clone())]);
    let picker_markup = match overlay {
        Some(Overlay::Picker(p)) => {
            let slot = ctx
                .param("slot")
                .map(str::to_string)
                .or_else(|| v.slots.get(v.selected).map(|s| s.key.to_string()))
                .unwrap_or_default();
            let mut keep = vec![("agent", agent.clone()), ("slot", slot.clone())];
            if v.show_all {
                keep.push(("all", "1".into()));
            }
            if upgrade {
                keep.push(("upgrade", "1".into()));
            }
            let use_button = |_pos: usize, row: &crate::core::picker::PickerRow| {
                if upgrade {
                    return picker::use_form(
                        ctx,
                        "open_upgrade",
                        &[("agent", agent.clone()), ("model", row.model.clone())],
                        row,
                    );
                }
                // "use anyway" on a model that lacks the slot's needs: the row says what.
                let force = if row.lacks.is_some() { "1" } else { "0" };
                picker::use_form(
                    ctx,
                    "set_slot",
                    &[
                        ("agent", agent.clone()),
                        ("slot", slot.clone()),
                        ("model", row.model.clone()),
                        ("provider", OPENROUTER.into()),
                        ("force", force.into()),
                        ("close", "1".into()),
                        ("back", back.clone()),
                    ],
                    row,
                )
            };
            let cancel = if upgrade {
                agents_page.clone()
            } else {
                ctx.url_with(PARAMS, &[])
            };
            Some(picker::render(p, ctx, &keep, &use_button, &cancel))
        }
        _ => None,
    };
    html! {
        @if let Some(e) = &v.empty {
            p.empty { (e) " " a href="/agents/new" { "Create an agent" } }
        }
        @if !v.agents.is_empty() {
            div.agents-pick {
                "Agent: "
                @for a in &v.agents {
                    @let here = Some(a) == v.agent.as_ref();
                    a class=(if here { "chip current" } else { "chip" })
                        href=(ctx.url_with(&drop_all, &[("agent", a.as_str())])) { (a) }
                    " "
                }
            }
        }
        @if let Some(a) = &v.agent {
            p.meta {
                "Role " strong { (v.role.map(|r| r.label()).unwrap_or("-")) }
                @if let Some(p) = &v.config_path { " · " code { (p) } }
                " · "
                @if v.show_all {
                    a href=(ctx.url_with(&drop_all, &[("agent", a.as_str())])) { "show the 7 core slots" }
                } @else {
                    a href=(ctx.url_with(&drop_all, &[("agent", a.as_str()), ("all", "1")])) {
                        "show all slots and the fallback chain"
                    }
                }
            }
        }
        @if let Some(e) = &v.error {
            p.m-error { (e) }
        }
        @if !v.slots.is_empty() {
            table.slots {
                thead { tr {
                    th { "slot" } th { "provider" } th { "model" } th { "cost" } th { "base url" } th {}
                } }
                tbody {
                    @for (i, s) in v.slots.iter().enumerate() {
                        @let key = s.key.to_string();
                        tr class=(if i == v.selected { "selected" } else { "" }) data-slot=(key) {
                            td {
                                (s.label)
                                @if let Some(n) = &s.needs { br; span.m-muted.needs { (n) } }
                            }
                            td { (s.provider) }
                            td.model {
                                @if s.auto { span.m-muted { "auto (Hermes chooses)" } }
                                @else if s.model.is_empty() { span.m-muted { "-" } }
                                @else { code title=(s.model) { (s.model) } }
                            }
                            td.cost {
                                @if let Some(p) = &s.paid { span.m-warning.paid { (p) } }
                            }
                            td { @if let Some(u) = &s.base_url { code { (u) } } }
                            td.actions {
                                a.btn href=(ctx.url_with(&drop_all, &[
                                    base[0],
                                    ("all", all),
                                    ("slot", key.as_str()),
                                ])) {
                                    @if s.kind == SlotKind::NewFallback { "add" } @else { "change" }
                                }
                                @if !s.auto && matches!(s.kind, SlotKind::Main | SlotKind::Auxiliary) {
                                    " "
                                    (action_form(ctx, "set_slot", &[
                                        ("agent", agent.clone()),
                                        ("slot", key.clone()),
                                        ("model", crate::core::routing::AUTO.to_string()),
                                        ("back", back.clone()),
                                    ], html! { "auto" }, "btn"))
                                }
                                @if let SlotKey::Fallback(n) = s.key {
                                    " "
                                    (action_form(ctx, "remove_fallback", &[
                                        ("agent", agent.clone()),
                                        ("index", n.to_string()),
                                        ("back", back.clone()),
                                    ], html! { "remove" }, "btn"))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if upgrade && picker_markup.is_some() {
            p.m-accent #upgrade-note {
                "Choosing a model here asks, with its price, before upgrading " strong { (agent) }
                " to it; the free model it leaves is recorded, so \"revert\" on the agents page "
                "brings it back."
            }
        }
        @if let Some(m) = picker_markup { (m) }
    }
}
