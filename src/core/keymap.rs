//! The one key table. It drives the TUI's input, the key-hint bar, the `?` help overlay and
//! the web mirror's buttons, so they cannot disagree.

use super::action::{Action, Intent, Op};
use super::picker::FilterKind;
use super::view::{Hint, Tab, WizardStep};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Global,
    Tab(Tab),
    CreateStep(WizardStep),
    Picker,
    SkillEditor,
    Help,
    /// The first-run setup wizard.
    Setup,
    /// Tab 3's bulk-upgrade confirmation.
    BulkUpgrade,
    /// Tab 3, the selected agent has a paid model worth paying for.
    PaidPick,
    /// Tab 3, the selected agent runs a paid model it can revert from.
    OnPaid,
    /// A yes/no question (one agent's upgrade, reverting every agent).
    Confirm,
}

pub struct Binding {
    /// Key names as the TUI reports them: "j", "down", "enter", "ctrl-f", "?".
    pub keys: &'static [&'static str],
    pub label: &'static str,
    pub context: Context,
    /// Shown in the key bar (the help overlay shows all).
    pub bar: bool,
    pub action: fn() -> Action,
}

macro_rules! b {
    ($ctx:expr, [$($k:literal),+], $label:literal, $bar:literal, $action:expr) => {
        Binding { keys: &[$($k),+], label: $label, context: $ctx, bar: $bar, action: || Action::from($action) }
    };
}

