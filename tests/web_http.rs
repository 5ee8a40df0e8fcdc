//! The web mirror over real HTTP: `nxr serve` on port 0 in a temporary world, driven by a
//! plain-socket client. Pages, form flows (post/redirect/get), the JSON API, every error
//! status, hostile catalog text, and requests no browser would send.

mod support;
mod web_common;

use support::TestEnv;
use web_common::{Server, form_fields, send_with};

const HOSTILE_NAME: &str =
    "<script>window.__pwned=1</script>\"><img src=x onerror=alert(1)>\u{1b}[2J";

fn world_with(agents: &[(&str, &str)]) -> TestEnv {
    let env = TestEnv::new();
    for (name, role) in agents {
        env.nxr(&["agents", "create", "--role", role, "--name", name])
            .assert_ok();
    }
    env
}

/// A catalog file whose free models carry markup and control characters in their names and
/// descriptions, plus a model whose id does.
pub fn hostile_catalog(dir: &std::path::Path) -> std::path::PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_str(&support::fixture("models-2026-05-01.json")).expect("fixture");
    let data = v["data"].as_array_mut().expect("data");
    let mut extra = None;
    for m in data.iter_mut() {
        let id = m["id"].as_str().unwrap_or("").to_string();
        if id.ends_with(":free") {
            m["name"] = serde_json::json!(format!("{HOSTILE_NAME} {id}"));
            m["description"] = serde_json::json!(HOSTILE_NAME);
            if extra.is_none() {
                let mut e = m.clone();
                e["id"] = serde_json::json!("evil/x\"><img src=x onerror=alert(2)>:free");
                e["canonical_slug"] = e["id"].clone();
                extra = Some(e);
            }
        }
    }
    if let Some(e) = extra {
        data.push(e);
    }
    let path = dir.join("hostile.json");
    std::fs::write(&path, serde_json::to_string(&v).expect("json")).expect("write");
    path
}

fn assert_no_live_markup(html: &str) {
    for bad in ["<script>window", "<img src=x", "\"><img", "\u{1b}"] {
        assert!(
            !html.contains(bad),
            "{bad:?} reached the page unescaped:\n{}",
            &html[html.find(bad).unwrap_or(0).saturating_sub(200)..]
        );
    }
}

#[test]
fn every_page_answers_with_its_content_and_the_nav() {
    let env = world_with(&[("eng", "engineer"), ("pm", "pm")]);
    let s = Server::start(&env);
    for (path, expect) in [
        ("/hermes", "Hermes root"),
        ("/models/switch", "qwen/qwen3-coder:free"),
        ("/agents/manage", "Skills of eng"),
        ("/agents/new", "What kind of agent?"),
        ("/budget", "requests today"),
        ("/notifications", "unread"),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let html = r.text();
        assert!(html.contains(expect), "{path} lacks {expect:?}");
        for nav in [
            "/hermes",
            "/models/switch",
            "/agents/manage",
            "/agents/new",
            "/budget",
            "/notifications",
        ] {
            assert!(
                html.contains(&format!("href=\"{nav}\"")),
                "{path} nav lacks {nav}"
            );
        }
        assert!(html.contains("aria-current=\"page\""));
        assert!(r.header("content-security-policy").is_some());
        assert!(!html.contains("OPENROUTER_API_KEY"));
    }
    assert_eq!(s.get("/").status, 303);
    assert_eq!(s.get("/static/live.js").status, 200);
    assert_eq!(s.get("/static/style.css").status, 200);
    // The key hints become buttons carrying the action's public name.
    let html = s.get("/agents/manage").text();
    assert!(html.contains("value=\"rescore\""));
    assert!(html.contains("value=\"apply_recommendation\""));
}

