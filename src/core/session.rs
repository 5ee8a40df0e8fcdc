//! A session is one person's view of the workspace. It is the router between the screen
//! slices in [`super::screens`]: it holds the tab, the overlay, the banner and the cache of
//! what the database holds (refreshed when another process changes it), sends each intent to
//! the slice it belongs to, runs the [`Effect`]s the slice returns (the domain op, the reload,
//! the banner) and assembles the [`Screen`] every renderer draws from the slices' views. The
//! TUI keeps one for its lifetime; the web mirror keeps one per browser page.

use std::sync::Arc;

use jiff::Timestamp;

use super::action::{self, Action, Intent, JobEvent, Op, Outcome};
use super::agents::{self, Agent};
use super::catalog::{self, Catalog, CatalogInfo};
use super::error::{CoreError, Result};
use super::gateway;
use super::hermes::{self, Profile};
use super::keymap::{self, Context};
use super::notifications;
use super::onboarding::{Flow, Onboarding};
use super::routing;
use super::runtime::{self, JobKind, JobState, Runtime};
use super::scoring::Role;
use super::screens::{self, Ctx, Data, Effect, Effects, shorten_home};
use super::secrets;
use super::skills;
use super::text;
use super::upgrade;
use super::view::*;
use super::{Core, time};

/// Rows of the screen around the picker's list in the TUI: tab bar, key bar and status
/// line (3), the overlay's borders (2), query and filters (2), the column header (1) and
/// the price comparison (4). With a banner the TUI drops the comparison's rule instead.
pub const PICKER_CHROME: u16 = 12;

/// How long a message stays in the banner. The status line keeps the last error longer (until
/// a later success).
pub const BANNER_SECONDS: i64 = 15;

/// Each tab's slice state.
#[derive(Default)]
struct Slices {
    hermes: screens::hermes::State,
    models: screens::models::State,
    agents: screens::agents::State,
    notes: screens::notifications::State,
    wizard: screens::create::State,
}

enum OverlayState {
    Help,
    Picker(Box<screens::picker::State>),
    Skills(screens::agents::SkillEditor),
}

pub struct Session {
    core: Core,
    tab: Tab,
    data: Data,
    slices: Slices,
    setup: Option<screens::setup::State>,
    overlay: Option<OverlayState>,
    banner: Option<Banner>,
    /// When the banner's message was said (it fades).
    banner_at: Option<Timestamp>,
    last_error: Option<String>,
    width: u16,
    height: u16,
    notify: Arc<dyn Fn() + Sync + Send>,
    clock: Option<Timestamp>,
    pub quit: bool,
    pub web_url: Option<String>,
    /// Where slow work runs off the input loop; without one (tests, one-shot callers) a
    /// scan runs inline.
    runtime: Option<Runtime>,
    /// The catalog scan this session started or follows, until it ends.
    scan_job: Option<i64>,
    /// The setup step running off the input loop: the flow advanced by it, and how it went.
    setup_task: Option<SetupTask>,
    /// When the gateways were last probed (Tab 1 probes again each second while shown).
    probed_at: Option<std::time::Instant>,
    /// The Ollama card's check, running on the runtime, and when it last ended.
    ollama_check: Option<tokio::task::JoinHandle<Result<super::ollama::OllamaCard>>>,
    ollama_at: Option<std::time::Instant>,
    /// The UTC day (its first second) the budget's inputs were read for.
    budget_day: Option<i64>,
}

type SetupTask = tokio::task::JoinHandle<(Onboarding, Result<()>)>;

impl Session {
    pub async fn new(core: Core) -> Result<Session> {
        let catalog = core.shared_catalog().await?;
        let mut s = Session {
            data: Data::new(catalog.clone(), info_of(&catalog)),
            core,
            tab: Tab::Hermes,
            slices: Slices::default(),
            setup: None,
            overlay: None,
            banner: None,
            banner_at: None,
            last_error: None,
            width: 80,
            height: 24,
            notify: Arc::new(|| {}),
            clock: None,
            quit: false,
            web_url: None,
            runtime: None,
            scan_job: None,
            setup_task: None,
            probed_at: None,
            ollama_check: None,
            ollama_at: None,
            budget_day: None,
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

    /// What the slices read. A free function of the fields (not `&self`) so a slice's state
    /// can be borrowed mutably beside it.
    fn ctx<'a>(
        data: &'a Data,
        core: &'a Core,
        now: Timestamp,
        notify: &'a Arc<dyn Fn() + Sync + Send>,
    ) -> Ctx<'a> {
        Ctx {
            data,
            hermes_home: &core.paths.hermes_home,
            now,
            notify,
        }
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
        let probed = self.probe_gateways(false).await;
        let rolled = self.roll_budget_day().await;
        faded || changed || followed || probed || rolled
    }

