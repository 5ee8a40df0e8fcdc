//! `/hermes`: every agent's gateway process with Start, Stop, Restart and watchdog buttons,
//! the Ollama card, and the Hermes root (Tab 1).

use maud::{Markup, html};

use super::page::{PageCtx, action_form, meaning_class};
use crate::core::view::HermesView;

pub fn render(v: &HermesView, ctx: &PageCtx) -> Markup {
    let dash = |o: Option<String>| o.unwrap_or_else(|| "-".into());
    html! {
        p.meta { "Hermes root " code { (v.hermes_home) } }
        p class={"hermes-version " (meaning_class(v.hermes_version_meaning))} { (v.hermes_version) }
        @if let Some(e) = &v.empty {
            p.empty { (e) " " a href="/agents/new" { "Create an agent" } }
        }
        @if !v.rows.is_empty() {
            table.profiles.gateways {
                thead { tr {
                    th { "agent" } th { "gateway" } th { "pid" } th { "uptime" } th { "model" }
                    th { "platforms" } th { "viewers" } th { "heartbeat" } th { "watchdog" }
                    th { "" }
                } }
                tbody {
                    @for (i, r) in v.rows.iter().enumerate() {
                        @let g = &r.gateway;
                        tr class=(if i == v.selected { "selected" } else { "" }) data-agent=(r.agent) data-state=(g.state) {
                            td { (r.agent) }
                            td.state { span class=(meaning_class(g.meaning)) title=[g.detail.as_deref()] { (g.label) } }
                            td.num.pid { (dash(g.pid.map(|p| p.to_string()))) }
                            td { (dash(g.uptime.clone())) }
                            td {
                                @if r.config_present { code { (r.model) } }
                                @else { span.m-error { "no config.yaml" } }
                            }
                            td { @if g.platforms.is_empty() { "-" } @else { (g.platforms.join(", ")) } }
                            td.num { (g.viewers) }
                            td.m-muted { (dash(g.heartbeat.clone())) }
                            td {
                                @if g.gave_up { span.m-error { "gave up" } " " }
                                (action_form(ctx, "watch_gateway", &[("agent", r.agent.clone()), ("on", (!g.watch).to_string())],
                                    html! { @if g.watch { "on · turn off" } @else { "off · turn on" } }, "watch"))
                            }
                            td.actions {
                                @if g.can_start {
                                    (action_form(ctx, "start_gateway", &[("agent", r.agent.clone())], html! { "Start" }, "start"))
                                } @else {
                                    (action_form(ctx, "stop_gateway", &[("agent", r.agent.clone())], html! { "Stop" }, "stop"))
                                    (action_form(ctx, "restart_gateway", &[("agent", r.agent.clone())], html! { "Restart" }, "restart"))
                                }
                            }
                        }
                    }
                }
            }
            @for r in &v.rows {
                @if let Some(d) = &r.gateway.detail {
                    p.note.m-muted { (r.agent) ": " (d) }
                }
            }
        }
        section.ollama-card {
            h3 { "Ollama" }
            p class=(meaning_class(v.ollama.meaning)) {
                @if !v.ollama.url.is_empty() { code { (v.ollama.url) } " " }
                (v.ollama.summary)
            }
            @if !v.ollama.models.is_empty() {
                p { "models: " (v.ollama.models.join(", ")) }
            }
            @if v.ollama.routes.is_empty() {
                p.m-muted { "No agent routes a slot to Ollama." }
            } @else {
                ul.routes { @for r in &v.ollama.routes { li { (r) } } }
            }
        }
        p.note.m-muted { (v.processes_note) }
    }
}
