//! Keys and mouse → Actions. A key becomes a name ("j", "down", "ctrl-f", "G", "space") and
//! the one key table in core decides what it does where. While the session takes text (the
//! picker's query, the wizard's name) typed characters edit that text instead.

use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui_textarea::{CursorMove, TextArea};

use super::{Hit, Ui};
use crate::core::action::{Action, Intent};
use crate::core::keymap;
use crate::core::session::Session;

/// The name the key table uses for a key press, or `None` for keys nxr does not bind.
pub fn key_name(k: &KeyEvent) -> Option<String> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let alt = k.modifiers.contains(KeyModifiers::ALT);
    let base = match k.code {
        KeyCode::Char(' ') => "space".to_string(),
        KeyCode::Char(c) if ctrl => c.to_ascii_lowercase().to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "enter".into(),
        KeyCode::Esc => "esc".into(),
        KeyCode::Tab if k.modifiers.contains(KeyModifiers::SHIFT) => "backtab".into(),
        KeyCode::Tab => "tab".into(),
        KeyCode::BackTab => "backtab".into(),
        KeyCode::Backspace => "backspace".into(),
        KeyCode::Delete => "del".into(),
        KeyCode::Insert => "ins".into(),
        KeyCode::Up => "up".into(),
        KeyCode::Down => "down".into(),
        KeyCode::Left => "left".into(),
        KeyCode::Right => "right".into(),
        KeyCode::PageUp => "pgup".into(),
        KeyCode::PageDown => "pgdn".into(),
        KeyCode::Home => "home".into(),
        KeyCode::End => "end".into(),
        KeyCode::F(n) => format!("f{n}"),
        KeyCode::Null
        | KeyCode::CapsLock
        | KeyCode::ScrollLock
        | KeyCode::NumLock
        | KeyCode::PrintScreen
        | KeyCode::Pause
        | KeyCode::Menu
        | KeyCode::KeypadBegin
        | KeyCode::Media(_)
        | KeyCode::Modifier(_) => return None,
    };
    Some(match (ctrl, alt) {
        (true, true) => format!("ctrl-alt-{base}"),
        (true, false) => format!("ctrl-{base}"),
        (false, true) => format!("alt-{base}"),
        (false, false) => base,
    })
}

/// A fresh single-line editor holding `text`, cursor at the end.
pub fn name_field(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![text.to_string()]);
    t.move_cursor(CursorMove::End);
    t.set_cursor_line_style(ratatui::style::Style::new());
    t.set_placeholder_text("lowercase letters, digits, - and _");
    t
}

/// The field's text (one line).
pub fn field_text(t: &TextArea<'_>) -> String {
    t.lines().concat()
}

/// Makes the name field hold the session's name (another surface may have changed it).
pub fn sync_name_field(ui: &mut Ui, name: &str) {
    if field_text(&ui.name_field) != name {
        ui.name_field = name_field(name);
    }
}

fn printable(k: &KeyEvent) -> Option<char> {
    let mods = k.modifiers - KeyModifiers::SHIFT;
    match k.code {
        KeyCode::Char(c) if mods.is_empty() && !c.is_control() => Some(c),
        _ => None,
    }
}

/// What a key press asks for, given what the session shows now.
pub fn key_actions(session: &Session, ui: &mut Ui, k: KeyEvent) -> Vec<Action> {
    let Some(name) = key_name(&k) else {
        return Vec::new();
    };
    if let Some(text) = session.entry_text() {
        if session.picker_open() {
            if let Some(query) = edit_query(text, &k) {
                return vec![Intent::SetPickerQuery { query }.into()];
            }
        } else if is_field_key(&k) {
            sync_name_field(ui, text);
            ui.name_field.input(k);
            let name = field_text(&ui.name_field);
            return vec![Intent::SetWizardName { name }.into()];
        }
    }
    keymap::lookup(&session.contexts(), &name)
        .into_iter()
        .collect()
}

/// The picker's query after a text-editing key, or `None` when the key is not one.
fn edit_query(query: &str, k: &KeyEvent) -> Option<String> {
    if let Some(c) = printable(k) {
        let mut q = query.to_string();
        q.push(c);
        return Some(q);
    }
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Backspace if ctrl => Some(drop_word(query)),
        KeyCode::Backspace => {
            let mut q = query.to_string();
            q.pop();
            Some(q)
        }
        KeyCode::Char('w') | KeyCode::Char('h') if ctrl => Some(if k.code == KeyCode::Char('w') {
            drop_word(query)
        } else {
            let mut q = query.to_string();
            q.pop();
            q
        }),
        KeyCode::Char('u') if ctrl => Some(String::new()),
        _ => None,
    }
}

fn drop_word(q: &str) -> String {
    let t = q.trim_end();
    match t.rfind(' ') {
        Some(i) => t[..=i].to_string(),
        None => String::new(),
    }
}

