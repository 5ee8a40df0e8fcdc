//! Tab 3, Agents: the list with recommendations, the selected agent's skills, the skill
//! editor, and the upgrade questions (one agent, all agents, revert all). Only the answer
//! "yes" to a question writes.

use super::super::action::{Intent, Op};
use super::super::agents::{Advice, Agent};
use super::super::error::{CoreError, Result};
use super::super::keymap::Context;
use super::super::secrets::Payer;
use super::super::skills::{self, SkillState};
use super::super::text;
use super::super::upgrade::UpgradeRow;
use super::super::view::{
    AgentRow, AgentsView, BulkRow, BulkUpgradeView, ConfirmView, PaidChoice, SkillChoice,
    SkillEditorView, SkillRow, Tab,
};
use super::{Ctx, Effect, Effects, NO_AGENTS, step};

#[derive(Debug, Default)]
pub struct State {
    pub selected: usize,
    /// The bulk upgrade's plan is open.
    pub bulk_open: bool,
    /// A question waiting for yes (Enter) or no (Esc).
    pub confirm: Option<Confirm>,
}

#[derive(Debug, Clone)]
pub enum Confirm {
    Upgrade { agent: String, model: String },
    RevertAll,
}

/// The skill editor overlay: the selected agent's skills, ticked as it loads them.
pub struct SkillEditor {
    pub agent: String,
    pub choices: Vec<SkillChoice>,
    pub selected: usize,
}

pub fn selected<'a>(state: &State, ctx: &Ctx<'a>) -> Option<&'a Agent> {
    ctx.data.agents.get(state.selected)
}

fn selected_name(state: &State, ctx: &Ctx) -> Result<String> {
    selected(state, ctx)
        .map(|a| a.name.clone())
        .ok_or_else(|| CoreError::usage("no agent selected"))
}

/// The keys that apply to the selected agent: `p` when it has a paid pick the stored key
/// can pay for, `v` when it runs a paid model with a free one to go back to.
pub fn contexts(state: &State, ctx: &Ctx) -> Vec<Context> {
    let mut v = Vec::new();
    let Some(a) = selected(state, ctx) else {
        return v;
    };
    if let Some(p) = ctx.data.plan.iter().find(|p| p.agent == a.name) {
        if p.recommended.is_some() && ctx.can_pay() {
            v.push(Context::PaidPick);
        }
        if !p.current.free && p.last_free.is_some() {
            v.push(Context::OnPaid);
        }
    }
    v
}

/// The ops that name "the selected agent" by leaving it out, and the ones that answer an
/// open question (which then closes).
pub fn resolve(state: &mut State, ctx: &Ctx, op: Op) -> Result<Effects> {
    let op = match op {
        Op::RevertUpgrade { agent } => {
            let agent = match agent {
                Some(a) => a,
                None => selected_name(state, ctx)?,
            };
            state.confirm = None;
            Op::RevertUpgrade { agent: Some(agent) }
        }
        Op::RevertAll => {
            state.confirm = None;
            Op::RevertAll
        }
        Op::UpgradeAgent { agent, model } => Op::UpgradeAgent {
            agent: Some(match agent {
                Some(a) => a,
                None => selected_name(state, ctx)?,
            }),
            model,
        },
        Op::UpgradeAll => {
            state.bulk_open = false;
            Op::UpgradeAll
        }
        Op::ApplyRecommendation { agent } => Op::ApplyRecommendation {
            agent: Some(match agent {
                Some(a) => a,
                None => selected_name(state, ctx)?,
            }),
        },
        other => other,
    };
    Ok(vec![Effect::Apply(op)])
}

/// Enter on the tab: yes to the open question or plan, else move the selected agent to its
/// recommendation.
pub fn activate(state: &mut State, ctx: &Ctx) -> Result<Effects> {
    if state.bulk_open {
        return resolve(state, ctx, Op::UpgradeAll);
    }
    if let Some(c) = state.confirm.take() {
        let op = match c {
            Confirm::Upgrade { agent, model } => Op::UpgradeAgent {
                agent: Some(agent),
                model: Some(model),
            },
            Confirm::RevertAll => Op::RevertAll,
        };
        return resolve(state, ctx, op);
    }
    // With no agent the op itself says what it needs.
    let agent = selected(state, ctx).map(|a| a.name.clone());
    Ok(vec![Effect::Apply(Op::ApplyRecommendation { agent })])
}

/// Esc on an open plan or question: closes it (a question says nothing changed).
pub fn cancel(state: &mut State) -> Effects {
    if state.bulk_open {
        state.bulk_open = false;
        return Vec::new();
    }
    if state.confirm.take().is_some() {
        return vec![Effect::Ok("nothing changed".into())];
    }
    Vec::new()
}

