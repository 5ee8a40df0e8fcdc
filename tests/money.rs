//! Money and one truth for recommendations (issue 12, items 1 to 7): no surface writes a paid
//! model without a stored key whose account can pay; every surface shows the same
//! recommendation; a paid pick needs a real gain; Tab 3 asks before spending; `agents
//! rescore` reports a change once; a model gone from the catalog is named and replaced.
//!
//! The property tests draw random catalogs from the bundled one with a seeded generator
//! (prices flipped, models dropped, contexts changed) and judge every result with the
//! scorer's public functions, never with a fixed pick.

mod support;
mod web_common;

use std::path::{Path, PathBuf};

use nxr::core::Core;
use nxr::core::action::{Intent, Op};
use nxr::core::agents::{self, Advice, PAID_MIN_GAIN};
use nxr::core::catalog::{BUNDLED_JSON, Catalog};
use nxr::core::hermes::{ConfigDoc, RouteSlot};
use nxr::core::openrouter::Credits;
use nxr::core::paths::{Endpoints, Paths};
use nxr::core::routing::SlotKey;
use nxr::core::scoring::{Role, Scorer};
use nxr::core::session::Session;
use nxr::core::view::{Body, Screen, Tab};
use nxr::core::{secrets, upgrade};
use support::{FakeOpenRouter, TestEnv, VALID_KEY};
use web_common::Server;

// ------------------------------------------------------------------ random catalogs

/// A small xorshift generator: the same seed gives the same catalog on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The bundled catalog, changed at random: some models dropped, some free ones made paid
/// (their `:free` suffix dropped), some paid ones made free, some contexts changed.
fn random_catalog(seed: u64) -> String {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut doc: serde_json::Value = serde_json::from_str(BUNDLED_JSON).expect("bundled json");
    let models = doc["data"].as_array_mut().expect("data");
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for m in models.drain(..) {
        let mut m = m;
        let id = m["id"].as_str().unwrap_or_default().to_string();
        // OpenRouter's routers keep their meaning (the free router stays free).
        if id.starts_with("openrouter/") {
            out.push(m);
            seen.insert(id);
            continue;
        }
        if rng.chance(20) {
            continue;
        }
        let free = id.ends_with(":free")
            || (m["pricing"]["prompt"] == "0" && m["pricing"]["completion"] == "0");
        if free && rng.chance(25) {
            m["id"] = id.trim_end_matches(":free").into();
            m["pricing"]["prompt"] = format!("0.00000{}", 1 + rng.next() % 9).into();
            m["pricing"]["completion"] = format!("0.0000{}", 1 + rng.next() % 9).into();
        } else if !free && rng.chance(15) {
            m["pricing"]["prompt"] = "0".into();
            m["pricing"]["completion"] = "0".into();
        }
        if rng.chance(20) {
            m["context_length"] = (8_192u64 << (rng.next() % 7)).into();
        }
        if seen.insert(m["id"].as_str().unwrap_or_default().to_string()) {
            out.push(m);
        }
    }
    *models = out;
    doc.to_string()
}

fn parse(body: &str) -> Catalog {
    Catalog::parse(body, "random", "2026-12-01T00:00:00Z").expect("a random catalog parses")
}

/// Up to `n` paid models of the catalog, spread over it.
fn paid_models(catalog: &Catalog, n: usize) -> Vec<String> {
    let paid: Vec<&str> = catalog
        .models
        .iter()
        .filter(|m| !m.is_free())
        .map(|m| m.id.as_str())
        .collect();
    let step = (paid.len() / n.max(1)).max(1);
    paid.iter()
        .step_by(step)
        .take(n)
        .map(|s| s.to_string())
        .collect()
}

// ------------------------------------------------------------------ what profiles hold

/// Every `config.yaml` under a Hermes home (the root profile and each named one).
fn configs(hermes_home: &Path) -> Vec<PathBuf> {
    let mut out = vec![hermes_home.join("config.yaml")];
    if let Ok(dir) = std::fs::read_dir(hermes_home.join("profiles")) {
        for e in dir.flatten() {
            out.push(e.path().join("config.yaml"));
        }
    }
    out.into_iter().filter(|p| p.is_file()).collect()
}

/// Every model route a profile's config.yaml names: main, auxiliary slots, fallbacks.
fn routes(path: &Path) -> Vec<RouteSlot> {
    let doc = ConfigDoc::load(path).expect("config.yaml loads");
    let mut out = vec![doc.main_slot()];
    for task in doc.aux_tasks() {
        out.extend(doc.aux_slot(&task));
    }
    out.extend(doc.fallback_providers());
    out
}

