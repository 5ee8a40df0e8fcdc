//! Tab 6, Notifications: the list (filtered by type), read one or all, apply what one
//! advises, auto-upgrade on or off, and which types go to Telegram.

use super::super::action::{Intent, Op};
use super::super::error::{CoreError, Result};
use super::super::notifications::{self as notes, Notification, State as NoteState};
use super::super::text;
use super::super::view::{NotificationRow, NotificationsView, TelegramToggleRow};
use super::{Ctx, Effect, Effects, step};

#[derive(Debug, Default)]
pub struct State {
    pub selected: usize,
    /// Only this type (`None`: every type).
    pub filter: Option<String>,
}

/// The notifications the filter lets through, newest first.
fn visible<'a>(state: &State, ctx: &'a Ctx) -> Vec<&'a Notification> {
    ctx.data
        .notifications
        .iter()
        .filter(|n| state.filter.as_deref().is_none_or(|k| n.kind == k))
        .collect()
}

fn selected<'a>(state: &State, ctx: &'a Ctx) -> Option<&'a Notification> {
    visible(state, ctx).get(state.selected).copied()
}

/// The router sends this tab's intents here (move, select, Enter, filter, the toggles).
pub fn update(state: &mut State, ctx: &Ctx, intent: &Intent) -> Result<Effects> {
    let n = visible(state, ctx).len();
    match intent {
        Intent::MoveSelection { delta } => state.selected = step(state.selected, n, *delta),
        Intent::SelectRow { index } => state.selected = super::pick(*index, n),
        Intent::Activate => {
            if let Some(note) = selected(state, ctx) {
                return Ok(vec![Effect::Apply(Op::MarkRead { id: Some(note.id) })]);
            }
        }
        Intent::FilterNotifications { kind } => {
            state.filter = match kind.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(k) => Some(notes::parse_type(k)?.to_string()),
            };
            state.selected = 0;
        }
        Intent::CycleNotificationFilter => {
            let next = match state.filter.as_deref() {
                None => notes::TYPES.first().copied(),
                Some(k) => notes::TYPES
                    .iter()
                    .position(|t| *t == k)
                    .and_then(|i| notes::TYPES.get(i + 1))
                    .copied(),
            };
            state.filter = next.map(str::to_string);
            state.selected = 0;
        }
        Intent::ToggleAutoUpgrade => {
            return Ok(vec![Effect::Apply(Op::SetAutoUpgrade {
                on: !ctx.data.auto_upgrade,
            })]);
        }
        Intent::ToggleTelegramForSelected => {
            let note =
                selected(state, ctx).ok_or_else(|| CoreError::usage("no notification selected"))?;
            let on = ctx
                .data
                .forwarding
                .toggles
                .iter()
                .find(|t| t.kind == note.kind)
                .map(|t| !t.enabled)
                .ok_or_else(|| {
                    CoreError::usage(format!(
                        "{} notifications cannot be forwarded",
                        text::clean(&note.kind)
                    ))
                })?;
            return Ok(vec![Effect::Apply(Op::SetTelegramForwarding {
                kind: note.kind.clone(),
                on,
            })]);
        }
        _ => {}
    }
    Ok(Vec::new())
}

fn selected_id(state: &State, ctx: &Ctx, id: Option<i64>) -> Result<i64> {
    match id {
        Some(id) => Ok(id),
        None => selected(state, ctx)
            .map(|n| n.id)
            .ok_or_else(|| CoreError::usage("no notification selected")),
    }
}

/// `mark_read` with no id reads the selected notification.
pub fn mark_read(state: &State, ctx: &Ctx, id: Option<i64>) -> Result<Effects> {
    let id = selected_id(state, ctx, id)?;
    Ok(vec![Effect::Apply(Op::MarkRead { id: Some(id) })])
}

/// `apply_notification` with no id applies the selected notification.
pub fn apply(state: &State, ctx: &Ctx, id: Option<i64>) -> Result<Effects> {
    let id = selected_id(state, ctx, id)?;
    Ok(vec![Effect::Apply(Op::ApplyNotification { id: Some(id) })])
}

fn state_word(n: &Notification) -> &'static str {
    match n.state {
        NoteState::Active => "active",
        NoteState::Obsolete => "withdrawn",
        NoteState::Applied => "applied",
    }
}

