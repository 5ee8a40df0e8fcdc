//! The full-screen terminal app: a thin ratatui renderer of [`Screen`] and a mapping from
//! keys and mouse to [`Action`]s. Every decision is made by the [`Session`] in core; this
//! module owns only the terminal, the frame pacing and where things were drawn (for clicks).

pub mod agents;
pub mod budget;
pub mod create;
pub mod help;
pub mod hermes;
pub mod input;
pub mod models;
pub mod notifications;
pub mod picker;
pub mod setup;
pub mod skills;
pub mod terminal;
pub use crate::widgets::theme;

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::crossterm::event::{Event, EventStream, KeyEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui_textarea::TextArea;

use crate::core::Core;
use crate::core::action::{Intent, JobEvent};
use crate::core::session::Session;
use crate::core::view::{Body, Overlay, Screen, Tab, WizardStep};
use crate::widgets::{self, put_line};
use theme::Theme;

/// At most one frame per this long (~60 Hz); input between frames is coalesced.
pub const FRAME: Duration = Duration::from_millis(16);
/// How often the database and the shown config.yaml are checked for changes made by other
/// processes (a CLI call, another nxr, the web mirror).
pub const POLL: Duration = Duration::from_millis(500);
/// How long one frame lets the picker's matcher work before drawing what it has.
pub const MATCH_BUDGET_MS: u64 = 10;
/// Smallest screen the layout is drawn for; below it a notice asks for more room.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;

/// Something drawn that a click can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hit {
    Tab(Tab),
    /// A list row (absolute index); a click on the selected one activates it.
    Row {
        index: usize,
        selected: bool,
    },
    /// A checkbox row: a click selects and ticks it.
    Toggle {
        index: usize,
        name: String,
    },
    /// An agent chip on the Models tab.
    Agent(String),
    /// A key-hint bar entry: a click presses its key.
    Key(String),
    /// A finished wizard step: a click goes back this many steps.
    Back(usize),
}

/// Renderer state that is not screen state: the theme, where things were drawn in the last
/// frame, and the wizard's name field (a text editor kept equal to the session's name).
pub struct Ui {
    pub theme: Theme,
    pub hits: Vec<(Rect, Hit)>,
    pub name_field: TextArea<'static>,
    /// The last frame had a banner row (the picker gives that row back from its panel).
    pub banner_shown: bool,
}

impl Ui {
    pub fn new(theme: Theme) -> Ui {
        Ui {
            theme,
            hits: Vec::new(),
            name_field: input::name_field(""),
            banner_shown: false,
        }
    }

    pub fn hit(&mut self, area: Rect, hit: Hit) {
        if area.width > 0 && area.height > 0 {
            self.hits.push((area, hit));
        }
    }

    /// The topmost thing drawn at a cell.
    pub fn hit_at(&self, x: u16, y: u16) -> Option<&Hit> {
        self.hits
            .iter()
            .rev()
            .find(|(r, _)| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height)
            .map(|(_, h)| h)
    }
}

/// Opens the TUI on a workspace and runs it until the person quits. The terminal is restored
/// on every way out: return, error and panic.
pub async fn run(core: Core, web: Option<&str>) -> anyhow::Result<()> {
    let started = Instant::now();
    let _log = init_logging(&core.paths.log_file());
    tracing::info!("nxr TUI starting");
    let first_run = !crate::core::onboarding::completed(&core).await?;
    // The web mirror in this process, kept alive as long as the TUI runs.
    // One runtime for the TUI and the mirror it hosts: a scan started from either is the
    // same job, and both follow it.
    let runtime = crate::core::runtime::Runtime::new(core.clone())?;
    crate::core::schedule::start(&runtime);
    let mirror = match web {
        Some(addr) => Some(crate::webmirror::start_in_process(
            runtime.clone(),
            Some(addr),
        )?),
        None => None,
    };
    let jobs = runtime.subscribe();
    let mut session = Session::new(core).await?;
    session.set_runtime(runtime);
    session.web_url = mirror.as_ref().map(|m| m.url.clone());
    if first_run {
        session.begin_setup(crate::core::onboarding::Flow::Tui);
    }
    let mut guard = terminal::Guard::enter()?;
    let result = event_loop(&mut session, guard.terminal(), started, jobs).await;
    drop(guard);
    match &result {
        Ok(()) => tracing::info!("nxr TUI closed"),
        Err(e) => tracing::error!(error = %e, "nxr TUI stopped"),
    }
    result
}

/// Logs go to `NXR_HOME/nxr.log`, never to the screen (`NXR_LOG` sets the filter).
fn init_logging(path: &std::path::Path) -> Option<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("NXR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()
}

async fn next_event(events: &mut EventStream) -> Option<std::io::Result<Event>> {
    std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *events), cx)).await
}

