//! The view model: one plain, serialisable struct per screen, built by [`super::session`].
//! The TUI draws it with ratatui, the web mirror renders it as HTML, the CLI prints it.
//! Structs carry meaning (rows, selection, matches, errors, hints), never styles.

use serde::{Deserialize, Serialize};

use super::agents::Advice;
use super::models::Breakdown;
use super::onboarding::{AgentSummary, Limits, SetupStep};
use super::picker::{Filters, PickerRow};
use super::routing::SlotKey;
use super::scoring::{Fallback, Role};
use super::skills::{SkillOrigin, SkillState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tab {
    Hermes,
    Models,
    Agents,
    Budget,
    Create,
    Notifications,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Hermes,
        Tab::Models,
        Tab::Agents,
        Tab::Budget,
        Tab::Create,
        Tab::Notifications,
    ];

    pub fn number(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0) + 1
    }

    pub fn title(self) -> &'static str {
        match self {
            Tab::Hermes => "Hermes",
            Tab::Models => "Models",
            Tab::Agents => "Agents",
            Tab::Budget => "Budget",
            Tab::Create => "Create",
            Tab::Notifications => "Notifications",
        }
    }

    /// The web mirror's page for this tab.
    pub fn path(self) -> &'static str {
        match self {
            Tab::Hermes => "/hermes",
            Tab::Models => "/models/switch",
            Tab::Agents => "/agents/manage",
            Tab::Budget => "/budget",
            Tab::Create => "/agents/new",
            Tab::Notifications => "/notifications",
        }
    }

    pub fn next(self) -> Tab {
        Tab::ALL[self.number() % Tab::ALL.len()]
    }

    pub fn prev(self) -> Tab {
        Tab::ALL[(self.number() + Tab::ALL.len() - 2) % Tab::ALL.len()]
    }
}

