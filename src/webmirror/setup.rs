//! `/setup`: the first-run wizard in the browser, the same five steps as `nxr init` and the
//! TUI's first-run screen, driven through the same session (`begin_setup(Flow::Web)`,
//! `start_setup`, then one `advance` per step).
//!
//! Without JavaScript the form's POST runs every step and answers 303 back here, where the
//! summary shows. With JavaScript the form starts the run only, and the page posts
//! `/setup/step` once per step, showing each step as it finishes. The key field is a
//! password input that is never filled back in; the summary shows the stored key masked.

use maud::{Markup, html};

use super::page::{PageCtx, Text, meaning_class, shell, thousands};
use crate::core::view::{Screen, SetupView, StepState};

/// Where the run stands, as the page's `data-state` (read by the script and the tests).
pub fn state(v: &SetupView) -> &'static str {
    if v.error.is_some() {
        "failed"
    } else if !v.started {
        "ready"
    } else if v.running {
        "running"
    } else if v.already_done {
        "already"
    } else {
        "done"
    }
}

fn step_class(s: StepState) -> &'static str {
    match s {
        StepState::Pending => "m-muted",
        StepState::Running => "m-accent",
        StepState::Done => "m-success",
        StepState::Failed => "m-error",
    }
}

fn step_state(s: StepState) -> &'static str {
    match s {
        StepState::Pending => "pending",
        StepState::Running => "running",
        StepState::Done => "done",
        StepState::Failed => "failed",
    }
}

pub fn render(screen: &Screen, v: &SetupView, ctx: &PageCtx) -> Markup {
    let state = state(v);
    let content = html! {
        @if let Some(b) = &screen.banner {
            div class={"banner " (meaning_class(b.meaning))} role="status" { (Text(&b.text)) }
        }
        main #main {
            h1 { "Setup" }
            section.setup #setup data-state=(state) aria-label="first-run setup" {
                p { (v.intro) }
                ol.setup-steps {
                    @for st in &v.steps {
                        // After "already set up" the later steps had nothing to do.
                        @let skipped = v.already_done && st.state == StepState::Pending;
                        li class=(step_class(st.state)) data-step=(st.number)
                            data-state=(if skipped { "skipped" } else { step_state(st.state) }) {
                            (st.number) ". " (st.title)
                            @if st.state == StepState::Running { " … " span.m-muted { "running" } }
                            @if skipped { " · not needed" }
                            @if let Some(t) = &st.text { " · " (Text(t)) }
                        }
                    }
                }
                @if let Some(e) = &v.error { p.m-error #setup-error { (Text(e)) } }
                @match state {
                    "ready" | "failed" => (start_form(v, ctx)),
                    "running" => (continue_form(ctx)),
                    _ => (summary(v, ctx)),
                }
            }
        }
    };
    shell(screen, ctx, None, "Setup", content)
}

/// The key field and the button that runs the steps.
fn start_form(v: &SetupView, ctx: &PageCtx) -> Markup {
    html! {
        form #setup-form method="post" action="/setup" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="action" value="start_setup";
            p {
                label {
                    "OpenRouter key (optional) "
                    // Never filled back in: a key typed here is not in any page.
                    input #setup-key type="password" name="key" autocomplete="off"
                        spellcheck="false" size="40" placeholder="sk-or-... or leave empty";
                }
            }
            p.m-muted {
                "Without a key the agents run on free models. A key is checked with OpenRouter "
                "first, then stored in each profile's .env (mode 0600)."
            }
            button.primary #setup-start type="submit" {
                @if v.error.is_some() { "Try again" } @else { "Set up three agents" }
            }
        }
    }
}

/// A run in progress without the script (a second tab, a reload): run the rest.
fn continue_form(ctx: &PageCtx) -> Markup {
    html! {
        form #setup-continue method="post" action="/setup/step" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="all" value="1";
            button type="submit" { "Continue" }
        }
    }
}

fn summary(v: &SetupView, ctx: &PageCtx) -> Markup {
    let l = &v.limits;
    html! {
        @if v.already_done {
            p.m-warning #already-set-up {
                "Already set up: nothing was created. Your agents:"
            }
        } @else {
            p.m-success { "Done: " (v.agents.len()) " agents are ready." }
        }
        table.summary #setup-agents {
            thead { tr { th { "agent" } th { "role" } th { "model" } th { "skills" } } }
            tbody {
                @for a in &v.agents {
                    tr data-agent=(a.name) {
                        td { (a.name) }
                        td { (a.role.label()) }
                        td { code { (Text(&a.model)) } }
                        td { (a.skills.join(", ")) }
                    }
                }
            }
        }
        h2 { "Free-tier limits" }
        dl.limits {
            dt { "requests per minute" } dd.num { (thousands(l.per_minute.into())) }
            dt { "requests per day" } dd.num { (thousands(l.per_day.into())) }
            dt { "requests per day once 10 credits are bought" }
            dd.num { (thousands(l.per_day_with_credits.into())) }
        }
        p.m-muted { (l.text) }
        h2 { "Upgrade to paid models" }
        @if let Some(k) = &v.key {
            p { "OpenRouter key " code #setup-masked-key { (k) } " is stored." }
        }
        ul.upgrade {
            li { "Store a key: " code { "nxr config set openrouter-key KEY" } }
            li { "Then choose per agent: " code { "nxr upgrade" } " (or " code { "nxr upgrade --all" } ")" }
            li {
                "Or here: "
                form.inline method="post" action="/agents/manage" {
                    input type="hidden" name="csrf" value=(ctx.csrf);
                    button.primary name="action" value="open_bulk_upgrade" { "Bulk Upgrade" }
                }
                " shows each agent's paid pick before anything changes."
            }
        }
        p { a.btn href="/hermes" { "Go to the dashboard" } " " a.btn href="/agents/manage" { "Agents" } }
    }
}

