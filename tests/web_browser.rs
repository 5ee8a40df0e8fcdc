//! The web mirror in headless Chromium, as a person uses it: filter the picker and confirm a
//! model (then the real `hermes` reads it back), walk the create wizard, open pages over a
//! hostile catalog (no script may run), watch a CLI change appear without reloading, and switch
//! Telegram forwarding per type (a daemon then forwards only what the clicks allow).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and `hermes`
//! (`NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`, else `PATH`). The browser is
//! `web_common::browser`.

mod support;
mod web_common;

use std::time::Duration;

use serde_json::{Value, json};
use support::{TestEnv, hermes_config_get};
use web_common::Server;
use web_common::browser::Browser;

#[test]
fn filtering_the_picker_and_confirming_writes_what_hermes_reads() {
    let env = TestEnv::new();
    env.nxr(&["agents", "create", "--role", "engineer", "--name", "eng"])
        .assert_ok();
    let s = Server::start(&env);
    let b = Browser::start();
    b.go(&format!("{}/models/switch", s.url));
    // Open the picker on the vision slot as a person would: its "change" link.
    b.click("tr[data-slot='aux:vision'] a.btn");
    b.wait_find("#picker-q");
    // Filter as you type (JavaScript fetches the results; no reload).
    b.js("window.__same_page = 1");
    b.type_into("#picker-q", "gemma 31b");
    // (The vision slot lists gemma-4-31b first before any query: wait for the filtering.)
    b.wait_js(
        "the results follow the query",
        "location.search.indexOf('q=gemma+31b') >= 0 && \
         document.querySelector('#picker-results tbody tr') && \
         document.querySelector('#picker-results tbody tr').dataset.model.indexOf('gemma-4-31b') >= 0",
        Duration::from_secs(10),
    );
    assert_eq!(b.js("return window.__same_page"), json!(1), "no reload");
    assert!(
        b.url().contains("q=gemma"),
        "the URL keeps the query: {}",
        b.url()
    );
    assert!(
        b.js("return document.querySelectorAll('#picker-results mark').length")
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    let model = b
        .js("return document.querySelector('#picker-results tbody tr').dataset.model")
        .as_str()
        .expect("model")
        .to_string();
    b.click("#picker-results tbody tr button.use");
    b.wait_js(
        "back on the slots with the banner",
        "!document.querySelector('#picker') && document.querySelector('.banner')",
        Duration::from_secs(10),
    );
    let config =
        std::fs::read_to_string(env.profile_dir("eng").join("config.yaml")).expect("config");
    assert!(config.contains(&model), "{config}");
    assert_eq!(
        hermes_config_get(&env, "eng", "auxiliary.vision.model"),
        model,
        "the real hermes reads the slot"
    );
    // The page now shows the new model in the vision row.
    assert!(b.text().contains(&model));
}

#[test]
fn walking_the_wizard_creates_an_agent() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    let b = Browser::start();
    b.go(&format!("{}/agents/new", s.url));
    b.click("li[data-category='research'] button");
    b.wait_find("[data-step='model']");
    assert!(b.text().contains("Why this model"));
    b.click("[data-step='model'] button.primary");
    b.wait_find("[data-step='skills']");
    b.click("[data-step='skills'] button.primary");
    b.type_into("#wizard-name", "scout\u{E007}");
    b.wait_find("[data-step='confirm']");
    assert!(b.text().contains("--name scout"));
    b.click("[data-step='confirm'] button.primary");
    b.wait_js(
        "the agents page shows the new agent",
        "location.pathname === '/agents/manage' && document.querySelector(\"tr[data-agent='scout']\")",
        Duration::from_secs(20),
    );
    let agents = env.json(&["agents", "list"]);
    let scout = agents
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "scout"))
        .cloned()
        .expect("scout exists");
    assert_eq!(scout["role"], "research");
    assert!(env.profile_dir("scout").join("config.yaml").is_file());
}