async fn event_loop(
    session: &mut Session,
    terminal: &mut terminal::Tui,
    started: Instant,
    mut jobs: tokio::sync::broadcast::Receiver<JobEvent>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    use tokio::sync::broadcast::error::RecvError;

    let mut ui = Ui::new(Theme::from_env());
    let wake = Arc::new(tokio::sync::Notify::new());
    {
        let wake = wake.clone();
        session.set_notify(Arc::new(move || wake.notify_one()));
    }
    let size = terminal.size()?;
    session
        .apply(Intent::Resize {
            width: size.width,
            height: size.height,
        })
        .await;
    let mut events = EventStream::new();
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + POLL, POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let panic_after_first_frame = std::env::var_os("NXR_TEST_PANIC").is_some_and(|v| v == "1");

    let mut dirty = true;
    let mut last_draw: Option<tokio::time::Instant> = None;
    let mut frames: u64 = 0;
    while !session.quit {
        let due = match last_draw {
            Some(t) => t + FRAME,
            None => tokio::time::Instant::now(),
        };
        tokio::select! {
            biased;
            ev = next_event(&mut events) => match ev {
                Some(Ok(ev)) => dirty |= handle_event(session, &mut ui, ev).await,
                Some(Err(e)) => tracing::warn!(error = %e, "terminal input"),
                None => {
                    tracing::info!("terminal input closed");
                    break;
                }
            },
            _ = wake.notified() => dirty = true,
            // Background jobs report here; their events are applied like keys.
            ev = jobs.recv() => match ev {
                Ok(event) => {
                    session.apply(event).await;
                    dirty = true;
                }
                // Missed events: the job registry has how they ended.
                Err(RecvError::Lagged(_)) => dirty |= session.poll().await,
                // The session holds the runtime, so its sender outlives this loop.
                Err(RecvError::Closed) => break,
            },
            _ = tokio::time::sleep_until(due), if dirty => {
                session.tick(MATCH_BUDGET_MS);
                let screen = session.view();
                terminal.draw(|f| draw(f, &screen, &mut ui))?;
                dirty = false;
                last_draw = Some(tokio::time::Instant::now());
                frames += 1;
                if frames == 1 {
                    tracing::info!(
                        first_frame_ms = started.elapsed().as_secs_f64() * 1e3,
                        "first frame drawn"
                    );
                    if panic_after_first_frame {
                        panic!("NXR_TEST_PANIC=1: panicking after the first frame, as asked");
                    }
                }
            }
            // First-run setup: each step runs on a task of its own, started after the frame
            // that shows it running; its end wakes the loop (`wake`) to take it in.
            _ = std::future::ready(()), if session.setup_due() && !dirty => {
                dirty |= session.pump_setup().await;
            }
            _ = poll.tick() => dirty |= session.poll().await,
            _ = sigterm.recv() => session.quit = true,
            _ = sighup.recv() => session.quit = true,
        }
    }
    Ok(())
}

/// Applies what one terminal event means; true when the screen must be redrawn.
pub async fn handle_event(session: &mut Session, ui: &mut Ui, ev: Event) -> bool {
    let actions = match ev {
        Event::Key(k) if k.kind == KeyEventKind::Release => return false,
        Event::Key(k) => input::key_actions(session, ui, k),
        Event::Mouse(m) => input::mouse_actions(session, ui, m),
        Event::Paste(text) => input::paste_actions(session, ui, &text),
        Event::Resize(width, height) => vec![Intent::Resize { width, height }.into()],
        Event::FocusGained | Event::FocusLost => return false,
    };
    if actions.is_empty() {
        return false;
    }
    for a in actions {
        tracing::debug!(action = %a.name(), "apply");
        session.apply(a).await;
    }
    true
}

/// Draws a whole screen and records the click areas.
pub fn draw(f: &mut Frame, screen: &Screen, ui: &mut Ui) {
    ui.hits.clear();
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "nxr needs at least {MIN_WIDTH}x{MIN_HEIGHT} cells (this is {}x{}); q quits",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let banner_h = u16::from(screen.banner.is_some());
    ui.banner_shown = screen.banner.is_some();
    let warning_h = u16::from(screen.warning.is_some() && screen.setup.is_none());
    let [
        tabs_area,
        warning_area,
        banner_area,
        body,
        hints_area,
        status_area,
    ] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(warning_h),
        Constraint::Length(banner_h),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    if let Some(setup) = &screen.setup {
        // First run: the wizard takes the whole screen above the key bar.
        let area = Rect {
            height: area.height.saturating_sub(2),
            ..area
        };
        if let Some(b) = &screen.banner {
            widgets::banner::render(f.buffer_mut(), widgets::row(area, 0), b, &ui.theme);
        }
        let rest = Rect {
            y: area.y + banner_h,
            height: area.height.saturating_sub(banner_h),
            ..area
        };
        setup::draw(f, rest, setup, ui);
        draw_bottom(f, hints_area, status_area, screen, ui);
        return;
    }
    draw_tab_bar(f, tabs_area, screen, ui);
    if let Some(w) = &screen.warning {
        widgets::banner::render_warning(f.buffer_mut(), warning_area, w, &ui.theme);
        // A click on the warning opens the budget.
        ui.hit(warning_area, Hit::Tab(w.tab));
    }
    if let Some(b) = &screen.banner {
        widgets::banner::render(f.buffer_mut(), banner_area, b, &ui.theme);
    }
    match &screen.body {
        Body::Hermes(v) => hermes::draw(f, body, v, ui),
        Body::Models(v) => models::draw(f, body, v, ui),
        Body::Agents(v) => agents::draw(f, body, v, ui),
        Body::Budget(v) => budget::draw(f, body, v, ui),
        Body::Create(v) => create::draw(f, body, v, ui),
        Body::Notifications(v) => notifications::draw(f, body, v, ui),
    }
    if let Some(o) = &screen.overlay {
        // What is under an overlay cannot be clicked.
        ui.hits.retain(|(_, h)| matches!(h, Hit::Tab(_)));
        match o {
            Overlay::Help(v) => help::draw(f, body, v, ui),
            Overlay::Picker(v) => picker::draw(f, body, v, ui),
            Overlay::Skills(v) => skills::draw(f, body, v, ui),
        }
    }
    draw_bottom(f, hints_area, status_area, screen, ui);
}