// ---- the routes ----

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;

use super::form;
use super::server::{App, Reply, Req, ensure_session, same, session_key, status_of, with_cookie};
use super::sessions;
use crate::core::action::{Action, Intent};
use crate::core::onboarding::{self, Flow};
use crate::core::session::Session;
use crate::core::{CoreError, Result};

/// A browser's setup runs in a session of its own, so its other pages never show the
/// wizard and the run's summary stays on `/setup`.
fn session_of(sid: &str) -> String {
    format!("setup-{sid}")
}

fn csrf_ok(app: &App, pairs: &[(String, String)]) -> bool {
    pairs.iter().any(|(k, v)| k == "csrf" && same(v, &app.csrf))
}

/// Runs `f` on this browser's setup session (made and put in setup on first use), then
/// answers with what `done` makes of the result.
fn with_setup<T>(
    app: &App,
    req: &Req,
    f: impl AsyncFnOnce(&mut Session) -> Result<T>,
    done: impl FnOnce(T, Option<String>) -> Reply,
) -> Reply {
    let (sid, cookie) = session_key(req, false);
    let key = session_of(&sid);
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let entry = app.sessions.get(&key);
        let mut guard = sessions::lock(&entry);
        app.rt.block_on(async {
            let s = ensure_session(app, &mut guard).await?;
            s.begin_setup(Flow::Web);
            let out = f(s).await?;
            if let Ok(m) = s.core().change_mark().await {
                app.mark.fetch_max(m, Ordering::SeqCst);
            }
            Ok::<_, CoreError>(out)
        })
    }));
    match result {
        Ok(Ok(t)) => done(t, cookie),
        Ok(Err(e)) => req.error(status_of(&e), &e.to_string()),
        Err(_) => {
            app.sessions.drop_session(&key);
            req.error(500, "internal error")
        }
    }
}

/// Runs the remaining steps one after the other.
async fn run_all(s: &mut Session) {
    while s.busy() {
        s.advance().await;
    }
}

/// `GET /setup`: the wizard, or its summary. When a flow has already finished, the first
/// step finds that out (it reads, it writes nothing) and the page says "already set up".
pub(crate) fn get(app: &App, req: &Req) -> Reply {
    let ctx = PageCtx::new("/setup", Vec::new(), &app.csrf);
    with_setup(
        app,
        req,
        async |s: &mut Session| {
            let started = s.view().setup.is_some_and(|v| v.started);
            if !started && onboarding::completed(s.core()).await? {
                s.apply(Intent::StartSetup { key: None }).await;
                run_all(s).await;
            }
            Ok(s.view())
        },
        |screen, cookie| {
            with_cookie(
                Reply::html(200, super::page::render_screen(&screen, &ctx)),
                cookie,
            )
        },
    )
}

/// `POST /setup` with `action=start_setup` and an optional `key`: starts the run and, unless
/// the script asked to drive it (`live=1`), runs every step before answering 303.
pub(crate) fn post(app: &App, req: &Req, body: &[u8]) -> Reply {
    let pairs = form::pairs(body);
    if !csrf_ok(app, &pairs) {
        return req.error(403, "missing or wrong form token (reload the page)");
    }
    let live = pairs.iter().any(|(k, v)| k == "live" && v == "1");
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "live").collect();
    let action = match form::decode_pairs(&pairs) {
        Ok(f) => match <[Action; 1]>::try_from(f.actions) {
            Ok([a @ Action::Intent(Intent::StartSetup { .. })]) => a,
            _ => return req.error(400, "this page takes start_setup only"),
        },
        Err(e) => return req.error(400, &e),
    };
    with_setup(
        app,
        req,
        async move |s: &mut Session| {
            s.apply(action).await;
            if !live {
                run_all(s).await;
            }
            Ok(())
        },
        |(), cookie| with_cookie(Reply::redirect("/setup"), cookie),
    )
}

/// `POST /setup/step`: runs the next step of this browser's run (`all=1`: every remaining
/// step), then 303 back to `/setup`.
pub(crate) fn step(app: &App, req: &Req, body: &[u8]) -> Reply {
    let pairs = form::pairs(body);
    if !csrf_ok(app, &pairs) {
        return req.error(403, "missing or wrong form token (reload the page)");
    }
    let all = pairs.iter().any(|(k, v)| k == "all" && v == "1");
    with_setup(
        app,
        req,
        async move |s: &mut Session| {
            if all {
                run_all(s).await;
            } else if s.busy() {
                s.advance().await;
            }
            Ok(())
        },
        |(), cookie| with_cookie(Reply::redirect("/setup"), cookie),
    )
}