#[test]
fn a_hostile_catalog_runs_no_script() {
    let env = TestEnv::new();
    env.nxr(&["agents", "create", "--role", "engineer", "--name", "eng"])
        .assert_ok();
    let file = {
        let mut v: Value =
            serde_json::from_str(&support::fixture("models-2026-05-01.json")).expect("fixture");
        for m in v["data"].as_array_mut().expect("data") {
            if m["id"].as_str().is_some_and(|id| id.ends_with(":free")) {
                let evil = "<script>window.__pwned=1</script>\"><img src=x onerror=\"window.__pwned=2;alert(1)\">\u{1b}[2J";
                m["name"] = json!(format!("{evil} {}", m["id"].as_str().unwrap_or("")));
                m["description"] = json!(evil);
            }
        }
        let p = env.home.path().join("hostile.json");
        std::fs::write(&p, v.to_string()).expect("write");
        p
    };
    env.nxr(&["models", "scan", "--from", file.to_str().expect("path")])
        .assert_ok();
    let s = Server::start(&env);
    let b = Browser::start();
    for path in [
        "/models/switch?agent=eng&slot=main&q=free",
        "/agents/new",
        "/agents/manage",
        "/hermes",
    ] {
        b.go(&format!("{}{path}", s.url));
        b.wait_find("main#main");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(b.alert(), None, "{path}: an alert opened");
        assert_eq!(
            b.js("return typeof window.__pwned"),
            json!("undefined"),
            "{path}: a script ran"
        );
        assert_eq!(
            b.js("return document.querySelectorAll('main img, main script').length"),
            json!(0),
            "{path}: markup from the catalog became elements"
        );
    }
    // Typing into the picker (fetched and inserted by script) stays inert too.
    b.go(&format!("{}/models/switch?agent=eng&slot=main", s.url));
    b.type_into("#picker-q", "free");
    b.wait_js(
        "filtered",
        "document.body.dataset.filtered",
        Duration::from_secs(10),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(b.alert(), None);
    assert_eq!(b.js("return typeof window.__pwned"), json!("undefined"));
    assert!(b.text().contains("<script>"), "the names show as text");
}

#[test]
fn a_change_from_the_cli_appears_without_reloading() {
    let env = TestEnv::new();
    env.nxr(&["agents", "create", "--role", "pm", "--name", "pm"])
        .assert_ok();
    let s = Server::start(&env);
    let b = Browser::start();
    b.go(&format!("{}/agents/manage", s.url));
    b.wait_find("tr[data-agent='pm']");
    b.wait_js(
        "live refresh is polling",
        "document.body.dataset.mark",
        Duration::from_secs(5),
    );
    b.js("window.__same_page = 1");
    env.nxr(&["agents", "create", "--role", "engineer", "--name", "late"])
        .assert_ok();
    let took = b.wait_js(
        "the new agent appears",
        "document.querySelector(\"tr[data-agent='late']\")",
        Duration::from_secs(5),
    );
    assert_eq!(b.js("return window.__same_page"), json!(1), "no reload");
    assert!(
        took < Duration::from_millis(1000),
        "appeared after {took:?}, more than a second"
    );
}

#[test]
fn walking_setup_shows_each_step_and_ends_on_the_summary() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    let b = Browser::start();
    b.go(&format!("{}/", s.url));
    // Nothing is set up yet: the start page is the wizard.
    b.wait_find("#setup[data-state='ready']");
    assert!(b.url().ends_with("/setup"), "{}", b.url());
    b.js("window.__same_page = 1; window.__running = {};
         new MutationObserver(function () {
           var r = document.querySelector(\"li[data-state='running']\");
           if (r) { window.__running[r.dataset.step] = 1; }
         }).observe(document.body, { subtree: true, childList: true });");
    b.click("#setup-start");
    b.wait_js(
        "the summary",
        "document.querySelector(\"#setup[data-state='done']\")",
        Duration::from_secs(60),
    );
    assert_eq!(b.js("return window.__same_page"), json!(1), "no reload");
    let running = b.js("return Object.keys(window.__running).length");
    assert!(
        running.as_u64().is_some_and(|n| n >= 3),
        "the steps showed as they ran: {running}"
    );
    let text = b.text();
    for want in [
        "Done: 3 agents are ready.",
        "requests per minute",
        "1,000",
        "nxr config set openrouter-key KEY",
        "nxr upgrade",
        "Bulk Upgrade",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    for agent in support::profiles::DEFAULT_AGENTS {
        let model = support::profiles::db_model(&env, agent);
        assert!(text.contains(&model), "{agent}'s model {model}");
    }
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM agents"), 3);
    assert_eq!(
        env.db_rows("SELECT flow FROM onboarding WHERE completed_at IS NOT NULL"),
        [["web".to_string()]]
    );
    // The summary's Bulk Upgrade button leads to the agents page with the plan open.
    b.click("#setup button[value='open_bulk_upgrade']");
    b.wait_find("#bulk");
    assert!(b.url().ends_with("/agents/manage"), "{}", b.url());
}

#[test]
fn bulk_upgrade_in_the_browser_puts_every_agent_on_its_paid_pick_and_hermes_reads_it() {
    let server = support::FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    let free = support::profiles::db_model(&env, "engineer");
    let s = Server::start(&env);
    let b = Browser::start();
    b.go(&format!("{}/agents/manage", s.url));
    // Store the key through the page's form.
    b.type_into("#openrouter-key", support::VALID_KEY);
    b.click("#key-form button");
    b.wait_js(
        "the key is stored",
        "!document.querySelector('#key-form') && document.querySelector('.banner')",
        Duration::from_secs(20),
    );
    assert!(!b.text().contains(support::VALID_KEY));
    assert!(
        !b.js("return document.documentElement.outerHTML")
            .as_str()
            .unwrap_or("")
            .contains(support::VALID_KEY),
        "the key is nowhere in the page"
    );
    // What `nxr upgrade` (no terminal: the plan only) recommends, now that a key is stored.
    let plan = env.json(&["upgrade"]);
    let pick = |agent: &str| -> String {
        plan["plan"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["agent"] == agent))
            .and_then(|r| r["recommended"]["model"].as_str())
            .unwrap_or_else(|| panic!("a paid pick for {agent}: {plan}"))
            .to_string()
    };
    b.click("#bulk-open");
    b.wait_find("#bulk");
    let panel = b
        .js("return document.querySelector('#bulk').innerText")
        .as_str()
        .unwrap_or("")
        .to_string();
    for agent in support::profiles::DEFAULT_AGENTS {
        assert!(panel.contains(&pick(agent)), "{agent}'s pick in:\n{panel}");
    }
    assert!(
        panel.contains(&free),
        "the current free model beside it:\n{panel}"
    );
    assert_eq!(
        support::profiles::db_model(&env, "engineer"),
        free,
        "not yet"
    );
    b.click("#bulk-confirm");
    let engineer = pick("engineer");
    b.wait_js(
        "the agents table shows the paid models",
        &format!(
            "!document.querySelector('#bulk') && \
             document.querySelector(\"tr[data-agent='engineer']\") && \
             document.querySelector(\"tr[data-agent='engineer'] td:nth-child(3)\").innerText.indexOf({}) === 0",
            json!(engineer)
        ),
        Duration::from_secs(20),
    );
    assert_eq!(support::profiles::db_model(&env, "engineer"), engineer);
    assert_eq!(
        hermes_config_get(&env, "engineer", "model.default"),
        engineer,
        "the real hermes reads the paid model"
    );
    // And back: the engineer's revert button.
    b.click("tr[data-agent='engineer'] button[form='fv']");
    b.wait_js(
        "reverted",
        &format!(
            "document.querySelector(\"tr[data-agent='engineer'] td:nth-child(3)\").innerText.indexOf({}) === 0",
            json!(free)
        ),
        Duration::from_secs(20),
    );
    assert_eq!(hermes_config_get(&env, "engineer", "model.default"), free);
    // One agent's upgrade button asks first, with the price; only "Yes" writes.
    b.click("tr[data-agent='engineer'] button[form='fu']");
    b.wait_find("#confirm");
    let question = b
        .js("return document.querySelector('#confirm').innerText")
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        question.contains(&engineer) && question.contains("per M"),
        "the model and its price:\n{question}"
    );
    assert_eq!(
        support::profiles::db_model(&env, "engineer"),
        free,
        "asking writes nothing"
    );
    assert_eq!(hermes_config_get(&env, "engineer", "model.default"), free);
    b.click("#confirm-yes");
    b.wait_js(
        "the engineer runs its paid pick again",
        &format!(
            "!document.querySelector('#confirm') && \
             document.querySelector(\"tr[data-agent='engineer'] td:nth-child(3)\").innerText.indexOf({}) === 0",
            json!(engineer)
        ),
        Duration::from_secs(20),
    );
    assert_eq!(
        hermes_config_get(&env, "engineer", "model.default"),
        engineer
    );
}

/// Problems with the page's tables at the current window size: an element wider than its
/// cell, a word (a run of up to 30 letters) broken across lines inside a cell, the page
/// wider than the window.
const LAYOUT_PROBLEMS: &str = r#"
var problems = [];
document.querySelectorAll('main td, main th').forEach(function (cell) {
  var box = cell.getBoundingClientRect();
  var where = ' in "' + cell.innerText.slice(0, 50) + '"';
  cell.querySelectorAll('*').forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1)) {
      problems.push('wider than its cell: <' + e.tagName.toLowerCase() + '>' + where);
    }
  });
  var walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  var node;
  while ((node = walk.nextNode())) {
    var re = /[A-Za-z]{2,}/g, m;
    while ((m = re.exec(node.data))) {
      // A run longer than any word is an id's body: it may only wrap, within its cell.
      if (m[0].length > 30) { continue; }
      var range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      var tops = {};
      Array.prototype.forEach.call(range.getClientRects(), function (r) {
        if (r.width > 0) { tops[Math.round(r.top)] = 1; }
      });
      if (Object.keys(tops).length > 1) { problems.push('word broken: ' + m[0] + where); }
    }
  }
});
if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1) {
  problems.push('page wider than the window: ' + document.documentElement.scrollWidth);
}
return problems.slice(0, 12);
"#;

