//! The model picker overlay: opened on a routing slot (Models tab) or for the agent being
//! created (Create tab); typing filters, Enter writes the slot or hands the model to the
//! wizard. Picking a model that lacks what the slot needs takes a second Enter.

use super::super::action::{Intent, Op};
use super::super::catalog::{self, Model};
use super::super::error::{CoreError, Result};
use super::super::hermes::OPENROUTER;
use super::super::picker::{Filters, Fit, Picker};
use super::super::routing::{Needs, SlotKey};
use super::super::scoring::{Pick, Role, Scorer};
use super::super::text;
use super::super::view::{Comparison, Meaning, PickerView, PriceCard, SlotKind, SlotRow};
use super::{Ctx, Effect, Effects};

pub struct State {
    pub picker: Picker,
    pub target: Target,
    /// The current model's price card, worked out once per picker (scoring one model
    /// needs a scorer over the whole catalog; the candidates carry their scores already).
    current_card: Option<Option<PriceCard>>,
    /// The model the person was warned about (it lacks what the slot needs): a second
    /// Enter on it writes it anyway.
    warned: Option<String>,
}

#[derive(Clone, PartialEq)]
pub enum Target {
    Slot {
        agent: String,
        slot: String,
        current: String,
    },
    Wizard,
}

impl State {
    fn new(picker: Picker, target: Target) -> State {
        State {
            picker,
            target,
            current_card: None,
            warned: None,
        }
    }
}

/// A picker of free models with tools, for a new agent of `role`.
pub fn for_wizard(ctx: &Ctx, role: Role) -> State {
    let filters = Filters {
        free_only: true,
        tools_only: true,
        ..Filters::default()
    };
    let fit = Fit {
        needs: Needs::default(),
        can_pay: ctx.can_pay(),
    };
    let picker = Picker::fitted(
        ctx.data.catalog.clone(),
        role,
        filters,
        fit,
        ctx.notify.clone(),
    );
    State::new(picker, Target::Wizard)
}

/// A picker on one routing slot of `agent`, opening with the filters the slot needs (free
/// only when the slot is free now, or paid models cannot be written).
pub fn for_slot(ctx: &Ctx, agent: &str, role: Role, row: &SlotRow) -> State {
    let catalog = &ctx.data.catalog;
    let current_free = catalog.get(&row.model).is_some_and(|m| m.is_free());
    let needs = SlotKey::parse(&row.key)
        .map(|k| Needs::of_slot(&k))
        .unwrap_or_default();
    let filters = Filters {
        free_only: current_free || row.model.is_empty() || !ctx.can_pay(),
        tools_only: row.kind == SlotKind::Main,
        ..Filters::default()
    }
    .for_needs(&needs);
    let fit = Fit {
        needs,
        can_pay: ctx.can_pay(),
    };
    let picker = Picker::fitted(catalog.clone(), role, filters, fit, ctx.notify.clone());
    State::new(
        picker,
        Target::Slot {
            agent: agent.to_string(),
            slot: row.key.clone(),
            current: row.model.clone(),
        },
    )
}

/// Typing, filters and the cursor (the router sends them here while the picker is open).
pub fn update(state: &mut State, intent: &Intent) {
    match intent {
        Intent::SetPickerQuery { query } => {
            let q: String = query
                .chars()
                .filter(|c| !c.is_control() && !text::is_bidi_control(*c))
                .take(200)
                .collect();
            state.picker.set_query(&q);
        }
        Intent::TogglePickerFilter { filter } => state.picker.toggle(*filter),
        Intent::SetPickerFilters { filters } => state.picker.set_filters(filters.clone()),
        Intent::MoveSelection { delta } => state.picker.move_cursor(*delta),
        Intent::SelectRow { index } => state.picker.select(*index),
        _ => {}
    }
}

/// Enter: write the highlighted model to the slot, or hand it to the wizard. The picker
/// stays open when the write fails (the close comes after it).
pub fn activate(state: &mut State, ctx: &Ctx) -> Result<Effects> {
    let Some(model) = state.picker.selected().cloned() else {
        return Err(CoreError::usage(
            "no model matches; change the query or filters",
        ));
    };
    if let Some(why) = state.picker.unusable(&model) {
        // The write guard's own words, so every surface refuses alike.
        let msg = ctx
            .data
            .payer
            .refusal(&model.id)
            .unwrap_or_else(|| format!("{} cannot be used: {why}", text::clean(&model.id)));
        return Err(CoreError::usage(msg));
    }
    if let Some(lacks) = state.picker.fit().needs.lacks(&model)
        && state.warned.as_deref() != Some(model.id.as_str())
    {
        state.warned = Some(model.id.clone());
        return Ok(vec![Effect::Say(
            Meaning::Warning,
            format!(
                "{}: {lacks}. Press Enter again to use it anyway, or pick another.",
                text::clean(&model.id)
            ),
        )]);
    }
    Ok(match &state.target {
        Target::Slot { agent, slot, .. } => vec![
            Effect::Apply(Op::SetSlot {
                agent: agent.clone(),
                slot: slot.clone(),
                model: model.id.clone(),
                provider: Some(OPENROUTER.into()),
                base_url: None,
                // A model lacking the slot's needs got here only by a second Enter after
                // the warning above.
                force: true,
            }),
            Effect::CloseOverlay,
        ],
        Target::Wizard => {
            let role = state.picker.role();
            let catalog = &ctx.data.catalog;
            let idx = catalog
                .models
                .iter()
                .position(|m| m.id == model.id)
                .unwrap_or(0);
            let s = Scorer::new(catalog).score(idx as u32, role);
            vec![
                Effect::CloseOverlay,
                Effect::WizardModel(Box::new(Pick {
                    role,
                    model: model.id.clone(),
                    provider: OPENROUTER.into(),
                    base_url: None,
                    score: Some(s.total),
                    sub: Some(s.sub),
                    fallback: None,
                })),
            ]
        }
    })
}

