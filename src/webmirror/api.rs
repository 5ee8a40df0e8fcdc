//! The JSON API. Reads are open to whoever may read the pages; every POST needs the per-run
//! token as `Authorization: Bearer ...` (checked by the server before it gets here).
//!
//! - `GET  /api/changes` → `{"mark": N}`: the database change mark (pages poll it)
//! - `GET  /api/session` → `{"csrf": "..."}`: the per-run token, for same-origin scripts
//! - `GET  /api/screen?tab=agents` → the view struct a page renders
//! - `POST /api/models/rescore` → the best free model per role after rescoring
//! - `GET  /api/models/best-free?role=R`
//! - `GET  /api/models/roster` → all free models with scores for all roles
//! - `GET  /api/agents/<id>/skills` → Paperclip's skill snapshot
//! - `POST /api/agents/<id>/skills/sync` with `{"desiredSkills": [...]}` → the new snapshot
//! - `POST /api/actions` with any domain Action as JSON → its outcome
//! - `POST /api/models/scan` → `202 {"job": N, "state": "running", "url": "/api/jobs/N"}`: a
//!   catalog scan on the runtime (409 when one already runs, here or in another process)
//! - `GET  /api/jobs/<id>` → the job's state, progress, error and times (any process's job)
//!
//! Errors are `{"error": "..."}` with 400 (bad input, unknown role), 403, 404 (unknown agent
//! or path), 405, 413.

use std::sync::atomic::Ordering;

use serde::Deserialize;
use serde_json::json;

use super::page::PageCtx;
use super::server::{App, Reply, Req, screen_for, status_of};
use super::sessions::SHARED;
use crate::core::action::{self, Action, Op, Outcome};
use crate::core::runtime::{self, JobKind};
use crate::core::scoring::Role;
use crate::core::view::Tab;
use crate::core::{CoreError, agents, models};

fn err(e: &CoreError) -> Reply {
    Reply::json_error(status_of(e), &e.to_string())
}

fn not_allowed(allow: &str) -> Reply {
    let mut r = Reply::json_error(405, &format!("use {allow}"));
    r.headers.push(("Allow".into(), allow.into()));
    r
}

/// `/api/agents/<id>/skills[/sync]` → (id, is_sync).
fn skills_path(path: &str) -> Option<(String, bool)> {
    let rest = path.strip_prefix("/api/agents/")?;
    if let Some(id) = rest.strip_suffix("/skills/sync") {
        return (!id.is_empty() && !id.contains('/')).then(|| (id.to_string(), true));
    }
    let id = rest.strip_suffix("/skills")?;
    (!id.is_empty() && !id.contains('/')).then(|| (id.to_string(), false))
}

fn param<'a>(req: &'a Req, key: &str) -> Option<&'a str> {
    req.query
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

