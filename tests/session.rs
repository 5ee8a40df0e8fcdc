//! Core session flows: the same intents the TUI's keys and the web's forms send.

use nxr::core::Core;
use nxr::core::action::{Intent, Op};
use nxr::core::hermes::ConfigDoc;
use nxr::core::paths::{Endpoints, Paths};
use nxr::core::session::Session;
use nxr::core::view::{Body, Overlay, Tab, WizardStep};

struct Homes {
    _nxr: tempfile::TempDir,
    hermes: tempfile::TempDir,
    core: Core,
}

async fn homes() -> Homes {
    let nxr = tempfile::tempdir().expect("tmp");
    let hermes = tempfile::tempdir().expect("tmp");
    let paths = Paths {
        nxr_home: nxr.path().to_path_buf(),
        hermes_home: hermes.path().to_path_buf(),
    };
    let endpoints = Endpoints::unreachable();
    let core = Core::open(paths, endpoints).await.expect("open");
    Homes {
        _nxr: nxr,
        hermes,
        core,
    }
}

#[tokio::test]
async fn the_create_wizard_makes_an_agent_that_shows_in_the_agents_tab() {
    let h = homes().await;
    let mut s = Session::new(h.core.clone()).await.expect("session");
    s.apply(Intent::SwitchTab { tab: Tab::Create }).await;
    // Category list: tech first; go down to "research" (index 3).
    for _ in 0..3 {
        s.apply(Intent::MoveSelection { delta: 1 }).await;
    }
    s.apply(Intent::Activate).await; // → Model
    let Body::Create(v) = s.view().body else {
        panic!("create")
    };
    assert_eq!(v.step, WizardStep::Model);
    assert!(
        v.model
            .as_ref()
            .and_then(|m| m.breakdown.as_ref())
            .is_some(),
        "the reason is shown"
    );
    s.apply(Intent::Activate).await; // → Skills
    s.apply(Intent::ToggleSkill { name: None }).await; // untick the first suggested skill
    s.apply(Intent::Activate).await; // → Name
    s.apply(Intent::SetWizardName {
        name: "Bad Name".into(),
    })
    .await;
    let Body::Create(v) = s.view().body else {
        panic!("create")
    };
    assert!(v.name_error.is_some());
    s.apply(Intent::Activate).await;
    let Body::Create(v) = s.view().body else {
        panic!("create")
    };
    assert_eq!(v.step, WizardStep::Name, "an invalid name does not go on");
    s.apply(Intent::SetWizardName {
        name: "scout".into(),
    })
    .await;
    s.apply(Intent::Activate).await; // → Confirm
    let Body::Create(v) = s.view().body else {
        panic!("create")
    };
    assert_eq!(v.step, WizardStep::Confirm);
    assert!(v.equivalent_cli.contains("--name scout"));
    s.apply(Intent::Activate).await; // create
    let screen = s.view();
    assert_eq!(screen.tab, Tab::Agents, "{:?}", screen.banner);
    let Body::Agents(v) = screen.body else {
        panic!("agents")
    };
    let row = v
        .rows
        .iter()
        .find(|r| r.name == "scout")
        .expect("new agent listed");
    assert_eq!(row.skills, 6, "research template has 7, one unticked");
    assert_eq!(v.selected, 0);
}

#[tokio::test]
async fn picking_a_model_for_a_slot_writes_config_yaml() {
    let h = homes().await;
    let mut s = Session::new(h.core.clone()).await.expect("session");
    s.apply(Op::CreateAgent {
        name: "eng".into(),
        role: Some(nxr::core::scoring::Role::Engineer),
        category: None,
        skills: None,
        model: None,
    })
    .await;
    s.apply(Intent::SwitchTab { tab: Tab::Models }).await;
    s.apply(Intent::MoveSelection { delta: 1 }).await; // aux:vision
    s.apply(Intent::OpenPicker).await;
    s.apply(Intent::SetPickerQuery {
        query: "gemma 31b".into(),
    })
    .await;
    s.settle();
    let screen = s.view();
    let Some(Overlay::Picker(p)) = screen.overlay else {
        panic!("picker open: {:?}", screen.banner)
    };
    assert!(
        p.rows[0].model.contains("gemma-4-31b"),
        "{:?}",
        p.rows.first()
    );
    assert!(p.comparison.is_some());
    s.apply(Intent::Activate).await;
    let config =
        ConfigDoc::load(&h.hermes.path().join("profiles/eng/config.yaml")).expect("config");
    assert_eq!(
        config.aux_slot("vision").map(|s| s.model),
        Some(p.rows[0].model.clone())
    );
    let screen = s.view();
    assert!(screen.overlay.is_none());
    let Body::Models(m) = screen.body else {
        panic!("models")
    };
    assert_eq!(m.slots[1].model, p.rows[0].model);
}