#[track_caller]
fn assert_no_paid_model(hermes_home: &Path, catalog: &Catalog, what: &str) {
    for path in configs(hermes_home) {
        for r in routes(&path) {
            assert!(
                !agents::is_paid(catalog, &r),
                "{what}: {} holds the paid model {}",
                path.display(),
                r.model
            );
        }
    }
}

// ------------------------------------------------------------------ in-process worlds

/// A core on this world's homes, offline (port 9 refuses every connection).
async fn core_of(env: &TestEnv) -> Core {
    Core::open(
        Paths {
            nxr_home: env.nxr_home.path().to_path_buf(),
            hermes_home: env.hermes_home.path().to_path_buf(),
        },
        Endpoints::unreachable(),
    )
    .await
    .expect("open")
}

const TEAM: [(&str, Role); 4] = [
    ("pm", Role::Pm),
    ("eng", Role::Engineer),
    ("herm", Role::Hermes),
    ("scout", Role::Research),
];

/// A session on a random catalog (stored as if scanned) with one agent per role of [`TEAM`].
async fn world(env: &TestEnv, body: &str) -> Session {
    let file = env.home.path().join("catalog.json");
    std::fs::write(&file, body).expect("write catalog");
    let core = core_of(env).await;
    let mut s = Session::new(core).await.expect("session");
    s.apply(Op::ScanModels {
        from: Some(file.display().to_string()),
    })
    .await;
    for (name, role) in TEAM {
        s.apply(Op::CreateAgent {
            name: name.into(),
            role: Some(role),
            category: None,
            skills: None,
            model: None,
        })
        .await;
    }
    s.apply(Intent::SwitchTab { tab: Tab::Agents }).await;
    s
}

const TEST_KEY: &str = "sk-or-v1-money-test-000000000000000000000000";

/// Stores a key, and (when `credits` is given) the account state a check would record.
async fn give_key(core: &Core, credits: Option<(f64, f64)>) {
    secrets::store(core, TEST_KEY).await.expect("store");
    if let Some((bought, used)) = credits {
        secrets::record_account(
            core,
            TEST_KEY,
            &Default::default(),
            Some(&Credits {
                total_credits: bought,
                total_usage: used,
            }),
        )
        .await
        .expect("record");
    }
}

fn agents_view(s: &mut Session) -> nxr::core::view::AgentsView {
    match s.view().body {
        Body::Agents(v) => v,
        other => panic!("not the agents tab: {other:?}"),
    }
}

async fn select(s: &mut Session, agent: &str) {
    let i = agents_view(s)
        .rows
        .iter()
        .position(|r| r.name == agent)
        .expect("agent listed");
    s.apply(Intent::SelectRow { index: i }).await
}

/// Every way a session (the TUI's keys, the web's forms) can ask for a paid model.
async fn try_every_paid_write(s: &mut Session, paid: &[String]) {
    for (i, model) in paid.iter().enumerate() {
        let agent = TEAM[i % TEAM.len()].0.to_string();
        for slot in ["main", "aux:vision", "aux:compression", "fallback:new"] {
            s.apply(Op::SetSlot {
                agent: agent.clone(),
                slot: SlotKey::parse(slot).expect("slot"),
                model: model.clone(),
                provider: None,
                base_url: None,
                force: false,
            })
            .await;
        }
        s.apply(Op::SetModel {
            agent: agent.clone(),
            model: model.clone(),
            provider: None,
            base_url: None,
        })
        .await;
        s.apply(Op::UpgradeAgent {
            agent: Some(agent.clone()),
            model: Some(model.clone()),
        })
        .await;
        // The web's buttons: the question for a named agent and model, then yes.
        s.apply(Intent::OpenUpgrade {
            agent: Some(agent.clone()),
            model: Some(model.clone()),
        })
        .await;
        s.apply(Intent::Activate).await;
        s.apply(Op::CreateAgent {
            name: format!("paid{i}"),
            role: Some(Role::Pm),
            category: None,
            skills: None,
            model: Some(model.clone()),
        })
        .await;
    }
    s.apply(Intent::SwitchTab { tab: Tab::Agents }).await;
    for (agent, _) in TEAM {
        select(s, agent).await;
        s.apply(Op::UpgradeAgent {
            agent: None,
            model: None,
        })
        .await;
        s.apply(Intent::OpenUpgrade {
            agent: None,
            model: None,
        })
        .await;
        s.apply(Intent::Activate).await;
    }
    s.apply(Op::UpgradeAll).await;
    s.apply(Intent::OpenBulkUpgrade).await;
    s.apply(Intent::Activate).await;
}

