//! `/notifications`: the notification list with mark read / mark all read (Tab 6).

use maud::{Markup, html};

use super::page::{PageCtx, action_form};
use crate::core::view::NotificationsView;

pub fn render(v: &NotificationsView, ctx: &PageCtx) -> Markup {
    html! {
        p.meta { (v.unread) " unread" }
        @if let Some(e) = &v.empty { p.empty { (e) } }
        @if !v.rows.is_empty() {
            ul.notifications {
                @for (i, n) in v.rows.iter().enumerate() {
                    li class={ (if n.read { "read" } else { "unread" }) (if i == v.selected { " selected" } else { "" }) }
                        data-id=(n.id) {
                        div.head {
                            span.kind.m-accent { (n.kind) } " "
                            strong { (n.title) } " "
                            span.m-muted { (n.created_at) }
                            @if !n.read {
                                " " (action_form(ctx, "mark_read", &[("id", n.id.to_string())], html! { "mark read" }, "btn"))
                            }
                        }
                        p.body { (n.body) }
                    }
                }
            }
        }
    }
}