pub fn bindings() -> &'static [Binding] {
    static TABLE: std::sync::OnceLock<Vec<Binding>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        vec![
            b!(
                Context::Global,
                ["1"],
                "Hermes",
                false,
                Intent::SwitchTab { tab: Tab::Hermes }
            ),
            b!(
                Context::Global,
                ["2"],
                "Models",
                false,
                Intent::SwitchTab { tab: Tab::Models }
            ),
            b!(
                Context::Global,
                ["3"],
                "Agents",
                false,
                Intent::SwitchTab { tab: Tab::Agents }
            ),
            b!(
                Context::Global,
                ["4"],
                "Budget",
                false,
                Intent::SwitchTab { tab: Tab::Budget }
            ),
            b!(
                Context::Global,
                ["5"],
                "Create",
                false,
                Intent::SwitchTab { tab: Tab::Create }
            ),
            b!(
                Context::Global,
                ["6"],
                "Notifications",
                false,
                Intent::SwitchTab {
                    tab: Tab::Notifications
                }
            ),
            b!(
                Context::Global,
                ["tab", "l", "right"],
                "next tab",
                false,
                Intent::NextTab
            ),
            b!(
                Context::Global,
                ["backtab", "h", "left"],
                "previous tab",
                false,
                Intent::PrevTab
            ),
            b!(
                Context::Global,
                ["j", "down"],
                "down",
                false,
                Intent::MoveSelection { delta: 1 }
            ),
            b!(
                Context::Global,
                ["k", "up"],
                "up",
                false,
                Intent::MoveSelection { delta: -1 }
            ),
            b!(
                Context::Global,
                ["pgdn", "ctrl-d"],
                "page down",
                false,
                Intent::MoveSelection { delta: 10 }
            ),
            b!(
                Context::Global,
                ["pgup", "ctrl-u"],
                "page up",
                false,
                Intent::MoveSelection { delta: -10 }
            ),
            b!(
                Context::Global,
                ["g", "home"],
                "first",
                false,
                Intent::SelectRow { index: 0 }
            ),
            b!(
                Context::Global,
                ["G", "end"],
                "last",
                false,
                Intent::SelectRow { index: usize::MAX }
            ),
            b!(
                Context::Global,
                ["ctrl-r"],
                "reload",
                false,
                Intent::Refresh
            ),
            b!(Context::Global, ["?"], "help", true, Intent::ToggleHelp),
            b!(Context::Global, ["q", "ctrl-c"], "quit", true, Intent::Quit),
            // Tab 2
            b!(
                Context::Tab(Tab::Models),
                ["enter"],
                "pick model",
                true,
                Intent::OpenPicker
            ),
            b!(
                Context::Tab(Tab::Models),
                ["a"],
                "all slots",
                true,
                Intent::ToggleAllSlots
            ),
            b!(
                Context::Tab(Tab::Models),
                ["]"],
                "next agent",
                true,
                Intent::CycleAgent { delta: 1 }
            ),
            b!(
                Context::Tab(Tab::Models),
                ["["],
                "previous agent",
                false,
                Intent::CycleAgent { delta: -1 }
            ),
            b!(
                Context::Tab(Tab::Models),
                ["S"],
                "scan catalog",
                true,
                Op::ScanModels { from: None }
            ),
            b!(
                Context::Tab(Tab::Models),
                ["d", "del"],
                "remove fallback",
                false,
                Intent::RemoveSelectedSlot
            ),
            b!(
                Context::Tab(Tab::Models),
                ["u"],
                "set auto",
                true,
                Intent::AutoSelectedSlot
            ),
            // Tab 3
            b!(
                Context::Tab(Tab::Agents),
                ["enter", "u"],
                "apply recommendation",
                true,
                Op::ApplyRecommendation { agent: None }
            ),
            b!(
                Context::Tab(Tab::Agents),
                ["s"],
                "skills",
                true,
                Intent::OpenSkillEditor
            ),
            b!(
                Context::Tab(Tab::Agents),
                ["r"],
                "rescore",
                true,
                Op::Rescore
            ),
            b!(
                Context::PaidPick,
                ["p"],
                "paid upgrade",
                true,
                Intent::OpenUpgrade {
                    agent: None,
                    model: None
                }
            ),
            b!(
                Context::Tab(Tab::Agents),
                ["U"],
                "bulk upgrade",
                true,
                Intent::OpenBulkUpgrade
            ),
            b!(
                Context::OnPaid,
                ["v"],
                "revert to free",
                true,
                Op::RevertUpgrade { agent: None }
            ),
            b!(
                Context::Tab(Tab::Agents),
                ["V"],
                "revert every agent",
                false,
                Intent::OpenRevertAll
            ),
            // A yes/no question
            b!(
                Context::Confirm,
                ["enter", "y"],
                "yes",
                true,
                Intent::Activate
            ),
            b!(Context::Confirm, ["esc", "n"], "no", true, Intent::Cancel),
            // Bulk upgrade confirmation
            b!(
                Context::BulkUpgrade,
                ["enter"],
                "upgrade all",
                true,
                Op::UpgradeAll
            ),
            b!(
                Context::BulkUpgrade,
                ["esc"],
                "cancel",
                true,
                Intent::Cancel
            ),
            // First-run setup
            b!(
                Context::Setup,
                ["enter"],
                "start / continue",
                true,
                Intent::Activate
            ),
            b!(Context::Setup, ["q", "ctrl-c"], "quit", true, Intent::Quit),
            // Tab 5
            b!(
                Context::CreateStep(WizardStep::Category),
                ["enter"],
                "choose",
                true,
                Intent::Activate
            ),
            b!(
                Context::CreateStep(WizardStep::Model),
                ["enter"],
                "use this model",
                true,
                Intent::Activate
            ),
            b!(
                Context::CreateStep(WizardStep::Model),
                ["p"],
                "pick another",
                true,
                Intent::OpenPicker
            ),
            b!(
                Context::CreateStep(WizardStep::Model),
                ["esc"],
                "back",
                true,
                Intent::WizardBack
            ),
            b!(
                Context::CreateStep(WizardStep::Skills),
                ["space"],
                "toggle skill",
                true,
                Intent::ToggleSkill { name: None }
            ),
            b!(
                Context::CreateStep(WizardStep::Skills),
                ["enter"],
                "next",
                true,
                Intent::Activate
            ),
            b!(
                Context::CreateStep(WizardStep::Skills),
                ["esc"],
                "back",
                true,
                Intent::WizardBack
            ),
            b!(
                Context::CreateStep(WizardStep::Name),
                ["enter"],
                "next",
                true,
                Intent::Activate
            ),
            b!(
                Context::CreateStep(WizardStep::Name),
                ["esc"],
                "back",
                true,
                Intent::WizardBack
            ),
            b!(
                Context::CreateStep(WizardStep::Confirm),
                ["enter"],
                "create agent",
                true,
                Intent::Activate
            ),
            b!(
                Context::CreateStep(WizardStep::Confirm),
                ["esc"],
                "back",
                true,
                Intent::WizardBack
            ),
            // Tab 6
            b!(
                Context::Tab(Tab::Notifications),
                ["enter", "m"],
                "mark read",
                true,
                Op::MarkRead { id: None }
            ),
            b!(
                Context::Tab(Tab::Notifications),
                ["M"],
                "mark all read",
                true,
                Op::MarkAllRead
            ),
            // Tab 1
            b!(
                Context::Tab(Tab::Hermes),
                ["r"],
                "rescore",
                true,
                Op::Rescore
            ),
            // Picker
            b!(
                Context::Picker,
                ["enter"],
                "confirm",
                true,
                Intent::Activate
            ),
            b!(Context::Picker, ["esc"], "cancel", true, Intent::Cancel),
            b!(
                Context::Picker,
                ["down", "ctrl-n", "ctrl-j"],
                "down",
                false,
                Intent::MoveSelection { delta: 1 }
            ),
            b!(
                Context::Picker,
                ["up", "ctrl-p", "ctrl-k"],
                "up",
                false,
                Intent::MoveSelection { delta: -1 }
            ),
            b!(
                Context::Picker,
                ["pgdn"],
                "page down",
                false,
                Intent::MoveSelection { delta: 10 }
            ),
            b!(
                Context::Picker,
                ["pgup"],
                "page up",
                false,
                Intent::MoveSelection { delta: -10 }
            ),
            b!(
                Context::Picker,
                ["ctrl-f"],
                "free only",
                true,
                Intent::TogglePickerFilter {
                    filter: FilterKind::Free
                }
            ),
            b!(
                Context::Picker,
                ["ctrl-t"],
                "tools",
                true,
                Intent::TogglePickerFilter {
                    filter: FilterKind::Tools
                }
            ),
            b!(
                Context::Picker,
                ["ctrl-g"],
                "image input",
                false,
                Intent::TogglePickerFilter {
                    filter: FilterKind::Image
                }
            ),
            b!(
                Context::Picker,
                ["ctrl-x"],
                "min context: any, 32k, 65k, 131k, 262k",
                false,
                Intent::TogglePickerFilter {
                    filter: FilterKind::Context
                }
            ),
            b!(
                Context::Picker,
                ["ctrl-o"],
                "provider",
                true,
                Intent::TogglePickerFilter {
                    filter: FilterKind::Provider
                }
            ),
            // Skill editor
            b!(
                Context::SkillEditor,
                ["space"],
                "toggle",
                true,
                Intent::ToggleSkill { name: None }
            ),
            b!(
                Context::SkillEditor,
                ["enter"],
                "apply",
                true,
                Intent::Activate
            ),
            b!(
                Context::SkillEditor,
                ["esc"],
                "cancel",
                true,
                Intent::Cancel
            ),
            b!(
                Context::SkillEditor,
                ["j", "down"],
                "down",
                false,
                Intent::MoveSelection { delta: 1 }
            ),
            b!(
                Context::SkillEditor,
                ["k", "up"],
                "up",
                false,
                Intent::MoveSelection { delta: -1 }
            ),
            // Help
            b!(
                Context::Help,
                ["esc", "?", "q"],
                "close",
                true,
                Intent::ToggleHelp
            ),
        ]
    })
}