pub fn view(state: &State, ctx: &Ctx) -> NotificationsView {
    let rows: Vec<NotificationRow> = visible(state, ctx)
        .into_iter()
        .map(|n| NotificationRow {
            id: n.id,
            kind: n.kind.clone(),
            title: text::clean(&n.title),
            body: text::clean_max(&n.body, 600),
            created_at: n
                .created_at
                .get(..16)
                .unwrap_or(&n.created_at)
                .replace('T', " "),
            read: n.read,
            state: state_word(n).into(),
            actionable: n.actionable,
            forwarded: n.forwarded_at.is_some(),
        })
        .collect();
    let f = &ctx.data.forwarding;
    let empty = match (&state.filter, ctx.data.notifications.is_empty()) {
        (_, true) => Some("No notifications. A scan that finds a better free model for an agent, or a model going away, adds one here.".to_string()),
        (Some(k), false) if rows.is_empty() => Some(format!("No {k} notifications (f shows another type).")),
        _ => None,
    };
    NotificationsView {
        empty,
        rows,
        selected: state.selected,
        unread: ctx.data.unread,
        filter: state.filter.clone(),
        types: notes::TYPES.iter().map(|t| t.to_string()).collect(),
        auto_upgrade: ctx.data.auto_upgrade,
        telegram: f
            .toggles
            .iter()
            .map(|t| TelegramToggleRow {
                kind: t.kind.to_string(),
                enabled: t.enabled,
                urgent: t.urgent,
            })
            .collect(),
        telegram_chat: f.chat_id.as_ref().map(|c| {
            let c = text::clean(c);
            match &f.thread_id {
                Some(t) => format!("{c} (topic {})", text::clean(t)),
                None => c,
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{ctx, data};
    use super::*;

    fn note(id: i64, kind: &str) -> Notification {
        Notification {
            id,
            kind: kind.into(),
            title: format!("t{id}"),
            body: String::new(),
            payload: serde_json::json!({}),
            created_at: "2026-12-01T00:00:00.000000Z".into(),
            read: false,
            state: NoteState::Active,
            actionable: true,
            forwarded_at: None,
        }
    }

    #[test]
    fn reading_the_selected_notification_with_none_selected_is_refused_and_asks_nothing() {
        let d = data(Vec::new());
        let c = ctx(&d);
        let s = State::default();
        assert!(mark_read(&s, &c, None).is_err());
        assert!(apply(&s, &c, None).is_err());
        let fx = update(&mut State::default(), &c, &Intent::Activate).unwrap_or_default();
        assert!(fx.is_empty());
        let named = mark_read(&s, &c, Some(7)).unwrap_or_default();
        assert!(matches!(
            named.as_slice(),
            [Effect::Apply(Op::MarkRead { id: Some(7) })]
        ));
    }

    #[test]
    fn the_filter_picks_which_row_is_selected_and_applied() {
        let mut d = data(Vec::new());
        d.notifications = vec![
            note(3, "model_gone"),
            note(2, "better_model"),
            note(1, "model_gone"),
        ];
        let c = ctx(&d);
        let mut s = State::default();
        update(
            &mut s,
            &c,
            &Intent::FilterNotifications {
                kind: Some("better_model".into()),
            },
        )
        .expect("filter");
        assert!(matches!(
            apply(&s, &c, None).unwrap_or_default().as_slice(),
            [Effect::Apply(Op::ApplyNotification { id: Some(2) })]
        ));
        assert_eq!(view(&s, &c).rows.len(), 1);
        // An unknown type is refused and the filter stays.
        assert!(
            update(
                &mut s,
                &c,
                &Intent::FilterNotifications {
                    kind: Some("nope".into())
                }
            )
            .is_err()
        );
        assert_eq!(s.filter.as_deref(), Some("better_model"));
        // Cycling goes through every type and back to all.
        let mut seen = Vec::new();
        let mut s = State::default();
        for _ in 0..=notes::TYPES.len() {
            update(&mut s, &c, &Intent::CycleNotificationFilter).expect("cycle");
            seen.push(s.filter.clone());
        }
        assert_eq!(seen.last(), Some(&None));
        assert_eq!(seen.len(), notes::TYPES.len() + 1);
    }

    #[test]
    fn the_toggles_flip_what_the_database_says_now() {
        let mut d = data(Vec::new());
        d.notifications = vec![note(1, "model_gone")];
        d.auto_upgrade = true;
        d.forwarding.toggles = vec![crate::core::telegram::Toggle {
            kind: "model_gone",
            enabled: true,
            urgent: true,
        }];
        let c = ctx(&d);
        let mut s = State::default();
        assert!(matches!(
            update(&mut s, &c, &Intent::ToggleAutoUpgrade)
                .unwrap_or_default()
                .as_slice(),
            [Effect::Apply(Op::SetAutoUpgrade { on: false })]
        ));
        assert!(matches!(
            update(&mut s, &c, &Intent::ToggleTelegramForSelected).unwrap_or_default().as_slice(),
            [Effect::Apply(Op::SetTelegramForwarding { kind, on: false })] if kind == "model_gone"
        ));
    }
}
