//! Tab 6, Notifications: the list, read one or all.

use super::super::action::{Intent, Op};
use super::super::error::{CoreError, Result};
use super::super::text;
use super::super::view::{NotificationRow, NotificationsView};
use super::{Ctx, Effect, Effects, step};

#[derive(Debug, Default)]
pub struct State {
    pub selected: usize,
}

/// The router sends this tab's row intents here (move, select, Enter).
pub fn update(state: &mut State, ctx: &Ctx, intent: &Intent) -> Effects {
    let n = ctx.data.notifications.len();
    match intent {
        Intent::MoveSelection { delta } => state.selected = step(state.selected, n, *delta),
        Intent::SelectRow { index } => state.selected = super::pick(*index, n),
        Intent::Activate => {
            if let Some(note) = ctx.data.notifications.get(state.selected) {
                return vec![Effect::Apply(Op::MarkRead { id: Some(note.id) })];
            }
        }
        _ => {}
    }
    Vec::new()
}

/// `mark_read` with no id reads the selected notification.
pub fn mark_read(state: &State, ctx: &Ctx, id: Option<i64>) -> Result<Effects> {
    let id = match id {
        Some(id) => id,
        None => ctx
            .data
            .notifications
            .get(state.selected)
            .map(|n| n.id)
            .ok_or_else(|| CoreError::usage("no notification selected"))?,
    };
    Ok(vec![Effect::Apply(Op::MarkRead { id: Some(id) })])
}

pub fn view(state: &State, ctx: &Ctx) -> NotificationsView {
    let rows: Vec<NotificationRow> = ctx
        .data
        .notifications
        .iter()
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
        })
        .collect();
    NotificationsView {
        empty: rows.is_empty().then(|| "No notifications. A rescore that finds a better free model for an agent adds one here.".to_string()),
        rows,
        selected: state.selected,
        unread: ctx.data.unread,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{ctx, data};
    use super::*;

    #[test]
    fn reading_the_selected_notification_with_none_selected_is_refused_and_asks_nothing() {
        let d = data(Vec::new());
        let c = ctx(&d);
        let s = State::default();
        assert!(mark_read(&s, &c, None).is_err());
        assert!(update(&mut State::default(), &c, &Intent::Activate).is_empty());
        let named = mark_read(&s, &c, Some(7)).unwrap_or_default();
        assert!(matches!(
            named.as_slice(),
            [Effect::Apply(Op::MarkRead { id: Some(7) })]
        ));
    }
}