/// A catalog with a free model whose id runs to 5,000 characters, and whose free models'
/// names carry bidirectional overrides.
fn long_id_catalog(env: &TestEnv) -> std::path::PathBuf {
    let mut v: Value =
        serde_json::from_str(&support::fixture("models-2026-05-01.json")).expect("fixture");
    let data = v["data"].as_array_mut().expect("data");
    let mut long = data
        .iter()
        .find(|m| m["id"] == "qwen/qwen3-coder:free")
        .cloned()
        .expect("qwen3-coder");
    long["id"] = json!(format!("qwen/{}:free", "coder".repeat(1000)));
    // Without tool calling no agent is put on it; the picker lists it.
    long["supported_parameters"] = json!(["temperature"]);
    data.push(long);
    for m in data.iter_mut() {
        if m["id"].as_str().is_some_and(|id| id.ends_with(":free")) {
            let name = m["name"].as_str().unwrap_or("").to_string();
            m["name"] = json!(format!("\u{202E}{name}\u{202C} \u{2066}x\u{2069}"));
        }
    }
    let p = env.home.path().join("long-id.json");
    std::fs::write(&p, v.to_string()).expect("write");
    p
}

#[test]
fn tables_keep_words_whole_and_long_ids_inside_their_columns_at_1280_and_800_wide() {
    let env = TestEnv::new();
    let file = long_id_catalog(&env);
    env.nxr(&["models", "scan", "--from", file.to_str().expect("path")])
        .assert_ok();
    for (role, name) in [
        ("engineer", "engineer"),
        ("research", "research"),
        ("pm", "pm"),
    ] {
        env.nxr(&["agents", "create", "--role", role, "--name", name])
            .assert_ok();
    }
    let s = Server::start(&env);
    let b = Browser::start();
    let pages = [
        "/agents/manage",
        "/models/switch?agent=engineer",
        "/models/switch?agent=engineer&all=1&slot=main&q=coder",
        "/models/switch?agent=engineer&slot=aux:approval&q=codercoder",
        "/hermes",
        "/agents/new",
    ];
    for (w, h) in [(1280, 900), (800, 600)] {
        b.resize(w, h);
        for path in pages {
            b.go(&format!("{}{path}", s.url));
            b.wait_find("main#main");
            let problems = b.js(LAYOUT_PROBLEMS);
            assert_eq!(problems, json!([]), "{path} at {w}x{h}");
        }
    }
    // The long id is in the picker's results, within its column.
    b.go(&format!(
        "{}/models/switch?agent=engineer&slot=aux:approval&q=codercoder",
        s.url
    ));
    assert!(b.text().contains("codercoder"), "{}", b.text());
}