#[tokio::test]
async fn a_change_from_another_process_shows_after_a_poll() {
    let h = homes().await;
    let mut s = Session::new(h.core.clone()).await.expect("session");
    assert!(!s.poll().await, "nothing changed yet");
    nxr::core::action::apply(
        &h.core,
        Op::CreateAgent {
            name: "pm".into(),
            role: Some(nxr::core::scoring::Role::Pm),
            category: None,
            skills: None,
            model: None,
        },
    )
    .await
    .expect("create");
    assert!(s.poll().await);
    let Body::Hermes(v) = s.view().body else {
        panic!("hermes")
    };
    assert_eq!(v.rows.len(), 1);
}

#[tokio::test]
async fn errors_become_a_banner_and_the_session_goes_on() {
    let h = homes().await;
    let mut s = Session::new(h.core.clone()).await.expect("session");
    s.apply(Intent::SwitchTab { tab: Tab::Models }).await;
    s.apply(Intent::OpenPicker).await;
    let screen = s.view();
    assert!(screen.banner.is_some());
    assert!(screen.status.last_error.is_some());
    s.apply(Intent::NextTab).await;
    assert_eq!(s.view().tab, Tab::Agents);
}

#[tokio::test]
async fn the_first_run_wizard_runs_five_steps_and_creates_three_agents() {
    let h = homes().await;
    let mut s = Session::new(h.core.clone()).await.expect("session");
    s.begin_setup(nxr::core::onboarding::Flow::Tui);
    let setup = s.view().setup.expect("setup shown");
    assert!(!setup.started);
    assert_eq!(setup.steps.len(), 5);
    s.apply(Intent::Activate).await;
    let mut rounds = 0;
    while s.busy() {
        assert!(s.advance().await);
        rounds += 1;
        assert!(rounds <= 5);
    }
    let setup = s.view().setup.expect("summary shown");
    assert!(setup.done, "{:?}", setup.error);
    assert_eq!(setup.agents.len(), 3);
    assert!(setup.limits.text.contains("50 requests/day"));
    s.apply(Intent::Activate).await; // leave the summary
    let screen = s.view();
    assert!(screen.setup.is_none());
    let Body::Hermes(v) = screen.body else {
        panic!("hermes")
    };
    let names: Vec<_> = v.rows.iter().map(|r| r.agent.as_str()).collect();
    assert_eq!(names, ["pm", "engineer", "hermes"]);
    assert_eq!(v.rows[2].profile, "default");
    assert!(
        h.hermes.path().join("config.yaml").is_file(),
        "Hermes is the root profile"
    );
}

