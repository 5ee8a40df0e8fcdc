//! `nxr notifications` from the command line, and forwarding to a fake Telegram Bot API:
//! what is sent (count, fields, escaping), that a 429 then 200 gets one message through,
//! that several processes send each notification once, and that the token stays hidden.

mod support;
mod web_common;

use std::time::Duration;

use support::telegram::FakeTelegram;
use support::{Daemon, TestEnv, fixture_path, until};
use web_common::Server;

const TOKEN: &str = "123456:SECRET-token-never-shown";

/// Adds a notification as another part of nxr would (the usage or gateway engineer's code
/// calls `notifications::add`; the row is the same).
fn add(env: &TestEnv, kind: &str, title: &str, body: &str) {
    let q = |s: &str| s.replace('\'', "''");
    env.db_exec(&format!(
        "INSERT INTO notifications (kind, title, body, payload, created_at)
         VALUES ('{}', '{}', '{}', '{{}}', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        q(kind),
        q(title),
        q(body)
    ));
}

fn telegram_env(tg: &FakeTelegram, channel: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.set("NXR_TELEGRAM_API_URL", &tg.base_url());
    // Creates the database (and its tables) before rows are added by hand.
    env.nxr(&["notifications"]).assert_ok();
    std::fs::write(
        env.hermes_home.path().join(".env"),
        format!("TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_HOME_CHANNEL={channel}\n"),
    )
    .expect("write .env");
    env
}

#[test]
fn urgent_notifications_reach_telegram_once_with_chat_topic_and_escaped_html() {
    let tg = FakeTelegram::start();
    let env = telegram_env(&tg, "-100123:45");
    add(
        &env,
        "gateway_crashed",
        "pm <gateway> & co",
        "exit \"1\" <code>",
    );
    add(&env, "better_model", "not urgent", "off by default");
    add(
        &env,
        "rate_limit_90",
        "90% of today's free requests",
        "used 45 of 50",
    );

    let d = Daemon::start(&env);
    until("two messages", Duration::from_secs(60), || {
        (tg.messages().len() >= 2).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let printed = d.stop();
    let sent = tg.messages();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let first = &sent[0];
    assert_eq!(first.token, TOKEN);
    assert_eq!(first.field("chat_id"), "-100123");
    assert_eq!(first.field("message_thread_id"), "45");
    assert_eq!(first.field("parse_mode"), "HTML");
    let text = first.field("text");
    assert!(
        text.contains("<b>pm &lt;gateway&gt; &amp; co</b>"),
        "{text}"
    );
    assert!(text.contains("exit &quot;1&quot; &lt;code&gt;"), "{text}");
    assert!(sent[1].field("text").contains("90% of today"), "{sent:?}");
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM notifications WHERE forwarded_at IS NOT NULL"),
        2
    );
    assert_eq!(
        env.db_i64(
            "SELECT COUNT(*) FROM notifications WHERE kind = 'better_model' AND forwarded_at IS NULL"
        ),
        1
    );
    assert!(!printed.contains("SECRET"), "{printed}");
    let log = std::fs::read_to_string(env.nxr_home.path().join("nxr.log")).unwrap_or_default();
    assert!(!log.contains("SECRET"), "the token is in the log");

    // Turning a type on sends its pending notification, once.
    let toggles = env.json(&["notifications", "telegram", "--enable", "better_model"]);
    let on = toggles["toggles"]
        .as_array()
        .expect("toggles")
        .iter()
        .find(|t| t["kind"] == "better_model")
        .expect("better_model");
    assert_eq!(on["enabled"], true);
    assert!(!toggles.to_string().contains("SECRET"), "{toggles}");
    let d = Daemon::start(&env);
    until("the third message", Duration::from_secs(60), || {
        (tg.messages().len() >= 3).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    d.stop();
    assert_eq!(tg.messages().len(), 3);
}

#[test]
fn a_bot_api_that_answers_429_and_then_200_gets_exactly_one_message_through() {
    let tg = FakeTelegram::start();
    tg.answer_next(
        429,
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#,
    );
    let env = telegram_env(&tg, "987654");
    add(&env, "model_gone", "x/y:free is gone", "scout's main model");
    let d = Daemon::start(&env);
    until("a message through", Duration::from_secs(60), || {
        (!tg.messages().is_empty()).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    d.stop();
    let all = tg.requests();
    assert_eq!(
        all.iter().map(|m| m.status).collect::<Vec<_>>(),
        [429, 200],
        "{all:?}"
    );
    assert_eq!(all[1].field("chat_id"), "987654");
    assert_eq!(all[1].field("message_thread_id"), "");
}

#[test]
fn two_daemons_forward_each_notification_once() {
    let tg = FakeTelegram::start();
    let env = telegram_env(&tg, "42");
    for i in 0..6 {
        add(&env, "scan_failed", &format!("failure {i}"), "x");
    }
    let a = Daemon::start(&env);
    let b = Daemon::start(&env);
    until("six messages", Duration::from_secs(90), || {
        (tg.messages().len() >= 6).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    a.stop();
    b.stop();
    let mut titles: Vec<String> = tg
        .requests()
        .iter()
        .map(|m| m.field("text").to_string())
        .collect();
    assert_eq!(titles.len(), 6, "{titles:?}");
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 6, "a notification went twice");
}

#[test]
fn the_list_filters_by_type_and_unread_and_read_marks_one_or_all() {
    let env = TestEnv::new();
    env.nxr(&["notifications"]).assert_ok();
    add(&env, "rate_limit_70", "70%", "a");
    add(&env, "rate_limit_90", "90%", "b");
    add(&env, "gateway_crashed", "crashed", "c");
    let all = env.json(&["notifications"]);
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    assert_eq!(all[0]["title"], "crashed", "newest first");
    let only = env.json(&["notifications", "--type", "rate_limit_90"]);
    assert_eq!(only.as_array().map(Vec::len), Some(1));
    assert_eq!(only[0]["kind"], "rate_limit_90");

    let id = all[2]["id"].as_i64().expect("id").to_string();
    assert_eq!(env.json(&["notifications", "read", &id])["marked"], 1);
    let unread = env.json(&["notifications", "--unread"]);
    assert_eq!(unread.as_array().map(Vec::len), Some(2));
    assert_eq!(env.json(&["notifications", "read", "--all"])["marked"], 2);
    assert_eq!(
        env.json(&["notifications", "--unread"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let text = env.nxr(&["notifications"]);
    text.assert_ok();
    assert!(text.stdout.contains("rate_limit_70"), "{text}");
    assert!(text.stdout.contains("0 unread"), "{text}");

    // Mistakes are usage errors that change nothing.
    for bad in [
        vec!["notifications", "--type", "nope"],
        vec!["notifications", "read", "999"],
        vec!["notifications", "apply", "999"],
        vec!["notifications", "telegram", "--enable", "nope"],
        vec!["notifications", "read"],
    ] {
        env.nxr(&bad).assert_code(2);
    }
    // A notification with nothing to apply says so.
    let out = env.nxr(&["notifications", "apply", &id]);
    out.assert_code(2);
    assert!(out.stderr.contains("nothing to apply"), "{out}");
}

#[test]
fn the_scan_interval_is_a_setting_people_write_as_6h_and_bad_values_change_nothing() {
    let env = TestEnv::new();
    assert_eq!(
        env.json(&["config", "set", "scan-interval", "15m"])["scan_interval"],
        "15m"
    );
    for bad in ["5", "6x", "10s", ""] {
        env.nxr(&["config", "set", "scan-interval", bad])
            .assert_code(2);
    }
    // NXR_SCAN_INTERVAL (the tests' 0) overrides the setting; without it the setting holds.
    let mut plain = env.command(&["config", "get", "scan-interval"]);
    plain.env_remove("NXR_SCAN_INTERVAL");
    let out = support::run(plain, Duration::from_secs(60));
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "15m");
    env.nxr(&["config", "set", "auto-upgrade-free-models", "maybe"])
        .assert_code(2);
    assert_eq!(
        env.json(&["config", "get", "auto-upgrade-free-models"])["auto_upgrade_free_models"],
        false
    );
}

/// A workspace whose research agent has one `better_model` advice (03-30 then 03-31).
fn advised() -> (TestEnv, String) {
    let env = TestEnv::new();
    let from = |f: &str| fixture_path(f).display().to_string();
    env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
    env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);
    let id = env.db_rows("SELECT id FROM notifications WHERE kind = 'better_model'")[0][0].clone();
    (env, id)
}

#[test]
fn the_notifications_page_applies_filters_and_toggles_with_the_same_ops_as_the_cli() {
    let (env, id) = advised();
    let s = Server::start(&env);
    let page = s.get("/notifications").text();
    assert!(page.contains("apply_notification"), "no apply button");
    assert!(page.contains("set_auto_upgrade"), "no auto-upgrade switch");
    assert!(
        page.contains("set_telegram_forwarding"),
        "no Telegram toggles"
    );

    let r = s.post_form(
        "/notifications",
        None,
        &[("action", "filter_notifications"), ("kind", "model_gone")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let cookie = format!("nxr_sid={}", r.sid().expect("a session"));
    let filtered = s
        .get_with("/notifications", &[("Cookie", cookie.as_str())])
        .text();
    assert!(
        filtered.contains("No model_gone notifications"),
        "{filtered}"
    );

    for fields in [
        vec![("action", "set_auto_upgrade"), ("on", "true")],
        vec![
            ("action", "set_telegram_forwarding"),
            ("kind", "better_model"),
            ("on", "true"),
        ],
        vec![("action", "apply_notification"), ("id", id.as_str())],
    ] {
        let r = s.post_form("/notifications", Some(&cookie), &fields);
        assert_eq!(r.status, 303, "{fields:?}: {}", r.text());
    }
    assert_eq!(
        env.json(&["config", "get", "auto-upgrade-free-models"])["auto_upgrade_free_models"],
        true
    );
    let toggles = env.json(&["notifications", "telegram"]);
    assert!(
        toggles["toggles"]
            .as_array()
            .expect("toggles")
            .iter()
            .any(|t| t["kind"] == "better_model" && t["enabled"] == true),
        "{toggles:#}"
    );
    assert_eq!(
        env.db_rows(&format!("SELECT state FROM notifications WHERE id = {id}")),
        vec![vec!["applied".to_string()]]
    );
    assert_eq!(
        support::hermes_config_get(&env, "scout", "model.default"),
        "qwen/qwen3.6-plus-preview:free"
    );
    // A forged type is refused and changes nothing.
    let r = s.post_form(
        "/notifications",
        Some(&cookie),
        &[
            ("action", "set_telegram_forwarding"),
            ("kind", "nope"),
            ("on", "true"),
        ],
    );
    assert_ne!(r.status, 500, "{}", r.text());
    assert!(
        !env.json(&["notifications", "telegram"])
            .to_string()
            .contains("nope")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tab_6_keys_apply_the_selected_advice_and_flip_auto_upgrade() {
    use nxr::core::action::{Intent, Op};
    use nxr::core::session::Session;
    use nxr::core::view::{Body, Tab};
    let (env, id) = tokio::task::block_in_place(advised);
    let core = nxr::core::Core::open(
        nxr::core::paths::Paths {
            nxr_home: env.nxr_home.path().to_path_buf(),
            hermes_home: env.hermes_home.path().to_path_buf(),
        },
        nxr::core::paths::Endpoints::unreachable(),
    )
    .await
    .expect("open");
    let mut s = Session::new(core).await.expect("session");
    s.apply(Intent::SwitchTab {
        tab: Tab::Notifications,
    })
    .await;
    let Body::Notifications(v) = s.view().body else {
        panic!("tab 6")
    };
    assert_eq!(v.rows[0].id.to_string(), id);
    assert!(v.rows[0].actionable);
    assert_eq!(s.view().tabs[5].badge, Some(1), "the unread badge");
    s.apply(Intent::ToggleAutoUpgrade).await;
    s.apply(Op::ApplyNotification { id: None }).await;
    let Body::Notifications(v) = s.view().body else {
        panic!("tab 6")
    };
    assert!(v.auto_upgrade);
    assert_eq!(v.rows[0].state, "applied");
    assert!(!v.rows[0].actionable);
    assert_eq!(s.view().tabs[5].badge, None, "applied advice is read");
    let scout = tokio::task::block_in_place(|| {
        env.db_rows("SELECT model FROM agents WHERE name = 'scout'")
    });
    assert_eq!(
        scout,
        vec![vec!["qwen/qwen3.6-plus-preview:free".to_string()]]
    );
}
