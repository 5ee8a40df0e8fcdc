//! Tab 2, Models: one agent's routing slots (the seven core ones, or every slot with the
//! fallback chain), opening the picker on a slot, `auto`, removing a fallback.

use super::super::action::{Intent, Op};
use super::super::agents::Agent;
use super::super::error::{CoreError, Result};
use super::super::routing;
use super::super::text;
use super::super::view::{ModelsView, SlotRow};
use super::{Ctx, Effect, Effects, NO_AGENTS, picker, shorten_home, step};

#[derive(Debug, Default)]
pub struct State {
    /// The agent shown (the first when none was chosen).
    pub agent: Option<String>,
    pub selected: usize,
    pub show_all: bool,
}

/// The agent whose slots are shown.
pub fn agent<'a>(state: &State, ctx: &Ctx<'a>) -> Option<&'a Agent> {
    match &state.agent {
        Some(name) => ctx.data.agents.iter().find(|a| &a.name == name),
        None => ctx.data.agents.first(),
    }
}

/// The slot rows as shown (an unreadable config.yaml shows none).
pub fn rows(state: &State, ctx: &Ctx) -> Vec<SlotRow> {
    match &ctx.data.slots {
        Some((_, _, Ok(slots))) => routing::rows(slots, state.show_all, &ctx.data.catalog),
        _ => Vec::new(),
    }
}

fn selected_row(state: &State, ctx: &Ctx) -> Result<SlotRow> {
    rows(state, ctx)
        .get(state.selected)
        .cloned()
        .ok_or_else(|| CoreError::usage("no slot selected"))
}

fn shown_agent(state: &State, ctx: &Ctx) -> Result<Agent> {
    agent(state, ctx)
        .cloned()
        .ok_or_else(|| CoreError::usage("create an agent first, on the Create tab"))
}

/// Opens the picker on the selected slot.
pub fn open_picker(state: &State, ctx: &Ctx) -> Result<Effects> {
    let agent = shown_agent(state, ctx)?;
    let row = selected_row(state, ctx)?;
    let p = picker::for_slot(ctx, &agent.name, agent.role, &row);
    Ok(vec![Effect::OpenPicker(Box::new(p))])
}

/// The router sends this tab's intents here.
pub fn update(state: &mut State, ctx: &Ctx, intent: &Intent) -> Result<Effects> {
    match intent {
        Intent::ToggleAllSlots => {
            state.show_all = !state.show_all;
            state.selected = state.selected.min(rows(state, ctx).len().saturating_sub(1));
        }
        Intent::CycleAgent { delta } => {
            let agents = &ctx.data.agents;
            if !agents.is_empty() {
                let cur = agent(state, ctx)
                    .and_then(|a| agents.iter().position(|b| b.name == a.name))
                    .unwrap_or(0);
                let next = (cur as i64 + delta).rem_euclid(agents.len() as i64) as usize;
                state.agent = Some(agents[next].name.clone());
                return Ok(vec![Effect::ReloadSlots]);
            }
        }
        Intent::RemoveSelectedSlot => {
            let row = selected_row(state, ctx)?;
            let Some(index) = row
                .key
                .strip_prefix("fallback:")
                .and_then(|n| n.parse::<usize>().ok())
            else {
                return Err(CoreError::usage(
                    "only fallback entries can be removed (show all slots to see them)",
                ));
            };
            let agent = agent(state, ctx)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            return Ok(vec![Effect::Apply(Op::RemoveFallback { agent, index })]);
        }
        Intent::AutoSelectedSlot => {
            let row = selected_row(state, ctx)?;
            let agent = shown_agent(state, ctx)?.name;
            return Ok(vec![Effect::Apply(Op::SetSlot {
                agent,
                slot: row.key,
                model: routing::AUTO.into(),
                provider: None,
                base_url: None,
                force: false,
            })]);
        }
        Intent::MoveSelection { delta } => {
            state.selected = step(state.selected, rows(state, ctx).len(), *delta)
        }
        Intent::SelectRow { index } => state.selected = super::pick(*index, rows(state, ctx).len()),
        Intent::Activate => return open_picker(state, ctx),
        _ => {}
    }
    Ok(Vec::new())
}

pub fn view(state: &State, ctx: &Ctx) -> ModelsView {
    let agent = agent(state, ctx);
    let (slots, error, config_path) = match &ctx.data.slots {
        Some((_, _, Ok(s))) => (
            routing::rows(s, state.show_all, &ctx.data.catalog),
            None,
            Some(shorten_home(&s.config_path)),
        ),
        Some((_, _, Err(e))) => (Vec::new(), Some(e.clone()), None),
        None => (Vec::new(), None, None),
    };
    let slots = slots
        .into_iter()
        .map(|mut r| {
            r.model = text::clean(&r.model);
            r.provider = text::clean(&r.provider);
            r
        })
        .collect();
    ModelsView {
        agents: ctx.data.agents.iter().map(|a| a.name.clone()).collect(),
        agent: agent.map(|a| a.name.clone()),
        role: agent.map(|a| a.role),
        config_path,
        slots,
        selected: state.selected,
        show_all: state.show_all,
        error,
        empty: agent.is_none().then(|| NO_AGENTS.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent as test_agent, ctx, data};
    use super::*;
    use crate::core::scoring::Role;

    #[test]
    fn cycling_agents_wraps_around_and_asks_for_the_new_agents_slots() {
        let d = data(vec![
            test_agent("pm", Role::Pm),
            test_agent("eng", Role::Engineer),
        ]);
        let c = ctx(&d);
        let mut s = State::default();
        let fx = update(&mut s, &c, &Intent::CycleAgent { delta: -1 }).unwrap_or_default();
        assert_eq!(s.agent.as_deref(), Some("eng"));
        assert!(matches!(fx.as_slice(), [Effect::ReloadSlots]));
        update(&mut s, &c, &Intent::CycleAgent { delta: 1 }).unwrap_or_default();
        assert_eq!(s.agent.as_deref(), Some("pm"));
    }

    #[test]
    fn auto_and_remove_with_no_slot_selected_are_refused_without_an_op() {
        let d = data(vec![test_agent("pm", Role::Pm)]);
        let c = ctx(&d);
        let mut s = State::default();
        assert!(update(&mut s, &c, &Intent::AutoSelectedSlot).is_err());
        assert!(update(&mut s, &c, &Intent::RemoveSelectedSlot).is_err());
        assert!(open_picker(&s, &c).is_err());
    }
}