// ------------------------------------------------------------------ item 1 and 7: money

#[tokio::test]
async fn over_random_catalogs_no_session_action_writes_a_paid_model_without_a_paying_key() {
    for seed in 1..=6u64 {
        let env = TestEnv::new();
        let body = random_catalog(seed);
        let catalog = parse(&body);
        let paid = paid_models(&catalog, 3);
        assert!(!paid.is_empty(), "seed {seed}: the catalog has paid models");
        let mut s = world(&env, &body).await;
        let home = env.hermes_home.path();
        assert_no_paid_model(home, &catalog, "fresh agents");

        // No key, a key never checked, a checked key with no credits left.
        try_every_paid_write(&mut s, &paid).await;
        assert_no_paid_model(home, &catalog, &format!("seed {seed}, no key"));
        give_key(s.core(), None).await;
        try_every_paid_write(&mut s, &paid).await;
        assert_no_paid_model(home, &catalog, &format!("seed {seed}, unchecked key"));
        give_key(s.core(), Some((5.0, 5.0))).await;
        try_every_paid_write(&mut s, &paid).await;
        assert_no_paid_model(home, &catalog, &format!("seed {seed}, zero balance"));

        // The same write goes through once the account can pay: the guard is what refused.
        give_key(s.core(), Some((5.0, 1.0))).await;
        s.apply(Op::SetSlot {
            agent: "pm".into(),
            slot: SlotKey::Main,
            model: paid[0].clone(),
            provider: None,
            base_url: None,
            force: false,
        })
        .await;
        let pm = ConfigDoc::load(&home.join("profiles/pm/config.yaml")).expect("pm");
        assert_eq!(
            pm.main_slot().model,
            paid[0],
            "seed {seed}: {:?}",
            s.view().banner
        );
    }
}

#[tokio::test]
async fn a_refusal_says_what_to_do_for_each_missing_piece() {
    let env = TestEnv::new();
    let body = random_catalog(7);
    let catalog = parse(&body);
    let paid = paid_models(&catalog, 1).remove(0);
    let mut s = world(&env, &body).await;
    async fn attempt(s: &mut Session, paid: &str) -> String {
        s.apply(Op::SetSlot {
            agent: "pm".into(),
            slot: SlotKey::Aux("vision".into()),
            model: paid.into(),
            provider: None,
            base_url: None,
            force: false,
        })
        .await;
        s.view().banner.expect("a banner").text
    }
    let no_key = attempt(&mut s, &paid).await;
    assert!(no_key.contains("nxr config set openrouter-key"), "{no_key}");
    give_key(s.core(), None).await;
    let unchecked = attempt(&mut s, &paid).await;
    assert!(unchecked.contains("nxr upgrade"), "{unchecked}");
    give_key(s.core(), Some((0.0, 0.0))).await;
    let broke = attempt(&mut s, &paid).await;
    assert!(broke.contains("buy credits"), "{broke}");
    assert!(broke.contains("$0.00"), "the balance is named: {broke}");
}

// ------------------------------------------------------------------ item 2: confirmations

fn hint_keys(screen: &Screen) -> Vec<String> {
    screen.hints.iter().map(|h| h.keys.clone()).collect()
}

