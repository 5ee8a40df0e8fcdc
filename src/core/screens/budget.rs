//! Tab 4, Budget: today's free-model requests against the limit, the projection, the
//! per-agent table, the rate-limit log and the gate, computed (`core::budget::compute`) from
//! what the session read at the screen's "now"; the slice has no state of its own.

use super::super::budget;
use super::super::view::BudgetView;
use super::Ctx;

pub fn view(ctx: &Ctx) -> BudgetView {
    let now = ctx.now.as_second();
    let (budget, note) = match &ctx.data.budget {
        Some(i) => (budget::compute(i, now), None),
        None => (
            budget::compute(
                &budget::Inputs {
                    limit: budget::DAILY_SMALL,
                    limit_source: format!("the free tier's {} a day", budget::DAILY_SMALL),
                    account: "no key".into(),
                    ..budget::Inputs::default()
                },
                now,
            ),
            Some("Usage has not been read yet: `nxr budget` reads it now.".to_string()),
        ),
    };
    BudgetView {
        budget,
        agents: ctx.data.agents.len(),
        csv_tables: budget::CSV_TABLES.iter().map(|t| t.to_string()).collect(),
        note,
    }
}