/// Keys the name field edits with (the rest go to the key table: enter, esc, tab ...).
fn is_field_key(k: &KeyEvent) -> bool {
    if printable(k).is_some() {
        return true;
    }
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Backspace
        | KeyCode::Delete
        | KeyCode::Left
        | KeyCode::Right
        | KeyCode::Home
        | KeyCode::End => true,
        KeyCode::Char('w' | 'h' | 'u' | 'k' | 'a' | 'e' | 'b' | 'f') => ctrl,
        _ => false,
    }
}

/// Pasted text goes into the field that takes text, one line of it.
pub fn paste_actions(session: &Session, ui: &mut Ui, text: &str) -> Vec<Action> {
    let Some(current) = session.entry_text() else {
        return Vec::new();
    };
    let line: String = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if session.picker_open() {
        return vec![
            Intent::SetPickerQuery {
                query: format!("{current}{line}"),
            }
            .into(),
        ];
    }
    sync_name_field(ui, current);
    ui.name_field.insert_str(&line);
    vec![
        Intent::SetWizardName {
            name: field_text(&ui.name_field),
        }
        .into(),
    ]
}

/// Clicks and the wheel, through the areas the last frame recorded.
pub fn mouse_actions(session: &Session, ui: &Ui, m: MouseEvent) -> Vec<Action> {
    match m.kind {
        MouseEventKind::ScrollDown => vec![Intent::MoveSelection { delta: 1 }.into()],
        MouseEventKind::ScrollUp => vec![Intent::MoveSelection { delta: -1 }.into()],
        MouseEventKind::Down(MouseButton::Left) => match ui.hit_at(m.column, m.row) {
            None => Vec::new(),
            Some(Hit::Tab(tab)) => vec![Intent::SwitchTab { tab: *tab }.into()],
            Some(Hit::Row { index, selected }) => {
                if *selected {
                    vec![Intent::Activate.into()]
                } else {
                    vec![Intent::SelectRow { index: *index }.into()]
                }
            }
            Some(Hit::Toggle { index, name }) => vec![
                Intent::SelectRow { index: *index }.into(),
                Intent::ToggleSkill {
                    name: Some(name.clone()),
                }
                .into(),
            ],
            Some(Hit::Agent(agent)) => vec![
                Intent::SelectAgent {
                    agent: agent.clone(),
                }
                .into(),
            ],
            Some(Hit::Key(key)) => keymap::lookup(&session.contexts(), key)
                .into_iter()
                .collect(),
            Some(Hit::Back(n)) => (0..*n).map(|_| Intent::WizardBack.into()).collect(),
        },
        MouseEventKind::Down(_)
        | MouseEventKind::Up(_)
        | MouseEventKind::Drag(_)
        | MouseEventKind::Moved
        | MouseEventKind::ScrollLeft
        | MouseEventKind::ScrollRight => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEventState;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent {
            code,
            modifiers: mods,
            kind: ratatui::crossterm::event::KeyEventKind::Press,
            state: KeyEventState::NONE,
        }
    }

    #[test]
    fn keys_get_the_names_the_key_table_uses() {
        let n = |c, m| key_name(&key(c, m)).unwrap_or_default();
        assert_eq!(n(KeyCode::Char('j'), KeyModifiers::NONE), "j");
        assert_eq!(n(KeyCode::Char('G'), KeyModifiers::SHIFT), "G");
        assert_eq!(n(KeyCode::Char('?'), KeyModifiers::SHIFT), "?");
        assert_eq!(n(KeyCode::Char(' '), KeyModifiers::NONE), "space");
        assert_eq!(n(KeyCode::Char('f'), KeyModifiers::CONTROL), "ctrl-f");
        assert_eq!(n(KeyCode::Char('F'), KeyModifiers::CONTROL), "ctrl-f");
        assert_eq!(n(KeyCode::Down, KeyModifiers::NONE), "down");
        assert_eq!(n(KeyCode::PageDown, KeyModifiers::NONE), "pgdn");
        assert_eq!(n(KeyCode::BackTab, KeyModifiers::SHIFT), "backtab");
        assert_eq!(n(KeyCode::Tab, KeyModifiers::SHIFT), "backtab");
        assert_eq!(n(KeyCode::Delete, KeyModifiers::NONE), "del");
        assert_eq!(n(KeyCode::Char('['), KeyModifiers::NONE), "[");
        assert_eq!(n(KeyCode::Esc, KeyModifiers::NONE), "esc");
    }

    #[test]
    fn query_editing() {
        let k = |c| key(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(edit_query("ge", &k('m')), Some("gem".into()));
        assert_eq!(
            edit_query("gem", &key(KeyCode::Backspace, KeyModifiers::NONE)),
            Some("ge".into())
        );
        assert_eq!(
            edit_query(
                "qwen coder",
                &key(KeyCode::Char('w'), KeyModifiers::CONTROL)
            ),
            Some("qwen ".into())
        );
        assert_eq!(
            edit_query("x", &key(KeyCode::Char('u'), KeyModifiers::CONTROL)),
            Some(String::new())
        );
        assert_eq!(
            edit_query("x", &key(KeyCode::Char('f'), KeyModifiers::CONTROL)),
            None
        );
        assert_eq!(
            edit_query("x", &key(KeyCode::Enter, KeyModifiers::NONE)),
            None
        );
    }
}