#[tokio::test]
async fn p_asks_with_price_and_balance_v_reverts_one_agent_and_v_all_asks_first() {
    let env = TestEnv::new();
    let mut s = world(&env, BUNDLED_JSON).await;
    let core = s.core().clone();
    give_key(&core, Some((20.0, 2.5))).await;
    s.apply(Intent::Refresh).await;
    let plan = upgrade::plan(&core).await.expect("plan");
    let with_pick: Vec<&str> = plan
        .iter()
        .filter(|r| r.recommended.is_some())
        .map(|r| r.agent.as_str())
        .collect();
    assert!(
        with_pick.len() >= 2,
        "two agents with a paid pick: {plan:#?}"
    );
    let (first, second) = (with_pick[0].to_string(), with_pick[1].to_string());
    let conn = core.db.conn().await.expect("conn");
    let conn = &conn;
    let model = async |agent: &str| agents::find(conn, agent).await.expect("agent").model;

    // p only asks: nothing is written until yes, and no means nothing.
    select(&mut s, &first).await;
    assert!(hint_keys(&s.view()).contains(&"p".to_string()));
    assert!(
        !hint_keys(&s.view()).contains(&"v".to_string()),
        "on free: no v"
    );
    let before = model(&first).await;
    s.apply(Intent::OpenUpgrade {
        agent: None,
        model: None,
    })
    .await;
    let c = agents_view(&mut s).confirm.expect("a question");
    let text = format!("{} {}", c.title, c.lines.join(" "));
    assert!(text.contains("per M"), "the price is shown: {text}");
    assert!(
        text.contains("balance $17.50"),
        "the balance is shown: {text}"
    );
    assert_eq!(model(&first).await, before, "asking writes nothing");
    s.apply(Intent::Cancel).await;
    assert!(agents_view(&mut s).confirm.is_none());
    assert_eq!(model(&first).await, before, "no changes nothing");
    s.apply(Intent::OpenUpgrade {
        agent: None,
        model: None,
    })
    .await;
    s.apply(Intent::Activate).await;
    let paid_first = model(&first).await;
    assert_ne!(paid_first, before, "yes upgrades: {:?}", s.view().banner);
    select(&mut s, &second).await;
    s.apply(Intent::OpenUpgrade {
        agent: None,
        model: None,
    })
    .await;
    s.apply(Intent::Activate).await;
    assert_ne!(model(&second).await, before);

    // v on an agent reverts that agent only.
    select(&mut s, &first).await;
    assert!(hint_keys(&s.view()).contains(&"v".to_string()));
    s.apply(Op::RevertUpgrade { agent: None }).await;
    assert_eq!(model(&first).await, before);
    assert!(
        !agents_view(&mut s).rows.iter().all(|r| r.free),
        "the other stays paid"
    );

    // Reverting every agent is its own action, and it asks.
    s.apply(Intent::OpenRevertAll).await;
    assert!(
        agents_view(&mut s).rows.iter().any(|r| !r.free),
        "asking reverts nothing"
    );
    let c = agents_view(&mut s).confirm.expect("a question");
    assert_eq!(c.action, "revert_all");
    s.apply(Intent::Activate).await;
    assert!(agents_view(&mut s).rows.iter().all(|r| r.free));
}

#[tokio::test]
async fn an_upgrade_question_for_a_named_agent_is_about_that_agent_and_model_not_the_selected_one()
{
    let env = TestEnv::new();
    let mut s = world(&env, BUNDLED_JSON).await;
    let core = s.core().clone();
    give_key(&core, Some((20.0, 2.5))).await;
    s.apply(Intent::Refresh).await;
    let plan = upgrade::plan(&core).await.expect("plan");
    let rows: Vec<_> = plan.iter().filter(|r| r.recommended.is_some()).collect();
    assert!(rows.len() >= 2, "two agents with a paid pick: {plan:#?}");
    let (target, other) = (rows[0].agent.clone(), rows[1].agent.clone());
    // Another agent's paid pick: a model of the person's choosing, not the recommended one.
    let chosen = rows[1]
        .recommended
        .as_ref()
        .map(|r| r.model.clone())
        .expect("a pick");
    assert_ne!(
        Some(&chosen),
        rows[0].recommended.as_ref().map(|r| &r.model)
    );
    select(&mut s, &other).await;
    let conn = core.db.conn().await.expect("conn");
    let before = agents::find(&conn, &target).await.expect("agent").model;

    // A model the catalog does not know: refused, no question.
    s.apply(Intent::OpenUpgrade {
        agent: Some(target.clone()),
        model: Some("nobody/nothing".into()),
    })
    .await;
    assert!(agents_view(&mut s).confirm.is_none());
    assert!(
        s.view()
            .banner
            .as_ref()
            .is_some_and(|b| b.text.contains("not in the catalog")),
        "{:?}",
        s.view().banner
    );

    s.apply(Intent::OpenUpgrade {
        agent: Some(target.clone()),
        model: Some(chosen.clone()),
    })
    .await;
    let c = agents_view(&mut s).confirm.expect("a question");
    let text = format!("{} {}", c.title, c.lines.join(" "));
    assert!(
        c.title.contains(&target) && c.title.contains(&chosen),
        "{text}"
    );
    assert!(
        text.contains("new:") && text.contains("per M"),
        "its price: {text}"
    );
    assert!(text.contains("balance $17.50"), "{text}");
    assert_eq!(
        agents::find(&conn, &target).await.expect("agent").model,
        before,
        "asking writes nothing"
    );
    s.apply(Intent::Activate).await;
    assert_eq!(
        agents::find(&conn, &target).await.expect("agent").model,
        chosen
    );
    assert_ne!(
        agents::find(&conn, &other).await.expect("agent").model,
        chosen,
        "the selected agent is untouched"
    );
}