fn draw_bottom(f: &mut Frame, hints_area: Rect, status_area: Rect, screen: &Screen, ui: &mut Ui) {
    let hint_hits = widgets::hints::render(f.buffer_mut(), hints_area, &screen.hints, &ui.theme);
    for (r, key) in hint_hits {
        ui.hit(r, Hit::Key(key));
    }
    widgets::status::render(f.buffer_mut(), status_area, &screen.status, &ui.theme);
}

fn draw_tab_bar(f: &mut Frame, area: Rect, screen: &Screen, ui: &mut Ui) {
    let mut x = area.x;
    let end = area.x + area.width;
    for t in &screen.tabs {
        let badge = t.badge.map(|n| format!(" ({n})")).unwrap_or_default();
        let current = t.tab == screen.tab;
        let text = if current {
            format!("[{} {}{}]", t.number, t.title, badge)
        } else {
            format!(" {} {}{} ", t.number, t.title, badge)
        };
        let w = widgets::width(&text) as u16;
        if x + w > end {
            break;
        }
        let style = if current {
            ui.theme.active()
        } else if t.badge.is_some() {
            ui.theme.warn()
        } else {
            Style::new()
        };
        put_line(
            f.buffer_mut(),
            x,
            area.y,
            w,
            &Line::from(Span::styled(text, style)),
        );
        ui.hit(
            Rect {
                x,
                y: area.y,
                width: w,
                height: 1,
            },
            Hit::Tab(t.tab),
        );
        x += w + 1;
    }
    let brand = " nxr ";
    if x + brand.len() as u16 <= end {
        put_line(
            f.buffer_mut(),
            end - brand.len() as u16,
            area.y,
            brand.len() as u16,
            &Line::styled(brand, ui.theme.muted()),
        );
    }
}

/// A bordered panel with a title cut to fit; returns the inner area.
pub fn panel(f: &mut Frame, area: Rect, title: &str, ui: &Ui) -> Rect {
    let room = area.width.saturating_sub(4) as usize;
    let block = Block::bordered()
        .border_style(ui.theme.border())
        .title(Span::styled(
            format!(" {} ", widgets::fit(title, room.saturating_sub(2))),
            ui.theme.header(),
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    inner
}

/// A bordered overlay box drawn over what is beneath; returns the inner area.
pub fn popup(f: &mut Frame, area: Rect, title: &str, footer: &str, ui: &Ui) -> Rect {
    f.render_widget(Clear, area);
    let room = area.width.saturating_sub(4) as usize;
    let mut block = Block::bordered()
        .border_style(ui.theme.focus_border())
        .title(Span::styled(
            format!(" {} ", widgets::fit(title, room.saturating_sub(2))),
            ui.theme.focus_border(),
        ));
    if !footer.is_empty() {
        block = block.title_bottom(Span::styled(
            format!(" {} ", widgets::fit(footer, room.saturating_sub(2))),
            ui.theme.muted(),
        ));
    }
    let inner = block.inner(area);
    f.render_widget(block, area);
    inner
}

/// A muted, wrapped explanation (empty states, notes).
pub fn note(f: &mut Frame, area: Rect, text: &str, style: Style) {
    f.render_widget(
        Paragraph::new(text.to_string())
            .style(style)
            .wrap(Wrap { trim: true }),
        area,
    );
}

/// Steps back from `current` to `target` in the wizard (0 when not behind).
pub fn steps_back(current: WizardStep, target: WizardStep) -> usize {
    let pos = |s: WizardStep| WizardStep::ALL.iter().position(|x| *x == s).unwrap_or(0);
    pos(current).saturating_sub(pos(target))
}

/// A table whose rows can be clicked: draws it and records a hit for each visible row
/// (a click selects the row, a second click on the selected row activates it).
pub(crate) fn clickable_table(
    f: &mut Frame,
    area: Rect,
    cols: &[crate::widgets::table::Column<'_>],
    rows: &[Vec<Line<'_>>],
    selected: usize,
    ui: &mut Ui,
) {
    let hits =
        crate::widgets::table::render(f.buffer_mut(), area, cols, rows, Some(selected), &ui.theme);
    for (r, index) in hits {
        ui.hit(
            r,
            Hit::Row {
                index,
                selected: index == selected,
            },
        );
    }
}