#[test]
fn the_browser_gets_no_terminal_wording_and_no_bidirectional_overrides() {
    let env = TestEnv::new();
    let file = long_id_catalog(&env);
    env.nxr(&["models", "scan", "--from", file.to_str().expect("path")])
        .assert_ok();
    let s = Server::start(&env);
    let b = Browser::start();
    // No agents yet: the empty pages say what to click.
    for path in ["/models/switch", "/agents/manage", "/hermes"] {
        b.go(&format!("{}{path}", s.url));
        b.wait_find("main#main");
        let text = b.text();
        assert!(!text.contains("Press 5"), "{path}: {text}");
        assert!(text.contains("Create tab"), "{path}: {text}");
    }
    env.nxr(&["agents", "create", "--role", "engineer", "--name", "eng"])
        .assert_ok();
    for path in [
        "/models/switch?agent=eng&slot=main&q=free",
        "/models/switch?agent=eng&slot=aux:vision",
        "/agents/manage",
        "/agents/new",
        "/hermes",
    ] {
        b.go(&format!("{}{path}", s.url));
        b.wait_find("main#main");
        let text = b.text();
        for terminal in ["ctrl-f", "ctrl-t", "^f", "revert: v", "Press 5", "backtab"] {
            assert!(
                !text.contains(terminal),
                "{path} says {terminal:?}:\n{text}"
            );
        }
        assert_eq!(
            b.js(
                "return /[\\u202A-\\u202E\\u2066-\\u2069]/.test(document.documentElement.outerHTML)"
            ),
            json!(false),
            "{path}: a bidirectional override reached the page"
        );
    }
}

