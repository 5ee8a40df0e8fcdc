//! `/hermes`: the Hermes root and one row per agent profile (Tab 1).

use maud::{Markup, html};

use super::page::{PageCtx, meaning_class};
use crate::core::view::HermesView;

pub fn render(v: &HermesView, _ctx: &PageCtx) -> Markup {
    html! {
        p.meta { "Hermes root " code { (v.hermes_home) } }
        p class={"hermes-version " (meaning_class(v.hermes_version_meaning))} { (v.hermes_version) }
        @if let Some(e) = &v.empty {
            p.empty { (e) " " a href="/agents/new" { "Create an agent" } }
        }
        @if !v.rows.is_empty() {
            table.profiles {
                thead { tr {
                    th { "agent" } th { "profile" } th { "role" } th { "model" }
                    th { "config" } th { "skills" } th { "folder" }
                } }
                tbody {
                    @for (i, r) in v.rows.iter().enumerate() {
                        tr class=(if i == v.selected { "selected" } else { "" }) data-agent=(r.agent) {
                            td { (r.agent) }
                            td { (r.profile) }
                            td { (r.role.label()) }
                            td { code { (r.model) } }
                            td { @if r.config_present { span.m-success { "present" } } @else { span.m-warning { "missing" } } }
                            td.num { (r.skills) }
                            td { code.m-muted { (r.dir) } }
                        }
                    }
                }
            }
        }
        p.note.m-muted { (v.processes_note) }
    }
}
