//! The free-tier budget as a person sees it, moved by real agent calls: the real
//! `hermes -p AGENT -z ...` calls the fake OpenRouter while the TUI (in tmux) shows Tab 4 and
//! Chromium shows `/budget`; the count moves without a key press or a reload, within the
//! 1 s lag target plus slack; calls that cross 70 % of a small daily limit (10, from `/key`)
//! bring the warning to another tab and page; and at 90 % exactly one Telegram message
//! reaches the fake Bot API, from two `nxr daemon`s.
//!
//! Needs the `hermes` CLI (`$NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`), tmux, and
//! Debian's `chromium` and `chromium-driver` (`.ci/run` installs them all).

mod support;
mod web_common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::openrouter::CHAT;
use support::telegram::FakeTelegram;
use support::tmux::Tmux;
use support::{Daemon, FakeOpenRouter, TestEnv, VALID_KEY, hermes_oneshot};
use web_common::Server;
use web_common::browser::Browser;

/// The daily limit `/key` reports in these tests.
const LIMIT: i64 = 10;

/// How far behind a real call a surface may be: the 1 s target (the budget tick reads new
/// usage every second) plus slack for a debug build on a busy two-core machine.
const LAG: Duration = Duration::from_secs(3);

/// The tests measure lag: one at a time, so they do not slow each other down.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A workspace after `nxr init --free` (pm, engineer, hermes) with a stored key whose `/key`
/// says the account has `LIMIT` free-model requests a day, read once so every nxr process
/// sees that limit.
fn small_limit(server: &FakeOpenRouter, env: TestEnv) -> TestEnv {
    server.serve_key_body(format!(
        r#"{{"data":{{"label":"sk-or-v1-nxr...000","limit":null,"usage":0,"is_free_tier":true,
            "free_model_daily_requests":{{"used":0,"limit":{LIMIT},"remaining":{LIMIT}}}}}}}"#
    ));
    env.nxr(&["init", "--free", "--fetch-timeout", "1"])
        .assert_ok();
    env.nxr(&["config", "set", "openrouter-key", VALID_KEY])
        .assert_ok();
    let b = env.json(&["budget", "--check"]);
    assert_eq!(b["limit"], LIMIT, "the limit comes from /key: {b:#}");
    assert_eq!(b["used"], 0, "{b:#}");
    env
}

/// One real call by pm; returns when Hermes has exited (its row is in `state.db` by then).
#[track_caller]
fn call(env: &TestEnv, server: &FakeOpenRouter, n: usize) -> Instant {
    let out = hermes_oneshot(env, server, "pm", &format!("call {n}"));
    assert!(out.ok(), "hermes failed: {out}");
    Instant::now()
}

/// `n` real calls, two at a time (a two-core machine), all successful.
fn calls(env: &TestEnv, server: &FakeOpenRouter, from: usize, n: usize) {
    std::thread::scope(|s| {
        let handles: Vec<_> = (from..from + n)
            .map(|i| s.spawn(move || call(env, server, i)))
            .collect();
        for h in handles {
            h.join().expect("a call panicked");
        }
    });
}

/// The Budget tab's gauge line says `used / LIMIT`.
fn gauge_says(screen: &str, used: i64) -> bool {
    screen
        .lines()
        .any(|l| l.contains(&format!(" {used} / {LIMIT} (")))
}

/// Whether a captured line (`capture-pane -e`) turns on reverse video (SGR 7) anywhere.
fn reversed(line: &str) -> bool {
    line.split("\u{1b}[")
        .skip(1)
        .filter_map(|seq| seq.split_once('m').map(|(params, _)| params))
        .any(|params| params.split(';').any(|p| p == "7"))
}

/// The line under the tab bar: the warning when there is one.
fn warning_line(screen: &str) -> &str {
    screen.lines().nth(1).unwrap_or_default()
}