#[test]
fn picking_a_model_for_a_slot_writes_config_yaml() {
    let env = world_with(&[("eng", "engineer")]);
    let s = Server::start(&env);
    let r = s.get("/models/switch?agent=eng&slot=aux:vision&q=gemma+31b");
    assert_eq!(r.status, 200);
    let sid = r.sid().expect("a session cookie");
    let html = r.text();
    assert!(html.contains("<mark>"), "matched characters are marked");
    assert!(html.contains("price comparison"));
    let fields = form_fields(&html, "set_slot", "gemma-4-31b").expect("a use button");
    let model = fields
        .iter()
        .find(|(k, _)| k == "model")
        .map(|(_, v)| v.clone())
        .expect("model field");
    assert!(model.contains("gemma-4-31b"), "{model}");
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = s.post_form(
        "/models/switch?agent=eng&slot=aux:vision&q=gemma+31b",
        Some(&sid),
        &pairs,
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let to = r.header("location").expect("location").to_string();
    assert!(!to.contains("slot="), "the picker closes: {to}");
    let config =
        std::fs::read_to_string(env.profile_dir("eng").join("config.yaml")).expect("config");
    assert!(config.contains(&model), "{config}");
    let page = s
        .get_with(&to, &[("Cookie", &format!("nxr_sid={sid}"))])
        .text();
    assert!(page.contains("wrote "), "the banner reports the write");
    assert!(!page.contains("id=\"picker\""));
}

#[test]
fn the_wizard_makes_the_same_agent_as_the_cli() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    let r = s.get("/agents/new");
    let sid = r.sid().expect("cookie");
    let post = |fields: &[(&str, &str)]| {
        let r = s.post_form("/agents/new", Some(&sid), fields);
        assert_eq!(r.status, 303, "{fields:?}: {}", r.text());
        r
    };
    let page = || {
        s.get_with("/agents/new", &[("Cookie", &format!("nxr_sid={sid}"))])
            .text()
    };
    post(&[("action", "choose_category"), ("category", "research")]);
    let html = page();
    assert!(html.contains("data-step=\"model\""), "{html}");
    assert!(html.contains("Why this model"));
    post(&[("action", "activate")]);
    let html = page();
    assert!(html.contains("data-step=\"skills\""));
    // Untick the first suggested skill.
    let first = html
        .split("data-skill=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a skill")
        .to_string();
    post(&[("action", "toggle_skill"), ("name", &first)]);
    post(&[("action", "activate")]);
    // A bad name stays on the step with the reason.
    post(&[
        ("action", "set_wizard_name"),
        ("name", "Bad Name"),
        ("then", "activate"),
    ]);
    let html = page();
    assert!(
        html.contains("data-step=\"name\"") && html.contains("name-error"),
        "{html}"
    );
    post(&[
        ("action", "set_wizard_name"),
        ("name", "scout"),
        ("then", "activate"),
    ]);
    let html = page();
    assert!(html.contains("data-step=\"confirm\""));
    let cli = html
        .split("Same as: <code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .map(web_common::unescape)
        .expect("equivalent cli");
    assert!(
        cli.contains("--name scout") && cli.contains("--category research"),
        "{cli}"
    );
    let r = post(&[("action", "activate")]);
    assert_eq!(r.header("location"), Some("/agents/manage"));
    let page = s
        .get_with("/agents/manage", &[("Cookie", &format!("nxr_sid={sid}"))])
        .text();
    assert!(page.contains("created scout"), "banner");

    // The CLI with the same choices, as another agent.
    let args: Vec<String> = cli
        .split_whitespace()
        .skip(2)
        .map(|a| {
            if a == "scout" {
                "scout2".to_string()
            } else {
                a.to_string()
            }
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.nxr(&args).assert_ok();
    let agents = env.json(&["agents", "list"]);
    let find = |n: &str| {
        agents
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == n))
            .cloned()
            .unwrap_or_else(|| panic!("{n} in {agents}"))
    };
    let (a, b) = (find("scout"), find("scout2"));
    for k in [
        "role",
        "model",
        "provider",
        "skillset",
        "model_score",
        "model_auto_assigned",
    ] {
        assert_eq!(a[k], b[k], "{k} differs");
    }
    assert!(
        !a["skillset"]
            .as_array()
            .expect("skills")
            .iter()
            .any(|s| s == first.as_str())
    );
    let ca = std::fs::read_to_string(env.profile_dir("scout").join("config.yaml")).expect("a");
    let cb = std::fs::read_to_string(env.profile_dir("scout2").join("config.yaml")).expect("b");
    assert_eq!(ca, cb, "the same config.yaml");
    assert_eq!(
        support::skills_on_disk(&env.profile_dir("scout")),
        support::skills_on_disk(&env.profile_dir("scout2"))
    );
}

#[test]
fn skills_round_trip_through_the_json_api() {
    let env = world_with(&[("eng", "engineer")]);
    let s = Server::start(&env);
    let r = s.get("/api/agents/eng/skills");
    assert_eq!(r.status, 200);
    let snap = r.json();
    assert_eq!(snap["mode"], "persistent");
    assert_eq!(snap["supported"], true);
    let before: Vec<String> = snap["desiredSkills"]
        .as_array()
        .expect("desired")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert!(before.len() > 1);
    let keep = &before[..1];
    let r = s.post_json(
        "/api/agents/eng/skills/sync",
        &serde_json::json!({ "desiredSkills": keep }).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let after = r.json();
    assert_eq!(after["desiredSkills"], serde_json::json!(keep));
    assert!(
        after["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .all(|e| e["key"].is_string()
                && e["state"].is_string()
                && e["runtimeName"].is_string())
    );
    assert_eq!(
        s.get("/api/agents/eng/skills").json()["desiredSkills"],
        serde_json::json!(keep)
    );
    let listed = env.json(&["agents", "skills", "eng"]);
    assert_eq!(
        listed["desiredSkills"],
        serde_json::json!(keep),
        "the CLI sees it"
    );
    assert_eq!(support::skills_on_disk(&env.profile_dir("eng")).len(), 1);
    // Put them back.
    let r = s.post_json(
        "/api/agents/eng/skills/sync",
        &serde_json::json!({ "desiredSkills": before }).to_string(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["desiredSkills"].as_array().map(Vec::len),
        Some(before.len())
    );
}

#[test]
fn the_models_api_rescores_and_answers_per_role() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    let r = s.post_json("/api/models/rescore", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    for role in support::ROLES {
        assert!(j["best"][role]["model"].is_string(), "{role}: {j}");
    }
    let r = s.get("/api/models/best-free?role=engineer");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["pick"]["model"], j["best"]["engineer"]["model"]);
    let r = s.get("/api/models/roster");
    assert_eq!(r.status, 200);
    let roster = r.json();
    assert!(roster["rows"].as_array().is_some_and(|a| a.len() > 10));
    assert!(roster["rows"][0]["scores"]["pm"]["total"].is_number());
    assert!(s.get("/api/changes").json()["mark"].is_number());
}

/// Cookie-less reads with URL state share a scratch session per worker: what one URL opened
/// (a picker) is not on the next URL's page, and the URL's own state still shows.
#[test]
fn a_cookie_less_read_does_not_inherit_what_another_one_opened() {
    let env = world_with(&[("eng", "engineer")]);
    let s = Server::start_with(&env, &["--workers", "1"]).expect("serve");
    let r = s.get("/models/switch?agent=eng&slot=aux:vision&q=gemma+31b");
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("id=\"picker\""),
        "the URL opens the picker"
    );
    assert!(
        r.sid().is_some(),
        "a cookie for the browser's own session later"
    );
    let r = s.get("/models/switch?agent=eng");
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(
        !html.contains("id=\"picker\""),
        "no picker left open by the other read"
    );
    assert!(html.contains("eng"));
}

#[test]
fn each_error_has_its_status() {
    let env = world_with(&[("eng", "engineer")]);
    let s = Server::start(&env);
    // 400
    let r = s.get("/api/models/best-free?role=wizard");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].is_string());
    assert_eq!(s.get("/api/models/best-free").status, 400);
    assert_eq!(
        s.post_json("/api/agents/eng/skills/sync", "{not json")
            .status,
        400
    );
    assert_eq!(
        s.post_json(
            "/api/agents/eng/skills/sync",
            r#"{"desiredSkills":["no-such-skill"]}"#
        )
        .status,
        400
    );
    assert_eq!(
        s.post_json("/api/actions", r#"{"action":"launch_rockets"}"#)
            .status,
        400
    );
    assert_eq!(
        s.post_form("/agents/manage", None, &[("action", "nope")])
            .status,
        400
    );
    // 403: no form token, a wrong one, no bearer, another origin, another Host.
    let form = "action=rescore";
    let r = s.call(
        "POST",
        "/agents/manage",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    assert_eq!(r.status, 403);
    let r = s.call("POST", "/agents/manage", &[], b"action=rescore&csrf=0000");
    assert_eq!(r.status, 403);
    let r = s.call("POST", "/api/models/rescore", &[], b"");
    assert_eq!(r.status, 403);
    assert!(r.json()["error"].is_string());
    let body = format!("action=rescore&csrf={}", s.csrf);
    let r = s.call(
        "POST",
        "/agents/manage",
        &[("Origin", "http://evil.example")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 403);
    let r = s.call(
        "POST",
        "/agents/manage",
        &[("Referer", "http://evil.example/x")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 403);
    let origin = format!("http://{}", s.addr);
    let r = s.call(
        "POST",
        "/agents/manage",
        &[("Origin", &origin)],
        body.as_bytes(),
    );
    assert_eq!(r.status, 303, "the page's own origin is fine");
    let raw = "GET /hermes HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
    assert_eq!(s.request(raw.as_bytes()).status, 403, "DNS rebinding");
    // 404
    let r = s.get("/api/agents/ghost/skills");
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("ghost"))
    );
    assert_eq!(
        s.post_json("/api/agents/ghost/skills/sync", r#"{"desiredSkills":[]}"#)
            .status,
        404
    );
    assert_eq!(s.get("/no/such/page").status, 404);
    assert_eq!(s.get("/api/nothing").status, 404);
    // 405
    let r = s.get("/api/models/rescore");
    assert_eq!(r.status, 405);
    assert!(r.header("allow").is_some());
    assert_eq!(s.call("PUT", "/hermes", &[], b"x").status, 405);
    assert_eq!(
        s.call("DELETE", "/api/agents/eng/skills", &[], b"").status,
        405
    );
    // 413: declared too large, and sent too large in chunks.
    let big = vec![b'a'; 70 * 1024];
    assert_eq!(
        s.post_json("/api/actions", &String::from_utf8_lossy(&big))
            .status,
        413
    );
    let raw = format!(
        "POST /api/actions HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Length: 99999999999\r\n\r\n{{",
        s.addr, s.csrf
    );
    assert_eq!(s.request(raw.as_bytes()).status, 413);
    let mut chunked = format!(
        "POST /agents/manage HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        s.addr
    )
    .into_bytes();
    for _ in 0..20 {
        chunked.extend_from_slice(b"1000\r\n");
        chunked.extend_from_slice(&[b'a'; 0x1000]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(s.request(&chunked).status, 413);
    // 431
    let huge = "x".repeat(20_000);
    assert_eq!(s.get_with("/hermes", &[("X-Big", &huge)]).status, 431);
    // Still serving.
    assert_eq!(s.get("/hermes").status, 200);
}

#[test]
fn malformed_requests_get_4xx_and_the_server_keeps_serving() {
    let env = TestEnv::new();
    let mut s = Server::start(&env);
    let junk: Vec<Vec<u8>> = vec![
        b"\r\n\r\n".to_vec(),
        b"HELLO\r\n\r\n".to_vec(),
        b"GET\r\n\r\n".to_vec(),
        b"GET / HTTP/9.9\r\n\r\n".to_vec(),
        b"GET /hermes HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n".to_vec(),
        b"GET /hermes HTTP/1.1\r\nHost: \xff\xfe\r\n\r\n".to_vec(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        b"POST /agents/manage HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab".to_vec(),
        b"POST /agents/manage HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".to_vec(),
        b"POST /agents/manage HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n".to_vec(),
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(10_000)).into_bytes(),
    ];
    for raw in &junk {
        let r = send_with(&s.addr, raw, std::time::Duration::from_secs(2));
        assert!(
            r.status == 0 || (400..500).contains(&r.status),
            "{:?} → {}",
            String::from_utf8_lossy(raw),
            r.status
        );
    }
    // A form post with the right token but nonsense fields.
    for body in [
        "action=move_selection&delta=abc",
        "action=select_row&index=-1",
        "csrf=&action=",
    ] {
        let full = format!("{body}&csrf={}", s.csrf);
        let r = s.call("POST", "/hermes", &[], full.as_bytes());
        assert_eq!(r.status, 400, "{body}: {}", r.text());
    }
    assert!(s.alive());
    assert_eq!(s.get("/hermes").status, 200);
}

#[test]
fn a_hostile_catalog_renders_as_text() {
    let env = world_with(&[("eng", "engineer")]);
    let file = hostile_catalog(env.home.path());
    env.nxr(&["models", "scan", "--from", file.to_str().expect("path")])
        .assert_ok();
    let s = Server::start(&env);
    for path in [
        "/models/switch?agent=eng&slot=main&q=free",
        "/models/switch?agent=eng&slot=main&q=evil&f=1",
        "/agents/new",
        "/agents/manage",
        "/hermes",
    ] {
        let html = s.get(path).text();
        assert_no_live_markup(&html);
    }
    let html = s
        .get("/models/switch?agent=eng&slot=main&q=evil&f=1")
        .text();
    assert!(
        html.contains("&lt;img src=x onerror=alert(2)&gt;") || html.contains("&lt;img"),
        "shown as text"
    );
    let html = s.get("/models/switch?agent=eng&slot=main&q=free").text();
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&lt;</mark>"),
        "names shown as text"
    );
    // The API returns the data as JSON strings, not markup.
    let roster = s.get("/api/models/roster");
    assert_eq!(roster.header("content-type"), Some("application/json"));
}

#[test]
fn binding_beyond_loopback_needs_a_token_and_then_requires_it() {
    let env = TestEnv::new();
    let mut cmd = env.command(&["serve", "--addr", "0.0.0.0:0"]);
    cmd.env_remove("NXR_WEB_TOKEN");
    let out = support::run(cmd, support::NXR_TIMEOUT);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("token"), "{out}");

    let token = "s3cret-token-for-tests";
    let s = Server::start_with(&env, &["--token", token]).expect("starts with a token");
    let r = s.get("/hermes");
    assert_eq!(r.status, 401);
    assert!(!r.text().contains(token));
    assert_eq!(s.get("/hermes?token=wrong-token-here").status, 401);
    let r = s.get(&format!("/hermes?token={token}"));
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/hermes"));
    let cookie = r
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("nxr_token="))
        .map(|(_, v)| v.split(';').next().unwrap_or("").to_string())
        .expect("token cookie");
    let page = s.get_with("/hermes", &[("Cookie", &cookie)]);
    assert_eq!(page.status, 200);
    assert!(!page.text().contains(token), "the token is never in a page");
    let bearer = format!("Bearer {token}");
    assert_eq!(
        s.get_with("/api/models/roster", &[("Authorization", &bearer)])
            .status,
        200
    );
    let r = s.call(
        "POST",
        "/api/models/rescore",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 200, "the access token also authorises API writes");
}

// ---------------------------------------------------------------- /setup

use std::collections::BTreeMap;

use support::openrouter::KEY;
use support::profiles::{
    DEFAULT_AGENTS, agent_dir, agent_rows, changed, config_text, db_model, hash_tree, mode,
};
use support::{FakeOpenRouter, VALID_KEY};

/// A key the fake OpenRouter rejects with its 401 "User not found.".
const REVOKED_KEY: &str = "sk-or-v1-revoked-33333333333333333333333333333333333333333333333333";

fn cookie(sid: &str) -> String {
    format!("nxr_sid={sid}")
}

/// `GET path` as the browser holding session `sid`.
fn page(s: &Server, sid: &str, path: &str) -> String {
    let r = s.get_with(path, &[("Cookie", &cookie(sid))]);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.text()
}

/// The `data-state` of the setup section.
fn setup_state(html: &str) -> String {
    html.split("id=\"setup\" data-state=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no setup section:\n{html}"))
        .to_string()
}