    /// Re-reads every gateway's state (files, /proc and one tmux call: milliseconds) when
    /// Tab 1 is shown and the last look is a second old, and starts or collects the Ollama
    /// card's check, which is HTTP and so runs on the runtime.
    async fn probe_gateways(&mut self, force: bool) -> bool {
        const EVERY: std::time::Duration = std::time::Duration::from_secs(1);
        const OLLAMA_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
        let mut changed = false;
        let shown = self.tab == Tab::Hermes;
        if force || (shown && self.probed_at.is_none_or(|t| t.elapsed() >= EVERY)) {
            self.probed_at = Some(std::time::Instant::now());
            match gateway::status(&self.core, None).await {
                Ok(list) => {
                    changed |= list != self.data.gateways;
                    self.data.gateways = list;
                }
                Err(e) => tracing::warn!(error = %e, "gateway probe failed"),
            }
        }
        if let Some(task) = &self.ollama_check
            && task.is_finished()
            && let Some(task) = self.ollama_check.take()
        {
            self.ollama_at = Some(std::time::Instant::now());
            if let Ok(Ok(card)) = task.await {
                changed |= self.data.ollama_card.as_ref() != Some(&card);
                self.data.ollama_card = Some(card);
            }
        }
        let due = self.ollama_at.is_none_or(|t| t.elapsed() >= OLLAMA_EVERY);
        if shown
            && due
            && self.ollama_check.is_none()
            && let Some(rt) = &self.runtime
        {
            let core = rt.core().clone();
            self.ollama_check = Some(tokio::spawn(
                async move { super::ollama::card(&core).await },
            ));
        }
        changed
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
            JobState::Finished => JobEvent::ScanFinished {
                job: id,
                text: job.progress,
            },
            JobState::Failed => JobEvent::JobFailed {
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
            return self.domain(Op::ScanModels { from: None }).await;
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
                self.data.catalog = self.core.shared_catalog().await?;
            }
            self.data.catalog_info = info;
            self.data.ollama = self.core.ollama_model().await?;
            self.data.payer = secrets::payer(&self.core).await?;
            self.data.recs = agents::recommend_with(
                &self.data.agents,
                &self.data.catalog,
                &self.data.ollama,
                self.data.payer.can_pay(),
            );
            self.data.notifications = notifications::list(&conn, 200).await?;
            self.data.unread = notifications::unread(&conn).await?;
            self.data.auto_upgrade = super::scanner::auto_upgrade(&self.core).await?;
            self.data.forwarding = super::telegram::forwarding(&self.core).await?;
            self.data.skills = None;
            self.data.slots = None;
            self.data.plan = upgrade::plan(&self.core).await?;
            self.data.key_configured = secrets::openrouter_key(&self.core).is_some();
            self.data.hermes_version = super::hermes_version::recorded(&self.core).await?;
            self.load_budget().await?;
            self.clamp();
            self.probe_gateways(true).await;
            changed = true;
        }
        changed |= self.load_slots(false);
        Ok(changed)
    }

    /// Reads the budget's inputs and remembers the UTC day they are for.
    async fn load_budget(&mut self) -> Result<()> {
        let now = self.now().as_second();
        self.data.budget = Some(super::budget::inputs(&self.core, now).await?);
        self.budget_day = Some(now - now.rem_euclid(86_400));
        Ok(())
    }

    /// A new UTC day resets the free-tier count without any database change: read it again
    /// (the warning goes, the gauge starts at zero).
    async fn roll_budget_day(&mut self) -> bool {
        let now = self.now().as_second();
        if self
            .budget_day
            .is_none_or(|d| d == now - now.rem_euclid(86_400))
        {
            return false;
        }
        if let Err(e) = self.load_budget().await {
            self.fail(e);
        }
        true
    }

    fn profile_of(&self, a: &Agent) -> Profile {
        Profile::resolve(&self.core.paths.hermes_home, &a.profile)
    }

    fn models_agent(&self) -> Option<&Agent> {
        match &self.slices.models.agent {
            Some(name) => self.data.agents.iter().find(|a| &a.name == name),
            None => self.data.agents.first(),
        }
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
        let ctx = Self::ctx(&self.data, &self.core, self.now(), &self.notify);
        let n = screens::models::rows(&self.slices.models, &ctx).len();
        self.slices.models.selected = self.slices.models.selected.min(n.saturating_sub(1));
        true
    }

    /// Reads the selected agent's skills into the cache unless they are there.
    fn load_skills(&mut self) {
        let Some(agent) = self.data.agents.get(self.slices.agents.selected).cloned() else {
            return;
        };
        if matches!(&self.data.skills, Some((name, _)) if *name == agent.name) {
            return;
        }
        let profile = self.profile_of(&agent);
        let snap = hermes::ConfigDoc::load(&profile.config_path())
            .and_then(|c| skills::snapshot(&profile, &c, &agent.skillset))
            .map_err(|e| e.to_string());
        self.data.skills = Some((agent.name, snap));
    }

    fn clamp(&mut self) {
        let n = self.data.agents.len();
        self.slices.hermes.selected = self.slices.hermes.selected.min(n.saturating_sub(1));
        self.slices.agents.selected = self.slices.agents.selected.min(n.saturating_sub(1));
        self.slices.notes.selected = self
            .slices
            .notes
            .selected
            .min(self.data.notifications.len().saturating_sub(1));
        if let Some(name) = &self.slices.models.agent
            && !self.data.agents.iter().any(|a| &a.name == name)
        {
            self.slices.models.agent = None;
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
        self.slices.agents.confirm = None;
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

    /// True while the Agents tab's plan or question is up (and nothing covers it).
    fn question_open(&self) -> bool {
        self.tab == Tab::Agents
            && self.overlay.is_none()
            && (self.slices.agents.bulk_open || self.slices.agents.confirm.is_some())
    }

    /// The contexts that decide what keys do, most specific first.
    pub fn contexts(&self) -> Vec<Context> {
        if let Some(s) = &self.setup {
            return vec![if s.typing() {
                Context::SetupKey
            } else {
                Context::Setup
            }];
        }
        if self.question_open() {
            let ctx = if self.slices.agents.bulk_open {
                Context::BulkUpgrade
            } else {
                Context::Confirm
            };
            return vec![ctx, Context::Global];
        }
        match &self.overlay {
            Some(OverlayState::Help) => return vec![Context::Help],
            Some(OverlayState::Picker(_)) => return vec![Context::Picker],
            Some(OverlayState::Skills(_)) => return vec![Context::SkillEditor],
            None => {}
        }
        self.tab_contexts()
    }

    /// The current tab's contexts (what help lists under an overlay).
    fn tab_contexts(&self) -> Vec<Context> {
        let mut v = Vec::new();
        if self.tab == Tab::Create {
            v.push(Context::CreateStep(self.slices.wizard.step));
        }
        if self.tab == Tab::Agents {
            let ctx = Self::ctx(&self.data, &self.core, self.now(), &self.notify);
            v.extend(screens::agents::contexts(&self.slices.agents, &ctx));
        }
        v.push(Context::Tab(self.tab));
        v.push(Context::Global);
        v
    }

    /// True while typed characters are text (picker query, the wizard's name field, the
    /// setup wizard's key field).
    pub fn text_entry(&self) -> bool {
        self.setup
            .as_ref()
            .is_some_and(screens::setup::State::typing)
            || matches!(self.overlay, Some(OverlayState::Picker(_)))
            || (self.overlay.is_none()
                && self.tab == Tab::Create
                && screens::create::typing(&self.slices.wizard))
    }

    /// The text typed characters edit now (the picker's query or the wizard's name), so an
    /// input layer can send the whole new text without building a screen per key.
    pub fn entry_text(&self) -> Option<&str> {
        if let Some(s) = &self.setup {
            return s.typing().then_some(s.key.as_str());
        }
        match &self.overlay {
            Some(OverlayState::Picker(p)) => Some(p.picker.query()),
            None if self.tab == Tab::Create && screens::create::typing(&self.slices.wizard) => {
                Some(&self.slices.wizard.name)
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
            self.setup = Some(screens::setup::State::new(flow));
        }
    }

    /// True while the setup wizard is on screen.
    pub fn in_setup(&self) -> bool {
        self.setup.is_some()
    }

    /// True while setup steps remain to run: call [`Session::advance`] again.
    pub fn busy(&self) -> bool {
        self.setup.as_ref().is_some_and(screens::setup::State::busy)
    }

    /// True when [`Session::pump_setup`] has work now: a step to start, or a finished one to
    /// take in. False while a step runs (the session's notify callback says when it ends).
    pub fn setup_due(&self) -> bool {
        self.busy() && self.setup_task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// For an input loop: starts the next setup step on a task of its own, or takes in the
    /// one that finished. Never waits for a step, so keys stay live while one fetches the
    /// catalog or checks a key. True when something changed on screen.
    pub async fn pump_setup(&mut self) -> bool {
        if !self.setup_due() {
            return false;
        }
        match self.setup_task.take() {
            Some(task) => self.take_step(task).await,
            None => self.setup_task = self.start_step(),
        }
        true
    }

    /// Runs the next setup step to its end (the web and the tests wait for each step); true
    /// when something changed on screen.
    pub async fn advance(&mut self) -> bool {
        if !self.busy() {
            return false;
        }
        let task = match self.setup_task.take() {
            Some(t) => Some(t),
            None => self.start_step(),
        };
        if let Some(task) = task {
            self.take_step(task).await;
        }
        true
    }

    /// Starts the next step on a copy of the flow; the screen keeps showing this one (the
    /// step as running) until the copy comes back.
    fn start_step(&self) -> Option<SetupTask> {
        let mut onboarding = self.setup.as_ref()?.onboarding.clone();
        let core = self.core.clone();
        let notify = self.notify.clone();
        Some(tokio::spawn(async move {
            let result = onboarding.step(&core).await.map(|_| ());
            notify();
            (onboarding, result)
        }))
    }

    async fn take_step(&mut self, task: SetupTask) {
        let (onboarding, result) = match task.await {
            Ok(done) => done,
            Err(e) => {
                let e = CoreError::Conflict(format!("the setup step stopped: {e}"));
                if let Some(state) = self.setup.as_mut() {
                    state.error = Some(e.to_string());
                }
                self.fail(e);
                return;
            }
        };
        let Some(state) = self.setup.as_mut() else {
            return;
        };
        state.onboarding = onboarding;
        if let Err(e) = result {
            state.error = Some(e.to_string());
            self.fail(e);
            return;
        }
        if !self.busy() {
            let _ = self.refresh(true).await;
        }
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
    pub async fn apply(&mut self, action: impl Into<Action>) {
        if let Err(e) = self.apply_inner(action.into()).await {
            self.fail(e);
        }
    }

    /// Applies an action and reports failure to the caller too (the web answers with it).
    pub async fn try_apply(&mut self, action: impl Into<Action>) -> Result<()> {
        match self.apply_inner(action.into()).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.fail(CoreError::Conflict(e.to_string()));
                Err(e)
            }
        }
    }

    async fn apply_inner(&mut self, action: Action) -> Result<()> {
        match action {
            Action::Op(op) => self.op(op).await,
            Action::Intent(intent) => self.intent(intent).await,
            Action::Event(event) => self.event(event).await,
        }
    }

    /// A domain op from a surface: the slice that owns "the selected one" fills in what the
    /// op left out, then it runs.
    async fn op(&mut self, op: Op) -> Result<()> {
        let now = self.now();
        let ctx = Self::ctx(&self.data, &self.core, now, &self.notify);
        let effects = match op {
            Op::ScanModels { from: None } => vec![Effect::StartScan],
            Op::MarkRead { id } => screens::notifications::mark_read(&self.slices.notes, &ctx, id)?,
            Op::ApplyNotification { id } => {
                screens::notifications::apply(&self.slices.notes, &ctx, id)?
            }
            op @ (Op::RevertUpgrade { .. }
            | Op::RevertAll
            | Op::UpgradeAgent { .. }
            | Op::UpgradeAll
            | Op::ApplyRecommendation { .. }) => {
                screens::agents::resolve(&mut self.slices.agents, &ctx, op)?
            }
            op @ (Op::ScanModels { from: Some(_) }
            | Op::Rescore
            | Op::CreateAgent { .. }
            | Op::AddSkills { .. }
            | Op::RemoveSkills { .. }
            | Op::SyncSkills { .. }
            | Op::SetModel { .. }
            | Op::SetSlot { .. }
            | Op::RemoveFallback { .. }
            | Op::MarkAllRead
            | Op::SetAutoUpgrade { .. }
            | Op::SetTelegramForwarding { .. }
            | Op::SetOpenrouterKey { .. }
            | Op::WatchGateway { .. }) => vec![Effect::Apply(op)],
            // A start waits for Hermes for seconds: never on the input loop.
            op @ (Op::StartGateway { .. }
            | Op::StopGateway { .. }
            | Op::RestartGateway { .. }
            | Op::StartAllGateways
            | Op::StopAllGateways
            | Op::RestartAllGateways) => vec![Effect::Background(op)],
        };
        self.run(effects).await
    }

    /// A screen intent: the router's own (tabs, help, quit, size, reload), else the slice of
    /// the overlay or question on screen, else the slice the intent names, else the tab's.
    async fn intent(&mut self, intent: Intent) -> Result<()> {
        let now = self.now();
        match &intent {
            Intent::SwitchTab { tab } => {
                self.switch_tab(*tab);
                return Ok(());
            }
            Intent::NextTab => {
                self.switch_tab(self.tab.next());
                return Ok(());
            }
            Intent::PrevTab => {
                self.switch_tab(self.tab.prev());
                return Ok(());
            }
            Intent::ToggleHelp => {
                self.overlay = match self.overlay {
                    Some(OverlayState::Help) => None,
                    _ => Some(OverlayState::Help),
                };
                return Ok(());
            }
            Intent::Quit => {
                self.quit = true;
                return Ok(());
            }
            Intent::Resize { width, height } => {
                self.width = *width;
                self.height = *height;
                return Ok(());
            }
            Intent::Refresh => {
                self.refresh(true).await?;
                self.load_slots(true);
                self.ok("reloaded");
                return Ok(());
            }
            Intent::SelectAgent { agent } => {
                // One agent is looked at on both the Models and the Agents tab.
                let a = self
                    .data
                    .agents
                    .iter()
                    .position(|a| &a.name == agent)
                    .ok_or_else(|| CoreError::NotFound {
                        what: "agent",
                        name: text::clean(agent),
                    })?;
                self.slices.models.agent = Some(agent.clone());
                self.slices.agents.selected = a;
                self.load_slots(true);
                return Ok(());
            }
            Intent::OpenSkillEditor => self.load_skills(),
            Intent::Activate if self.setup.is_some() => {
                let fx = screens::setup::update(&mut self.setup, &intent)?;
                return self.run(fx).await;
            }
            Intent::StartSetup { .. } | Intent::SetSetupKey { .. } | Intent::FinishSetup => {
                let fx = screens::setup::update(&mut self.setup, &intent)?;
                return self.run(fx).await;
            }
            Intent::Cancel
                if self.overlay.is_none()
                    && (self.slices.agents.bulk_open || self.slices.agents.confirm.is_some()) =>
            {
                let fx = screens::agents::cancel(&mut self.slices.agents);
                return self.run(fx).await;
            }
            Intent::Activate if self.question_open() => {
                let ctx = Self::ctx(&self.data, &self.core, now, &self.notify);
                let fx = screens::agents::activate(&mut self.slices.agents, &ctx)?;
                return self.run(fx).await;
            }
            _ => {}
        }
        let ctx = Self::ctx(&self.data, &self.core, now, &self.notify);
        // The overlay on screen takes its own intents.
        let effects = match (&mut self.overlay, &intent) {
            (Some(_), Intent::Cancel) => vec![Effect::CloseOverlay],
            (Some(OverlayState::Help), Intent::Activate) => vec![Effect::CloseOverlay],
            (Some(OverlayState::Help), Intent::MoveSelection { .. } | Intent::SelectRow { .. }) => {
                Vec::new()
            }
            (Some(OverlayState::Picker(p)), Intent::Activate) => {
                screens::picker::activate(p, &ctx)?
            }
            (
                Some(OverlayState::Picker(p)),
                Intent::MoveSelection { .. } | Intent::SelectRow { .. },
            ) => {
                screens::picker::update(p, &intent);
                Vec::new()
            }
            (Some(OverlayState::Skills(e)), Intent::Activate) => screens::agents::save_editor(e),
            (
                Some(OverlayState::Skills(e)),
                Intent::MoveSelection { .. }
                | Intent::SelectRow { .. }
                | Intent::ToggleSkill { .. },
            ) => {
                screens::agents::update_editor(e, &intent);
                Vec::new()
            }
            (overlay, _) => route(&mut self.slices, overlay, self.tab, &ctx, &intent)?,
        };
        self.run(effects).await
    }

    /// What a background job reported.
    async fn event(&mut self, event: JobEvent) -> Result<()> {
        match event {
            JobEvent::ScanStarted { job } => {
                // A scan another surface of this process started: follow it too.
                if self.scan_job.is_none() {
                    self.scan_job = Some(job);
                    self.say(Meaning::Accent, format!("scanning the catalog (job {job})"));
                }
            }
            JobEvent::ScanProgress { job, text } => {
                if self.scan_job == Some(job) {
                    self.say(
                        Meaning::Accent,
                        format!("scanning the catalog (job {job}): {}", text::clean(&text)),
                    );
                }
            }
            JobEvent::ScanFinished { job, text } => {
                if self.scan_job == Some(job) {
                    self.scan_job = None;
                    self.refresh(true).await?;
                    self.load_slots(true);
                    self.ok(text::clean(&text));
                }
            }
            JobEvent::JobFailed { job, error, .. } => {
                if self.scan_job == Some(job) {
                    self.scan_job = None;
                    return Err(CoreError::Conflict(text::clean(&error)));
                }
            }
            JobEvent::OpFinished { result, .. } => {
                self.refresh(true).await?;
                match result {
                    Ok(outcome) => self.ok(describe(&outcome)),
                    Err(e) => return Err(CoreError::Conflict(text::clean(&e))),
                }
            }
        }
        Ok(())
    }

    /// Runs a slow domain op on the runtime (or here, without one); its end comes back as
    /// [`JobEvent::OpFinished`].
    async fn background(&mut self, op: Op) -> Result<()> {
        let Some(rt) = self.runtime.clone() else {
            return self.domain(op).await;
        };
        self.say(
            Meaning::Accent,
            format!("{}: running; keys stay live", op.name().replace('_', " ")),
        );
        rt.spawn_op(op);
        Ok(())
    }

    /// Runs a slice's effects in order; the first failure stops the rest.
    async fn run(&mut self, effects: Effects) -> Result<()> {
        for effect in effects {
            match effect {
                Effect::Apply(op) => self.domain(op).await?,
                Effect::StartScan => self.start_scan().await?,
                Effect::Background(op) => self.background(op).await?,
                Effect::Say(meaning, text) => self.say(meaning, text),
                Effect::Ok(text) => self.ok(text),
                Effect::ClearError => self.clear_error_banner(),
                Effect::Refresh => {
                    self.refresh(true).await?;
                }
                Effect::ReloadSlots => {
                    self.load_slots(true);
                }
                Effect::ShowTab(tab) => self.tab = tab,
                Effect::OpenPicker(p) => self.overlay = Some(OverlayState::Picker(p)),
                Effect::OpenSkills(e) => self.overlay = Some(OverlayState::Skills(e)),
                Effect::CloseOverlay => self.overlay = None,
                Effect::DropBanner => self.banner = None,
                Effect::WizardModel(pick) => {
                    screens::create::chosen(&mut self.slices.wizard, *pick)
                }
            }
        }
        Ok(())
    }

    /// Runs a workspace change, reports it in the banner and reloads.
    async fn domain(&mut self, op: Op) -> Result<()> {
        let outcome = action::apply(&self.core, op).await?;
        let msg = describe(&outcome);
        if let Outcome::Created(c) = &outcome {
            let name = c.agent.name.clone();
            self.refresh(true).await?;
            if let Some(i) = self.data.agents.iter().position(|a| a.name == name) {
                self.slices.agents.selected = i;
            }
            self.tab = Tab::Agents;
            self.slices.wizard = Default::default();
        } else {
            self.refresh(true).await?;
        }
        self.load_slots(true);
        self.ok(msg);
        Ok(())
    }

    /// The `create_agent` op the create wizard's choices amount to.
    pub fn wizard_action(&self) -> Op {
        screens::create::op(&self.slices.wizard)
    }

    // ---- building the screen ----

    pub fn view(&mut self) -> Screen {
        self.fade_banner();
        if self.tab == Tab::Agents {
            self.load_skills();
        }
        let now = self.now();
        let ctx = Self::ctx(&self.data, &self.core, now, &self.notify);
        let body = match self.tab {
            Tab::Hermes => Body::Hermes(screens::hermes::view(&self.slices.hermes, &ctx)),
            Tab::Models => Body::Models(screens::models::view(&self.slices.models, &ctx)),
            Tab::Agents => Body::Agents(screens::agents::view(&self.slices.agents, &ctx)),
            Tab::Budget => Body::Budget(screens::budget::view(&ctx)),
            Tab::Create => Body::Create(screens::create::view(&self.slices.wizard, &ctx)),
            Tab::Notifications => {
                Body::Notifications(screens::notifications::view(&self.slices.notes, &ctx))
            }
        };
        let setup = self.setup.as_ref().map(|s| {
            let report = s.onboarding.report(&self.core);
            screens::setup::view(s, &report)
        });
        let warning = self.budget_warning();
        let overlay = self.overlay_view(u16::from(warning.is_some()));
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
            warning,
            body,
            overlay,
            hints: keymap::bar(&contexts),
            setup,
        }
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

    /// The free-tier warning from the budget as last read, at the screen's "now". Usage read
    /// on an earlier UTC day warns of nothing: midnight resets the count.
    fn budget_warning(&self) -> Option<super::budget::Warning> {
        let now = self.now().as_second();
        let inputs = self.data.budget.as_ref()?;
        if self.budget_day != Some(now - now.rem_euclid(86_400)) {
            return None;
        }
        super::budget::warning(&super::budget::compute(inputs, now))
    }

    /// `chrome`: rows the warning line takes from the picker's list.
    fn overlay_view(&mut self, chrome: u16) -> Option<Overlay> {
        let rows = self.height.saturating_sub(PICKER_CHROME + chrome).max(3) as usize;
        let help = matches!(self.overlay, Some(OverlayState::Help)).then(|| self.help_view());
        let now = self.now();
        let ctx = Self::ctx(&self.data, &self.core, now, &self.notify);
        match &mut self.overlay {
            None => None,
            Some(OverlayState::Help) => help.map(Overlay::Help),
            Some(OverlayState::Skills(e)) => Some(Overlay::Skills(screens::agents::editor_view(e))),
            Some(OverlayState::Picker(p)) => {
                Some(Overlay::Picker(screens::picker::view(p, &ctx, rows)))
            }
        }
    }

    /// Every key of the screen under the help, then the picker's.
    fn help_view(&self) -> HelpView {
        let mut sections = Vec::new();
        for ctx in self.tab_contexts() {
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
        HelpView { sections }
    }
}

/// An intent no overlay took: to the slice it names, else to the tab's.
/// What an op did, in the banner.
fn describe(outcome: &Outcome) -> String {
    match outcome {
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
        Outcome::Applied { id, title } => {
            format!("applied notification {id}: {}", text::clean(title))
        }
        Outcome::Setting { key, value } => format!("{key}: {value}"),
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

        Outcome::Gateways { reports } => match reports.as_slice() {
            [] => "no agents".to_string(),
            [r] => text::clean(&r.message),
            many => {
                let failed = many
                    .iter()
                    .filter(|r| r.outcome == gateway::ControlOutcome::Failed)
                    .count();
                if failed == 0 {
                    format!("{} gateways handled", many.len())
                } else {
                    format!("{} gateways handled, {failed} failed", many.len())
                }
            }
        },
        Outcome::Watched(st) => format!(
            "the watchdog is {} for {}",
            if st.watch { "on" } else { "off" },
            text::clean(&st.agent)
        ),
    }
}

fn route(
    slices: &mut Slices,
    overlay: &mut Option<OverlayState>,
    tab: Tab,
    ctx: &Ctx,
    intent: &Intent,
) -> Result<Effects> {
    use screens::{agents, create, hermes, models, notifications, picker};
    Ok(match intent {
        Intent::SetPickerQuery { .. }
        | Intent::TogglePickerFilter { .. }
        | Intent::SetPickerFilters { .. } => {
            if let Some(OverlayState::Picker(p)) = overlay {
                picker::update(p, intent);
            }
            Vec::new()
        }
        Intent::OpenPicker if tab == Tab::Create => create::open_picker(&slices.wizard, ctx),
        Intent::OpenPicker => models::open_picker(&slices.models, ctx)?,
        Intent::StartSelectedGateway
        | Intent::StopSelectedGateway
        | Intent::RestartSelectedGateway
        | Intent::ToggleSelectedWatch => hermes::update(&mut slices.hermes, ctx, intent),
        Intent::ToggleAllSlots
        | Intent::CycleAgent { .. }
        | Intent::RemoveSelectedSlot
        | Intent::AutoSelectedSlot => models::update(&mut slices.models, ctx, intent)?,
        Intent::OpenSkillEditor
        | Intent::OpenBulkUpgrade
        | Intent::OpenUpgrade { .. }
        | Intent::OpenRevertAll => agents::update(&mut slices.agents, ctx, intent)?,
        Intent::ChooseCategory { .. } | Intent::SetWizardName { .. } | Intent::WizardBack => {
            create::update(&mut slices.wizard, ctx, intent)?
        }
        Intent::ToggleSkill { .. } if overlay.is_none() && tab == Tab::Create => {
            create::update(&mut slices.wizard, ctx, intent)?
        }
        Intent::ToggleSkill { .. } => Vec::new(),
        Intent::Cancel if overlay.is_none() && tab == Tab::Create => {
            create::update(&mut slices.wizard, ctx, intent)?
        }
        Intent::Cancel => vec![Effect::DropBanner],
        Intent::MoveSelection { .. } | Intent::SelectRow { .. } | Intent::Activate => match tab {
            Tab::Hermes => hermes::update(&mut slices.hermes, ctx, intent),
            Tab::Models => models::update(&mut slices.models, ctx, intent)?,
            Tab::Agents => match intent {
                Intent::Activate => agents::activate(&mut slices.agents, ctx)?,
                _ => agents::update(&mut slices.agents, ctx, intent)?,
            },
            Tab::Budget => Vec::new(),
            Tab::Create => create::update(&mut slices.wizard, ctx, intent)?,
            Tab::Notifications => notifications::update(&mut slices.notes, ctx, intent)?,
        },
        Intent::FilterNotifications { .. }
        | Intent::CycleNotificationFilter
        | Intent::ToggleAutoUpgrade
        | Intent::ToggleTelegramForSelected => {
            notifications::update(&mut slices.notes, ctx, intent)?
        }
        // Handled by the router before any slice sees them.
        Intent::SwitchTab { .. }
        | Intent::NextTab
        | Intent::PrevTab
        | Intent::ToggleHelp
        | Intent::Quit
        | Intent::Resize { .. }
        | Intent::Refresh
        | Intent::SelectAgent { .. }
        | Intent::StartSetup { .. }
        | Intent::SetSetupKey { .. }
        | Intent::FinishSetup => Vec::new(),
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
        Context::SetupKey => "Setup: key".into(),
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

impl Role {
    pub fn all_labels() -> Vec<&'static str> {
        Role::ALL.iter().map(|r| r.label()).collect()
    }
}