#[test]
fn revert_without_an_agent_is_refused_where_none_would_mean_every_agent() {
    let env = TestEnv::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let err = rt.block_on(async {
        let core = core_of(&env).await;
        nxr::core::action::apply(&core, Op::RevertUpgrade { agent: None })
            .await
            .expect_err("no agent")
    });
    assert!(err.to_string().contains("revert_all"), "{err}");
}

// ------------------------------------------------------------------ items 3, 4: one truth

#[tokio::test]
async fn over_random_catalogs_every_surface_shows_the_one_recommendation() {
    for seed in 11..=16u64 {
        let env = TestEnv::new();
        let body = random_catalog(seed);
        let catalog = parse(&body);
        let scorer = Scorer::new(&catalog);
        let mut s = world(&env, &body).await;
        let core = s.core().clone();
        for can_pay in [false, true] {
            if can_pay {
                give_key(&core, Some((30.0, 0.0))).await;
                s.apply(Intent::Refresh).await;
            }
            let what = format!("seed {seed}, can pay {can_pay}");
            let recs = agents::recommend(&core).await.expect("recommend");
            let plan = upgrade::plan(&core).await.expect("plan");
            s.apply(Intent::OpenBulkUpgrade).await;
            let Body::Agents(tab3) = s.view().body else {
                panic!("agents")
            };
            let bulk = tab3.bulk.clone().expect("bulk open");
            s.apply(Intent::Cancel).await;
            // The web page with the bulk panel closed: the agents table alone.
            let html = nxr::webmirror::render_screen(
                &s.view(),
                &nxr::webmirror::PageCtx::new("/agents/manage", Vec::new(), "t"),
            )
            .into_string();
            assert!(!html.contains("id=\"bulk\""), "{what}: bulk closed");
            for rec in &recs {
                let ctx = format!("{what}, {}", rec.agent);
                // BEST FREE is free (or the free fallback).
                assert!(
                    rec.fallback.is_some()
                        || catalog.get(&rec.best_free).is_some_and(|m| m.is_free()),
                    "{ctx}: best free {} is not free",
                    rec.best_free
                );
                let free_score = scorer.best_free(rec.role, "qwen3:8b").score;
                assert_eq!(rec.best_free_score, free_score, "{ctx}");
                // A paid pick needs a real gain over the free one.
                match (&rec.paid, scorer.best_paid(rec.role)) {
                    (Some(p), Some(best)) => {
                        assert_eq!(p.model, scorer.model(&best).id, "{ctx}");
                        assert!(
                            best.total - free_score.unwrap_or(0.0) >= PAID_MIN_GAIN,
                            "{ctx}"
                        );
                    }
                    (None, Some(best)) => assert!(
                        best.total - free_score.unwrap_or(0.0) < PAID_MIN_GAIN,
                        "{ctx}: a paid model gains enough but is not offered"
                    ),
                    (Some(_), None) => panic!("{ctx}: a paid pick from nowhere"),
                    (None, None) => {}
                }
                // Without a paying key nothing paid is recommended; a free move is no upgrade.
                let rec_paid = catalog
                    .get(&rec.recommended_model)
                    .is_some_and(|m| !m.is_free());
                if !can_pay {
                    assert!(
                        !rec_paid,
                        "{ctx}: recommends paid {}",
                        rec.recommended_model
                    );
                }
                assert_eq!(
                    rec.upgrade_available,
                    rec.advice == Advice::Upgrade,
                    "{ctx}"
                );
                if rec.advice == Advice::Upgrade {
                    assert!(rec_paid, "{ctx}: an upgrade to a free model");
                }
                // Tab 3, Bulk Upgrade, the upgrade plan and the web page agree.
                let row = tab3
                    .rows
                    .iter()
                    .find(|r| r.name == rec.agent)
                    .expect("tab 3 row");
                assert_eq!(row.recommended, rec.recommended_model, "{ctx}");
                assert_eq!(row.best_free, rec.best_free, "{ctx}");
                assert_eq!(row.advice, rec.advice, "{ctx}");
                let plan_row = plan.iter().find(|p| p.agent == rec.agent).expect("plan");
                let offered = rec
                    .paid
                    .as_ref()
                    .map(|p| p.model.clone())
                    .filter(|m| *m != rec.current_model);
                assert_eq!(
                    plan_row.recommended.as_ref().map(|r| r.model.clone()),
                    offered,
                    "{ctx}"
                );
                let bulk_row = bulk
                    .rows
                    .iter()
                    .find(|r| r.agent == rec.agent)
                    .expect("bulk");
                assert_eq!(
                    bulk_row.recommended.as_ref().map(|r| r.model.clone()),
                    offered,
                    "{ctx}"
                );
                if can_pay && let Some(m) = &offered {
                    assert_eq!(&rec.recommended_model, m, "{ctx}: paying key, paid pick");
                }
                let web_row = html
                    .split(&format!(" data-agent=\"{}\"", rec.agent))
                    .nth(1)
                    .and_then(|r| r.split("</tr>").next())
                    .unwrap_or_else(|| panic!("{ctx}: no web row"));
                if rec.best_free != rec.current_model {
                    assert!(web_row.contains(&rec.best_free), "{ctx}: {web_row}");
                }
                match &offered {
                    Some(m) => assert!(web_row.contains(m.as_str()), "{ctx}: {web_row}"),
                    None if rec.paid.is_none() => {
                        assert!(web_row.contains("stay on free"), "{ctx}: {web_row}")
                    }
                    None => {}
                }
            }
        }
    }
}

