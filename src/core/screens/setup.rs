//! The first-run setup wizard: the onboarding flow advanced one step at a time (the TUI
//! shows it when no onboarding finished; the web's `/setup` page always can).

use super::super::action::Intent;
use super::super::error::{CoreError, Result};
use super::super::onboarding::{self, Flow, InitOptions, InitReport, Onboarding, SetupStep};
use super::super::text;
use super::super::view::{SetupStepRow, SetupView, StepState, Tab};
use super::{Effect, Effects};

pub struct State {
    pub onboarding: Onboarding,
    pub started: bool,
    pub error: Option<String>,
}

impl State {
    pub fn new(flow: Flow) -> State {
        State {
            onboarding: Onboarding::new(flow, InitOptions::default()),
            started: false,
            error: None,
        }
    }

    /// True while steps remain to run.
    pub fn busy(&self) -> bool {
        self.started && self.error.is_none() && !self.onboarding.done()
    }
}

/// Start (or restart after a failure) with a key or free; leave when finished; Enter does
/// whichever applies. `state` is `None` when the wizard is not on screen.
pub fn update(state: &mut Option<State>, intent: &Intent) -> Result<Effects> {
    match intent {
        Intent::StartSetup { key } => {
            let s = state.get_or_insert_with(|| State::new(Flow::Tui));
            if !s.started || s.error.is_some() {
                let flow = s.onboarding.flow();
                let key = key.clone().filter(|k| !k.trim().is_empty());
                s.onboarding = Onboarding::new(
                    flow,
                    InitOptions {
                        key,
                        fetch_timeout: None,
                    },
                );
                s.started = true;
                s.error = None;
            }
        }
        Intent::FinishSetup => {
            if state.as_ref().is_some_and(State::busy) {
                return Err(CoreError::usage("setup is still running"));
            }
            *state = None;
            return Ok(vec![Effect::ShowTab(Tab::Hermes), Effect::Refresh]);
        }
        Intent::Activate => {
            let next = match state {
                Some(s) if !s.started || s.error.is_some() => Intent::StartSetup { key: None },
                Some(s) if !s.onboarding.done() => return Ok(Vec::new()),
                Some(_) => Intent::FinishSetup,
                None => return Ok(Vec::new()),
            };
            return update(state, &next);
        }
        _ => {}
    }
    Ok(Vec::new())
}

/// The wizard as drawn; `report` is the flow's report so far.
pub fn view(state: &State, report: &InitReport) -> SetupView {
    let o = &state.onboarding;
    let ran = o.steps();
    let steps = SetupStep::ALL
        .iter()
        .map(|step| {
            let done = ran.iter().find(|r| r.step == *step);
            let st = match (done, o.next_step()) {
                (Some(r), _) if r.ok => StepState::Done,
                (Some(_), _) => StepState::Failed,
                (None, Some(n)) if n == *step && state.error.is_some() => StepState::Failed,
                (None, Some(n)) if n == *step && state.started => StepState::Running,
                _ => StepState::Pending,
            };
            SetupStepRow {
                step: *step,
                number: step.number(),
                title: step.title().to_string(),
                state: st,
                text: done.map(|r| text::clean_max(&r.text, 400)),
            }
        })
        .collect();
    SetupView {
        intro: "nxr sets up three agents (PM, Engineer and Hermes) on the best free models: no key, no money, no network needed.".into(),
        steps,
        started: state.started,
        running: state.busy(),
        done: o.done(),
        already_done: report.already_done,
        error: state.error.clone(),
        agents: report
            .agents
            .iter()
            .map(|a| onboarding::AgentSummary {
                model: text::clean(&a.model),
                ..a.clone()
            })
            .collect(),
        limits: report.limits.clone(),
        key: report.key.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enter_starts_the_wizard_once_and_a_blank_key_means_free() {
        let mut s = Some(State::new(Flow::Tui));
        update(&mut s, &Intent::Activate).unwrap_or_default();
        assert!(s.as_ref().is_some_and(|s| s.started && s.busy()));
        // A running wizard is not restarted, and cannot be left.
        update(
            &mut s,
            &Intent::StartSetup {
                key: Some("  ".into()),
            },
        )
        .unwrap_or_default();
        assert!(update(&mut s, &Intent::FinishSetup).is_err());
        assert!(s.is_some());
    }

    #[test]
    fn finishing_a_wizard_that_never_started_closes_it_and_shows_hermes() {
        let mut s = Some(State::new(Flow::Tui));
        let fx = update(&mut s, &Intent::FinishSetup).unwrap_or_default();
        assert!(s.is_none());
        assert!(matches!(
            fx.as_slice(),
            [Effect::ShowTab(Tab::Hermes), Effect::Refresh]
        ));
    }
}