/// Submits the setup form (no script: the POST runs every step) and returns the session id
/// and the summary page.
fn run_setup(s: &Server, sid: Option<&str>, key: &str) -> (String, String) {
    let r = s.post_form("/setup", sid, &[("action", "start_setup"), ("key", key)]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/setup"));
    assert!(!r.text().contains(key) || key.is_empty());
    let sid = sid
        .map(str::to_string)
        .or_else(|| r.sid())
        .expect("a session cookie");
    let html = page(s, &sid, "/setup");
    (sid, html)
}

/// The agents table rows onboarding leaves, without ids and timestamps.
fn agents_state(env: &TestEnv) -> Vec<Vec<String>> {
    env.db_rows(
        "SELECT name, role, profile, model, provider, skillset, is_default, model_score, model_auto_assigned FROM agents ORDER BY id",
    )
}

/// The onboarding row's findings and results (not the flow or the times).
fn onboarding_state(env: &TestEnv) -> Vec<Vec<String>> {
    env.db_rows(
        "SELECT agents_created, initial_free_models, key_provided, ollama_detected, ollama_url, ollama_models, whisper_detected, whisper_source, hermes_cli_detected, hermes_version, completed_at IS NOT NULL FROM onboarding",
    )
}

/// Each default agent's `config.yaml` and skill files, byte for byte.
fn profile_files(env: &TestEnv) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for agent in DEFAULT_AGENTS {
        let dir = agent_dir(env, agent);
        let cfg = std::fs::read(dir.join("config.yaml")).expect("config.yaml");
        out.insert(format!("{agent}/config.yaml"), cfg);
        for (rel, _) in hash_tree(&dir.join("skills")) {
            let bytes = std::fs::read(dir.join("skills").join(&rel)).expect("skill file");
            out.insert(format!("{agent}/skills/{rel}"), bytes);
        }
    }
    out
}

