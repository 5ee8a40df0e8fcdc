//! Form posts → Actions. A form names its action by the public (serde) name in the `action`
//! field and carries the action's parameters as fields of the same names, so
//! `action=add_skills&agent=eng&skills=git` becomes `Op::AddSkills { agent, skills }` through
//! the same `Deserialize` the JSON API and scripts use. A few fields are the web's own:
//!
//! - `csrf`: the per-run form token (checked by the server);
//! - `row=N`: select the N-th row first (a picker row's "use" button);
//! - `then=NAME`: a parameterless action to apply after the first one (`activate`);
//! - `close=1`: close the overlay after success (the skill editor, the picker);
//! - `back=/path?query`: where to go afterwards (a local path only).

use serde_json::{Map, Value};

use crate::core::action::{Action, Intent};

/// Fields whose values are numbers.
const NUMBERS: &[&str] = &["delta", "index", "id"];
/// Fields that are lists (repeat the field for each item).
const LISTS: &[&str] = &["skills", "desired"];
/// Fields that are yes/no (a checkbox's `on`, or `1`/`true`).
const BOOLS: &[&str] = &["force"];
/// Optional text fields: empty means absent.
const OPTIONAL: &[&str] = &[
    "model", "provider", "base_url", "from", "role", "category", "agent",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub csrf: Option<String>,
    pub actions: Vec<Action>,
    pub close: bool,
    pub back: Option<String>,
}

/// Parses `application/x-www-form-urlencoded` pairs.
pub fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

pub fn decode(body: &[u8]) -> Result<Form, String> {
    decode_pairs(&pairs(body))
}

pub fn decode_pairs(pairs: &[(String, String)]) -> Result<Form, String> {
    let mut csrf = None;
    let mut name: Option<String> = None;
    let mut then = Vec::new();
    let mut row = None;
    let mut close = false;
    let mut back = None;
    let mut fields = Map::new();
    for (k, v) in pairs {
        match k.as_str() {
            "csrf" => csrf = Some(v.clone()),
            "action" => name = Some(v.clone()),
            "then" => then.push(v.clone()),
            "close" => close = v == "1" || v == "on" || v == "true",
            "back" => back = Some(v.clone()),
            "row" => {
                row = Some(
                    v.parse::<usize>()
                        .map_err(|_| format!("row must be a number, not {v:?}"))?,
                )
            }
            key if LISTS.contains(&key) => {
                let entry = fields
                    .entry(key.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = entry
                    && !v.is_empty()
                {
                    items.push(Value::String(v.clone()));
                }
            }
            key if NUMBERS.contains(&key) => {
                let n: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{key} must be a number, not {:?}", clip(v)))?;
                fields.insert(key.to_string(), Value::from(n));
            }
            key if BOOLS.contains(&key) => {
                fields.insert(
                    key.to_string(),
                    Value::Bool(matches!(v.as_str(), "1" | "on" | "true")),
                );
            }
            key if OPTIONAL.contains(&key) && v.is_empty() => {}
            key => {
                fields.insert(key.to_string(), Value::String(v.clone()));
            }
        }
    }
    let name = name.ok_or("the form names no action")?;
    let mut actions = Vec::new();
    if let Some(index) = row {
        actions.push(Intent::SelectRow { index }.into());
    }
    fields.insert("action".into(), Value::String(name.clone()));
    actions.push(parse(Value::Object(fields), &name)?);
    for t in then {
        let mut m = Map::new();
        m.insert("action".into(), Value::String(t.clone()));
        actions.push(parse(Value::Object(m), &t)?);
    }
    Ok(Form {
        csrf,
        actions,
        close,
        back: back.filter(|b| is_local(b)),
    })
}

fn parse(v: Value, name: &str) -> Result<Action, String> {
    serde_json::from_value::<Action>(v).map_err(|e| format!("bad {:?} action: {e}", clip(name)))
}

fn clip(s: &str) -> String {
    crate::core::text::clean_max(s, 60)
}

/// A redirect target on this server: a path, never another host (`//evil`, `\\evil`).
pub fn is_local(url: &str) -> bool {
    url.starts_with('/')
        && !url.starts_with("//")
        && !url.starts_with("/\\")
        && !url.chars().any(|c| c.is_control() || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::action::Op;
    use crate::core::view::Tab;

    fn p(s: &str) -> Result<Form, String> {
        decode(s.as_bytes())
    }

    #[test]
    fn fields_become_the_same_action_the_keys_send() {
        let f = p("csrf=t&action=add_skills&agent=eng&skills=git&skills=docs").expect("form");
        assert_eq!(f.csrf.as_deref(), Some("t"));
        assert_eq!(
            f.actions,
            vec![Action::from(Op::AddSkills {
                agent: "eng".into(),
                skills: vec!["git".into(), "docs".into()]
            })]
        );
        let f = p("action=switch_tab&tab=agents").expect("form");
        assert_eq!(
            f.actions,
            vec![Action::from(Intent::SwitchTab { tab: Tab::Agents })]
        );
        let f = p("action=mark_read&id=7").expect("form");
        assert_eq!(f.actions, vec![Action::from(Op::MarkRead { id: Some(7) })]);
        let f = p("action=set_slot&agent=a&slot=main&model=x%2Fy&provider=&base_url=").expect("f");
        assert_eq!(
            f.actions,
            vec![Action::from(Op::SetSlot {
                agent: "a".into(),
                slot: "main".into(),
                model: "x/y".into(),
                provider: None,
                base_url: None,
                force: false
            })]
        );
    }

    #[test]
    fn row_then_and_an_empty_list_are_understood() {
        let f = p("action=activate&row=3").expect("form");
        assert_eq!(
            f.actions,
            vec![
                Action::from(Intent::SelectRow { index: 3 }),
                Intent::Activate.into()
            ]
        );
        let f = p("action=set_wizard_name&name=scout&then=activate").expect("form");
        assert_eq!(
            f.actions,
            vec![
                Action::from(Intent::SetWizardName {
                    name: "scout".into()
                }),
                Intent::Activate.into()
            ]
        );
        let f = p("action=sync_skills&agent=a&desired=&close=1").expect("form");
        assert_eq!(
            f.actions,
            vec![Action::from(Op::SyncSkills {
                agent: "a".into(),
                desired: Some(vec![])
            })]
        );
        assert!(f.close);
    }

    #[test]
    fn bad_forms_are_refused_with_a_reason() {
        assert!(p("").is_err());
        assert!(p("action=no_such_thing").is_err());
        assert!(p("action=move_selection&delta=x").is_err());
        assert!(
            p("action=resize&width=1&height=1").is_err(),
            "internal actions"
        );
        assert!(p("action=add_skills").is_err(), "missing fields");
        assert!(
            p("action=scan_finished&job=1&text=done").is_err(),
            "a job's report is not an action"
        );
        // An op's own error names the field it lacks, not "unknown action".
        let e = p("action=set_model&agent=a").expect_err("missing model");
        assert!(e.contains("model"), "{e}");
        let e = p("action=no_such_thing").expect_err("unknown");
        assert!(e.contains("unknown action"), "{e}");
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert!(is_local("/agents/manage?agent=x"));
        assert!(!is_local("//evil.example/"));
        assert!(!is_local("https://evil.example/"));
        assert!(!is_local("/\\evil"));
        let f = p("action=refresh&back=%2F%2Fevil").expect("form");
        assert_eq!(f.back, None);
    }
}