#[tokio::test]
async fn bulk_upgrade_needs_a_key_and_revert_restores_the_free_models() {
    let h = homes().await;
    let mut s = Session::new(h.core.clone()).await.expect("session");
    for (name, role) in [
        ("pm", nxr::core::scoring::Role::Pm),
        ("eng", nxr::core::scoring::Role::Engineer),
    ] {
        s.apply(Op::CreateAgent {
            name: name.into(),
            role: Some(role),
            category: None,
            skills: None,
            model: None,
        })
        .await;
    }
    s.apply(Intent::OpenBulkUpgrade).await;
    let Body::Agents(v) = s.view().body else {
        panic!("agents")
    };
    let bulk = v.bulk.expect("bulk plan open");
    assert!(!bulk.key_configured);
    assert!(
        bulk.rows.iter().all(|r| r.recommended.is_some()),
        "every role has a paid pick"
    );
    s.apply(Intent::Activate).await;
    assert!(
        s.view()
            .banner
            .expect("banner")
            .text
            .contains("openrouter-key"),
        "no key: refused"
    );
    // Store a key and its account (credits left) without the network (tests cannot reach
    // OpenRouter).
    let key = "sk-or-v1-test-key-000000000000";
    nxr::core::secrets::store(&h.core, key)
        .await
        .expect("store");
    nxr::core::secrets::record_account(
        &h.core,
        key,
        &Default::default(),
        Some(&nxr::core::openrouter::Credits {
            total_credits: 10.0,
            total_usage: 1.0,
        }),
    )
    .await
    .expect("record");
    s.apply(Intent::Refresh).await;
    s.apply(Intent::OpenBulkUpgrade).await;
    s.apply(Intent::Activate).await;
    let Body::Agents(v) = s.view().body else {
        panic!("agents")
    };
    assert!(v.rows.iter().all(|r| !r.free), "{:?}", v.rows);
    assert!(v.bulk.is_none());
    let env = std::fs::read_to_string(h.hermes.path().join("profiles/pm/.env")).expect(".env");
    assert!(env.contains("OPENROUTER_API_KEY=sk-or-v1-test-key"));
    s.apply(Intent::OpenRevertAll).await;
    s.apply(Intent::Activate).await;
    let Body::Agents(v) = s.view().body else {
        panic!("agents")
    };
    assert!(v.rows.iter().all(|r| r.free));
    assert_eq!(
        v.rows[0].last_free.as_deref(),
        Some(v.rows[0].model.as_str())
    );
}

#[tokio::test]
async fn the_models_tab_auto_key_hands_a_pinned_task_back_to_hermes_and_keeps_other_keys() {
    use nxr::core::keymap::{self, Context};
    let h = homes().await;
    let mut s = Session::new(h.core.clone()).await.expect("session");
    s.apply(Op::CreateAgent {
        name: "eng".into(),
        role: Some(nxr::core::scoring::Role::Engineer),
        category: None,
        skills: None,
        model: None,
    })
    .await;
    let path = h.hermes.path().join("profiles/eng/config.yaml");
    // A person's own setting under the task survives.
    let text = std::fs::read_to_string(&path).expect("config");
    let text = text.replacen("  vision:\n", "  vision:\n    timeout: 99\n", 1);
    std::fs::write(&path, text).expect("write");
    assert!(
        ConfigDoc::load(&path)
            .expect("config")
            .aux_slot("vision")
            .is_some_and(|s| !s.model.is_empty())
    );

    s.apply(Intent::SwitchTab { tab: Tab::Models }).await;
    s.apply(Intent::MoveSelection { delta: 1 }).await; // aux:vision
    // The key comes from the one key table, which also feeds the hint bar and the web.
    let action = keymap::lookup(&[Context::Tab(Tab::Models)], "u").expect("a key for auto");
    assert_eq!(action, Intent::AutoSelectedSlot);
    assert!(
        keymap::bar(&[Context::Tab(Tab::Models)])
            .iter()
            .any(|h| h.action == "auto_selected_slot"),
        "shown in the key bar"
    );
    s.apply(action).await;
    let config = ConfigDoc::load(&path).expect("config");
    let vision = config
        .aux_slot("vision")
        .expect("the task keeps the person's key");
    assert_eq!((vision.provider.as_str(), vision.model.as_str()), ("", ""));
    assert_eq!(
        config.get_str("auxiliary.vision.timeout").as_deref(),
        Some("99")
    );
    let screen = s.view();
    let Body::Models(m) = screen.body else {
        panic!("models")
    };
    assert!(m.slots[1].auto, "{:?}", screen.banner);

    // A fallback has no auto: a clear error, nothing written.
    let before = std::fs::read_to_string(&path).expect("config");
    s.apply(Intent::ToggleAllSlots).await;
    s.apply(Intent::SelectRow { index: usize::MAX }).await; // + fallback
    s.apply(Intent::MoveSelection { delta: -1 }).await; // fallback 1
    s.apply(Intent::AutoSelectedSlot).await;
    let banner = s.view().banner.expect("an error").text;
    assert!(banner.contains("no auto"), "{banner}");
    assert_eq!(std::fs::read_to_string(&path).expect("config"), before);
}
