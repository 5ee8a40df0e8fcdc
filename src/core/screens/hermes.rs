//! Tab 1, Hermes: one row per agent's profile, and the installed hermes-agent version.

use super::super::action::Intent;
use super::super::hermes_version;
use super::super::text;
use super::super::view::{HermesView, Meaning, ProfileRow};
use super::{Ctx, Effects, shorten_home, step};

#[derive(Debug, Default)]
pub struct State {
    pub selected: usize,
}

/// The router sends this tab's row intents here.
pub fn update(state: &mut State, ctx: &Ctx, intent: &Intent) -> Effects {
    let n = ctx.data.agents.len();
    match intent {
        Intent::MoveSelection { delta } => state.selected = step(state.selected, n, *delta),
        Intent::SelectRow { index } => state.selected = super::pick(*index, n),
        _ => {}
    }
    Vec::new()
}

pub fn view(state: &State, ctx: &Ctx) -> HermesView {
    let data = ctx.data;
    let rows: Vec<ProfileRow> = data
        .agents
        .iter()
        .map(|a| {
            let p = ctx.profile_of(a);
            ProfileRow {
                agent: a.name.clone(),
                profile: a.profile.clone(),
                dir: shorten_home(&p.dir.display().to_string()),
                role: a.role,
                model: text::clean(&a.model),
                config_present: p.exists(),
                skills: a.skillset.len(),
            }
        })
        .collect();
    HermesView {
        hermes_home: shorten_home(&ctx.hermes_home.display().to_string()),
        empty: rows.is_empty().then(|| "No agents yet: create one on the Create tab, or run `nxr --no-tui agents create --role pm --name pm`.".to_string()),
        rows,
        selected: state.selected,
        hermes_version: hermes_version::describe(data.hermes_version.as_deref()),
        hermes_version_meaning: match data.hermes_version.as_deref() {
            Some(v) if hermes_version::warning(v).is_some() => Meaning::Warning,
            _ => Meaning::Muted,
        },
        processes_note: "Gateway processes (PID, uptime, tmux viewers) are not tracked by this version; start them with `hermes -p <profile> gateway run`.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent, ctx, data};
    use super::*;
    use crate::core::scoring::Role;

    #[test]
    fn moving_down_stops_at_the_last_agent_and_selecting_past_the_end_picks_the_last() {
        let d = data(vec![agent("pm", Role::Pm), agent("eng", Role::Engineer)]);
        let c = ctx(&d);
        let mut s = State::default();
        update(&mut s, &c, &Intent::MoveSelection { delta: 5 });
        assert_eq!(s.selected, 1);
        update(&mut s, &c, &Intent::MoveSelection { delta: -9 });
        assert_eq!(s.selected, 0);
        update(&mut s, &c, &Intent::SelectRow { index: 99 });
        assert_eq!(s.selected, 1);
        assert_eq!(view(&s, &c).rows.len(), 2);
    }
}