/// Semantic roles; each renderer maps them to its own styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Meaning {
    Normal,
    Muted,
    Accent,
    Success,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Screen {
    pub tab: Tab,
    pub tabs: Vec<TabTitle>,
    pub status: Status,
    pub banner: Option<Banner>,
    /// The free-tier warning, from 70 % of today's limit (absent below, so screens keep
    /// their height).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<super::budget::Warning>,
    pub body: Body,
    pub overlay: Option<Overlay>,
    /// The key bar: what can be done here, in the TUI as keys and on the web as buttons.
    pub hints: Vec<Hint>,
    /// First run: the setup wizard covers the whole screen until it is finished.
    pub setup: Option<SetupView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TabTitle {
    pub tab: Tab,
    pub number: usize,
    pub title: String,
    pub path: String,
    pub badge: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub workspace: String,
    /// "catalog 2026-05-01 (bundled) · 371 models, 33 free"
    pub catalog: String,
    /// "209d old"
    pub catalog_age: String,
    pub catalog_stale: bool,
    pub last_error: Option<String>,
    pub web_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Banner {
    pub meaning: Meaning,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hint {
    /// "j/↓" as the TUI shows it.
    pub keys: String,
    pub label: String,
    /// The action's public (serde) name, for web buttons and scripts.
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "screen", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum Body {
    Hermes(HermesView),
    Models(ModelsView),
    Agents(AgentsView),
    Budget(BudgetView),
    Create(CreateView),
    Notifications(NotificationsView),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "overlay", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum Overlay {
    Help(HelpView),
    Picker(PickerView),
    Skills(SkillEditorView),
}

// ---- Tab 1: Hermes ----

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HermesView {
    pub hermes_home: String,
    pub rows: Vec<ProfileRow>,
    pub selected: usize,
    /// The installed hermes-agent (as recorded at setup) and whether nxr was checked
    /// against it.
    pub hermes_version: String,
    pub hermes_version_meaning: Meaning,
    /// How to watch a gateway (`tmux attach -t nxr-<agent>`), said plainly.
    pub processes_note: String,
    pub empty: Option<String>,
    /// The local Ollama: reachable, version, models, the slots routed to it.
    pub ollama: OllamaCardView,
}

/// One agent's gateway process as Tab 1 and `/hermes` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayCell {
    /// running | starting | stopped | crashed (the `state` of `nxr hermes status`).
    pub state: String,
    /// "running", "starting (back-off)", "crashed".
    pub label: String,
    pub meaning: Meaning,
    pub pid: Option<i32>,
    pub uptime: Option<String>,
    pub platforms: Vec<String>,
    pub viewers: u32,
    /// "3s ago", from the gateway's last state-file write.
    pub heartbeat: Option<String>,
    pub watch: bool,
    pub gave_up: bool,
    /// Why it is in this state ("killed by signal 9").
    pub detail: Option<String>,
    /// Start is what makes sense (stopped or crashed); else Stop and Restart.
    pub can_start: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaCardView {
    pub url: String,
    /// "reachable, version 0.12.6, 2 models" / "not reachable" / "checking".
    pub summary: String,
    pub meaning: Meaning,
    pub models: Vec<String>,
    /// "pm aux:vision → qwen3:8b", one per slot routed to it.
    pub routes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileRow {
    pub agent: String,
    pub profile: String,
    pub dir: String,
    pub role: Role,
    pub model: String,
    pub config_present: bool,
    pub skills: usize,
    pub gateway: GatewayCell,
}

// ---- Tab 2: Models (routing slots) ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    Main,
    Auxiliary,
    Fallback,
    /// The "add a fallback" row.
    NewFallback,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotRow {
    /// The slot (as text, "main", "aux:vision", "fallback:0", "fallback:new": what a
    /// `set_slot` names).
    pub key: SlotKey,
    pub label: String,
    pub kind: SlotKind,
    pub provider: String,
    pub model: String,
    pub base_url: Option<String>,
    /// Hermes chooses (provider `auto`, no model).
    pub auto: bool,
    /// What the slot's model needs ("needs image input"), for the slots that need more
    /// than the main model's basics.
    pub needs: Option<String>,
    /// Why this slot's resolution could reach a paid model (an `auto` slot included).
    pub paid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelsView {
    pub agents: Vec<String>,
    pub agent: Option<String>,
    pub role: Option<Role>,
    pub config_path: Option<String>,
    pub slots: Vec<SlotRow>,
    pub selected: usize,
    pub show_all: bool,
    pub error: Option<String>,
    pub empty: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceCard {
    pub model: String,
    pub name: String,
    pub prompt: String,
    pub completion: String,
    pub context: u64,
    pub score: Option<f64>,
    pub free: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub current: Option<PriceCard>,
    pub candidate: PriceCard,
    /// "same price", "+$2.50/M in, +$10.00/M out", "free instead of $3.00/M in"
    pub verdict: String,
    /// Candidate score minus current score for the agent's role.
    pub score_delta: Option<f64>,
    /// The candidate's benchmark for the role, or "no benchmark data".
    pub evidence: Option<String>,
}

/// One agent's routing slot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotTarget {
    pub agent: String,
    pub slot: SlotKey,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PickerView {
    pub title: String,
    /// What confirming writes: "pm · aux:vision", "new agent".
    pub target: String,
    /// The agent and slot it writes, when it writes a slot (the new agent's picker writes
    /// none).
    pub slot: Option<SlotTarget>,
    pub role: Role,
    pub query: String,
    pub filters: Filters,
    pub rows: Vec<PickerRow>,
    /// Index of the highlighted row within `rows`.
    pub selected: Option<usize>,
    /// Position of the first row among all matches.
    pub offset: usize,
    pub matched: usize,
    pub total: usize,
    pub comparison: Option<Comparison>,
    /// What the slot needs from its model ("vision needs image input").
    pub needs: Option<String>,
    /// Paid models can be written (a key whose account can pay is stored).
    pub can_pay: bool,
    /// Why the highlighted model should not or cannot be written, said before Enter.
    pub warning: Option<String>,
}

// ---- Tab 3: Agents ----

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRow {
    pub name: String,
    pub role: Role,
    pub model: String,
    pub score: Option<f64>,
    /// The catalog no longer lists the agent's model.
    pub model_gone: bool,
    /// The best free model for the role (or its fallback): always a free one.
    pub best_free: String,
    pub best_free_score: Option<f64>,
    /// The one recommendation (the paid pick only with a key that can pay).
    pub recommended: String,
    pub recommended_score: Option<f64>,
    pub fallback: Option<Fallback>,
    pub advice: Advice,
    pub upgrade_available: bool,
    pub skills: usize,
    pub profile: String,
    /// The agent runs a free model.
    pub free: bool,
    /// The paid model recommended for its role (the key upgrade).
    pub paid: Option<PaidChoice>,
    /// The free model a revert returns to.
    pub last_free: Option<String>,
    /// Why the recommended model: its benchmark for the role, or "no benchmark data".
    pub evidence: Option<String>,
    /// How long ago nxr saw its last call ("5m"), the heartbeat; `None` before any.
    pub last_call_ago: Option<String>,
    /// What it spent today (UTC), in dollars.
    pub cost_today_usd: f64,
    /// The failed share of its calls in the last 24 hours, 0 to 1.
    pub error_rate_24h: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaidChoice {
    pub model: String,
    pub prompt: String,
    pub completion: String,
    pub score: Option<f64>,
    /// Score gain over the current model for the agent's role.
    pub gain: Option<f64>,
}

/// The bulk upgrade's confirmation: every agent's current model beside its paid pick.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkUpgradeView {
    pub rows: Vec<BulkRow>,
    pub key_configured: bool,
    /// Why the stored key cannot pay (no key, unchecked, no credits), when it cannot.
    pub cannot_pay: Option<String>,
    /// The stored key's balance and limit, when checked.
    pub account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkRow {
    pub agent: String,
    pub role: Role,
    pub current: String,
    pub current_prompt: String,
    pub current_completion: String,
    pub recommended: Option<PaidChoice>,
    /// No paid model beats the free pick by enough.
    pub stay_on_free: bool,
    /// Why there is no paid pick ("stay on free: ...").
    pub note: Option<String>,
}

/// A yes/no question on Tab 3 (one agent's paid upgrade, reverting every agent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfirmView {
    pub title: String,
    /// What will happen, one line each (models, prices, the balance).
    pub lines: Vec<String>,
    /// The public name of the action "yes" runs.
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillRow {
    pub name: String,
    pub state: SkillState,
    pub origin: Option<SkillOrigin>,
    pub desired: bool,
    pub managed: bool,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentsView {
    pub rows: Vec<AgentRow>,
    pub selected: usize,
    /// Skills of the selected agent (the ones it has or that are on disk).
    pub skills: Vec<SkillRow>,
    pub skills_error: Option<String>,
    pub empty: Option<String>,
    /// An OpenRouter key is stored (paid models can be used).
    pub key_configured: bool,
    /// The bulk-upgrade confirmation, when open.
    pub bulk: Option<BulkUpgradeView>,
    /// A question waiting for yes or no.
    pub confirm: Option<ConfirmView>,
    /// The stored key's account: balance and limit, when checked.
    pub account: Option<String>,
    /// The stored key's account can pay for paid models.
    pub can_pay: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillChoice {
    pub name: String,
    pub description: String,
    pub checked: bool,
    /// Part of the starting template (or the agent's current set).
    pub suggested: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillEditorView {
    pub agent: String,
    pub choices: Vec<SkillChoice>,
    pub selected: usize,
}

// ---- Tab 4: Budget ----

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetView {
    /// Today's free-tier count, projection, per-agent table, rate-limit log and gate.
    pub budget: super::budget::Budget,
    /// How many agents share the account's limits.
    pub agents: usize,
    /// The tables exported as CSV (`/budget/<table>.csv`, `nxr budget --csv TABLE`).
    pub csv_tables: Vec<String>,
    /// Said when the usage could not be read.
    pub note: Option<String>,
}

// ---- Tab 5: Create ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WizardStep {
    Category,
    Model,
    Skills,
    Name,
    Confirm,
}

impl WizardStep {
    pub const ALL: [WizardStep; 5] = [
        WizardStep::Category,
        WizardStep::Model,
        WizardStep::Skills,
        WizardStep::Name,
        WizardStep::Confirm,
    ];

    pub fn title(self) -> &'static str {
        match self {
            WizardStep::Category => "Category",
            WizardStep::Model => "Model",
            WizardStep::Skills => "Skills",
            WizardStep::Name => "Name",
            WizardStep::Confirm => "Confirm",
        }
    }

    pub fn next(self) -> WizardStep {
        let i = WizardStep::ALL.iter().position(|s| *s == self).unwrap_or(0);
        WizardStep::ALL[(i + 1).min(4)]
    }

    pub fn prev(self) -> WizardStep {
        let i = WizardStep::ALL.iter().position(|s| *s == self).unwrap_or(0);
        WizardStep::ALL[i.saturating_sub(1)]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepTitle {
    pub step: WizardStep,
    pub title: String,
    pub current: bool,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryRow {
    pub key: String,
    pub label: String,
    pub role: Role,
    pub skills: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelChoice {
    pub model: String,
    pub name: String,
    pub score: Option<f64>,
    pub fallback: Option<Fallback>,
    pub chosen_by_hand: bool,
    pub breakdown: Option<Breakdown>,
    pub prompt: String,
    pub completion: String,
    pub context: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateView {
    pub step: WizardStep,
    pub steps: Vec<StepTitle>,
    pub categories: Vec<CategoryRow>,
    pub category: usize,
    pub role: Role,
    pub model: Option<ModelChoice>,
    pub skills: Vec<SkillChoice>,
    pub skill_selected: usize,
    pub name: String,
    pub name_error: Option<String>,
    /// The command line that would create the same agent.
    pub equivalent_cli: String,
}

// ---- Tab 6: Notifications ----

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationRow {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
    pub read: bool,
    /// active, withdrawn (a later scan made it false) or applied.
    pub state: String,
    /// It carries an op that `apply` runs.
    pub actionable: bool,
    /// Sent to Telegram.
    pub forwarded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TelegramToggleRow {
    pub kind: String,
    pub enabled: bool,
    pub urgent: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationsView {
    pub rows: Vec<NotificationRow>,
    pub selected: usize,
    pub unread: i64,
    pub empty: Option<String>,
    /// The type shown (`None`: every type).
    pub filter: Option<String>,
    /// Every type, for the filter.
    pub types: Vec<String>,
    pub auto_upgrade: bool,
    pub telegram: Vec<TelegramToggleRow>,
    /// Where Telegram messages go; `None`: no token and chat found.
    pub telegram_chat: Option<String>,
}

// ---- Help ----

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HelpSection {
    pub title: String,
    pub hints: Vec<Hint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HelpView {
    pub sections: Vec<HelpSection>,
}

// ---- First run: setup ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetupStepRow {
    pub step: SetupStep,
    pub number: usize,
    pub title: String,
    pub state: StepState,
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetupView {
    pub intro: String,
    pub steps: Vec<SetupStepRow>,
    pub started: bool,
    pub running: bool,
    pub done: bool,
    /// An earlier run had finished: nothing was created.
    pub already_done: bool,
    pub error: Option<String>,
    pub agents: Vec<AgentSummary>,
    pub limits: Limits,
    /// The stored key, masked.
    pub key: Option<String>,
    /// The key being typed before the start, as stars (never the key itself); `None` when
    /// the field is not on screen.
    pub key_field: Option<String>,
}