/// Every page and the JSON that mirrors them, as the browser holding `sid` sees them.
fn every_response(s: &Server, sid: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in [
        "/setup",
        "/hermes",
        "/models/switch",
        "/agents/manage",
        "/agents/new",
        "/budget",
        "/notifications",
        "/api/session",
        "/api/screen?tab=agents",
        "/api/screen?tab=hermes",
        "/api/models/roster",
    ] {
        let r = s.get_with(path, &[("Cookie", &cookie(sid))]);
        out.push((path.to_string(), r.text()));
        let r = s.get(path);
        out.push((format!("{path} (no cookie)"), r.text()));
    }
    out
}

#[track_caller]
fn assert_key_nowhere(responses: &[(String, String)], key: &str) {
    for (path, body) in responses {
        assert!(!body.contains(key), "{path} shows the key:\n{body}");
        // Nor the key's secret middle, in any encoding a page could use.
        assert!(!body.contains(&key[12..key.len() - 6]), "{path}");
    }
}

#[test]
fn setup_in_the_browser_ends_in_the_same_state_as_init_free() {
    let web = TestEnv::new();
    let s = Server::start(&web);
    // Nothing has been set up: the start page and the navigation point at /setup.
    let r = s.get("/");
    assert_eq!((r.status, r.header("location")), (303, Some("/setup")));
    assert!(s.get("/hermes").text().contains("href=\"/setup\""));
    let r = s.get("/setup");
    assert_eq!(r.status, 200);
    let sid = r.sid().expect("a session for the wizard");
    let html = r.text();
    assert_eq!(setup_state(&html), "ready");
    for title in [
        "Detect the environment",
        "Load the model catalog",
        "Score free models per role",
        "Create the agents",
        "Summary",
    ] {
        assert!(html.contains(title), "{title}");
    }
    assert!(
        html.contains("type=\"password\" name=\"key\""),
        "an optional key field"
    );

    let (_, html) = run_setup(&s, Some(&sid), "");
    assert_eq!(setup_state(&html), "done", "{html}");
    assert_eq!(
        html.matches("data-state=\"done\">").count(),
        5,
        "five steps done"
    );
    for agent in DEFAULT_AGENTS {
        assert!(
            html.contains(&format!("<tr data-agent=\"{agent}\">")),
            "{agent}"
        );
        assert!(html.contains(&db_model(&web, agent)), "{agent}'s model");
    }
    for skill in support::profiles::ENGINEER_SKILLS {
        assert!(html.contains(skill), "engineer skill {skill}");
    }
    for text in [
        "<dd class=\"num\">20</dd>",
        "<dd class=\"num\">50</dd>",
        "<dd class=\"num\">1,000</dd>",
        "nxr config set openrouter-key KEY",
        "nxr upgrade",
        "value=\"open_bulk_upgrade\"",
    ] {
        assert!(html.contains(text), "the summary lacks {text:?}");
    }

    // The CLI on a home of its own.
    let cli = TestEnv::new();
    cli.nxr(&["init", "--free"]).assert_ok();
    assert_eq!(agents_state(&web), agents_state(&cli), "the agents table");
    assert_eq!(agents_state(&web).len(), 3);
    assert_eq!(
        onboarding_state(&web),
        onboarding_state(&cli),
        "onboarding row"
    );
    assert_eq!(
        web.db_rows("SELECT flow FROM onboarding"),
        [["web".to_string()]]
    );
    assert_eq!(
        cli.db_rows("SELECT flow FROM onboarding"),
        [["cli".to_string()]]
    );
    let (a, b) = (profile_files(&web), profile_files(&cli));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (k, v) in &a {
        assert!(*v == b[k], "{k} differs between /setup and nxr init --free");
    }
    assert_eq!(
        web.db_i64("SELECT COUNT(*) FROM agent_model_history"),
        cli.db_i64("SELECT COUNT(*) FROM agent_model_history")
    );

    // Done: the start page is the dashboard and the navigation no longer asks for setup.
    let r = s.get("/");
    assert_eq!(r.header("location"), Some("/hermes"));
    assert!(!s.get("/hermes").text().contains("href=\"/setup\""));

    // Coming back creates nothing: a new browser is told it is already set up, and
    // submitting the form again changes nothing either.
    let agents = agent_rows(&web);
    let row = web.db_rows("SELECT * FROM onboarding");
    let files = hash_tree(web.hermes_home.path());
    let history = web.db_i64("SELECT COUNT(*) FROM agent_model_history");
    let r = s.get("/setup");
    let html = r.text();
    assert_eq!(setup_state(&html), "already", "{html}");
    assert!(html.contains("Already set up: nothing was created."));
    for agent in DEFAULT_AGENTS {
        assert!(
            html.contains(&format!("<tr data-agent=\"{agent}\">")),
            "{agent}"
        );
    }
    let (_, html) = run_setup(&s, None, "");
    assert_eq!(setup_state(&html), "already");
    // The first browser still sees its own run's summary.
    assert_eq!(setup_state(&page(&s, &sid, "/setup")), "done");
    assert_eq!(agent_rows(&web), agents);
    assert_eq!(web.db_rows("SELECT * FROM onboarding"), row);
    assert_eq!(hash_tree(web.hermes_home.path()), files);
    assert_eq!(
        web.db_i64("SELECT COUNT(*) FROM agent_model_history"),
        history
    );
}