/// The picker as drawn: `rows` rows of candidates around the cursor.
pub fn view(state: &mut State, ctx: &Ctx, rows: usize) -> PickerView {
    let catalog = ctx.data.catalog.clone();
    let p = state;
    let window = p.picker.window(rows);
    let selected = p
        .picker
        .cursor
        .checked_sub(p.picker.offset)
        .filter(|i| *i < window.len());
    let role = p.picker.role();
    let (title, target, current) = match &p.target {
        Target::Slot {
            agent,
            slot,
            current,
        } => (
            format!("Model for {agent} · {slot}"),
            format!("{agent} · {slot}"),
            Some(current.clone()),
        ),
        Target::Wizard => (
            "Model for the new agent".to_string(),
            "new agent".to_string(),
            None,
        ),
    };
    let card = |m: &catalog::Model, score: Option<f64>| PriceCard {
        model: text::clean(&m.id),
        name: text::clean(&m.name),
        prompt: text::per_million(m.prompt_per_million()),
        completion: text::per_million(m.completion_per_million()),
        context: m.context(),
        score,
        free: m.is_free(),
    };
    let current_card = p
        .current_card
        .get_or_insert_with(|| {
            let id = current.as_deref()?;
            let idx = catalog.models.iter().position(|m| m.id == id)?;
            let s = Scorer::new(&catalog).score(idx as u32, role);
            Some(card(&catalog.models[idx], s.qualified().then_some(s.total)))
        })
        .clone();
    let comparison = p.picker.selected_scored().map(|(cand, score)| {
        let candidate = card(cand, score);
        let cur_model = current.as_deref().and_then(|c| catalog.get(c));
        Comparison {
            verdict: verdict(cur_model, cand),
            score_delta: match (&current_card, candidate.score) {
                (Some(c), Some(n)) => c.score.map(|o| ((n - o) * 10.0).round() / 10.0),
                _ => None,
            },
            current: current_card,
            candidate,
            evidence: p.picker.selected_evidence(),
        }
    });
    let fit = p.picker.fit();
    let warning = selected.and_then(|i| window.get(i)).and_then(|r| {
        r.reason.clone().or_else(|| {
            r.lacks
                .as_ref()
                .map(|l| format!("{l}: the slot {}", fit.needs.describe().unwrap_or_default()))
        })
    });
    let mut filters = p.picker.filters().clone();
    filters.provider = filters.provider.as_deref().map(text::clean);
    PickerView {
        title,
        target,
        role,
        query: p.picker.query().to_string(),
        filters,
        rows: window,
        selected,
        offset: p.picker.offset,
        matched: p.picker.matched(),
        total: p.picker.total(),
        comparison,
        needs: fit.needs.describe(),
        can_pay: fit.can_pay,
        warning,
    }
}

/// "free instead of $3.00/M in", "+$0.50/M in, +$2.00/M out", "same price".
fn verdict(current: Option<&Model>, candidate: &Model) -> String {
    let Some(cur) = current else {
        return format!(
            "{} in, {} out per million tokens",
            text::per_million(candidate.prompt_per_million()),
            text::per_million(candidate.completion_per_million())
        );
    };
    let (Some(ci), Some(co), Some(ni), Some(no)) = (
        cur.prompt_per_million(),
        cur.completion_per_million(),
        candidate.prompt_per_million(),
        candidate.completion_per_million(),
    ) else {
        return "price varies per request (router)".into();
    };
    if ci == ni && co == no {
        return "same price".into();
    }
    if ni == 0.0 && no == 0.0 {
        return format!("free instead of ${ci:.2}/M in, ${co:.2}/M out");
    }
    let sign = |d: f64| {
        if d >= 0.0 {
            format!("+${d:.2}")
        } else {
            format!("-${:.2}", -d)
        }
    };
    format!("{}/M in, {}/M out", sign(ni - ci), sign(no - co))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{ctx, data};
    use super::*;

    #[test]
    fn enter_on_an_empty_picker_is_refused_and_writes_nothing() {
        let d = data(Vec::new());
        let c = ctx(&d);
        let mut s = for_wizard(&c, Role::Pm);
        s.picker.settle();
        assert!(activate(&mut s, &c).is_err());
    }
}
