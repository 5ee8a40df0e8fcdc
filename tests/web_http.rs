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
        ("/budget", "requests per minute"),
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
        "/models/switch?agent=eng&slot=main&q=script",
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
    let html = s.get("/models/switch?agent=eng&slot=main&q=script").text();
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