/// The router sends this tab's intents here.
pub fn update(state: &mut State, ctx: &Ctx, intent: &Intent) -> Result<Effects> {
    let n = ctx.data.agents.len();
    match intent {
        Intent::MoveSelection { delta } => state.selected = step(state.selected, n, *delta),
        Intent::SelectRow { index } => state.selected = super::pick(*index, n),
        Intent::OpenSkillEditor => return open_skills(state, ctx),
        Intent::OpenBulkUpgrade => {
            state.confirm = None;
            state.bulk_open = true;
            return Ok(vec![Effect::ShowTab(Tab::Agents)]);
        }
        Intent::OpenUpgrade { agent, model } => {
            return open_upgrade(state, ctx, agent.as_deref(), model.as_deref());
        }
        Intent::OpenRevertAll => {
            if !ctx.data.plan.iter().any(|p| !p.current.free) {
                return Ok(vec![Effect::Ok(
                    "every agent is already on a free model".into(),
                )]);
            }
            state.bulk_open = false;
            state.confirm = Some(Confirm::RevertAll);
            return Ok(vec![Effect::ShowTab(Tab::Agents)]);
        }
        _ => {}
    }
    Ok(Vec::new())
}

fn open_upgrade(
    state: &mut State,
    ctx: &Ctx,
    agent: Option<&str>,
    model: Option<&str>,
) -> Result<Effects> {
    let data = ctx.data;
    let a = match agent {
        Some(name) => ctx.agent(name).ok_or_else(|| CoreError::NotFound {
            what: "agent",
            name: text::clean(name),
        })?,
        None => selected(state, ctx).ok_or_else(|| CoreError::usage("no agent selected"))?,
    };
    let model = match model {
        // A model of the person's choosing: known to the catalog, as the write will
        // require, so the question can show its price.
        Some(m) => data.catalog.get(m).map(|c| c.id.clone()).ok_or_else(|| {
            CoreError::usage(format!(
                "model {:?} is not in the catalog",
                text::clean_max(m, 100)
            ))
        })?,
        None => {
            let row = data
                .plan
                .iter()
                .find(|p| p.agent == a.name)
                .ok_or_else(|| CoreError::usage("no agent selected"))?;
            let Some(rec) = &row.recommended else {
                return Err(CoreError::usage(format!(
                    "{}: {}",
                    a.name,
                    row.note.as_deref().unwrap_or("no paid pick")
                )));
            };
            rec.model.clone()
        }
    };
    let paid = data.catalog.get(&model).is_some_and(|m| !m.is_free());
    if paid && let Some(why) = data.payer.refusal(&model) {
        return Err(CoreError::usage(why));
    }
    // The question replaces whatever was open (the web's "choose a model" picker).
    state.bulk_open = false;
    state.confirm = Some(Confirm::Upgrade {
        agent: a.name.clone(),
        model,
    });
    Ok(vec![Effect::ShowTab(Tab::Agents), Effect::CloseOverlay])
}

/// Opens the skill editor on the selected agent (its skills must be loaded into the cache).
fn open_skills(state: &State, ctx: &Ctx) -> Result<Effects> {
    let agent = selected_name(state, ctx)?;
    let snap = match &ctx.data.skills {
        Some((name, Ok(s))) if *name == agent => s,
        Some((name, Err(e))) if *name == agent => return Err(CoreError::Conflict(e.clone())),
        _ => return Err(CoreError::usage("no agent selected")),
    };
    let mut choices: Vec<SkillChoice> = snap
        .entries
        .iter()
        .map(|e| SkillChoice {
            name: e.key.clone(),
            description: skills::find_curated(&e.key)
                .map(|c| c.description.clone())
                .or_else(|| e.detail.clone())
                .unwrap_or_default(),
            checked: e.desired,
            suggested: e.desired,
        })
        .collect();
    choices.sort_by(|a, b| b.suggested.cmp(&a.suggested).then(a.name.cmp(&b.name)));
    Ok(vec![Effect::OpenSkills(SkillEditor {
        agent,
        choices,
        selected: 0,
    })])
}

/// Ticks a skill (`None`: the highlighted one).
pub fn toggle(choices: &mut [SkillChoice], selected: usize, name: Option<&str>) {
    let idx = match name {
        Some(n) => choices.iter().position(|c| c.name == n),
        None => Some(selected),
    };
    if let Some(c) = idx.and_then(|i| choices.get_mut(i)) {
        c.checked = !c.checked;
    }
}

/// The skill editor's own intents (cursor, ticks).
pub fn update_editor(e: &mut SkillEditor, intent: &Intent) {
    match intent {
        Intent::MoveSelection { delta } => e.selected = step(e.selected, e.choices.len(), *delta),
        Intent::SelectRow { index } => e.selected = super::pick(*index, e.choices.len()),
        Intent::ToggleSkill { name } => toggle(&mut e.choices, e.selected, name.as_deref()),
        _ => {}
    }
}