// ------------------------------------------------------------------ item 6: models gone

#[tokio::test]
async fn a_model_gone_from_the_catalog_is_named_and_replaced_on_every_surface() {
    let env = TestEnv::new();
    let mut s = world(&env, BUNDLED_JSON).await;
    let core = s.core().clone();
    let pm_model = agents::find(&core.db.conn().await.expect("conn"), "pm")
        .await
        .expect("pm")
        .model;
    // A newer catalog without pm's model.
    let mut doc: serde_json::Value = serde_json::from_str(BUNDLED_JSON).expect("json");
    doc["data"]
        .as_array_mut()
        .expect("data")
        .retain(|m| m["id"] != pm_model.as_str());
    let file = env.home.path().join("newer.json");
    std::fs::write(&file, doc.to_string()).expect("write");
    s.apply(Op::ScanModels {
        from: Some(file.display().to_string()),
    })
    .await;
    let recs = agents::recommend(&core).await.expect("recommend");
    let pm = recs.iter().find(|r| r.agent == "pm").expect("pm");
    assert!(pm.model_gone);
    assert_eq!(pm.advice, Advice::Replace);
    assert_ne!(
        pm.recommended_model, pm_model,
        "a replacement, not the gone model"
    );
    for r in &recs {
        assert_eq!(r.model_gone, r.current_model == pm_model, "{}", r.agent);
    }
    let screen = s.view();
    let html = nxr::webmirror::render_screen(
        &screen,
        &nxr::webmirror::PageCtx::new("/agents/manage", Vec::new(), "t"),
    )
    .into_string();
    let Body::Agents(v) = screen.body else {
        panic!("agents")
    };
    let row = v.rows.iter().find(|r| r.name == "pm").expect("pm row");
    assert!(row.model_gone);
    assert!(html.contains("gone from the catalog"), "the web says so");
    // The CLI says so too.
    let list = env.nxr(&["agents", "list"]);
    list.assert_ok();
    assert!(list.stdout.contains("gone"), "{}", list.stdout);
    assert!(
        list.stdout.contains("no longer in the catalog"),
        "{}",
        list.stdout
    );
    let listed = env.json(&["agents", "list"]);
    for a in listed.as_array().expect("list") {
        assert_eq!(
            a["model_gone"].as_bool().unwrap_or(false),
            a["model"] == pm_model.as_str(),
            "{a}"
        );
    }
    let recommend = env.json(&["agents", "recommend"]);
    let pm = recommend
        .as_array()
        .expect("recs")
        .iter()
        .find(|r| r["agent"] == "pm")
        .expect("pm");
    assert_eq!(pm["model_gone"], true);
    assert_eq!(pm["advice"], "replace");
}

// ------------------------------------------------------------------ item 5: rescore

#[test]
fn four_agents_rescores_in_a_row_report_a_change_once() {
    let env = TestEnv::new();
    let from = |f: &str| support::fixture_path(f).display().to_string();
    env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
    env.json(&["agents", "create", "--role", "pm", "--name", "boss"]);
    env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);
    let counts: Vec<usize> = (0..4)
        .map(|_| {
            env.json(&["agents", "rescore"])["changed"]
                .as_array()
                .expect("changed")
                .len()
        })
        .collect();
    assert_eq!(counts, [1, 0, 0, 0]);
}