#[test]
fn setup_numbers_steps_once_and_the_wizard_forgets_an_error_once_the_name_changes() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    let b = Browser::start();
    b.go(&format!("{}/setup", s.url));
    b.wait_find("#setup");
    let steps = b.js(
        "return Array.prototype.map.call(document.querySelectorAll('ol.setup-steps li'), \
         function (li) { return [getComputedStyle(li).listStyleType, li.innerText]; })",
    );
    let steps = steps.as_array().expect("steps").clone();
    assert_eq!(steps.len(), 5);
    for (i, st) in steps.iter().enumerate() {
        let n = i + 1;
        let text = st[1].as_str().unwrap_or("");
        assert!(text.starts_with(&format!("{n}. ")), "{text}");
        assert!(!text.starts_with(&format!("{n}. {n}. ")), "{text}");
        assert_eq!(
            st[0],
            json!("none"),
            "the list adds no second number: {text}"
        );
    }
    env.nxr(&["agents", "create", "--role", "creative", "--name", "quest"])
        .assert_ok();
    b.go(&format!("{}/agents/new", s.url));
    b.click("li[data-category='creative'] button");
    b.click("[data-step='model'] button.primary");
    b.click("[data-step='skills'] button.primary");
    b.type_into("#wizard-name", "My Writer\u{E007}");
    b.wait_find("#name-error");
    let cli = b
        .js("return document.querySelector('p.cli').innerText")
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        cli.contains("--name 'My Writer'"),
        "quoted for a shell: {cli}"
    );
    b.js("document.querySelector('#wizard-name').value = ''");
    b.type_into("#wizard-name", "quest\u{E007}");
    b.wait_js(
        "the name is taken",
        "document.body.innerText.indexOf('already exists') >= 0",
        Duration::from_secs(10),
    );
    b.js("document.querySelector('#wizard-name').value = ''");
    b.type_into("#wizard-name", "writer\u{E007}");
    b.wait_find("[data-step='confirm']");
    let text = b.text();
    assert!(!text.contains("already exists"), "a stale error:\n{text}");
    assert!(text.contains("--name writer"), "{text}");
}