/// Enter in the skill editor: the agent loads exactly the ticked skills. The editor stays
/// open when the sync fails.
pub fn save_editor(e: &SkillEditor) -> Effects {
    let desired: Vec<String> = e
        .choices
        .iter()
        .filter(|c| c.checked)
        .map(|c| c.name.clone())
        .collect();
    vec![
        Effect::Apply(Op::SyncSkills {
            agent: e.agent.clone(),
            desired: Some(desired),
        }),
        Effect::CloseOverlay,
    ]
}

pub fn editor_view(e: &SkillEditor) -> SkillEditorView {
    SkillEditorView {
        agent: e.agent.clone(),
        choices: e.choices.clone(),
        selected: e.selected,
    }
}

fn paid_choice(p: &UpgradeRow) -> Option<PaidChoice> {
    p.recommended.as_ref().map(|r| PaidChoice {
        model: text::clean(&r.model),
        prompt: r.prompt.clone(),
        completion: r.completion.clone(),
        score: r.score,
        gain: p.gain,
    })
}

pub fn view(state: &State, ctx: &Ctx) -> AgentsView {
    let data = ctx.data;
    let rows: Vec<AgentRow> = data
        .agents
        .iter()
        .map(|a| {
            let rec = data.recs.iter().find(|r| r.agent == a.name);
            let plan = data.plan.iter().find(|p| p.agent == a.name);
            AgentRow {
                name: a.name.clone(),
                role: a.role,
                model: text::clean(&a.model),
                score: rec.and_then(|r| r.current_score),
                model_gone: rec.is_some_and(|r| r.model_gone),
                best_free: rec.map(|r| text::clean(&r.best_free)).unwrap_or_default(),
                best_free_score: rec.and_then(|r| r.best_free_score),
                recommended: rec
                    .map(|r| text::clean(&r.recommended_model))
                    .unwrap_or_default(),
                recommended_score: rec.and_then(|r| r.recommended_score),
                fallback: rec.and_then(|r| r.fallback),
                advice: rec.map_or(Advice::Stay, |r| r.advice),
                upgrade_available: rec.is_some_and(|r| r.upgrade_available),
                skills: a.skillset.len(),
                profile: a.profile.clone(),
                free: plan.is_none_or(|p| p.current.free),
                paid: plan.and_then(paid_choice),
                last_free: plan.and_then(|p| p.last_free.clone()),
                evidence: rec.and_then(|r| r.evidence.clone()),
            }
        })
        .collect();
    let bulk = state.bulk_open.then(|| BulkUpgradeView {
        rows: data
            .plan
            .iter()
            .map(|p| BulkRow {
                agent: p.agent.clone(),
                role: p.role,
                current: text::clean(&p.current.model),
                current_prompt: p.current.prompt.clone(),
                current_completion: p.current.completion.clone(),
                recommended: paid_choice(p),
                stay_on_free: p.stay_on_free,
                note: p.note.clone(),
            })
            .collect(),
        key_configured: data.key_configured,
        cannot_pay: data.payer.reason().map(|_| cannot_pay(&data.payer)),
        account: data.payer.account().map(|a| a.summary()),
    });
    let confirm = state.confirm.as_ref().map(|c| confirm_view(ctx, c));
    let snapshot = selected(state, ctx).and_then(|a| match &data.skills {
        Some((name, snap)) if *name == a.name => Some(snap),
        _ => None,
    });
    let (skills, skills_error) = match snapshot {
        Some(Ok(snap)) => (
            snap.entries
                .iter()
                .filter(|e| e.state != SkillState::Available)
                .map(|e| SkillRow {
                    name: text::clean(&e.key),
                    state: e.state,
                    origin: e.origin,
                    desired: e.desired,
                    managed: e.managed,
                    detail: e.detail.as_deref().map(text::clean),
                })
                .collect(),
            None,
        ),
        Some(Err(e)) => (Vec::new(), Some(e.clone())),
        None => (Vec::new(), None),
    };
    AgentsView {
        empty: rows.is_empty().then(|| NO_AGENTS.to_string()),
        rows,
        selected: state.selected,
        skills,
        skills_error,
        key_configured: data.key_configured,
        bulk,
        confirm,
        account: data.payer.account().map(|a| a.summary()),
        can_pay: data.payer.can_pay(),
    }
}

