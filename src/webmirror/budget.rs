//! `/budget`: the free-tier limits and what this version knows about usage (Tab 4).

use maud::{Markup, html};

use super::page::PageCtx;
use crate::core::view::BudgetView;

pub fn render(v: &BudgetView, _ctx: &PageCtx) -> Markup {
    html! {
        dl.limits {
            dt { "requests per minute" } dd.num { (v.per_minute) }
            dt { "requests per day (free tier)" } dd.num { (v.per_day) }
            dt { "requests per day with 10+ credits" } dd.num { (v.per_day_with_credits) }
            dt { "agents sharing them" } dd.num { (v.agents) }
        }
        p.note.m-muted { (v.note) }
    }
}