/// The text a person reads in `main`, without the controls (which the export leaves out).
const MAIN_TEXT: &str = "const m = document.querySelector('main'); if (!m) return null; \
     const c = m.cloneNode(true); \
     c.querySelectorAll('button, input, select, textarea, script').forEach(e => e.remove()); \
     return c.innerText.replace(/\\s+/g, ' ').trim();";

/// A few computed styles the stylesheet sets (a page without it has the browser's defaults).
const STYLE_PROBE: &str = "const b = getComputedStyle(document.body); \
     const n = getComputedStyle(document.querySelector('nav')); \
     return [b.fontFamily, b.backgroundColor, b.color, n.display, n.backgroundColor].join('|');";

#[test]
fn the_static_export_opens_from_file_urls_with_every_link_working_and_the_live_pages_text() {
    let env = TestEnv::new();
    env.nxr(&["init", "--free"]).assert_ok();
    let dir = tempfile::tempdir().expect("tempdir");
    let site = dir.path().join("site");
    env.nxr(&["export", &site.display().to_string()])
        .assert_ok();
    let server = Server::start(&env);
    let b = Browser::start();
    let pages = [
        ("/hermes", "hermes.html"),
        ("/models/switch", "models-switch.html"),
        ("/agents/manage", "agents-manage.html"),
        ("/budget", "budget.html"),
        ("/agents/new", "agents-new.html"),
        ("/notifications", "notifications.html"),
    ];
    for (path, file) in pages {
        b.go(&format!("{}{path}", server.url));
        b.wait_find("main");
        let live = b.js(MAIN_TEXT);
        let live_style = b.js(STYLE_PROBE);
        let url = format!("file://{}", site.join(file).display());
        b.go(&url);
        b.wait_find("main");
        assert_eq!(b.js(MAIN_TEXT), live, "{file} differs from {path}");
        assert_eq!(
            b.js("return document.querySelectorAll('form, script, input, button').length"),
            json!(0),
            "{file}"
        );
        // The stylesheet loaded from the folder styles the page as the live one is styled.
        assert_eq!(
            b.js(STYLE_PROBE),
            live_style,
            "{file}: stylesheet not applied"
        );
        // Every link leads to a page of the export.
        let links = b.js("return [...document.querySelectorAll('a[href]')].map(a => a.href)");
        for link in links.as_array().expect("links") {
            let link = link.as_str().expect("href");
            if !link.starts_with("file://") {
                continue;
            }
            b.go(link);
            assert!(
                b.find("main").is_some() || b.find("nav").is_some(),
                "{file}: link {link} is broken:\n{}",
                b.text()
            );
            b.go(&url);
        }
    }
}

#[test]
fn clicking_start_and_stop_on_hermes_runs_the_real_gateway_and_the_state_changes_live() {
    let w = support::gateway::GatewayWorld::new(&["pm"]);
    let s = Server::start(&w.env);
    let b = Browser::start();
    b.go(&format!("{}/hermes", s.url));
    b.wait_find("tr[data-agent='pm'][data-state='stopped']");
    b.click("tr[data-agent='pm'] button.start");
    // The post answers at once (the start runs as a job); the page it lands on then follows
    // the gateway to running by itself.
    b.wait_find("tr[data-agent='pm']");
    b.wait_js(
        "live refresh is polling",
        "document.body.dataset.mark",
        Duration::from_secs(10),
    );
    b.js("window.__same_page = 1");
    b.wait_js(
        "the gateway shows as running",
        "document.querySelector(\"tr[data-agent='pm'][data-state='running']\")",
        Duration::from_secs(60),
    );
    assert_eq!(b.js("return window.__same_page"), json!(1), "no reload");
    let pid = b.js("return document.querySelector(\"tr[data-agent='pm'] td.pid\").innerText");
    let status = w.status("pm");
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(
        pid.as_str().and_then(|p| p.trim().parse::<i64>().ok()),
        status["pid"].as_i64(),
        "the page shows the gateway's PID"
    );
    assert_eq!(w.pane_pid("pm").map(i64::from), status["pid"].as_i64());

    b.click("tr[data-agent='pm'] button.stop");
    b.wait_find("tr[data-agent='pm']");
    b.wait_js(
        "live refresh is polling",
        "document.body.dataset.mark",
        Duration::from_secs(10),
    );
    b.js("window.__same_page = 2");
    b.wait_js(
        "the gateway shows as stopped",
        "document.querySelector(\"tr[data-agent='pm'][data-state='stopped']\")",
        Duration::from_secs(30),
    );
    assert_eq!(b.js("return window.__same_page"), json!(2), "no reload");
    assert_eq!(w.status("pm")["state"], "stopped");
    assert_eq!(w.state_file("pm")["gateway_state"], "stopped");
}