#[test]
fn setup_step_by_step_shows_each_step_as_it_finishes() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    // What the page's script does: start (live=1), then one POST /setup/step per step.
    let r = s.post_form(
        "/setup",
        None,
        &[("action", "start_setup"), ("key", ""), ("live", "1")],
    );
    assert_eq!(r.status, 303);
    let sid = r.sid().expect("cookie");
    let html = page(&s, &sid, "/setup");
    assert_eq!(setup_state(&html), "running");
    assert!(
        html.contains("data-step=\"1\" data-state=\"running\""),
        "{html}"
    );
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM onboarding"),
        0,
        "nothing ran yet"
    );
    for done in 1..=5 {
        let r = s.post_form("/setup/step", Some(&sid), &[]);
        assert_eq!(r.status, 303, "{}", r.text());
        let html = page(&s, &sid, "/setup");
        assert_eq!(
            html.matches("data-state=\"done\">").count(),
            done,
            "after step {done}:\n{html}"
        );
        if done < 5 {
            assert_eq!(setup_state(&html), "running");
            assert!(html.contains(&format!(
                "data-step=\"{}\" data-state=\"running\"",
                done + 1
            )));
        } else {
            assert_eq!(setup_state(&html), "done");
        }
    }
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 3);
    // A step past the end does nothing.
    assert_eq!(s.post_form("/setup/step", Some(&sid), &[]).status, 303);
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 3);
    // The form token is required, and only start_setup is taken.
    let r = s.call("POST", "/setup/step", &[], b"all=1");
    assert_eq!(r.status, 403);
    let r = s.post_form("/setup", Some(&sid), &[("action", "rescore")]);
    assert_eq!(r.status, 400);
}

#[test]
fn setup_and_init_started_at_the_same_moment_make_exactly_three_agents() {
    for round in 0..3 {
        let env = TestEnv::new();
        let s = Server::start(&env);
        let barrier = std::sync::Barrier::new(2);
        let (cli, web) = std::thread::scope(|scope| {
            let cli = scope.spawn(|| {
                let mut cmd = env.command(&["init", "--free"]);
                cmd.stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                barrier.wait();
                let child = cmd.spawn().expect("spawn nxr init");
                support::wait(child, support::NXR_TIMEOUT).unwrap_or_else(|o| panic!("{o}"))
            });
            let web = scope.spawn(|| {
                barrier.wait();
                s.post_form("/setup", None, &[("action", "start_setup"), ("key", "")])
            });
            (
                cli.join().expect("cli thread"),
                web.join().expect("web thread"),
            )
        });
        cli.assert_ok();
        assert_eq!(web.status, 303, "round {round}: {}", web.text());
        let html = page(&s, &web.sid().expect("cookie"), "/setup");
        let state = setup_state(&html);
        assert!(
            state == "done" || state == "already",
            "round {round}: {state}\n{html}"
        );
        assert!(!html.contains("m-error"), "round {round}: {html}");
        assert_eq!(
            env.db_i64("SELECT COUNT(*) FROM agents"),
            3,
            "round {round}: {cli}"
        );
        assert_eq!(env.db_i64("SELECT COUNT(*) FROM onboarding"), 1);
        assert_eq!(
            env.db_i64("SELECT COUNT(*) FROM onboarding WHERE completed_at IS NOT NULL"),
            1
        );
        assert_eq!(
            env.db_i64("SELECT COUNT(*) FROM agent_model_history"),
            3,
            "round {round}"
        );
        let names: Vec<String> = env
            .db_rows("SELECT name FROM agents ORDER BY name")
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        assert_eq!(names, support::sorted(DEFAULT_AGENTS), "round {round}");
    }
}