#[test]
fn a_new_pick_the_agent_already_runs_is_not_a_change() {
    let env = TestEnv::new();
    let from = |f: &str| support::fixture_path(f).display().to_string();
    env.json(&["models", "scan", "--from", &from("models-2026-03-30.json")]);
    env.json(&["agents", "create", "--role", "research", "--name", "scout"]);
    // The agent moves to what the next catalog will pick, before that catalog arrives.
    let next = "qwen/qwen3.6-plus-preview:free";
    env.json(&["models", "scan", "--from", &from("models-2026-03-31.json")]);
    assert_eq!(support::profiles::best_free(&env, "research"), next);
    env.json(&["agents", "create", "--role", "pm", "--name", "boss"]);
    env.db_exec(&format!(
        "UPDATE agents SET model = '{next}' WHERE name = 'scout'"
    ));
    let report = env.json(&["agents", "rescore"]);
    assert_eq!(report["changed"], serde_json::json!([]), "{report:#}");
}

// ------------------------------------------------------------------ the CLI and the web

/// A fake OpenRouter serving a random catalog, and a home with agents on it.
fn cli_world(seed: u64) -> (FakeOpenRouter, TestEnv, Catalog) {
    let server = FakeOpenRouter::start();
    let body = random_catalog(seed);
    server.serve_models_body(body.clone());
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    env.json(&["models", "scan"]);
    (server, env, parse(&body))
}

/// Every CLI way to ask for one of `paid` (each must fail), then the bulk ways (which may
/// find nothing worth paying for).
fn cli_attempts(env: &TestEnv, paid: &[String]) -> (Vec<support::Output>, Vec<support::Output>) {
    let mut out = Vec::new();
    for (i, m) in paid.iter().enumerate() {
        let name = format!("cli{i}");
        out.push(env.nxr(&[
            "agents", "create", "--role", "pm", "--name", &name, "--model", m,
        ]));
        out.push(env.nxr(&["upgrade", "--agent", "pm", "--model", m]));
    }
    let bulk = vec![
        env.nxr(&["upgrade", "--all"]),
        env.nxr(&["upgrade", "--agent", "engineer"]),
    ];
    (out, bulk)
}

fn web_attempts(env: &TestEnv, paid: &[String]) {
    let s = Server::start(env);
    let r = s.get("/agents/manage");
    let sid = r.sid().expect("cookie");
    for m in paid {
        for (agent, slot) in [
            ("pm", "main"),
            ("engineer", "aux:vision"),
            ("hermes", "fallback:new"),
        ] {
            s.post_form(
                "/models/switch",
                Some(&sid),
                &[
                    ("action", "set_slot"),
                    ("agent", agent),
                    ("slot", slot),
                    ("model", m),
                ],
            );
        }
        s.post_form(
            "/agents/manage",
            Some(&sid),
            &[("action", "upgrade_agent"), ("agent", "pm"), ("model", m)],
        );
        // The upgrade buttons' two steps: the question, then yes.
        for fields in [
            &[("action", "open_upgrade"), ("agent", "pm"), ("model", m)][..],
            &[("action", "activate")][..],
        ] {
            s.post_form("/agents/manage", Some(&sid), fields);
        }
        s.post_form(
            "/agents/new",
            Some(&sid),
            &[
                ("action", "create_agent"),
                ("name", "webpaid"),
                ("role", "pm"),
                ("model", m),
            ],
        );
    }
    for action in ["upgrade_all", "open_bulk_upgrade", "activate"] {
        s.post_form("/agents/manage", Some(&sid), &[("action", action)]);
    }
}

