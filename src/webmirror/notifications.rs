//! `/notifications` (Tab 6): the list with a type filter, mark read, apply, the
//! auto-upgrade switch and the Telegram forwarding toggles, as forms that post the same ops
//! and intents as the TUI's keys.

use maud::{Markup, html};

use super::page::{PageCtx, action_form};
use crate::core::view::NotificationsView;

pub fn render(v: &NotificationsView, ctx: &PageCtx) -> Markup {
    html! {
        div.meta {
            (v.unread) " unread · auto-upgrade of free models "
            strong { (if v.auto_upgrade { "on" } else { "off" }) } " "
            (action_form(ctx, "set_auto_upgrade", &[("on", (!v.auto_upgrade).to_string())],
                html! { (if v.auto_upgrade { "turn off" } else { "turn on" }) }, "btn"))
        }
        form.inline method="post" action=(ctx.url()) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="action" value="filter_notifications";
            select name="kind" aria-label="type" {
                option value="" selected[v.filter.is_none()] { "every type" }
                @for t in &v.types {
                    option value=(t) selected[v.filter.as_deref() == Some(t.as_str())] { (t) }
                }
            }
            " " button type="submit" class="btn" data-action="filter_notifications" { "show" }
        }
        @if let Some(e) = &v.empty { p.empty { (e) } }
        @if !v.rows.is_empty() {
            ul.notifications {
                @for (i, n) in v.rows.iter().enumerate() {
                    li class={ (if n.read { "read" } else { "unread" }) " " (n.state) (if i == v.selected { " selected" } else { "" }) }
                        data-id=(n.id) {
                        div.head {
                            span.kind.m-accent { (n.kind) } " "
                            strong { (n.title) } " "
                            span.m-muted { (n.created_at) }
                            @if n.state != "active" { " " span.m-muted { "(" (n.state) ")" } }
                            @if n.forwarded { " " span.m-muted { "sent to Telegram" } }
                            @if n.actionable {
                                " " (action_form(ctx, "apply_notification", &[("id", n.id.to_string())], html! { "apply" }, "btn"))
                            }
                            @if !n.read {
                                " " (action_form(ctx, "mark_read", &[("id", n.id.to_string())], html! { "mark read" }, "btn"))
                            }
                        }
                        p.body { (n.body) }
                    }
                }
            }
        }
        h3 { "Telegram" }
        @match &v.telegram_chat {
            Some(chat) => p.meta { "Forwarding to chat " code { (chat) } "." },
            None => p.meta { "No TELEGRAM_BOT_TOKEN and TELEGRAM_HOME_CHANNEL in the Hermes root's .env: nothing is sent. The toggles below are kept for when they are." },
        }
        ul.telegram {
            @for t in &v.telegram {
                li {
                    code { (t.kind) } " "
                    strong { (if t.enabled { "on" } else { "off" }) }
                    @if t.urgent { " " span.m-muted { "(urgent)" } }
                    " " (action_form(ctx, "set_telegram_forwarding",
                        &[("kind", t.kind.clone()), ("on", (!t.enabled).to_string())],
                        html! { (if t.enabled { "turn off" } else { "turn on" }) }, "btn"))
                }
            }
        }
    }
}