#[test]
fn setup_with_a_rejected_key_says_why_creates_nothing_and_never_shows_the_key() {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    let s = Server::start(&env);
    let r = s.post_form(
        "/setup",
        None,
        &[("action", "start_setup"), ("key", REVOKED_KEY)],
    );
    assert_eq!(r.status, 303);
    assert!(!r.text().contains(REVOKED_KEY));
    let sid = r.sid().expect("cookie");
    let html = page(&s, &sid, "/setup");
    assert_eq!(setup_state(&html), "failed", "{html}");
    assert!(
        html.contains("User not found."),
        "OpenRouter's message: {html}"
    );
    assert!(
        html.contains("id=\"setup-form\""),
        "the form is back for another try"
    );
    assert_eq!(server.hits(KEY), 1);
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 0);
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM onboarding WHERE completed_at IS NOT NULL"),
        0
    );
    assert!(!env.nxr_home.path().join("secrets.env").exists());
    assert!(!env.hermes_home.path().join("profiles").exists());
    assert!(!env.hermes_home.path().join("config.yaml").exists());
    assert_key_nowhere(&every_response(&s, &sid), REVOKED_KEY);

    // Another try with a good key on the same page: set up, the key stored and masked.
    let (_, html) = run_setup(&s, Some(&sid), VALID_KEY);
    assert_eq!(setup_state(&html), "done", "{html}");
    assert!(
        html.contains(&format!(
            "{}...{}",
            &VALID_KEY[..8],
            &VALID_KEY[VALID_KEY.len() - 4..]
        )),
        "the summary shows the key masked: {html}"
    );
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 3);
    assert_eq!(
        env.db_rows("SELECT key_provided FROM onboarding"),
        [["1".to_string()]]
    );
    let secrets = env.nxr_home.path().join("secrets.env");
    assert_eq!(mode(&secrets), 0o600);
    for agent in DEFAULT_AGENTS {
        let dotenv = agent_dir(&env, agent).join(".env");
        assert!(
            support::profiles::read(&dotenv).contains(VALID_KEY),
            "{agent}'s .env holds the key"
        );
        assert_eq!(mode(&dotenv), 0o600);
    }
    assert_key_nowhere(&every_response(&s, &sid), VALID_KEY);
}

// ---------------------------------------------------------------- upgrade on /agents/manage

/// `config.yaml` of each default agent, relative to `HERMES_HOME`.
const CONFIGS: [&str; 3] = [
    "config.yaml",
    "profiles/engineer/config.yaml",
    "profiles/pm/config.yaml",
];

/// The hidden fields of the form `id` (what a `form="id"` button posts along).
fn form_by_id(html: &str, id: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("<form id=\"{id}\""))
        .unwrap_or_else(|| panic!("no form #{id}"));
    let form = &html[start..];
    let form = &form[..form.find("</form>").expect("end of form")];
    form.split("<input")
        .skip(1)
        .filter_map(|input| {
            let attr = |n: &str| {
                let key = format!("{n}=\"");
                input
                    .find(&key)
                    .map(|i| &input[i + key.len()..])
                    .and_then(|rest| rest.split('"').next())
                    .map(web_common::unescape)
            };
            Some((attr("name")?, attr("value")?))
        })
        .collect()
}