/// Why paid models cannot be written now, in a line.
fn cannot_pay(payer: &Payer) -> String {
    match payer {
        Payer::NoKey => {
            "No OpenRouter key stored: nxr config set openrouter-key KEY, then try again.".into()
        }
        Payer::Unchecked => {
            "The key's balance was never checked: run nxr upgrade to check it.".into()
        }
        Payer::CannotPay(why, _) => {
            format!("Paid models cannot be used: {why}. Buy credits, then run nxr upgrade.")
        }
        Payer::Pays(_) => String::new(),
    }
}

fn confirm_view(ctx: &Ctx, c: &Confirm) -> ConfirmView {
    let data = ctx.data;
    let balance = data
        .payer
        .account()
        .map(|a| format!("Account: {}", a.summary()));
    match c {
        Confirm::Upgrade { agent, model } => {
            let row = data.plan.iter().find(|p| &p.agent == agent);
            let mut lines = Vec::new();
            if let Some(p) = row {
                lines.push(format!(
                    "now:  {}  ({} in / {} out per M)",
                    text::clean(&p.current.model),
                    p.current.prompt,
                    p.current.completion
                ));
                if let Some(r) = p.recommended.as_ref().filter(|r| &r.model == model) {
                    lines.push(format!(
                        "paid: {}  ({} in / {} out per M, score {}{})",
                        text::clean(&r.model),
                        r.prompt,
                        r.completion,
                        text::score(r.score),
                        p.gain.map(|g| format!(", {g:+.1}")).unwrap_or_default()
                    ));
                }
            }
            // A model chosen in the picker rather than the recommended pick: its price
            // from the catalog (it has no score gain to show).
            if row
                .and_then(|p| p.recommended.as_ref())
                .is_none_or(|r| &r.model != model)
            {
                let m = data.catalog.get(model);
                lines.push(format!(
                    "new:  {}  ({} in / {} out per M)",
                    text::clean(model),
                    text::per_million(m.and_then(|m| m.prompt_per_million())),
                    text::per_million(m.and_then(|m| m.completion_per_million()))
                ));
            }
            lines.extend(balance);
            lines.push("Paid models spend credits. Revert any time from the Agents tab.".into());
            ConfirmView {
                title: format!("Upgrade {agent} to {}?", text::clean(model)),
                lines,
                action: "upgrade_agent".into(),
            }
        }
        Confirm::RevertAll => ConfirmView {
            title: "Put every agent back on its free model?".into(),
            lines: data
                .plan
                .iter()
                .filter(|p| !p.current.free)
                .map(|p| {
                    format!(
                        "{}: {} -> {}",
                        p.agent,
                        text::clean(&p.current.model),
                        p.last_free
                            .as_deref()
                            .map(text::clean)
                            .unwrap_or_else(|| "(no free model recorded: stays)".into())
                    )
                })
                .collect(),
            action: "revert_all".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent, ctx, data};
    use super::*;
    use crate::core::scoring::Role;

    #[test]
    fn an_op_that_leaves_the_agent_out_names_the_selected_one() {
        let d = data(vec![agent("pm", Role::Pm), agent("eng", Role::Engineer)]);
        let c = ctx(&d);
        let mut s = State {
            selected: 1,
            ..State::default()
        };
        let fx = resolve(&mut s, &c, Op::ApplyRecommendation { agent: None }).unwrap_or_default();
        assert!(matches!(
            fx.as_slice(),
            [Effect::Apply(Op::ApplyRecommendation { agent: Some(a) })] if a == "eng"
        ));
    }

    #[test]
    fn no_to_a_question_closes_it_and_writes_nothing_while_yes_answers_with_its_op() {
        let d = data(vec![agent("pm", Role::Pm)]);
        let c = ctx(&d);
        let mut s = State {
            confirm: Some(Confirm::RevertAll),
            ..State::default()
        };
        let no = cancel(&mut s);
        assert!(s.confirm.is_none());
        assert!(no.iter().all(|e| !matches!(e, Effect::Apply(_))));
        s.confirm = Some(Confirm::Upgrade {
            agent: "pm".into(),
            model: "paid/model".into(),
        });
        let yes = activate(&mut s, &c).unwrap_or_default();
        assert!(s.confirm.is_none());
        assert!(matches!(
            yes.as_slice(),
            [Effect::Apply(Op::UpgradeAgent { agent: Some(a), model: Some(m) })]
                if a == "pm" && m == "paid/model"
        ));
    }

    #[test]
    fn an_upgrade_question_about_an_unknown_agent_is_refused_and_opens_nothing() {
        let d = data(vec![agent("pm", Role::Pm)]);
        let c = ctx(&d);
        let mut s = State::default();
        let asked = Intent::OpenUpgrade {
            agent: Some("ghost".into()),
            model: None,
        };
        assert!(update(&mut s, &c, &asked).is_err());
        assert!(s.confirm.is_none());
    }
}
