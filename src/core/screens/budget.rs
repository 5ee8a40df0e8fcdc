//! Tab 4, Budget: the free tier's limits (it has no state of its own yet).

use super::super::view::BudgetView;
use super::Ctx;

pub fn view(ctx: &Ctx) -> BudgetView {
    BudgetView {
        per_minute: 20,
        per_day: 50,
        per_day_with_credits: 1000,
        agents: ctx.data.agents.len(),
        note: "Usage and spend per agent are not read by this version yet; the free-tier limits above apply to every key without credits.".into(),
    }
}