#[test]
fn the_tui_gauge_follows_a_real_call_and_crossing_70_percent_warns_on_tab_1() {
    let _one = serial();
    let server = FakeOpenRouter::start();
    let env = small_limit(&server, TestEnv::new().with_openrouter(&server));
    let t = Tmux::start(&env, 120, 40);
    t.start_nxr("");
    t.wait_for("the tab bar", |s| {
        s.lines().next().is_some_and(|l| l.contains("[1 Hermes"))
    });
    t.keys(&["4"]);
    let s = t.wait_for("the gauge at 0", |s| gauge_says(s, 0));
    assert!(!s.contains("Free tier: "), "no warning at 0 %:\n{s}");

    // One real call: the gauge moves by itself.
    let done = call(&env, &server, 0);
    let s = t.wait_for("the gauge at 1", |s| gauge_says(s, 1));
    let lag = done.elapsed();
    eprintln!("TUI gauge: {lag:?} behind the call");
    assert!(lag < LAG, "the gauge moved {lag:?} after the call:\n{s}");

    // Below 70 % Tab 1 has no warning; crossing it brings one, with no key pressed.
    t.keys(&["1"]);
    let s = t.wait_for("tab 1", |s| {
        s.lines().next().is_some_and(|l| l.contains("[1 Hermes"))
    });
    assert!(!s.contains("Free tier: "), "no warning at 10 %:\n{s}");
    calls(&env, &server, 1, 5);
    std::thread::sleep(LAG);
    let s = t.screen();
    assert!(!s.contains("Free tier: "), "no warning at 60 %:\n{s}");
    let done = call(&env, &server, 6);
    let s = t.wait_for("the 70 % warning on tab 1", |s| {
        warning_line(s).contains("Free tier: 7/10 requests today (70 %)")
    });
    let lag = done.elapsed();
    eprintln!("TUI warning: {lag:?} behind the call");
    assert!(lag < LAG, "the warning came {lag:?} after the call:\n{s}");
    assert!(
        warning_line(&s).contains("Tab 4 for the budget"),
        "it says where the budget is:\n{s}"
    );
    assert!(
        s.lines().next().is_some_and(|l| l.contains("[1 Hermes")),
        "{s}"
    );

    // At 90 % the same line says so, more strongly (reversed).
    calls(&env, &server, 7, 2);
    let s = t.wait_for("the 90 % warning", |s| {
        warning_line(s).contains("Free tier: 9/10 requests today (90 %)")
    });
    let styled = t.screen_styled();
    let line = styled.lines().nth(1).unwrap_or_default();
    assert!(reversed(line), "not reversed: {line:?}\n{s}");
    assert_eq!(server.hits(CHAT), 9);
}

