//! Screen fixtures shared by the TUI and HTML snapshot tests, so both renderers draw the very
//! same sessions: real workspaces on fixed temporary paths with a frozen clock.

use std::path::PathBuf;

use nxr::core::Core;
use nxr::core::action::{self, Action, Op};
use nxr::core::paths::{Endpoints, Paths};
use nxr::core::scoring::Role;
use nxr::core::session::Session;
use nxr::core::skills::Template;
use nxr::core::view::Screen;

pub struct Fixture {
    pub root: PathBuf,
    pub session: Session,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub fn clock(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

/// A workspace at `<base>/<name>` (removed before and after, so paths on screen are the
/// same on every machine); with `team`, three agents and two notifications.
pub async fn fixture(base: &str, name: &str, team: bool) -> Fixture {
    let root = PathBuf::from(base).join(name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("mkdir");
    let paths = Paths {
        nxr_home: root.join("nxr"),
        hermes_home: root.join("hermes"),
    };
    std::fs::create_dir_all(&paths.nxr_home).expect("mkdir");
    std::fs::create_dir_all(&paths.hermes_home).expect("mkdir");
    let endpoints = Endpoints::unreachable();
    let core = Core::open(paths, endpoints).await.expect("open");
    if team {
        for (agent, role, category) in [
            ("pm", Role::Pm, None),
            ("eng", Role::Engineer, None),
            ("scout", Role::Research, Some(Template::Research)),
        ] {
            action::apply(
                &core,
                Op::CreateAgent {
                    name: agent.into(),
                    role: Some(role),
                    category,
                    skills: None,
                    model: None,
                },
            )
            .await
            .expect("create agent");
        }
        let (_conn, tx) = core.db.write().await.expect("write");
        tx.execute_batch(
            "INSERT INTO notifications (kind, title, body, created_at, read_at) VALUES
             ('better_model', 'A better free model for eng',
              'qwen/qwen3-coder:free scores higher for the engineer role than the current model.',
              '2026-05-02T09:30:00Z', '2026-05-02T10:00:00Z'),
             ('limit', 'Free-tier requests at 72 % today',
              '36 of 50 requests used by 12:00 UTC; at this pace the day ends at 104 %.',
              '2026-05-03T12:00:00Z', NULL);",
        )
        .await
        .expect("notifications");
        tx.commit().await.expect("commit");
    }
    let mut session = Session::new(core).await.expect("session");
    session.set_clock(clock("2026-05-04T12:00:00Z"));
    Fixture { root, session }
}

/// Usage on the fixture's day (2026-05-04, clock at 12:00 UTC): 36 free-model requests by
/// noon (10 in the last hour), some paid cost, and two rate-limit events; then a reload.
pub async fn seed_usage(f: &mut Fixture) {
    let d0: i64 = 1_777_852_800; // 2026-05-04T00:00:00Z
    let mut sql = String::new();
    for h in 0..12 {
        let (agent, n) = if h % 2 == 0 { ("pm", 2) } else { ("eng", 3) };
        let n = if h == 11 { 10 } else { n };
        sql.push_str(&format!(
            "INSERT INTO usage_hourly (hour, agent, model, requests, errors, input_tokens, output_tokens, cost_usd)
             VALUES ({}, '{agent}', 'nvidia/nemotron-3-super-120b-a12b:free', {n}, 0, {}, {}, 0);\n",
            d0 + h * 3600,
            n * 900,
            n * 120
        ));
    }
    // A day earlier: paid calls with a cost, and a failed one.
    sql.push_str(&format!(
        "INSERT INTO usage_hourly (hour, agent, model, requests, errors, input_tokens, output_tokens, cost_usd)
         VALUES ({}, 'scout', 'anthropic/claude-sonnet-4.6', 4, 1, 20000, 3000, 0.1234);\n",
        d0 - 86_400 + 9 * 3600
    ));
    for i in 0..10 {
        sql.push_str(&format!(
            "INSERT INTO usage_calls (agent, model, at, error) VALUES ('eng', 'nvidia/nemotron-3-super-120b-a12b:free', {}, 0);\n",
            d0 + 11 * 3600 + 300 * i + 30
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO rate_limit_events (agent, at, model, status, reason, limit_kind, retry_count, reset_at, message) VALUES
         ('eng', {}, 'nvidia/nemotron-3-super-120b-a12b:free', 429, 'rate_limit', 'free-models-per-min', 0, {}, 'Rate limit exceeded: free-models-per-min.'),
         ('scout', {}, 'anthropic/claude-sonnet-4.6', NULL, 'timeout', '', 0, NULL, 'Connection error.');",
        (d0 + 11 * 3600 + 1200) * 1000,
        (d0 + 11 * 3600 + 1260) * 1000,
        (d0 - 86_400 + 9 * 3600 + 60) * 1000
    ));
    // A kanban task nxr held (the renderers list what is recorded, whatever the gate).
    sql.push_str(
        "\nINSERT INTO kanban_holds (root, board, task_id, title, assignee, reason, opens_at, held_at, held_ms)
         VALUES ('/hermes', 'default', 't_5eed0001', 'write the weekly report', 'pm',
                 'free-tier daily limit reached; nxr opens the gate at 00:00 UTC',
                 '2026-05-05T00:00:00.000000Z', '2026-05-04T11:40:00.000000Z', 0);",
    );
    {
        let (_conn, tx) = f.session.core().db.write().await.expect("write");
        tx.execute_batch(&sql).await.expect("usage rows");
        tx.commit().await.expect("commit");
    }
    f.session.apply(nxr::core::action::Intent::Refresh).await;
}

pub async fn apply<A: Into<Action>>(f: &mut Fixture, actions: impl IntoIterator<Item = A>) {
    for a in actions {
        f.session.apply(a).await;
    }
}

/// What onboarding detects depends on the machine (Ollama, whisper, hermes on PATH): the
/// detection step's report is replaced by a placeholder before snapshotting.
pub fn machine_neutral(s: &mut Screen) {
    if let Some(setup) = &mut s.setup {
        for step in &mut setup.steps {
            if step.step == nxr::core::onboarding::SetupStep::Detect
                && step
                    .text
                    .as_ref()
                    .is_some_and(|t| !t.starts_with("already set up"))
            {
                step.text = Some("[what this machine has]".into());
            }
        }
    }
}
