//! A session is one person's view of the workspace: the selected tab, rows, the open picker
//! or wizard, the banner. It turns screen intents into workspace changes, keeps a cache of
//! what the database holds (refreshed when another process changes it), and builds the
//! [`Screen`] every renderer draws. The TUI keeps one for its lifetime; the web mirror keeps
//! one per browser page.

use std::sync::Arc;
use std::time::SystemTime;

use jiff::Timestamp;

use super::action::{self, Action, Outcome};
use super::agents::{self, Agent, Recommendation};
use super::catalog::{self, Catalog, CatalogInfo};
use super::error::{CoreError, Result};
use super::hermes::{self, OPENROUTER, Profile};
use super::keymap::{self, Context};
use super::models;
use super::notifications::{self, Notification};
use super::onboarding::{self, Flow, InitOptions, Onboarding, SetupStep};
use super::picker::{Filters, Fit, Picker};
use super::routing::{self, Needs, SlotKey, Slots};
use super::runtime::{self, JobKind, JobState, Runtime};
use super::scoring::{Pick, Role, Scorer};
use super::secrets;
use super::skills::{self, SkillSnapshot, SkillState, Template};
use super::text;
use super::upgrade::{self, UpgradeRow};
use super::view::*;
use super::{Core, time};

/// Rows of the screen around the picker's list in the TUI: tab bar, key bar and status
/// line (3), the overlay's borders (2), query and filters (2), the column header (1) and
/// the price comparison (4). With a banner the TUI drops the comparison's rule instead.
pub const PICKER_CHROME: u16 = 12;

/// How long a message stays in the banner. The status line keeps the last error longer (until
/// a later success).
pub const BANNER_SECONDS: i64 = 15;

/// Said by every surface, so it names no key: the TUI and the web both have a Create tab.
const NO_AGENTS: &str = "No agents yet: create one on the Create tab.";

struct Data {
    mark: i64,
    agents: Vec<Agent>,
    catalog: Arc<Catalog>,
    catalog_info: CatalogInfo,
    recs: Vec<Recommendation>,
    notifications: Vec<Notification>,
    unread: i64,
    slots: Option<(
        String,
        Option<SystemTime>,
        std::result::Result<Slots, String>,
    )>,
    skills: Option<(String, std::result::Result<SkillSnapshot, String>)>,
    plan: Vec<UpgradeRow>,
    key_configured: bool,
    payer: secrets::Payer,
    /// The hermes-agent version the onboarding recorded.
    hermes_version: Option<String>,
}

/// A Tab 3 question waiting for yes (Enter) or no (Esc).
#[derive(Clone)]
enum Confirm {
    Upgrade { agent: String, model: String },
    RevertAll,
}

/// The first-run setup wizard: the onboarding flow advanced one step at a time.
struct SetupState {
    onboarding: Onboarding,
    started: bool,
    error: Option<String>,
}

enum OverlayState {
    Help,
    Picker(Box<PickerState>),
    Skills(SkillEditor),
}

struct PickerState {
    picker: Picker,
    target: PickTarget,
    /// The current model's price card, worked out once per picker (scoring one model
    /// needs a scorer over the whole catalog; the candidates carry their scores already).
    current_card: Option<Option<PriceCard>>,
    /// The model the person was warned about (it lacks what the slot needs): a second
    /// Enter on it writes it anyway.
    warned: Option<String>,
}

#[derive(Clone, PartialEq)]
enum PickTarget {
    Slot {
        agent: String,
        slot: String,
        current: String,
    },
    Wizard,
}

struct SkillEditor {
    agent: String,
    choices: Vec<SkillChoice>,
    selected: usize,
}

struct Wizard {
    step: WizardStep,
    category: usize,
    /// The model and whether a person chose it (rather than the scorer).
    model: Option<(Pick, bool)>,
    skills: Vec<SkillChoice>,
    skills_for: Option<Template>,
    skill_selected: usize,
    name: String,
}