/// The action a key triggers in the given contexts (most specific first).
pub fn lookup(contexts: &[Context], key: &str) -> Option<Action> {
    contexts.iter().find_map(|ctx| {
        bindings()
            .iter()
            .find(|b| b.context == *ctx && b.keys.contains(&key))
            .map(|b| (b.action)())
    })
}

pub fn hint(b: &Binding) -> Hint {
    Hint {
        keys: b
            .keys
            .iter()
            .map(|k| match *k {
                // Key names as a person reads them, not as crossterm reports them.
                "backtab" => "shift-tab",
                "down" => "↓",
                "up" => "↑",
                "left" => "←",
                "right" => "→",
                other => other,
            })
            .collect::<Vec<_>>()
            .join("/"),
        label: b.label.to_string(),
        action: (b.action)().name(),
    }
}

/// Hints for the key bar in these contexts (most specific first), then the global ones.
pub fn bar(contexts: &[Context]) -> Vec<Hint> {
    let mut out = Vec::new();
    for ctx in contexts {
        for b in bindings().iter().filter(|b| b.context == *ctx && b.bar) {
            out.push(hint(b));
        }
    }
    out
}

/// Every binding of these contexts, for the help overlay.
pub fn all(ctx: Context) -> Vec<Hint> {
    bindings()
        .iter()
        .filter(|b| b.context == ctx)
        .map(hint)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        let mut seen = std::collections::HashSet::new();
        for b in bindings() {
            for k in b.keys {
                assert!(
                    seen.insert((format!("{:?}", b.context), *k)),
                    "{k} twice in {:?}",
                    b.context
                );
            }
        }
    }

    #[test]
    fn specific_contexts_win_over_global_ones() {
        let ctx = [Context::Tab(Tab::Agents), Context::Global];
        assert_eq!(lookup(&ctx, "r"), Some(Op::Rescore.into()));
        assert_eq!(
            lookup(&ctx, "j"),
            Some(Intent::MoveSelection { delta: 1 }.into())
        );
        assert_eq!(
            lookup(&ctx, "3"),
            Some(Intent::SwitchTab { tab: Tab::Agents }.into())
        );
        assert_eq!(
            lookup(&[Context::Picker], "ctrl-f"),
            Some(
                Intent::TogglePickerFilter {
                    filter: FilterKind::Free
                }
                .into()
            )
        );
        assert_eq!(
            lookup(&[Context::Picker], "q"),
            None,
            "letters type into the query"
        );
    }

    #[test]
    fn help_names_keys_as_people_do_and_says_what_min_context_cycles() {
        let global = all(Context::Global);
        assert!(global.iter().any(|h| h.keys.starts_with("shift-tab")));
        assert!(global.iter().all(|h| !h.keys.contains("backtab")));
        let ctx = all(Context::Picker)
            .into_iter()
            .find(|h| h.keys == "ctrl-x")
            .expect("ctrl-x");
        for step in super::super::picker::CONTEXT_STEPS {
            let word = if step == 0 {
                "any".to_string()
            } else {
                super::super::text::tokens(step)
            };
            assert!(ctx.label.contains(&word), "{} lacks {word}", ctx.label);
        }
    }

    #[test]
    fn hints_carry_the_public_action_name() {
        let h = bar(&[Context::Tab(Tab::Agents)]);
        assert!(h.iter().any(|h| h.action == "rescore" && h.keys == "r"));
    }
}