/// The row of `ul.telegram` for one notification type, as JavaScript.
fn telegram_row(kind: &str) -> String {
    format!(
        "[...document.querySelectorAll('ul.telegram li')].find(l => l.querySelector('code').innerText.trim() == '{kind}')"
    )
}

#[test]
fn the_telegram_toggles_clicked_in_the_browser_decide_what_the_daemon_forwards() {
    const TOKEN: &str = "123456:browser-token-never-shown";
    let tg = support::telegram::FakeTelegram::start();
    let mut env = TestEnv::new();
    env.set("NXR_TELEGRAM_API_URL", &tg.base_url());
    env.nxr(&["notifications"]).assert_ok();
    std::fs::write(
        env.hermes_home.path().join(".env"),
        format!("TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_HOME_CHANNEL=-100777\n"),
    )
    .expect("write .env");
    let s = Server::start(&env);
    let b = Browser::start();
    b.go(&format!("{}/notifications", s.url));
    b.wait_find("ul.telegram");
    // better_model is off by default (not urgent); gateway_crashed is on (urgent).
    let state = |kind: &str| {
        b.js(&format!(
            "return {}.querySelector('strong').innerText.trim()",
            telegram_row(kind)
        ))
    };
    assert_eq!(state("better_model"), json!("off"));
    assert_eq!(state("gateway_crashed"), json!("on"));

    for kind in ["better_model", "gateway_crashed"] {
        b.js(&format!(
            "{}.querySelector('button').click()",
            telegram_row(kind)
        ));
        b.wait_js(
            &format!("the {kind} toggle to flip"),
            &format!(
                "{row} && {row}.querySelector('strong').innerText.trim() == '{want}'",
                row = telegram_row(kind),
                want = if kind == "better_model" { "on" } else { "off" }
            ),
            Duration::from_secs(20),
        );
    }
    // What the CLI reads is what the browser set.
    let toggles = env.json(&["notifications", "telegram"]);
    let enabled = |kind: &str| {
        toggles["toggles"]
            .as_array()
            .expect("toggles")
            .iter()
            .find(|t| t["kind"] == kind)
            .map(|t| t["enabled"].clone())
    };
    assert_eq!(enabled("better_model"), Some(json!(true)), "{toggles:#}");
    assert_eq!(
        enabled("gateway_crashed"),
        Some(json!(false)),
        "{toggles:#}"
    );

    // The daemon forwards the type switched on and holds back the one switched off.
    for (kind, title) in [
        ("gateway_crashed", "pm crashed"),
        ("better_model", "a better free model for pm"),
    ] {
        env.db_exec(&format!(
            "INSERT INTO notifications (kind, title, body, payload, created_at)
             VALUES ('{kind}', '{title}', 'body', '{{}}', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
        ));
    }
    let daemon = support::Daemon::start(&env);
    support::until(
        "one message at the Bot API",
        Duration::from_secs(60),
        || (!tg.messages().is_empty()).then_some(()),
    );
    std::thread::sleep(Duration::from_secs(3));
    let printed = daemon.stop();
    let sent = tg.messages();
    assert_eq!(sent.len(), 1, "{sent:?}\n{printed}");
    assert!(
        sent[0].field("text").contains("a better free model for pm"),
        "{sent:?}"
    );
    assert!(!b.text().contains(TOKEN), "the token never reaches a page");
}