#[test]
fn the_budget_page_follows_a_real_call_and_crossing_70_percent_warns_on_the_hermes_page() {
    let _one = serial();
    let server = FakeOpenRouter::start();
    let env = small_limit(&server, TestEnv::new().with_openrouter(&server));
    let s = Server::start(&env);
    let b = Browser::start();
    b.go(&format!("{}/budget", s.url));
    b.wait_find("[data-used='0']");
    b.wait_js(
        "live refresh is polling",
        "document.body.dataset.mark",
        Duration::from_secs(10),
    );
    assert!(b.find("#budget-warning").is_none(), "no warning at 0 %");
    b.js("window.__same_page = 1");

    let done = call(&env, &server, 0);
    b.wait_js(
        "the gauge at 1",
        "document.querySelector(\"[data-used='1']\")",
        Duration::from_secs(30),
    );
    let lag = done.elapsed();
    eprintln!("/budget gauge: {lag:?} behind the call");
    assert!(lag < LAG, "the gauge moved {lag:?} after the call");
    assert_eq!(
        b.js("return window.__same_page"),
        serde_json::json!(1),
        "no reload"
    );

    // Another page: no warning below 70 %, then the banner under the navigation.
    b.go(&format!("{}/hermes", s.url));
    b.wait_js(
        "live refresh is polling",
        "document.body.dataset.mark",
        Duration::from_secs(10),
    );
    b.js("window.__same_page = 1");
    calls(&env, &server, 1, 5);
    std::thread::sleep(LAG);
    assert!(b.find("#budget-warning").is_none(), "no warning at 60 %");
    let done = call(&env, &server, 6);
    b.wait_js(
        "the 70 % warning",
        "document.querySelector('#budget-warning')",
        Duration::from_secs(30),
    );
    let lag = done.elapsed();
    eprintln!("/hermes warning: {lag:?} behind the call");
    assert!(lag < LAG, "the warning came {lag:?} after the call");
    let text = b
        .js("return document.querySelector('#budget-warning').innerText")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        text.starts_with("Free tier: 7/10 requests today (70 %)"),
        "{text}"
    );
    assert!(text.ends_with("Tab 4 for the budget"), "{text}");
    assert_eq!(
        b.js("return window.__same_page"),
        serde_json::json!(1),
        "no reload"
    );
    assert_eq!(
        b.js("var n = document.querySelector('nav.tabs'); var w = document.querySelector('#budget-warning'); return !!(n.compareDocumentPosition(w) & Node.DOCUMENT_POSITION_FOLLOWING)"),
        serde_json::json!(true),
        "the warning is under the navigation"
    );
    // It links to the budget.
    b.click("#budget-warning a");
    b.wait_find("[data-used='7']");
    assert!(b.url().ends_with("/budget"), "{}", b.url());
}

#[test]
fn crossing_90_percent_sends_one_telegram_message_from_two_daemons_and_70_percent_stays_home() {
    let _one = serial();
    let server = FakeOpenRouter::start();
    let tg = FakeTelegram::start();
    let mut env = TestEnv::new().with_openrouter(&server);
    env.set("NXR_TELEGRAM_API_URL", &tg.base_url());
    let env = small_limit(&server, env);
    std::fs::write(
        env.hermes_home.path().join(".env"),
        "TELEGRAM_BOT_TOKEN=123456:budget-alerts\nTELEGRAM_HOME_CHANNEL=4242\n",
    )
    .expect("write .env");

    let one = Daemon::start(&env);
    let two = Daemon::start(&env);
    // 70 %: a notification, not forwarded (it is not urgent and not turned on).
    calls(&env, &server, 0, 7);
    support_until("the 70 % notification", || {
        env.db_i64("SELECT COUNT(*) FROM notifications WHERE kind = 'rate_limit_70'") == 1
    });
    // 90 %: one message, naming the count and the limit.
    calls(&env, &server, 7, 2);
    support_until("a Telegram message", || !tg.messages().is_empty());
    // Several more ticks of both daemons send nothing more.
    std::thread::sleep(Duration::from_secs(4));
    let sent = tg.messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].field("chat_id"), "4242");
    let text = sent[0].field("text");
    assert!(text.contains("90 %"), "{text}");
    assert!(
        text.contains("(9 of 10)"),
        "it names the count and the limit: {text}"
    );
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM notifications WHERE kind = 'rate_limit_90'"),
        1
    );
    assert_eq!(
        env.db_i64(
            "SELECT COUNT(*) FROM notifications WHERE kind = 'rate_limit_70' AND forwarded_at IS NULL"
        ),
        1,
        "the 70 % one stayed home"
    );

    // Turning the 70 % type on sends the waiting one, once.
    env.nxr(&["notifications", "telegram", "--enable", "rate_limit_70"])
        .assert_ok();
    support_until("the 70 % message", || tg.messages().len() >= 2);
    std::thread::sleep(Duration::from_secs(3));
    let printed = format!("{}{}", one.stop(), two.stop());
    let sent = tg.messages();
    assert_eq!(sent.len(), 2, "{sent:?}\n{printed}");
    assert!(sent[1].field("text").contains("70 %"), "{sent:?}");
    assert_eq!(server.hits(CHAT), 9);
}

/// Polls `ok` for up to a minute.
#[track_caller]
fn support_until(what: &str, ok: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