/// Clicks `<button form="FORM" name="N" value="V">` as a browser would: the form's fields
/// plus the button's pair.
fn click(s: &Server, sid: &str, path: &str, html: &str, form: &str, name: &str, value: &str) {
    let button = format!("form=\"{form}\" name=\"{name}\" value=\"{value}\"");
    assert!(html.contains(&button), "no button {button} on {path}");
    let mut fields: Vec<(String, String)> = form_by_id(html, form)
        .into_iter()
        .filter(|(k, _)| k != "csrf")
        .collect();
    fields.push((name.to_string(), value.to_string()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = s.post_form(path, Some(sid), &pairs);
    assert_eq!(r.status, 303, "{pairs:?}: {}", r.text());
}

fn banner(html: &str) -> String {
    html.split("class=\"banner ")
        .nth(1)
        .and_then(|r| r.split('>').nth(1))
        .and_then(|r| r.split('<').next())
        .map(web_common::unescape)
        .unwrap_or_default()
}

fn models(env: &TestEnv) -> BTreeMap<String, String> {
    DEFAULT_AGENTS
        .iter()
        .map(|a| (a.to_string(), db_model(env, a)))
        .collect()
}

/// The open question on the agents page (`#confirm`), or a panic naming the page.
fn confirm_section(html: &str) -> String {
    html.split("id=\"confirm\"")
        .nth(1)
        .and_then(|b| b.split("</section>").next())
        .map(web_common::unescape)
        .unwrap_or_else(|| panic!("no question on the page:\n{html}"))
}

#[test]
fn an_agents_upgrade_button_on_the_web_asks_with_the_price_and_only_yes_writes() {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    let s = Server::start(&env);
    let sid = s.get("/agents/manage").sid().expect("cookie");
    let r = s.post_form(
        "/agents/manage",
        Some(&sid),
        &[("action", "set_openrouter_key"), ("key", VALID_KEY)],
    );
    assert_eq!(r.status, 303);
    let free = models(&env);
    let picks = paid_picks(&env);
    let before = hash_tree(env.hermes_home.path());
    let cfg_before: Vec<String> = DEFAULT_AGENTS
        .iter()
        .map(|a| config_text(&env, a))
        .collect();

    // The row's button and the selected agent's button both only ask.
    let path = "/agents/manage?agent=engineer";
    let html = page(&s, &sid, path);
    assert!(
        form_by_id(&html, "fu").contains(&("action".into(), "open_upgrade".into())),
        "the upgrade buttons post the question"
    );
    assert!(
        !html.contains("id=\"confirm\""),
        "no question before a click"
    );
    click(&s, &sid, path, &html, "fu", "agent", "pm");
    assert_eq!(models(&env), free, "a click writes nothing");
    assert_eq!(
        changed(&before, &hash_tree(env.hermes_home.path())),
        Vec::<String>::new()
    );
    let html = page(&s, &sid, path);
    let question = confirm_section(&html);
    // The question is about the row clicked (pm), not the selected agent (engineer).
    assert!(
        question.contains(&format!("Upgrade pm to {}?", picks["pm"])),
        "{question}"
    );
    assert!(question.contains("per M"), "the price: {question}");
    assert!(question.contains("score"), "the gain: {question}");
    assert!(question.contains("Account:"), "the balance: {question}");

    // No: nothing changes, the question goes.
    click(&s, &sid, path, &html, "fb", "action", "cancel");
    let html = page(&s, &sid, path);
    assert!(!html.contains("id=\"confirm\""), "no closes the question");
    let after: Vec<String> = DEFAULT_AGENTS
        .iter()
        .map(|a| config_text(&env, a))
        .collect();
    assert_eq!(after, cfg_before, "config.yaml byte-identical before yes");

    // Yes: pm alone moves to its paid pick, in the database and in config.yaml.
    click(&s, &sid, path, &html, "fu", "agent", "pm");
    let html = page(&s, &sid, path);
    click(&s, &sid, path, &html, "fb", "action", "activate");
    assert_eq!(db_model(&env, "pm"), picks["pm"]);
    assert_eq!(
        support::profiles::yaml_str(&config_text(&env, "pm"), "model.default").as_deref(),
        Some(picks["pm"].as_str())
    );
    for agent in ["engineer", "hermes"] {
        assert_eq!(db_model(&env, agent), free[agent], "{agent} stays");
    }
    assert_eq!(
        changed(&before, &hash_tree(env.hermes_home.path())),
        vec!["profiles/pm/config.yaml".to_string()]
    );
}

/// `nxr upgrade --json`'s paid pick per agent (no terminal: the plan only).
fn paid_picks(env: &TestEnv) -> BTreeMap<String, String> {
    let plan = env.json(&["upgrade"]);
    plan["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .map(|r| {
            (
                r["agent"].as_str().expect("agent").to_string(),
                r["recommended"]["model"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a paid pick: {r}"))
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn bulk_upgrade_and_revert_in_the_browser_move_only_the_models() {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    let s = Server::start(&env);
    let r = s.get("/agents/manage");
    let sid = r.sid().expect("cookie");
    let html = r.text();
    assert!(
        html.contains("id=\"key-form\""),
        "no key yet: the key form shows"
    );
    let free = models(&env);
    let start = hash_tree(env.hermes_home.path());

    // Without a key no upgrade is offered, and one posted anyway fails as a banner and
    // changes nothing.
    assert!(
        !html.contains("form=\"fu\" name=\"agent\""),
        "no upgrade button"
    );
    let r = s.post_form(
        "/agents/manage",
        Some(&sid),
        &[("action", "upgrade_agent"), ("agent", "pm")],
    );
    assert_eq!(r.status, 303);
    let html = page(&s, &sid, "/agents/manage");
    assert!(
        banner(&html).contains("need an OpenRouter key"),
        "{}",
        banner(&html)
    );
    assert_eq!(models(&env), free);
    // A rejected key: OpenRouter's message as the banner, nothing stored.
    let r = s.post_form(
        "/agents/manage",
        Some(&sid),
        &[("action", "set_openrouter_key"), ("key", REVOKED_KEY)],
    );
    assert_eq!(r.status, 303);
    let html = page(&s, &sid, "/agents/manage");
    assert!(
        banner(&html).contains("User not found."),
        "{}",
        banner(&html)
    );
    assert!(!env.nxr_home.path().join("secrets.env").exists());
    assert_eq!(
        changed(&start, &hash_tree(env.hermes_home.path())),
        Vec::<String>::new()
    );
    // The right key: stored, never shown, and the form goes away (for every browser).
    let r = s.post_form(
        "/agents/manage",
        Some(&sid),
        &[("action", "set_openrouter_key"), ("key", VALID_KEY)],
    );
    assert_eq!(r.status, 303);
    let html = page(&s, &sid, "/agents/manage");
    assert!(
        banner(&html).contains("stored OpenRouter key"),
        "{}",
        banner(&html)
    );
    assert!(!html.contains("id=\"key-form\""));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!s.get("/agents/manage").text().contains("id=\"key-form\""));
    assert_key_nowhere(&every_response(&s, &sid), VALID_KEY);
    assert_key_nowhere(&every_response(&s, &sid), REVOKED_KEY);

    // Bulk Upgrade shows the plan first: each agent's free model beside its paid pick.
    let picks = paid_picks(&env);
    let before = hash_tree(env.hermes_home.path());
    let cfg_before: Vec<String> = DEFAULT_AGENTS
        .iter()
        .map(|a| config_text(&env, a))
        .collect();
    click(
        &s,
        &sid,
        "/agents/manage",
        &html,
        "fb",
        "action",
        "open_bulk_upgrade",
    );
    let html = page(&s, &sid, "/agents/manage");
    let bulk = html
        .split("id=\"bulk\"")
        .nth(1)
        .and_then(|b| b.split("</section>").next())
        .expect("the bulk upgrade panel");
    for agent in DEFAULT_AGENTS {
        let row = bulk
            .split(&format!("<tr data-agent=\"{agent}\">"))
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .unwrap_or_else(|| panic!("{agent} in the plan:\n{bulk}"));
        assert!(row.contains(&free[agent]), "{agent} now: {row}");
        assert!(row.contains(&picks[agent]), "{agent}'s pick: {row}");
        assert!(row.contains("free/free"), "{agent}'s free price: {row}");
        assert!(
            row.contains('$') && row.contains('+'),
            "prices and gain: {row}"
        );
    }
    assert_eq!(
        models(&env),
        free,
        "nothing changes before the confirmation"
    );
    click(
        &s,
        &sid,
        "/agents/manage",
        &html,
        "fb",
        "action",
        "upgrade_all",
    );
    assert_eq!(models(&env), picks, "every agent on its paid pick");
    let html = page(&s, &sid, "/agents/manage");
    assert!(!html.contains("id=\"bulk\""), "the panel closes");
    assert!(
        banner(&html).contains("upgraded 3 agents"),
        "{}",
        banner(&html)
    );
    for agent in DEFAULT_AGENTS {
        assert!(
            html.contains(&format!("form=\"fv\" name=\"agent\" value=\"{agent}\"")),
            "{agent} can revert"
        );
    }
    let upgraded = hash_tree(env.hermes_home.path());
    assert_eq!(
        changed(&before, &upgraded),
        CONFIGS,
        "only config.yaml files changed"
    );
    for agent in DEFAULT_AGENTS {
        assert_eq!(
            support::profiles::yaml_str(&config_text(&env, agent), "model.default").as_deref(),
            Some(picks[agent].as_str())
        );
    }

    // Revert one agent, then the rest: back exactly where they were.
    click(&s, &sid, "/agents/manage", &html, "fv", "agent", "engineer");
    assert_eq!(db_model(&env, "engineer"), free["engineer"]);
    assert_eq!(db_model(&env, "pm"), picks["pm"]);
    // Reverting every agent asks first.
    let html = page(&s, &sid, "/agents/manage");
    click(
        &s,
        &sid,
        "/agents/manage",
        &html,
        "fb",
        "action",
        "open_revert_all",
    );
    assert_eq!(db_model(&env, "pm"), picks["pm"], "asking reverts nothing");
    let html = page(&s, &sid, "/agents/manage");
    click(
        &s,
        &sid,
        "/agents/manage",
        &html,
        "fb",
        "action",
        "activate",
    );
    assert_eq!(models(&env), free);
    let after: Vec<String> = DEFAULT_AGENTS
        .iter()
        .map(|a| config_text(&env, a))
        .collect();
    assert_eq!(after, cfg_before, "config.yaml byte-identical after revert");
    assert_eq!(
        changed(&before, &hash_tree(env.hermes_home.path())),
        Vec::<String>::new()
    );

    // One agent, with a model chosen in the picker.
    let chosen = picks["engineer"].clone();
    assert_ne!(chosen, picks["pm"]);
    let html = page(&s, &sid, "/agents/manage?agent=pm");
    let choose = html
        .split("id=\"choose-model\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(web_common::unescape)
        .expect("a choose-a-model link");
    let url = format!("{choose}&q={}", chosen.replace('/', "%2F"));
    let html = page(&s, &sid, &url);
    assert!(html.contains("id=\"upgrade-note\""), "{html}");
    let fields = form_fields(&html, "open_upgrade", &chosen).expect("a use button");
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // "use" only asks: the agents page shows the chosen model with its price.
    let pm_config = config_text(&env, "pm");
    let r = s.post_form(&url, Some(&sid), &pairs);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/agents/manage"));
    assert_eq!(db_model(&env, "pm"), free["pm"], "choosing writes nothing");
    assert_eq!(config_text(&env, "pm"), pm_config);
    let html = page(&s, &sid, "/agents/manage?agent=pm");
    let question = confirm_section(&html);
    assert!(
        question.contains(&format!("Upgrade pm to {chosen}?")) && question.contains("per M"),
        "{question}"
    );
    click(
        &s,
        &sid,
        "/agents/manage?agent=pm",
        &html,
        "fb",
        "action",
        "activate",
    );
    assert_eq!(db_model(&env, "pm"), chosen);
    assert_eq!(db_model(&env, "engineer"), free["engineer"]);
    let html = page(&s, &sid, "/agents/manage?agent=pm");
    assert!(
        banner(&html).contains(&format!("pm now runs {chosen}")),
        "{}",
        banner(&html)
    );
    click(
        &s,
        &sid,
        "/agents/manage?agent=pm",
        &html,
        "fv",
        "agent",
        "pm",
    );
    assert_eq!(models(&env), free);
    let _ = upgraded;
}

#[test]
fn the_auto_button_hands_a_pinned_task_back_and_use_anyway_carries_force() {
    let env = world_with(&[("eng", "engineer")]);
    let config = env.profile_dir("eng").join("config.yaml");
    let s = Server::start(&env);
    let r = s.get("/models/switch?agent=eng");
    let sid = r.sid().expect("a session cookie");
    let html = r.text();
    // Vision is pinned on a fresh profile, so its row offers auto.
    let fields = form_fields(&html, "set_slot", "value=\"aux:vision\"").expect("an auto button");
    assert!(
        fields.iter().any(|(k, v)| k == "model" && v == "auto"),
        "{fields:?}"
    );
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = s.post_form("/models/switch?agent=eng", Some(&sid), &pairs);
    assert_eq!(r.status, 303, "{}", r.text());
    let doc = nxr::core::hermes::ConfigDoc::load(&config).expect("config");
    assert!(doc.aux_slot("vision").is_none(), "nxr's route is gone");

    // A text-only model on the vision slot: the button says "use anyway" and carries force;
    // the same post without force is refused and writes nothing.
    let q = "/models/switch?agent=eng&slot=aux:vision&q=qwen3+coder+free&image=0&f=1";
    let html = s
        .get_with(q, &[("Cookie", &format!("nxr_sid={sid}"))])
        .text();
    let fields = form_fields(&html, "set_slot", "qwen/qwen3-coder:free").expect("a use button");
    assert!(
        fields.iter().any(|(k, v)| k == "force" && v == "1"),
        "{fields:?}"
    );
    let unforced: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k != "csrf" && k != "force")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let before = std::fs::read_to_string(&config).expect("config");
    s.post_form(q, Some(&sid), &unforced);
    assert_eq!(std::fs::read_to_string(&config).expect("config"), before);
    let forced: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = s.post_form(q, Some(&sid), &forced);
    assert_eq!(r.status, 303, "{}", r.text());
    let doc = nxr::core::hermes::ConfigDoc::load(&config).expect("config");
    assert_eq!(
        doc.aux_slot("vision").map(|s| s.model).as_deref(),
        Some("qwen/qwen3-coder:free")
    );
}