impl Wizard {
    fn new() -> Wizard {
        Wizard {
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
pub fn wizard_categories() -> Vec<Template> {
    let mut v = Template::CATEGORIES.to_vec();
    v.extend([Template::Pm, Template::Engineer, Template::Hermes]);
    v
}

pub struct Session {
    core: Core,
    tab: Tab,
    data: Data,
    hermes_selected: usize,
    models_agent: Option<String>,
    slot_selected: usize,
    show_all_slots: bool,
    agents_selected: usize,
    notes_selected: usize,
    wizard: Wizard,
    overlay: Option<OverlayState>,
    banner: Option<Banner>,
    /// When the banner's message was said (it fades).
    banner_at: Option<Timestamp>,
    last_error: Option<String>,
    width: u16,
    height: u16,
    notify: Arc<dyn Fn() + Sync + Send>,
    clock: Option<Timestamp>,
    setup: Option<SetupState>,
    bulk_open: bool,
    confirm: Option<Confirm>,
    pub quit: bool,
    pub web_url: Option<String>,
    /// Where slow work runs off the input loop; without one (tests, one-shot callers) a
    /// scan runs inline.
    runtime: Option<Runtime>,
    /// The catalog scan this session started or follows, until it ends.
    scan_job: Option<i64>,
}

impl Session {
    pub async fn new(core: Core) -> Result<Session> {
        let catalog = Arc::new(core.catalog().await?);
        let mut s = Session {
            data: Data {
                mark: -1,
                agents: Vec::new(),
                catalog_info: info_of(&catalog),
                catalog,
                recs: Vec::new(),
                notifications: Vec::new(),
                unread: 0,
                slots: None,
                skills: None,
                plan: Vec::new(),
                key_configured: false,
                payer: secrets::Payer::NoKey,
                hermes_version: None,
            },
            core,
            tab: Tab::Hermes,
            hermes_selected: 0,
            models_agent: None,
            slot_selected: 0,
            show_all_slots: false,
            agents_selected: 0,
            notes_selected: 0,
            wizard: Wizard::new(),
            overlay: None,
            banner: None,
            banner_at: None,
            last_error: None,
            width: 80,
            height: 24,
            notify: Arc::new(|| {}),
            clock: None,
            setup: None,
            bulk_open: false,
            confirm: None,
            quit: false,
            web_url: None,
            runtime: None,
            scan_job: None,
        };
        s.refresh(true).await?;
        Ok(s)
    }

    /// Called when background work (the picker's matcher) has news for the next frame.
    pub fn set_notify(&mut self, notify: Arc<dyn Fn() + Sync + Send>) {
        self.notify = notify;
    }

    /// Runs this session's slow work (the catalog scan) as jobs of `runtime`.
    pub fn set_runtime(&mut self, runtime: Runtime) {
        self.runtime = Some(runtime);
    }

    /// The catalog scan this session is following, if one runs.
    pub fn scan_job(&self) -> Option<i64> {
        self.scan_job
    }

    /// Freezes "now" (for snapshot tests).
    pub fn set_clock(&mut self, now: Timestamp) {
        self.clock = Some(now);
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    pub fn tab(&self) -> Tab {
        self.tab
    }

    pub fn size(&self) -> (u16, u16) {
        (self.width, self.height)
    }

    fn now(&self) -> Timestamp {
        self.clock.unwrap_or_else(Timestamp::now)
    }

    /// Reloads what changed since the last look (another process may have written), and
    /// re-reads the shown agent's config.yaml when its file changed. Returns true when the
    /// screen needs a redraw.
    pub async fn poll(&mut self) -> bool {
        let faded = self.fade_banner();
        let changed = match self.refresh(false).await {
            Ok(changed) => changed,
            Err(e) => {
                self.fail(e);
                true
            }
        };
        let followed = self.follow_job().await;
        faded || changed || followed
    }

    /// Reads the followed scan's row in the job registry and applies its end as the event the
    /// runtime would send: a session in another process (or one that missed the event, like
    /// a web page's) learns how the scan ended from the database.
    async fn follow_job(&mut self) -> bool {
        let Some(id) = self.scan_job else {
            return false;
        };
        let job = match runtime::job(&self.core.db, id).await {
            Ok(Some(j)) => j,
            Ok(None) => {
                self.scan_job = None;
                return false;
            }
            Err(e) => {
                self.fail(e);
                return true;
            }
        };
        let event = match job.state {
            JobState::Finished => Action::ScanFinished {
                job: id,
                text: job.progress,
            },
            JobState::Failed => Action::JobFailed {
                job: id,
                kind: JobKind::Scan,
                error: job.error.unwrap_or_else(|| "the scan failed".into()),
            },
            JobState::Queued | JobState::Running => return false,
        };
        self.apply(event).await;
        true
    }

    /// Starts a catalog scan on the runtime (or runs it here when there is none).
    async fn start_scan(&mut self) -> Result<()> {
        let Some(rt) = self.runtime.clone() else {
            return self.domain(Action::ScanModels { from: None }).await;
        };
        let job = rt.start(JobKind::Scan).await?;
        self.scan_job = Some(job);
        self.say(
            Meaning::Accent,
            format!("scanning the catalog (job {job}); keys stay live"),
        );
        Ok(())
    }

    async fn refresh(&mut self, force: bool) -> Result<bool> {
        let conn = self.core.db.conn().await?;
        let mark = super::db::change_mark(&conn).await?;
        let mut changed = false;
        if force || mark != self.data.mark {
            self.data.mark = mark;
            self.data.agents = agents::list(&conn).await?;
            let info = catalog::latest_info(&conn).await?;
            if info.id != self.data.catalog_info.id
                || info.id.is_none() && self.data.catalog.models.is_empty()
            {
                self.data.catalog = Arc::new(self.core.catalog().await?);
            }
            self.data.catalog_info = info;
            let ollama = self.core.ollama_model().await?;
            self.data.payer = secrets::payer(&self.core).await?;
            self.data.recs = agents::recommend_with(
                &self.data.agents,
                &self.data.catalog,
                &ollama,
                self.data.payer.can_pay(),
            );
            self.data.notifications = notifications::list(&conn, 200).await?;
            self.data.unread = notifications::unread(&conn).await?;
            self.data.skills = None;
            self.data.slots = None;
            self.data.plan = upgrade::plan(&self.core).await?;
            self.data.key_configured = secrets::openrouter_key(&self.core).is_some();
            self.data.hermes_version = super::hermes_version::recorded(&self.core).await?;
            self.clamp();
            changed = true;
        }
        changed |= self.load_slots(false);
        Ok(changed)
    }

    fn models_agent(&self) -> Option<&Agent> {
        match &self.models_agent {
            Some(name) => self.data.agents.iter().find(|a| &a.name == name),
            None => self.data.agents.first(),
        }
    }

    /// Paid models can be written: the one fact every picker marks paid rows by, the same
    /// account state the write guard (`agents::ensure_payable`) checks again at the write.
    fn can_pay(&self) -> bool {
        self.data.payer.can_pay()
    }

    fn profile_of(&self, a: &Agent) -> Profile {
        Profile::resolve(&self.core.paths.hermes_home, &a.profile)
    }

    /// Loads the Models tab's agent's slots when missing or when config.yaml changed on disk.
    fn load_slots(&mut self, force: bool) -> bool {
        let Some(agent) = self.models_agent().cloned() else {
            let had = self.data.slots.is_some();
            self.data.slots = None;
            return had;
        };
        let profile = self.profile_of(&agent);
        let mtime = std::fs::metadata(profile.config_path())
            .and_then(|m| m.modified())
            .ok();
        if !force
            && let Some((name, stamp, _)) = &self.data.slots
            && *name == agent.name
            && *stamp == mtime
        {
            return false;
        }
        let slots = routing::read(&agent.name, &profile).map_err(|e| e.to_string());
        self.data.slots = Some((agent.name.clone(), mtime, slots));
        let n = self.slot_rows().len();
        self.slot_selected = self.slot_selected.min(n.saturating_sub(1));
        true
    }

    fn selected_agent(&self) -> Option<&Agent> {
        self.data.agents.get(self.agents_selected)
    }

    fn agent_skills(&mut self) -> Option<std::result::Result<SkillSnapshot, String>> {
        let agent = self.selected_agent()?.clone();
        if let Some((name, snap)) = &self.data.skills
            && *name == agent.name
        {
            return Some(snap.clone());
        }
        let profile = self.profile_of(&agent);
        let snap = hermes::ConfigDoc::load(&profile.config_path())
            .and_then(|c| skills::snapshot(&profile, &c, &agent.skillset))
            .map_err(|e| e.to_string());
        self.data.skills = Some((agent.name.clone(), snap.clone()));
        Some(snap)
    }

    fn slot_rows(&self) -> Vec<SlotRow> {
        match &self.data.slots {
            Some((_, _, Ok(slots))) => {
                routing::rows(slots, self.show_all_slots, &self.data.catalog)
            }
            _ => Vec::new(),
        }
    }

    fn clamp(&mut self) {
        let n = self.data.agents.len();
        self.hermes_selected = self.hermes_selected.min(n.saturating_sub(1));
        self.agents_selected = self.agents_selected.min(n.saturating_sub(1));
        self.notes_selected = self
            .notes_selected
            .min(self.data.notifications.len().saturating_sub(1));
        if let Some(name) = &self.models_agent
            && !self.data.agents.iter().any(|a| &a.name == name)
        {
            self.models_agent = None;
        }
    }

    fn fail(&mut self, e: CoreError) {
        let text = e.to_string();
        tracing::warn!(error = %text, "action failed");
        self.say(Meaning::Error, text.clone());
        self.last_error = Some(text);
    }

    fn switch_tab(&mut self, tab: Tab) {
        self.overlay = None;
        self.confirm = None;
        self.tab = tab;
    }

    /// Shows a message in the banner; it fades after [`BANNER_SECONDS`].
    fn say(&mut self, meaning: Meaning, text: String) {
        self.banner = Some(Banner { meaning, text });
        self.banner_at = Some(self.now());
    }

    /// Drops a banner older than [`BANNER_SECONDS`]; true when one went.
    fn fade_banner(&mut self) -> bool {
        let old = self
            .banner_at
            .is_some_and(|at| self.now().as_second() - at.as_second() >= BANNER_SECONDS);
        if old && self.banner.is_some() {
            self.banner = None;
            return true;
        }
        false
    }

    /// Withdraws an error that no longer holds (the name it was about changed): from the
    /// banner, and from the status line when it is the last error.
    fn clear_error_banner(&mut self) {
        if let Some(b) = self.banner.take_if(|b| b.meaning == Meaning::Error)
            && self.last_error.as_deref() == Some(b.text.as_str())
        {
            self.last_error = None;
        }
    }

    fn ok(&mut self, text: impl Into<String>) {
        // A later success supersedes the last error.
        self.last_error = None;
        self.say(Meaning::Success, text.into());
    }

    /// The contexts that decide what keys do, most specific first.
    pub fn contexts(&self) -> Vec<Context> {
        if self.setup.is_some() {
            return vec![Context::Setup];
        }
        if self.bulk_open && self.tab == Tab::Agents && self.overlay.is_none() {
            return vec![Context::BulkUpgrade, Context::Global];
        }
        if self.confirm.is_some() && self.tab == Tab::Agents && self.overlay.is_none() {
            return vec![Context::Confirm, Context::Global];
        }
        match &self.overlay {
            Some(OverlayState::Help) => return vec![Context::Help],
            Some(OverlayState::Picker(_)) => return vec![Context::Picker],
            Some(OverlayState::Skills(_)) => return vec![Context::SkillEditor],
            None => {}
        }
        let mut v = Vec::new();
        if self.tab == Tab::Create {
            v.push(Context::CreateStep(self.wizard.step));
        }
        if self.tab == Tab::Agents {
            v.extend(self.agent_contexts());
        }
        v.push(Context::Tab(self.tab));
        v.push(Context::Global);
        v
    }

    /// The keys that apply to the selected agent: `p` when it has a paid pick the stored key
    /// can pay for, `v` when it runs a paid model with a free one to go back to.
    fn agent_contexts(&self) -> Vec<Context> {
        let mut v = Vec::new();
        let Some(a) = self.selected_agent() else {
            return v;
        };
        if let Some(p) = self.data.plan.iter().find(|p| p.agent == a.name) {
            if p.recommended.is_some() && self.data.payer.can_pay() {
                v.push(Context::PaidPick);
            }
            if !p.current.free && p.last_free.is_some() {
                v.push(Context::OnPaid);
            }
        }
        v
    }

    /// True while typed characters are text (picker query, the wizard's name field).
    pub fn text_entry(&self) -> bool {
        matches!(self.overlay, Some(OverlayState::Picker(_)))
            || (self.overlay.is_none()
                && self.tab == Tab::Create
                && self.wizard.step == WizardStep::Name)
    }

    /// The text typed characters edit now (the picker's query or the wizard's name), so an
    /// input layer can send the whole new text without building a screen per key.
    pub fn entry_text(&self) -> Option<&str> {
        match &self.overlay {
            Some(OverlayState::Picker(p)) => Some(p.picker.query()),
            None if self.tab == Tab::Create && self.wizard.step == WizardStep::Name => {
                Some(&self.wizard.name)
            }
            _ => None,
        }
    }

    pub fn picker_open(&self) -> bool {
        matches!(self.overlay, Some(OverlayState::Picker(_)))
    }

    /// Shows the first-run setup wizard (the TUI does this when no onboarding finished;
    /// the web's `/setup` page always can).
    pub fn begin_setup(&mut self, flow: Flow) {
        if self.setup.is_none() {
            self.setup = Some(SetupState {
                onboarding: Onboarding::new(flow, InitOptions::default()),
                started: false,
                error: None,
            });
        }
    }

    /// True while the setup wizard is on screen.
    pub fn in_setup(&self) -> bool {
        self.setup.is_some()
    }

    /// True while setup steps remain to run: call [`Session::advance`] again.
    pub fn busy(&self) -> bool {
        self.setup
            .as_ref()
            .is_some_and(|s| s.started && s.error.is_none() && !s.onboarding.done())
    }

    /// Runs the next setup step; true when something changed on screen.
    pub async fn advance(&mut self) -> bool {
        if !self.busy() {
            return false;
        }
        let core = self.core.clone();
        let Some(state) = self.setup.as_mut() else {
            return false;
        };
        if let Err(e) = state.onboarding.step(&core).await {
            state.error = Some(e.to_string());
            self.fail(e);
            return true;
        }
        if !self.busy() {
            let _ = self.refresh(true).await;
        }
        true
    }

    /// Lets the picker's matcher run for up to `ms`; true when its results changed.
    pub fn tick(&mut self, ms: u64) -> bool {
        match &mut self.overlay {
            Some(OverlayState::Picker(p)) => p.picker.tick(ms),
            _ => false,
        }
    }

    /// Runs the picker's matcher to completion (web pages render whole results).
    pub fn settle(&mut self) {
        if let Some(OverlayState::Picker(p)) = &mut self.overlay {
            p.picker.settle();
        }
    }

    /// Applies any action. Failures become the banner; the session never stops on them.
    pub async fn apply(&mut self, action: Action) {
        if let Err(e) = self.apply_inner(action).await {
            self.fail(e);
        }
    }

    /// Applies an action and reports failure to the caller too (the web answers with it).
    pub async fn try_apply(&mut self, action: Action) -> Result<()> {
        match self.apply_inner(action).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.fail(CoreError::Conflict(e.to_string()));
                Err(e)
            }
        }
    }

    async fn apply_inner(&mut self, action: Action) -> Result<()> {
        match action {
            Action::SwitchTab { tab } => self.switch_tab(tab),
            Action::NextTab => self.switch_tab(self.tab.next()),
            Action::PrevTab => self.switch_tab(self.tab.prev()),
            Action::MoveSelection { delta } => self.move_selection(delta),
            Action::SelectRow { index } => self.select_row(index),
            Action::ToggleHelp => {
                self.overlay = match self.overlay {
                    Some(OverlayState::Help) => None,
                    _ => Some(OverlayState::Help),
                };
            }
            Action::Quit => self.quit = true,
            Action::Cancel if self.bulk_open && self.overlay.is_none() => self.bulk_open = false,
            Action::Cancel if self.confirm.is_some() && self.overlay.is_none() => {
                self.confirm = None;
                self.ok("nothing changed");
            }
            Action::Cancel => match self.overlay.take() {
                Some(_) => {}
                None if self.tab == Tab::Create => self.wizard_back(),
                None => self.banner = None,
            },
            Action::Refresh => {
                self.refresh(true).await?;
                self.load_slots(true);
                self.ok("reloaded");
            }
            Action::Resize { width, height } => {
                self.width = width;
                self.height = height;
            }
            Action::ToggleAllSlots => {
                self.show_all_slots = !self.show_all_slots;
                self.slot_selected = self
                    .slot_selected
                    .min(self.slot_rows().len().saturating_sub(1));
            }
            Action::SelectAgent { agent } => {
                let a = self
                    .data
                    .agents
                    .iter()
                    .position(|a| a.name == agent)
                    .ok_or_else(|| CoreError::NotFound {
                        what: "agent",
                        name: text::clean(&agent),
                    })?;
                self.models_agent = Some(agent);
                self.agents_selected = a;
                self.load_slots(true);
            }
            Action::CycleAgent { delta } => {
                let n = self.data.agents.len();
                if n > 0 {
                    let cur = self
                        .models_agent()
                        .and_then(|a| self.data.agents.iter().position(|b| b.name == a.name))
                        .unwrap_or(0);
                    let next = (cur as i64 + delta).rem_euclid(n as i64) as usize;
                    self.models_agent = Some(self.data.agents[next].name.clone());
                    self.load_slots(true);
                }
            }
            Action::RemoveSelectedSlot => {
                let rows = self.slot_rows();
                let row = rows
                    .get(self.slot_selected)
                    .ok_or_else(|| CoreError::usage("no slot selected"))?;
                let Some(i) = row
                    .key
                    .strip_prefix("fallback:")
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    return Err(CoreError::usage(
                        "only fallback entries can be removed (show all slots to see them)",
                    ));
                };
                let agent = self
                    .models_agent()
                    .map(|a| a.name.clone())
                    .unwrap_or_default();
                self.domain(Action::RemoveFallback { agent, index: i })
                    .await?;
            }
            Action::AutoSelectedSlot => {
                let rows = self.slot_rows();
                let row = rows
                    .get(self.slot_selected)
                    .ok_or_else(|| CoreError::usage("no slot selected"))?;
                let agent = self
                    .models_agent()
                    .map(|a| a.name.clone())
                    .ok_or_else(|| CoreError::usage("create an agent first, on the Create tab"))?;
                let action = Action::SetSlot {
                    agent,
                    slot: row.key.clone(),
                    model: routing::AUTO.into(),
                    provider: None,
                    base_url: None,
                    force: false,
                };
                self.domain(action).await?;
            }
            Action::OpenPicker => self.open_picker()?,
            Action::SetPickerQuery { query } => {
                if let Some(OverlayState::Picker(p)) = &mut self.overlay {
                    let q: String = query
                        .chars()
                        .filter(|c| !c.is_control() && !text::is_bidi_control(*c))
                        .take(200)
                        .collect();
                    p.picker.set_query(&q);
                }
            }
            Action::TogglePickerFilter { filter } => {
                if let Some(OverlayState::Picker(p)) = &mut self.overlay {
                    p.picker.toggle(filter);
                }
            }
            Action::SetPickerFilters { filters } => {
                if let Some(OverlayState::Picker(p)) = &mut self.overlay {
                    p.picker.set_filters(filters);
                }
            }
            Action::OpenSkillEditor => {
                let agent = self
                    .selected_agent()
                    .cloned()
                    .ok_or_else(|| CoreError::usage("no agent selected"))?;
                let snap = match self.agent_skills() {
                    Some(Ok(s)) => s,
                    Some(Err(e)) => return Err(CoreError::Conflict(e)),
                    None => return Err(CoreError::usage("no agent selected")),
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
                self.overlay = Some(OverlayState::Skills(SkillEditor {
                    agent: agent.name,
                    choices,
                    selected: 0,
                }));
            }
            Action::ToggleSkill { name } => self.toggle_skill(name),
            Action::ChooseCategory { category } => {
                let cats = wizard_categories();
                self.wizard.category = cats.iter().position(|c| *c == category).unwrap_or(0);
                self.tab = Tab::Create;
                self.wizard_enter(WizardStep::Model).await?;
            }
            Action::SetWizardName { name } => {
                self.wizard.name = name.chars().filter(|c| !c.is_control()).take(64).collect();
                // An error about the old name is not about this one: the page checks the
                // new name itself (`name_error`).
                self.clear_error_banner();
            }
            Action::WizardBack => self.wizard_back(),
            Action::Activate => self.activate().await?,
            Action::StartSetup { key } => {
                let state = self.setup.get_or_insert_with(|| SetupState {
                    onboarding: Onboarding::new(Flow::Tui, InitOptions::default()),
                    started: false,
                    error: None,
                });
                if !state.started || state.error.is_some() {
                    let flow = state.onboarding.flow();
                    let key = key.filter(|k| !k.trim().is_empty());
                    state.onboarding = Onboarding::new(
                        flow,
                        InitOptions {
                            key,
                            fetch_timeout: None,
                        },
                    );
                    state.started = true;
                    state.error = None;
                }
            }
            Action::FinishSetup => {
                if self.busy() {
                    return Err(CoreError::usage("setup is still running"));
                }
                self.setup = None;
                self.tab = Tab::Hermes;
                self.refresh(true).await?;
            }
            Action::OpenBulkUpgrade => {
                self.tab = Tab::Agents;
                self.confirm = None;
                self.bulk_open = true;
            }
            Action::OpenUpgrade { agent, model } => {
                let a = match &agent {
                    Some(name) => self
                        .data
                        .agents
                        .iter()
                        .find(|a| &a.name == name)
                        .ok_or_else(|| CoreError::NotFound {
                            what: "agent",
                            name: text::clean(name),
                        })?,
                    None => self
                        .selected_agent()
                        .ok_or_else(|| CoreError::usage("no agent selected"))?,
                };
                let model = match model {
                    // A model of the person's choosing: known to the catalog, as the write
                    // will require, so the question can show its price.
                    Some(m) => {
                        self.data
                            .catalog
                            .get(&m)
                            .map(|c| c.id.clone())
                            .ok_or_else(|| {
                                CoreError::usage(format!(
                                    "model {:?} is not in the catalog",
                                    text::clean_max(&m, 100)
                                ))
                            })?
                    }
                    None => {
                        let row = self
                            .data
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
                let paid = self.data.catalog.get(&model).is_some_and(|m| !m.is_free());
                if paid && let Some(why) = self.data.payer.refusal(&model) {
                    return Err(CoreError::usage(why));
                }
                let confirm = Confirm::Upgrade {
                    agent: a.name.clone(),
                    model,
                };
                // The question replaces whatever was open (the web's "choose a model" picker).
                self.tab = Tab::Agents;
                self.overlay = None;
                self.bulk_open = false;
                self.confirm = Some(confirm);
            }
            Action::OpenRevertAll => {
                if !self.data.plan.iter().any(|p| !p.current.free) {
                    self.ok("every agent is already on a free model");
                } else {
                    self.tab = Tab::Agents;
                    self.bulk_open = false;
                    self.confirm = Some(Confirm::RevertAll);
                }
            }
            Action::RevertUpgrade { agent } => {
                let agent = match agent {
                    Some(a) => a,
                    None => self
                        .selected_agent()
                        .map(|a| a.name.clone())
                        .ok_or_else(|| CoreError::usage("no agent selected"))?,
                };
                self.confirm = None;
                self.domain(Action::RevertUpgrade { agent: Some(agent) })
                    .await?;
            }
            Action::RevertAll => {
                self.confirm = None;
                self.domain(Action::RevertAll).await?;
            }
            Action::UpgradeAgent { agent, model } => {
                let agent = match agent {
                    Some(a) => a,
                    None => self
                        .selected_agent()
                        .map(|a| a.name.clone())
                        .ok_or_else(|| CoreError::usage("no agent selected"))?,
                };
                self.domain(Action::UpgradeAgent {
                    agent: Some(agent),
                    model,
                })
                .await?;
            }
            Action::UpgradeAll => {
                self.bulk_open = false;
                self.domain(Action::UpgradeAll).await?;
            }
            Action::ApplyRecommendation { agent } => {
                let agent = match agent {
                    Some(a) => a,
                    None => self
                        .selected_agent()
                        .map(|a| a.name.clone())
                        .ok_or_else(|| CoreError::usage("no agent selected"))?,
                };
                self.domain(Action::ApplyRecommendation { agent: Some(agent) })
                    .await?;
            }
            Action::MarkRead { id } => {
                let id = match id {
                    Some(id) => Some(id),
                    None => Some(
                        self.data
                            .notifications
                            .get(self.notes_selected)
                            .map(|n| n.id)
                            .ok_or_else(|| CoreError::usage("no notification selected"))?,
                    ),
                };
                self.domain(Action::MarkRead { id }).await?;
            }
            Action::ScanModels { from: None } => self.start_scan().await?,
            Action::ScanStarted { job } => {
                // A scan another surface of this process started: follow it too.
                if self.scan_job.is_none() {
                    self.scan_job = Some(job);
                    self.say(Meaning::Accent, format!("scanning the catalog (job {job})"));
                }
            }
            Action::ScanProgress { job, text } => {
                if self.scan_job == Some(job) {
                    self.say(
                        Meaning::Accent,
                        format!("scanning the catalog (job {job}): {}", text::clean(&text)),
                    );
                }
            }
            Action::ScanFinished { job, text } => {
                if self.scan_job == Some(job) {
                    self.scan_job = None;
                    self.refresh(true).await?;
                    self.load_slots(true);
                    self.ok(text::clean(&text));
                }
            }
            Action::JobFailed { job, error, .. } => {
                if self.scan_job == Some(job) {
                    self.scan_job = None;
                    return Err(CoreError::Conflict(text::clean(&error)));
                }
            }
            other @ (Action::ScanModels { .. }
            | Action::Rescore
            | Action::CreateAgent { .. }
            | Action::AddSkills { .. }
            | Action::RemoveSkills { .. }
            | Action::SyncSkills { .. }
            | Action::SetModel { .. }
            | Action::SetSlot { .. }
            | Action::RemoveFallback { .. }
            | Action::MarkAllRead
            | Action::SetOpenrouterKey { .. }) => self.domain(other).await?,
        }
        Ok(())
    }

    /// Runs a workspace change, reports it in the banner and reloads.
    async fn domain(&mut self, action: Action) -> Result<()> {
        let outcome = action::apply(&self.core, action).await?;
        let msg = match &outcome {
            Outcome::Scanned(r) => format!(
                "catalog stored: {} models, {} free",
                r.catalog.model_count, r.catalog.free_count
            ),
            Outcome::Rescored(r) => {
                if r.changed.is_empty() {
                    format!(
                        "rescored {} models; no recommendation changed",
                        r.rescore.models
                    )
                } else {
                    format!(
                        "rescored; {} agent(s) have a better free model",
                        r.changed.len()
                    )
                }
            }
            Outcome::Created(c) => text::clean(&c.summary()),
            Outcome::Skills(s) => format!("skills synced: {} wanted", s.desired_skills.len()),
            Outcome::ModelSet(a) => format!("{} now runs {}", a.name, text::clean(&a.model)),
            Outcome::Routing(s) => format!("wrote {}", text::clean(&s.config_path)),
            Outcome::Marked { count } => format!("marked {count} read"),
            Outcome::KeyStored { key } => format!("stored OpenRouter key {key} for every agent"),
            Outcome::Upgraded { agents } => match agents.as_slice() {
                [] => "no agent had a paid recommendation".to_string(),
                [a] => format!("{} now runs {}", a.name, text::clean(&a.model)),
                many => format!(
                    "upgraded {} agents to paid models (the Agents tab reverts them)",
                    many.len()
                ),
            },
            Outcome::Reverted { agents } => match agents.as_slice() {
                [] => "every agent is already on a free model".to_string(),
                many => format!("{} agent(s) back on their last free model", many.len()),
            },
        };
        if let Outcome::Created(c) = &outcome {
            let name = c.agent.name.clone();
            self.refresh(true).await?;
            if let Some(i) = self.data.agents.iter().position(|a| a.name == name) {
                self.agents_selected = i;
            }
            self.tab = Tab::Agents;
            self.wizard = Wizard::new();
        } else {
            self.refresh(true).await?;
        }
        self.load_slots(true);
        self.ok(msg);
        Ok(())
    }

    fn move_selection(&mut self, delta: i64) {
        let step = |cur: usize, n: usize| -> usize {
            if n == 0 {
                0
            } else {
                (cur as i64 + delta).clamp(0, n as i64 - 1) as usize
            }
        };
        match &mut self.overlay {
            Some(OverlayState::Picker(p)) => {
                p.picker.move_cursor(delta);
                return;
            }
            Some(OverlayState::Skills(e)) => {
                e.selected = step(e.selected, e.choices.len());
                return;
            }
            Some(OverlayState::Help) => return,
            None => {}
        }
        match self.tab {
            Tab::Hermes => {
                self.hermes_selected = step(self.hermes_selected, self.data.agents.len())
            }
            Tab::Models => self.slot_selected = step(self.slot_selected, self.slot_rows().len()),
            Tab::Agents => {
                self.agents_selected = step(self.agents_selected, self.data.agents.len());
            }
            Tab::Budget => {}
            Tab::Create => match self.wizard.step {
                WizardStep::Category => {
                    self.wizard.category = step(self.wizard.category, wizard_categories().len())
                }
                WizardStep::Skills => {
                    self.wizard.skill_selected =
                        step(self.wizard.skill_selected, self.wizard.skills.len())
                }
                _ => {}
            },
            Tab::Notifications => {
                self.notes_selected = step(self.notes_selected, self.data.notifications.len())
            }
        }
    }

    fn select_row(&mut self, index: usize) {
        let pick = |n: usize| index.min(n.saturating_sub(1));
        match &mut self.overlay {
            Some(OverlayState::Picker(p)) => {
                p.picker.select(index);
                return;
            }
            Some(OverlayState::Skills(e)) => {
                e.selected = pick(e.choices.len());
                return;
            }
            Some(OverlayState::Help) => return,
            None => {}
        }
        match self.tab {
            Tab::Hermes => self.hermes_selected = pick(self.data.agents.len()),
            Tab::Models => self.slot_selected = pick(self.slot_rows().len()),
            Tab::Agents => self.agents_selected = pick(self.data.agents.len()),
            Tab::Budget => {}
            Tab::Create => match self.wizard.step {
                WizardStep::Category => self.wizard.category = pick(wizard_categories().len()),
                WizardStep::Skills => self.wizard.skill_selected = pick(self.wizard.skills.len()),
                _ => {}
            },
            Tab::Notifications => self.notes_selected = pick(self.data.notifications.len()),
        }
    }

    fn toggle_skill(&mut self, name: Option<String>) {
        let (choices, selected) = match &mut self.overlay {
            Some(OverlayState::Skills(e)) => (&mut e.choices, e.selected),
            None if self.tab == Tab::Create && self.wizard.step == WizardStep::Skills => {
                (&mut self.wizard.skills, self.wizard.skill_selected)
            }
            _ => return,
        };
        let idx = match name {
            Some(n) => choices.iter().position(|c| c.name == n),
            None => Some(selected),
        };
        if let Some(c) = idx.and_then(|i| choices.get_mut(i)) {
            c.checked = !c.checked;
        }
    }

    fn open_picker(&mut self) -> Result<()> {
        let notify = self.notify.clone();
        let catalog = self.data.catalog.clone();
        if self.tab == Tab::Create {
            let template = wizard_categories()[self.wizard.category];
            let filters = Filters {
                free_only: true,
                tools_only: true,
                ..Filters::default()
            };
            let fit = Fit {
                needs: Needs::default(),
                can_pay: self.can_pay(),
            };
            let picker = Picker::fitted(catalog, template.role(), filters, fit, notify);
            self.overlay = Some(OverlayState::Picker(Box::new(PickerState {
                picker,
                target: PickTarget::Wizard,
                current_card: None,
                warned: None,
            })));
            return Ok(());
        }
        let agent = self
            .models_agent()
            .cloned()
            .ok_or_else(|| CoreError::usage("create an agent first, on the Create tab"))?;
        let rows = self.slot_rows();
        let row = rows
            .get(self.slot_selected)
            .cloned()
            .ok_or_else(|| CoreError::usage("no slot selected"))?;
        let current_free = catalog.get(&row.model).is_some_and(|m| m.is_free());
        let needs = SlotKey::parse(&row.key)
            .map(|k| Needs::of_slot(&k))
            .unwrap_or_default();
        let filters = Filters {
            free_only: current_free || row.model.is_empty() || !self.can_pay(),
            tools_only: row.kind == SlotKind::Main,
            ..Filters::default()
        }
        .for_needs(&needs);
        let fit = Fit {
            needs,
            can_pay: self.can_pay(),
        };
        let picker = Picker::fitted(catalog, agent.role, filters, fit, notify);
        self.overlay = Some(OverlayState::Picker(Box::new(PickerState {
            picker,
            target: PickTarget::Slot {
                agent: agent.name,
                slot: row.key,
                current: row.model,
            },
            current_card: None,
            warned: None,
        })));
        Ok(())
    }

    async fn activate(&mut self) -> Result<()> {
        if let Some(state) = &self.setup {
            let action = if !state.started || state.error.is_some() {
                Action::StartSetup { key: None }
            } else if !state.onboarding.done() {
                return Ok(());
            } else {
                Action::FinishSetup
            };
            return Box::pin(self.apply_inner(action)).await;
        }
        if self.bulk_open && self.tab == Tab::Agents && self.overlay.is_none() {
            return Box::pin(self.apply_inner(Action::UpgradeAll)).await;
        }
        if self.tab == Tab::Agents
            && self.overlay.is_none()
            && let Some(c) = self.confirm.take()
        {
            let action = match c {
                Confirm::Upgrade { agent, model } => Action::UpgradeAgent {
                    agent: Some(agent),
                    model: Some(model),
                },
                Confirm::RevertAll => Action::RevertAll,
            };
            return Box::pin(self.apply_inner(action)).await;
        }
        match self.overlay.take() {
            Some(OverlayState::Help) => return Ok(()),
            Some(OverlayState::Picker(mut p)) => {
                let Some(model) = p.picker.selected().cloned() else {
                    self.overlay = Some(OverlayState::Picker(p));
                    return Err(CoreError::usage(
                        "no model matches; change the query or filters",
                    ));
                };
                if let Some(why) = p.picker.unusable(&model) {
                    // The write guard's own words, so every surface refuses alike.
                    let msg = self.data.payer.refusal(&model.id).unwrap_or_else(|| {
                        format!("{} cannot be used: {why}", text::clean(&model.id))
                    });
                    self.overlay = Some(OverlayState::Picker(p));
                    return Err(CoreError::usage(msg));
                }
                if let Some(lacks) = p.picker.fit().needs.lacks(&model)
                    && p.warned.as_deref() != Some(model.id.as_str())
                {
                    self.say(
                        Meaning::Warning,
                        format!(
                            "{}: {lacks}. Press Enter again to use it anyway, or pick another.",
                            text::clean(&model.id)
                        ),
                    );
                    p.warned = Some(model.id.clone());
                    self.overlay = Some(OverlayState::Picker(p));
                    return Ok(());
                }
                match &p.target {
                    PickTarget::Slot { agent, slot, .. } => {
                        let action = Action::SetSlot {
                            agent: agent.clone(),
                            slot: slot.clone(),
                            model: model.id.clone(),
                            provider: Some(OPENROUTER.into()),
                            base_url: None,
                            // A model lacking the slot's needs got here only by a second
                            // Enter after the warning above.
                            force: true,
                        };
                        if let Err(e) = self.domain(action).await {
                            self.overlay = Some(OverlayState::Picker(p));
                            return Err(e);
                        }
                    }
                    PickTarget::Wizard => {
                        let role = p.picker.role();
                        let idx = self
                            .data
                            .catalog
                            .models
                            .iter()
                            .position(|m| m.id == model.id)
                            .unwrap_or(0);
                        let s = Scorer::new(&self.data.catalog).score(idx as u32, role);
                        self.wizard.model = Some((
                            Pick {
                                role,
                                model: model.id.clone(),
                                provider: OPENROUTER.into(),
                                base_url: None,
                                score: Some(s.total),
                                sub: Some(s.sub),
                                fallback: None,
                            },
                            true,
                        ));
                    }
                }
                return Ok(());
            }
            Some(OverlayState::Skills(e)) => {
                let desired: Vec<String> = e
                    .choices
                    .iter()
                    .filter(|c| c.checked)
                    .map(|c| c.name.clone())
                    .collect();
                let agent = e.agent.clone();
                if let Err(err) = self
                    .domain(Action::SyncSkills {
                        agent,
                        desired: Some(desired),
                    })
                    .await
                {
                    self.overlay = Some(OverlayState::Skills(e));
                    return Err(err);
                }
                return Ok(());
            }
            None => {}
        }
        match self.tab {
            Tab::Models => self.open_picker()?,
            Tab::Agents => {
                let agent = self.selected_agent().map(|a| a.name.clone());
                self.domain(Action::ApplyRecommendation { agent }).await?;
            }
            Tab::Notifications => {
                if let Some(n) = self.data.notifications.get(self.notes_selected) {
                    let id = n.id;
                    self.domain(Action::MarkRead { id: Some(id) }).await?;
                }
            }
            Tab::Create => self.wizard_next().await?,
            Tab::Hermes | Tab::Budget => {}
        }
        Ok(())
    }

    fn wizard_template(&self) -> Template {
        let cats = wizard_categories();
        cats[self.wizard.category.min(cats.len() - 1)]
    }

    async fn wizard_enter(&mut self, step: WizardStep) -> Result<()> {
        let template = self.wizard_template();
        if step == WizardStep::Model {
            let fresh = match &self.wizard.model {
                Some((p, by_hand)) => {
                    !by_hand && p.role != template.role() || *by_hand && p.role != template.role()
                }
                None => true,
            };
            if fresh {
                let ollama = self.core.ollama_model().await?;
                let pick = Scorer::new(&self.data.catalog).best_free(template.role(), &ollama);
                self.wizard.model = Some((pick, false));
            }
        }
        if step == WizardStep::Skills && self.wizard.skills_for != Some(template) {
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
            self.wizard.skills = choices;
            self.wizard.skills_for = Some(template);
            self.wizard.skill_selected = 0;
        }
        self.wizard.step = step;
        self.clear_error_banner();
        Ok(())
    }

    fn wizard_back(&mut self) {
        self.wizard.step = self.wizard.step.prev();
    }

    fn name_error(&self) -> Option<String> {
        let name = self.wizard.name.trim();
        if name.is_empty() {
            return Some("type a name: lowercase letters, digits, '-' and '_'".into());
        }
        if let Err(e) = hermes::validate_profile_name(name) {
            return Some(e.to_string());
        }
        if self
            .data
            .agents
            .iter()
            .any(|a| a.name == name || a.profile == name)
        {
            return Some(format!("an agent named {name:?} already exists"));
        }
        None
    }

    async fn wizard_next(&mut self) -> Result<()> {
        match self.wizard.step {
            WizardStep::Category => self.wizard_enter(WizardStep::Model).await,
            WizardStep::Model => self.wizard_enter(WizardStep::Skills).await,
            WizardStep::Skills => self.wizard_enter(WizardStep::Name).await,
            WizardStep::Name => match self.name_error() {
                Some(e) => Err(CoreError::usage(e)),
                None => self.wizard_enter(WizardStep::Confirm).await,
            },
            WizardStep::Confirm => {
                if let Some(e) = self.name_error() {
                    self.wizard.step = WizardStep::Name;
                    return Err(CoreError::usage(e));
                }
                let action = self.wizard_action();
                self.domain(action).await
            }
        }
    }

    /// The CreateAgent action the wizard's choices amount to.
    pub fn wizard_action(&self) -> Action {
        let template = self.wizard_template();
        let skills: Vec<String> = self
            .wizard
            .skills
            .iter()
            .filter(|c| c.checked)
            .map(|c| c.name.clone())
            .collect();
        let template_skills = template.skill_names();
        let same_as_template = {
            let mut a = skills.clone();
            let mut b = template_skills.clone();
            a.sort();
            b.sort();
            a == b
        };
        Action::CreateAgent {
            name: self.wizard.name.trim().to_string(),
            role: Some(template.role()),
            category: Some(template),
            skills: if self.wizard.skills_for.is_none() || same_as_template {
                None
            } else {
                Some(skills)
            },
            model: match &self.wizard.model {
                Some((p, true)) => Some(p.model.clone()),
                _ => None,
            },
        }
    }

    // ---- building the screen ----

    pub fn view(&mut self) -> Screen {
        self.fade_banner();
        let body = match self.tab {
            Tab::Hermes => Body::Hermes(self.hermes_view()),
            Tab::Models => Body::Models(self.models_view()),
            Tab::Agents => Body::Agents(self.agents_view()),
            Tab::Budget => Body::Budget(self.budget_view()),
            Tab::Create => Body::Create(self.create_view()),
            Tab::Notifications => Body::Notifications(self.notifications_view()),
        };
        let overlay = self.overlay_view();
        let contexts = self.contexts();
        Screen {
            tab: self.tab,
            tabs: Tab::ALL
                .iter()
                .map(|t| TabTitle {
                    tab: *t,
                    number: t.number(),
                    title: t.title().to_string(),
                    path: t.path().to_string(),
                    badge: (*t == Tab::Notifications && self.data.unread > 0)
                        .then_some(self.data.unread),
                })
                .collect(),
            status: self.status(),
            banner: self.banner.clone(),
            body,
            overlay,
            hints: keymap::bar(&contexts),
            setup: self.setup_view(),
        }
    }

    fn setup_view(&self) -> Option<SetupView> {
        let state = self.setup.as_ref()?;
        let o = &state.onboarding;
        let ran = o.steps();
        let report = o.report(&self.core);
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
        Some(SetupView {
            intro: "nxr sets up three agents (PM, Engineer and Hermes) on the best free models: no key, no money, no network needed.".into(),
            steps,
            started: state.started,
            running: self.busy(),
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
        })
    }

    fn status(&self) -> Status {
        let info = &self.data.catalog_info;
        let date = info
            .fetched_at
            .get(..10)
            .unwrap_or(&info.fetched_at)
            .to_string();
        let age_secs =
            time::parse(&info.fetched_at).map(|t| self.now().as_second() - t.as_second());
        let source = if info.source == catalog::BUNDLED_SOURCE {
            "bundled".to_string()
        } else {
            "scanned".to_string()
        };
        Status {
            workspace: shorten_home(&self.core.db.location),
            catalog: format!(
                "catalog {date} ({source}) · {} models, {} free",
                info.model_count, info.free_count
            ),
            catalog_age: time::parse(&info.fetched_at)
                .map(|t| format!("{} old", time::age(t, self.now())))
                .unwrap_or_else(|| "age unknown".into()),
            catalog_stale: age_secs.is_some_and(|s| s > 7 * 86_400),
            last_error: self.last_error.clone(),
            web_url: self.web_url.clone(),
        }
    }

    fn hermes_view(&self) -> HermesView {
        let rows: Vec<ProfileRow> = self
            .data
            .agents
            .iter()
            .map(|a| {
                let p = self.profile_of(a);
                ProfileRow {
                    agent: a.name.clone(),
                    profile: a.profile.clone(),
                    dir: shorten_home(&p.dir.display().to_string()),
                    role: a.role,
                    model: text::clean(&a.model),
                    config_present: p.exists(),
                    skills: a.skillset.len(),
                }
            })
            .collect();
        HermesView {
            hermes_home: shorten_home(&self.core.paths.hermes_home.display().to_string()),
            empty: rows.is_empty().then(|| "No agents yet: create one on the Create tab, or run `nxr --no-tui agents create --role pm --name pm`.".to_string()),
            rows,
            selected: self.hermes_selected,
            hermes_version: super::hermes_version::describe(self.data.hermes_version.as_deref()),
            hermes_version_meaning: match self.data.hermes_version.as_deref() {
                Some(v) if super::hermes_version::warning(v).is_some() => Meaning::Warning,
                _ => Meaning::Muted,
            },
            processes_note: "Gateway processes (PID, uptime, tmux viewers) are not tracked by this version; start them with `hermes -p <profile> gateway run`.".into(),
        }
    }

    fn models_view(&self) -> ModelsView {
        let agent = self.models_agent();
        let (slots, error, config_path) = match &self.data.slots {
            Some((_, _, Ok(s))) => (
                routing::rows(s, self.show_all_slots, &self.data.catalog),
                None,
                Some(shorten_home(&s.config_path)),
            ),
            Some((_, _, Err(e))) => (Vec::new(), Some(e.clone()), None),
            None => (Vec::new(), None, None),
        };
        let slots = slots
            .into_iter()
            .map(|mut r| {
                r.model = text::clean(&r.model);
                r.provider = text::clean(&r.provider);
                r
            })
            .collect();
        ModelsView {
            agents: self.data.agents.iter().map(|a| a.name.clone()).collect(),
            agent: agent.map(|a| a.name.clone()),
            role: agent.map(|a| a.role),
            config_path,
            slots,
            selected: self.slot_selected,
            show_all: self.show_all_slots,
            error,
            empty: agent.is_none().then(|| NO_AGENTS.to_string()),
        }
    }

    fn agents_view(&mut self) -> AgentsView {
        let rows: Vec<AgentRow> = self
            .data
            .agents
            .iter()
            .map(|a| {
                let rec = self.data.recs.iter().find(|r| r.agent == a.name);
                let plan = self.data.plan.iter().find(|p| p.agent == a.name);
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
                    advice: rec.map_or(agents::Advice::Stay, |r| r.advice),
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
        let bulk = self.bulk_open.then(|| BulkUpgradeView {
            rows: self
                .data
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
            key_configured: self.data.key_configured,
            cannot_pay: self.data.payer.reason().map(|_| self.cannot_pay()),
            account: self.data.payer.account().map(|a| a.summary()),
        });
        let confirm = self.confirm.as_ref().map(|c| self.confirm_view(c));
        let (skills, skills_error) = match self.agent_skills() {
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
            Some(Err(e)) => (Vec::new(), Some(e)),
            None => (Vec::new(), None),
        };
        AgentsView {
            empty: rows.is_empty().then(|| NO_AGENTS.to_string()),
            rows,
            selected: self.agents_selected,
            skills,
            skills_error,
            key_configured: self.data.key_configured,
            bulk,
            confirm,
            account: self.data.payer.account().map(|a| a.summary()),
            can_pay: self.data.payer.can_pay(),
        }
    }

    /// Why paid models cannot be written now, in a line.
    fn cannot_pay(&self) -> String {
        match &self.data.payer {
            secrets::Payer::NoKey => {
                "No OpenRouter key stored: nxr config set openrouter-key KEY, then try again."
                    .into()
            }
            secrets::Payer::Unchecked => {
                "The key's balance was never checked: run nxr upgrade to check it.".into()
            }
            secrets::Payer::CannotPay(why, _) => {
                format!("Paid models cannot be used: {why}. Buy credits, then run nxr upgrade.")
            }
            secrets::Payer::Pays(_) => String::new(),
        }
    }

    fn confirm_view(&self, c: &Confirm) -> ConfirmView {
        let balance = self
            .data
            .payer
            .account()
            .map(|a| format!("Account: {}", a.summary()));
        match c {
            Confirm::Upgrade { agent, model } => {
                let row = self.data.plan.iter().find(|p| &p.agent == agent);
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
                    let m = self.data.catalog.get(model);
                    lines.push(format!(
                        "new:  {}  ({} in / {} out per M)",
                        text::clean(model),
                        text::per_million(m.and_then(|m| m.prompt_per_million())),
                        text::per_million(m.and_then(|m| m.completion_per_million()))
                    ));
                }
                lines.extend(balance);
                lines
                    .push("Paid models spend credits. Revert any time from the Agents tab.".into());
                ConfirmView {
                    title: format!("Upgrade {agent} to {}?", text::clean(model)),
                    lines,
                    action: "upgrade_agent".into(),
                }
            }
            Confirm::RevertAll => ConfirmView {
                title: "Put every agent back on its free model?".into(),
                lines: self
                    .data
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

    fn budget_view(&self) -> BudgetView {
        BudgetView {
            per_minute: 20,
            per_day: 50,
            per_day_with_credits: 1000,
            agents: self.data.agents.len(),
            note: "Usage and spend per agent are not read by this version yet; the free-tier limits above apply to every key without credits.".into(),
        }
    }

    fn create_view(&self) -> CreateView {
        let cats = wizard_categories();
        let template = self.wizard_template();
        let model = self.wizard.model.as_ref().map(|(pick, by_hand)| {
            let m = self.data.catalog.get(&pick.model);
            let breakdown = m.and_then(|_| {
                models::detail(&self.data.catalog, &pick.model, &[pick.role])
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
            .position(|s| *s == self.wizard.step)
            .unwrap_or(0);
        let action = self.wizard_action();
        CreateView {
            step: self.wizard.step,
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
            category: self.wizard.category,
            role: template.role(),
            model,
            skills: self.wizard.skills.clone(),
            skill_selected: self.wizard.skill_selected,
            name: self.wizard.name.clone(),
            name_error: if self.wizard.name.is_empty() && self.wizard.step != WizardStep::Confirm {
                None
            } else {
                self.name_error()
            },
            equivalent_cli: cli_of(&action),
        }
    }

    fn notifications_view(&self) -> NotificationsView {
        let rows: Vec<NotificationRow> = self
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
            selected: self.notes_selected,
            unread: self.data.unread,
        }
    }

    fn overlay_view(&mut self) -> Option<Overlay> {
        let rows = self.height.saturating_sub(PICKER_CHROME).max(3) as usize;
        let catalog = self.data.catalog.clone();
        match &mut self.overlay {
            None => None,
            Some(OverlayState::Help) => {
                let mut sections = Vec::new();
                for ctx in self.contexts_under_overlay() {
                    let hints = keymap::all(ctx);
                    if !hints.is_empty() {
                        sections.push(HelpSection {
                            title: context_title(ctx),
                            hints,
                        });
                    }
                }
                sections.push(HelpSection {
                    title: "Model picker".into(),
                    hints: keymap::all(Context::Picker),
                });
                Some(Overlay::Help(HelpView { sections }))
            }
            Some(OverlayState::Skills(e)) => Some(Overlay::Skills(SkillEditorView {
                agent: e.agent.clone(),
                choices: e.choices.clone(),
                selected: e.selected,
            })),
            Some(OverlayState::Picker(p)) => {
                let window = p.picker.window(rows);
                let selected = p
                    .picker
                    .cursor
                    .checked_sub(p.picker.offset)
                    .filter(|i| *i < window.len());
                let role = p.picker.role();
                let (title, target, current) = match &p.target {
                    PickTarget::Slot {
                        agent,
                        slot,
                        current,
                    } => (
                        format!("Model for {agent} · {slot}"),
                        format!("{agent} · {slot}"),
                        Some(current.clone()),
                    ),
                    PickTarget::Wizard => (
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
                        r.lacks.as_ref().map(|l| {
                            format!("{l}: the slot {}", fit.needs.describe().unwrap_or_default())
                        })
                    })
                });
                let mut filters = p.picker.filters().clone();
                filters.provider = filters.provider.as_deref().map(text::clean);
                Some(Overlay::Picker(PickerView {
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
                }))
            }
        }
    }

    fn contexts_under_overlay(&self) -> Vec<Context> {
        let mut v = Vec::new();
        if self.tab == Tab::Create {
            v.push(Context::CreateStep(self.wizard.step));
        }
        if self.tab == Tab::Agents {
            v.extend(self.agent_contexts());
        }
        v.push(Context::Tab(self.tab));
        v.push(Context::Global);
        v
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

fn context_title(ctx: Context) -> String {
    match ctx {
        Context::Global => "Everywhere".into(),
        Context::Tab(t) => format!("{} tab", t.title()),
        Context::CreateStep(s) => format!("Create: {}", s.title()),
        Context::Picker => "Model picker".into(),
        Context::SkillEditor => "Skill editor".into(),
        Context::Help => "Help".into(),
        Context::Setup => "Setup".into(),
        Context::BulkUpgrade => "Bulk upgrade".into(),
        Context::PaidPick => "Agent with a paid pick".into(),
        Context::OnPaid => "Agent on a paid model".into(),
        Context::Confirm => "Question".into(),
    }
}

fn info_of(c: &Catalog) -> CatalogInfo {
    CatalogInfo {
        id: c.id,
        fetched_at: c.fetched_at.clone(),
        source: c.source.clone(),
        model_count: c.models.len() as i64,
        free_count: c.free_count() as i64,
    }
}

/// "free instead of $3.00/M in", "+$0.50/M in, +$2.00/M out", "same price".
fn verdict(current: Option<&catalog::Model>, candidate: &catalog::Model) -> String {
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

fn shorten_home(p: &str) -> String {
    match dirs::home_dir() {
        Some(h) if !h.as_os_str().is_empty() && h != std::path::Path::new("/") => {
            let h = h.display().to_string();
            match p.strip_prefix(&h) {
                Some(rest) => format!("~{rest}"),
                None => p.to_string(),
            }
        }
        _ => p.to_string(),
    }
}

/// The `nxr --no-tui agents create` line equal to a CreateAgent action.
pub fn cli_of(action: &Action) -> String {
    let Action::CreateAgent {
        name,
        role,
        category,
        skills,
        model,
    } = action
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

impl Role {
    pub fn all_labels() -> Vec<&'static str> {
        Role::ALL.iter().map(|r| r.label()).collect()
    }
}