#[test]
fn over_random_catalogs_neither_the_cli_nor_the_web_writes_a_paid_model_without_a_paying_key() {
    for seed in [21u64, 22] {
        let (server, env, catalog) = cli_world(seed);
        let paid = paid_models(&catalog, 2);
        let home = env.hermes_home.path();
        // No key.
        for o in cli_attempts(&env, &paid).0 {
            assert!(!o.ok(), "seed {seed}: {o}");
        }
        web_attempts(&env, &paid);
        assert_no_paid_model(home, &catalog, &format!("seed {seed}, no key"));
        // A valid key on an account with no credits left.
        server.serve_credits(10.0, 10.0);
        env.nxr(&["config", "set", "openrouter-key", VALID_KEY])
            .assert_ok();
        for o in cli_attempts(&env, &paid).0 {
            assert!(!o.ok(), "seed {seed}: {o}");
        }
        web_attempts(&env, &paid);
        assert_no_paid_model(home, &catalog, &format!("seed {seed}, zero balance"));
        // Credits bought: `nxr upgrade` checks again and the same write goes through.
        server.serve_credits(10.0, 1.0);
        env.nxr(&["upgrade", "--agent", "pm", "--model", &paid[0]])
            .assert_ok();
        assert_eq!(support::profiles::db_model(&env, "pm"), paid[0]);

        // With a paying key, the CLI's two surfaces and the web page name the same model.
        let recs = env.json(&["agents", "recommend"]);
        let plan = env.json(&["upgrade"]);
        let html = Server::start(&env).get("/agents/manage").text();
        for rec in recs.as_array().expect("recs") {
            let agent = rec["agent"].as_str().expect("agent");
            let row = plan["plan"]
                .as_array()
                .expect("plan")
                .iter()
                .find(|r| r["agent"] == agent)
                .expect("plan row");
            let web = html
                .split(&format!(" data-agent=\"{agent}\""))
                .nth(1)
                .and_then(|r| r.split("</tr>").next())
                .expect("web row");
            match row["recommended"]["model"].as_str() {
                Some(m) => {
                    assert_eq!(rec["recommended_model"], m, "seed {seed}, {agent}");
                    assert_eq!(rec["advice"], "upgrade", "seed {seed}, {agent}");
                    assert!(web.contains(m), "seed {seed}, {agent}: {web}");
                }
                None => assert_ne!(rec["advice"], "upgrade", "seed {seed}, {agent}"),
            }
        }
    }
}

#[test]
fn upgrade_all_with_a_zero_credit_key_changes_nothing_and_shows_the_balance() {
    let server = FakeOpenRouter::start();
    server.serve_credits(0.0, 0.0);
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    env.nxr(&["config", "set", "openrouter-key", VALID_KEY])
        .assert_ok();
    let before = support::profiles::hash_tree(env.hermes_home.path());
    let out = env.nxr(&["upgrade", "--all"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("balance $0.00"), "{out}");
    assert!(out.stderr.contains("buy credits"), "{out}");
    assert_eq!(
        support::profiles::changed(
            &before,
            &support::profiles::hash_tree(env.hermes_home.path())
        ),
        Vec::<String>::new()
    );
    // The plan says so too, with the balance in its JSON.
    let plan = env.json(&["upgrade"]);
    assert_eq!(plan["account"]["state"]["credits"]["total_credits"], 0.0);
}

#[test]
fn agents_create_with_a_paid_model_and_no_key_is_refused_and_creates_nothing() {
    let env = TestEnv::new();
    let catalog = Catalog::bundled();
    let paid = paid_models(&catalog, 1).remove(0);
    let out = env.nxr(&[
        "agents", "create", "--role", "pm", "--name", "p2", "--model", &paid,
    ]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr.contains("nxr config set openrouter-key"),
        "{out}"
    );
    assert!(!env.profile_dir("p2").exists());
    assert!(
        env.json(&["agents", "list"])
            .as_array()
            .expect("list")
            .is_empty()
    );
}

#[test]
fn a_paid_pick_without_a_real_gain_is_shown_as_stay_on_free() {
    // Whatever the scorer picks, the plan offers a paid model exactly when it clears the
    // threshold over the free pick, and says "stay on free" otherwise.
    let env = TestEnv::new();
    for (name, role) in [("c", "creative"), ("h", "hermes"), ("e", "engineer")] {
        env.json(&["agents", "create", "--role", role, "--name", name]);
    }
    let catalog = Catalog::bundled();
    let scorer = Scorer::new(&catalog);
    let recs = env.json(&["agents", "recommend"]);
    let text = env.nxr(&["agents", "recommend"]).stdout;
    for r in recs.as_array().expect("recs") {
        let role = Role::parse(r["role"].as_str().expect("role")).expect("role");
        let free = scorer.best_free(role, "qwen3:8b").score.unwrap_or(0.0);
        let gain = scorer.best_paid(role).map(|s| s.total - free);
        let offered = gain.is_some_and(|g| g >= PAID_MIN_GAIN);
        assert_eq!(r["paid"].is_object(), offered, "{r}");
        if !offered {
            let line = text
                .lines()
                .find(|l| l.starts_with(r["agent"].as_str().expect("agent")))
                .expect("line");
            assert!(line.contains("stay on free"), "{line}");
        }
    }
}