pub(crate) fn get(app: &App, req: &Req) -> Reply {
    let core = &app.core;
    match req.path.as_str() {
        "/api/changes" => Reply::json(200, &json!({ "mark": app.mark.load(Ordering::SeqCst) })),
        "/api/session" => Reply::json(200, &json!({ "csrf": app.csrf, "url": app.url })),
        "/api/screen" => {
            let tab = match param(req, "tab") {
                None => Tab::Hermes,
                Some(t) => match serde_json::from_value::<Tab>(json!(t)) {
                    Ok(t) => t,
                    Err(_) => return Reply::json_error(400, "unknown tab"),
                },
            };
            let ctx = PageCtx::new(tab.path(), Vec::new(), &app.csrf);
            match screen_for(app, SHARED, tab, &ctx) {
                Ok(s) => Reply::json(200, &s),
                Err(e) => err(&e),
            }
        }
        "/api/models/roster" => match app.rt.block_on(models::roster(core)) {
            Ok(r) => Reply::json(200, &r),
            Err(e) => err(&e),
        },
        "/api/models/best-free" => {
            let Some(role) = param(req, "role") else {
                return Reply::json_error(
                    400,
                    "give ?role= (pm, engineer, hermes, creative, research, custom)",
                );
            };
            let role = match Role::parse(role) {
                Ok(r) => r,
                Err(e) => return Reply::json_error(400, &e.to_string()),
            };
            match app.rt.block_on(models::best_free(core, role)) {
                Ok(b) => Reply::json(200, &b),
                Err(e) => err(&e),
            }
        }
        "/api/models/rescore" | "/api/actions" | "/api/models/scan" => not_allowed("POST"),
        path if path.starts_with("/api/jobs/") => {
            let Ok(id) = path["/api/jobs/".len()..].parse::<i64>() else {
                return Reply::json_error(400, "a job id is a number: /api/jobs/<id>");
            };
            match app.rt.block_on(runtime::job(&core.db, id)) {
                Ok(Some(job)) => Reply::json(200, &job),
                Ok(None) => Reply::json_error(404, &format!("no job {id}")),
                Err(e) => err(&e),
            }
        }
        path => match skills_path(path) {
            Some((id, false)) => match app.rt.block_on(agents::skills(core, &id)) {
                Ok(s) => Reply::json(200, &s),
                Err(e) => err(&e),
            },
            Some((_, true)) => not_allowed("POST"),
            None => Reply::json_error(404, "no such API path"),
        },
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncBody {
    #[serde(default)]
    desired_skills: Option<Vec<String>>,
}

pub(crate) fn post(app: &App, req: &Req, body: &[u8]) -> Reply {
    let reply = post_inner(app, req, body);
    if reply.status < 300
        && let Ok(m) = app.rt.block_on(app.core.change_mark())
    {
        app.mark.fetch_max(m, Ordering::SeqCst);
    }
    reply
}

fn post_inner(app: &App, req: &Req, body: &[u8]) -> Reply {
    let core = &app.core;
    match req.path.as_str() {
        "/api/models/rescore" => match app.rt.block_on(action::apply(core, Op::Rescore)) {
            Ok(Outcome::Rescored(r)) => {
                let best: serde_json::Map<String, serde_json::Value> = r
                    .rescore
                    .best
                    .iter()
                    .map(|p| (p.role.as_str().to_string(), json!(p)))
                    .collect();
                Reply::json(
                    200,
                    &json!({
                        "scored_at": r.rescore.scored_at,
                        "models": r.rescore.models,
                        "best": best,
                        "changed": r.rescore.changed,
                        "agents_changed": r.changed,
                    }),
                )
            }
            Ok(other) => Reply::json(200, &other),
            Err(e) => err(&e),
        },
        "/api/actions" => {
            let action: Action = match serde_json::from_slice(body) {
                Ok(a) => a,
                Err(e) => return Reply::json_error(400, &format!("not an action: {e}")),
            };
            let op = match action {
                Action::Op(op) => op,
                // Screen intents act on what a page shows: they go to a session.
                other => {
                    return err(&CoreError::usage(format!(
                        "{:?} acts on a screen; send it to a session",
                        other.name()
                    )));
                }
            };
            match app.rt.block_on(action::apply(core, op)) {
                Ok(o) => Reply::json(200, &o),
                Err(e) => err(&e),
            }
        }
        "/api/models/scan" => match app.rt.block_on(app.runtime.start(JobKind::Scan)) {
            Ok(job) => Reply::json(
                202,
                &json!({ "job": job, "state": "running", "url": format!("/api/jobs/{job}") }),
            ),
            Err(e) => err(&e),
        },
        path if path.starts_with("/api/jobs/") => not_allowed("GET"),
        "/api/changes"
        | "/api/session"
        | "/api/screen"
        | "/api/models/roster"
        | "/api/models/best-free" => not_allowed("GET"),
        path => match skills_path(path) {
            Some((id, true)) => {
                let parsed: SyncBody = if body.iter().all(u8::is_ascii_whitespace) {
                    SyncBody {
                        desired_skills: None,
                    }
                } else {
                    match serde_json::from_slice(body) {
                        Ok(b) => b,
                        Err(e) => {
                            return Reply::json_error(400, &format!("bad JSON body: {e}"));
                        }
                    }
                };
                let action = Op::SyncSkills {
                    agent: id,
                    desired: parsed.desired_skills,
                };
                match app.rt.block_on(action::apply(core, action)) {
                    Ok(Outcome::Skills(s)) => Reply::json(200, &s),
                    Ok(other) => Reply::json(200, &other),
                    Err(e) => err(&e),
                }
            }
            Some((_, false)) => not_allowed("GET"),
            None => Reply::json_error(404, "no such API path"),
        },
    }
}
