//! Tab 5, Create: the wizard (category → model → skills → name → confirm) that ends in one
//! `create_agent` op, the same one `nxr --no-tui agents create` sends.

use super::super::action::{Intent, Op};
use super::super::error::{CoreError, Result};
use super::super::hermes;
use super::super::models;
use super::super::scoring::{Pick, Scorer};
use super::super::skills::{self, Template};
use super::super::text;
use super::super::view::{
    CategoryRow, CreateView, ModelChoice, SkillChoice, StepTitle, WizardStep,
};
use super::{Ctx, Effect, Effects, agents, picker, step};

#[derive(Debug)]
pub struct State {
    pub step: WizardStep,
    pub category: usize,
    /// The model and whether a person chose it (rather than the scorer).
    pub model: Option<(Pick, bool)>,
    pub skills: Vec<SkillChoice>,
    skills_for: Option<Template>,
    pub skill_selected: usize,
    pub name: String,
}

impl Default for State {
    fn default() -> State {
        State {
            step: WizardStep::Category,
            category: 0,
            model: None,
            skills: Vec::new(),
            skills_for: None,
            skill_selected: 0,
            name: String::new(),
        }
    }
}

/// The categories the create wizard offers, in order: the six custom categories, then the
/// three built-in roles.
pub fn categories() -> Vec<Template> {
    let mut v = Template::CATEGORIES.to_vec();
    v.extend([Template::Pm, Template::Engineer, Template::Hermes]);
    v
}

fn template(state: &State) -> Template {
    let cats = categories();
    cats[state.category.min(cats.len() - 1)]
}

/// True while typed characters are the name.
pub fn typing(state: &State) -> bool {
    state.step == WizardStep::Name
}

/// Opens the picker on free models with tools for the chosen category's role.
pub fn open_picker(state: &State, ctx: &Ctx) -> Effects {
    let p = picker::for_wizard(ctx, template(state).role());
    vec![Effect::OpenPicker(Box::new(p))]
}

/// The model the picker chose.
pub fn chosen(state: &mut State, pick: Pick) {
    state.model = Some((pick, true));
}

/// The router sends this tab's intents here (and the wizard's named ones from anywhere).
pub fn update(state: &mut State, ctx: &Ctx, intent: &Intent) -> Result<Effects> {
    match intent {
        Intent::MoveSelection { delta } => match state.step {
            WizardStep::Category => {
                state.category = step(state.category, categories().len(), *delta)
            }
            WizardStep::Skills => {
                state.skill_selected = step(state.skill_selected, state.skills.len(), *delta)
            }
            _ => {}
        },
        Intent::SelectRow { index } => match state.step {
            WizardStep::Category => state.category = super::pick(*index, categories().len()),
            WizardStep::Skills => state.skill_selected = super::pick(*index, state.skills.len()),
            _ => {}
        },
        Intent::ToggleSkill { name } if state.step == WizardStep::Skills => {
            agents::toggle(&mut state.skills, state.skill_selected, name.as_deref())
        }
        Intent::ChooseCategory { category } => {
            let cats = categories();
            state.category = cats.iter().position(|c| c == category).unwrap_or(0);
            let mut fx = vec![Effect::ShowTab(super::super::view::Tab::Create)];
            fx.extend(enter(state, ctx, WizardStep::Model));
            return Ok(fx);
        }
        Intent::SetWizardName { name } => {
            state.name = name.chars().filter(|c| !c.is_control()).take(64).collect();
            // An error about the old name is not about this one: the page checks the new
            // name itself (`name_error`).
            return Ok(vec![Effect::ClearError]);
        }
        Intent::WizardBack | Intent::Cancel => state.step = state.step.prev(),
        Intent::Activate => return next(state, ctx),
        _ => {}
    }
    Ok(Vec::new())
}

fn enter(state: &mut State, ctx: &Ctx, to: WizardStep) -> Effects {
    let template = template(state);
    if to == WizardStep::Model {
        let fresh = match &state.model {
            Some((p, _)) => p.role != template.role(),
            None => true,
        };
        if fresh {
            let pick = Scorer::new(&ctx.data.catalog).best_free(template.role(), &ctx.data.ollama);
            state.model = Some((pick, false));
        }
    }
    if to == WizardStep::Skills && state.skills_for != Some(template) {
        let wanted = template.skills();
        let mut choices: Vec<SkillChoice> = skills::curated()
            .iter()
            .map(|c| SkillChoice {
                name: c.name.to_string(),
                description: c.description.clone(),
                checked: wanted.contains(&c.name),
                suggested: wanted.contains(&c.name),
            })
            .collect();
        choices.sort_by(|a, b| b.suggested.cmp(&a.suggested).then(a.name.cmp(&b.name)));
        state.skills = choices;
        state.skills_for = Some(template);
        state.skill_selected = 0;
    }
    state.step = to;
    vec![Effect::ClearError]
}

fn name_error(state: &State, ctx: &Ctx) -> Option<String> {
    let name = state.name.trim();
    if name.is_empty() {
        return Some("type a name: lowercase letters, digits, '-' and '_'".into());
    }
    if let Err(e) = hermes::validate_profile_name(name) {
        return Some(e.to_string());
    }
    if ctx
        .data
        .agents
        .iter()
        .any(|a| a.name == name || a.profile == name)
    {
        return Some(format!("an agent named {name:?} already exists"));
    }
    None
}

fn next(state: &mut State, ctx: &Ctx) -> Result<Effects> {
    match state.step {
        WizardStep::Category => Ok(enter(state, ctx, WizardStep::Model)),
        WizardStep::Model => Ok(enter(state, ctx, WizardStep::Skills)),
        WizardStep::Skills => Ok(enter(state, ctx, WizardStep::Name)),
        WizardStep::Name => match name_error(state, ctx) {
            Some(e) => Err(CoreError::usage(e)),
            None => Ok(enter(state, ctx, WizardStep::Confirm)),
        },
        WizardStep::Confirm => {
            if let Some(e) = name_error(state, ctx) {
                state.step = WizardStep::Name;
                return Err(CoreError::usage(e));
            }
            Ok(vec![Effect::Apply(op(state))])
        }
    }
}

/// The `create_agent` op the wizard's choices amount to.
pub fn op(state: &State) -> Op {
    let template = template(state);
    let skills: Vec<String> = state
        .skills
        .iter()
        .filter(|c| c.checked)
        .map(|c| c.name.clone())
        .collect();
    let same_as_template = {
        let mut a = skills.clone();
        let mut b = template.skill_names();
        a.sort();
        b.sort();
        a == b
    };
    Op::CreateAgent {
        name: state.name.trim().to_string(),
        role: Some(template.role()),
        category: Some(template),
        skills: if state.skills_for.is_none() || same_as_template {
            None
        } else {
            Some(skills)
        },
        model: match &state.model {
            Some((p, true)) => Some(p.model.clone()),
            _ => None,
        },
    }
}

pub fn view(state: &State, ctx: &Ctx) -> CreateView {
    let catalog = &ctx.data.catalog;
    let cats = categories();
    let template = template(state);
    let model = state.model.as_ref().map(|(pick, by_hand)| {
        let m = catalog.get(&pick.model);
        let breakdown = m.and_then(|_| {
            models::detail(catalog, &pick.model, &[pick.role])
                .ok()
                .and_then(|d| d.roles.into_iter().next())
        });
        ModelChoice {
            model: text::clean(&pick.model),
            name: m.map(|m| text::clean(&m.name)).unwrap_or_default(),
            score: pick.score,
            fallback: pick.fallback,
            chosen_by_hand: *by_hand,
            breakdown,
            prompt: text::per_million(m.and_then(|m| m.prompt_per_million())),
            completion: text::per_million(m.and_then(|m| m.completion_per_million())),
            context: m.map(|m| m.context()).unwrap_or(0),
        }
    });
    let step_index = WizardStep::ALL
        .iter()
        .position(|s| *s == state.step)
        .unwrap_or(0);
    CreateView {
        step: state.step,
        steps: WizardStep::ALL
            .iter()
            .enumerate()
            .map(|(i, s)| StepTitle {
                step: *s,
                title: s.title().to_string(),
                current: i == step_index,
                done: i < step_index,
            })
            .collect(),
        categories: cats
            .iter()
            .map(|t| CategoryRow {
                key: t.key().to_string(),
                label: t.label().to_string(),
                role: t.role(),
                skills: t.skill_names(),
            })
            .collect(),
        category: state.category,
        role: template.role(),
        model,
        skills: state.skills.clone(),
        skill_selected: state.skill_selected,
        name: state.name.clone(),
        name_error: if state.name.is_empty() && state.step != WizardStep::Confirm {
            None
        } else {
            name_error(state, ctx)
        },
        equivalent_cli: cli_of(&op(state)),
    }
}

/// The `nxr --no-tui agents create` line equal to a `create_agent` op.
pub fn cli_of(op: &Op) -> String {
    let Op::CreateAgent {
        name,
        role,
        category,
        skills,
        model,
    } = op
    else {
        return String::new();
    };
    let mut s = String::from("nxr --no-tui agents create");
    if let Some(r) = role {
        s.push_str(&format!(" --role {r}"));
    }
    s.push_str(&format!(
        " --name {}",
        if name.is_empty() {
            "NAME".to_string()
        } else {
            shell_quote(name)
        }
    ));
    if let Some(c) = category {
        s.push_str(&format!(" --category {}", c.key()));
    }
    if let Some(sk) = skills {
        s.push_str(&format!(" --skills {}", shell_quote(&sk.join(","))));
    }
    if let Some(m) = model {
        s.push_str(&format!(" --model {}", shell_quote(m)));
    }
    s
}

/// `s` as one POSIX shell word: bare when every character is safe, else in single quotes
/// (a quote inside becomes `'\''`).
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent, ctx, data};
    use super::*;
    use crate::core::scoring::Role;

    #[test]
    fn the_wizard_refuses_a_taken_name_at_confirm_and_goes_back_to_the_name_step() {
        let d = data(vec![agent("pm", Role::Pm)]);
        let c = ctx(&d);
        let mut s = State {
            step: WizardStep::Confirm,
            name: "pm".into(),
            ..State::default()
        };
        assert!(update(&mut s, &c, &Intent::Activate).is_err());
        assert_eq!(s.step, WizardStep::Name);
        s.name = "writer".into();
        update(&mut s, &c, &Intent::Activate).unwrap_or_default();
        assert_eq!(s.step, WizardStep::Confirm);
        let fx = update(&mut s, &c, &Intent::Activate).unwrap_or_default();
        assert!(matches!(
            fx.as_slice(),
            [Effect::Apply(Op::CreateAgent { name, .. })] if name == "writer"
        ));
    }

    #[test]
    fn a_name_is_quoted_for_the_shell_only_when_it_needs_it() {
        assert_eq!(shell_quote("pm-2"), "pm-2");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
