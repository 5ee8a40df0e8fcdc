//! Every screen fixture rendered as the web mirror's HTML, under `snapshots/html/`, with the
//! same names as the TUI's (`snapshots/tui/`) and the view structs' (`snapshots/vm/`), so a
//! diff shows which renderer drifted.
//!
//! Fixtures are real sessions on temporary homes at `/tmp/nxr-web-snap/<fixture>` (removed
//! before and after) with a frozen clock, so paths and ages are the same on every machine.
//! The form token is a fixed string.

mod support;

use support::screens::{self, Fixture, apply, clock, machine_neutral};

use nxr::core::action::{Action, Intent, Op};
use nxr::core::session::{PICKER_CHROME, Session};
use nxr::core::view::{Screen, Tab};
use nxr::webmirror::{PageCtx, render_screen};

/// Screen fixtures live at `/tmp/nxr-web-snap/<name>`.
async fn fixture(name: &str, team: bool) -> Fixture {
    let mut f = screens::fixture("/tmp/nxr-web-snap", name, team).await;
    // The web shows a taller picker than a terminal.
    f.session
        .apply(Intent::Resize {
            width: 160,
            height: 12 + PICKER_CHROME,
        })
        .await;
    f
}

fn screen(f: &mut Fixture) -> Screen {
    f.session.settle();
    f.session.view()
}

/// One element per line, so a snapshot diff points at the element that changed.
fn pretty(html: &str) -> String {
    html.replace("><", ">\n<")
}

fn snap(f: &mut Fixture, name: &str) {
    let mut s = screen(f);
    machine_neutral(&mut s);
    let ctx = PageCtx::new(s.tab.path(), Vec::new(), "csrf-token-for-snapshots");
    let html = render_screen(&s, &ctx).into_string();
    assert!(!html.contains("\u{1b}"));
    insta::with_settings!({
        snapshot_path => "../snapshots/html",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name.to_string(), pretty(&html));
    });
}

#[tokio::test]
async fn an_empty_workspace_opens_on_the_hermes_tab_and_says_what_to_do() {
    let mut f = fixture("empty", false).await;
    f.session.set_clock(clock("2026-06-20T12:00:00Z"));
    snap(
        &mut f,
        "an_empty_workspace_opens_on_the_hermes_tab_with_a_stale_catalog",
    );
}

#[tokio::test]
async fn every_tab_of_a_workspace_with_three_agents() {
    let mut f = fixture("tabs", true).await;
    snap(&mut f, "the_hermes_tab_lists_every_agent_profile");
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Models }]).await;
    snap(
        &mut f,
        "the_models_tab_shows_the_first_agents_core_routing_slots",
    );
    apply(
        &mut f,
        [
            Intent::CycleAgent { delta: 1 },
            Intent::ToggleAllSlots,
            Intent::MoveSelection { delta: 2 },
        ],
    )
    .await;
    snap(
        &mut f,
        "the_models_tab_shows_every_slot_and_the_fallback_row_of_the_second_agent",
    );
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Agents }]).await;
    snap(
        &mut f,
        "the_agents_tab_compares_each_model_with_the_best_free_one",
    );
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Budget }]).await;
    snap(&mut f, "the_budget_tab_shows_the_free_tier_limits");
    apply(
        &mut f,
        [Intent::SwitchTab {
            tab: Tab::Notifications,
        }],
    )
    .await;
    snap(&mut f, "the_notifications_tab_marks_the_unread_one");
}

#[tokio::test]
async fn the_model_picker_on_a_routing_slot() {
    let mut f = fixture("picker", true).await;
    apply(
        &mut f,
        [
            Intent::SwitchTab { tab: Tab::Models },
            Intent::CycleAgent { delta: 1 },
            Intent::MoveSelection { delta: 1 },
            Intent::OpenPicker,
        ],
    )
    .await;
    snap(
        &mut f,
        "the_picker_opens_on_the_vision_slot_with_free_models_best_first",
    );
    apply(
        &mut f,
        [Intent::SetPickerQuery {
            query: "gemma 31b".into(),
        }],
    )
    .await;
    snap(
        &mut f,
        "typing_a_query_narrows_the_picker_and_compares_prices",
    );
    apply(
        &mut f,
        [Intent::SetPickerQuery {
            query: "zzzzzz-no-such-model".into(),
        }],
    )
    .await;
    snap(&mut f, "a_query_that_matches_nothing_says_so");
}

#[tokio::test]
async fn the_help_overlay_and_the_skill_editor() {
    let mut f = fixture("overlays", true).await;
    apply(
        &mut f,
        [Intent::SwitchTab { tab: Tab::Models }, Intent::ToggleHelp],
    )
    .await;
    snap(
        &mut f,
        "help_lists_every_key_of_the_models_tab_from_the_key_table",
    );
    apply(
        &mut f,
        [
            Intent::ToggleHelp,
            Intent::SwitchTab { tab: Tab::Agents },
            Intent::SelectRow { index: 2 },
            Intent::OpenSkillEditor,
            Intent::MoveSelection { delta: 1 },
        ],
    )
    .await;
    snap(&mut f, "the_skill_editor_ticks_the_agents_current_skills");
}

#[tokio::test]
async fn each_step_of_the_create_wizard() {
    let mut f = fixture("wizard", true).await;
    apply(
        &mut f,
        [
            Intent::SwitchTab { tab: Tab::Create },
            Intent::MoveSelection { delta: 3 },
        ],
    )
    .await;
    snap(
        &mut f,
        "wizard_step_1_lists_the_categories_and_their_skill_templates",
    );
    apply(&mut f, [Intent::Activate]).await;
    snap(&mut f, "wizard_step_2_recommends_a_model_and_says_why");
    apply(&mut f, [Intent::OpenPicker]).await;
    snap(
        &mut f,
        "wizard_step_2_can_pick_another_model_with_the_same_picker",
    );
    apply(&mut f, [Intent::Cancel, Intent::Activate]).await;
    snap(&mut f, "wizard_step_3_prefills_the_skill_template");
    apply(
        &mut f,
        [
            Intent::ToggleSkill { name: None },
            Intent::Activate,
            Intent::SetWizardName {
                name: "Bad Name".into(),
            },
        ],
    )
    .await;
    snap(&mut f, "wizard_step_4_validates_the_name_as_it_is_typed");
    apply(
        &mut f,
        [
            Intent::SetWizardName {
                name: "scout-2".into(),
            },
            Intent::Activate,
        ],
    )
    .await;
    snap(
        &mut f,
        "wizard_step_5_sums_up_the_choices_and_the_equivalent_command",
    );
}

#[tokio::test]
async fn an_error_becomes_a_banner_and_the_status_line_keeps_it() {
    let mut f = fixture("error", false).await;
    apply(
        &mut f,
        [Intent::SwitchTab { tab: Tab::Models }, Intent::OpenPicker],
    )
    .await;
    snap(&mut f, "an_error_shows_as_a_banner_and_in_the_status_line");
}

#[tokio::test]
async fn first_run_setup_before_it_starts() {
    let mut f = fixture("setup", false).await;
    f.session.begin_setup(nxr::core::onboarding::Flow::Web);
    snap(
        &mut f,
        "first_run_setup_says_what_it_will_do_and_waits_for_enter",
    );
}

async fn run_setup(f: &mut Fixture, key: Option<&str>) {
    f.session.begin_setup(nxr::core::onboarding::Flow::Web);
    apply(
        f,
        [Intent::StartSetup {
            key: key.map(str::to_string),
        }],
    )
    .await;
    while f.session.busy() {
        f.session.advance().await;
    }
}

#[tokio::test]
async fn first_run_setup_when_it_has_finished() {
    let mut f = fixture("setup-done", false).await;
    run_setup(&mut f, None).await;
    snap(
        &mut f,
        "first_run_setup_ends_with_the_agents_the_free_tier_limits_and_how_to_upgrade",
    );
}

#[tokio::test]
async fn setup_again_after_it_finished() {
    let mut f = fixture("setup-again", false).await;
    run_setup(&mut f, None).await;
    let mut again = Session::new(f.session.core().clone())
        .await
        .expect("session");
    again.set_clock(clock("2026-05-04T12:00:00Z"));
    f.session = again;
    run_setup(&mut f, None).await;
    snap(
        &mut f,
        "setup_after_an_earlier_run_finished_says_already_set_up_and_creates_nothing",
    );
}

#[tokio::test]
async fn setup_with_a_malformed_key() {
    let mut f = fixture("setup-bad-key", false).await;
    run_setup(&mut f, Some("not a key")).await;
    snap(
        &mut f,
        "setup_with_a_malformed_key_stops_at_the_first_step_and_asks_again",
    );
}

#[tokio::test]
async fn an_agent_upgraded_to_its_paid_pick() {
    let mut f = fixture("upgraded", true).await;
    // A key as `nxr config set openrouter-key` leaves it (validation needs the network).
    std::fs::write(
        f.root.join("nxr/secrets.env"),
        "OPENROUTER_API_KEY=sk-or-v1-snapshot-0000000000000000000000000000000000000000000\n",
    )
    .expect("secrets");
    // ... and the account it checked: credits left, so paid models can be paid for.
    nxr::core::secrets::record_account(
        f.session.core(),
        "sk-or-v1-snapshot-0000000000000000000000000000000000000000000",
        &Default::default(),
        Some(&nxr::core::openrouter::Credits {
            total_credits: 10.0,
            total_usage: 1.0,
        }),
    )
    .await
    .expect("account");
    apply(
        &mut f,
        [
            Action::from(Op::UpgradeAgent {
                agent: Some("eng".into()),
                model: None,
            }),
            Intent::SwitchTab { tab: Tab::Agents }.into(),
            Intent::SelectRow { index: 1 }.into(),
        ],
    )
    .await;
    let html = {
        let s = screen(&mut f);
        render_screen(&s, &PageCtx::new(s.tab.path(), Vec::new(), "t")).into_string()
    };
    assert!(
        !html.contains("sk-or-v1-snapshot"),
        "the key is never in a page"
    );
    snap(
        &mut f,
        "an_upgraded_agent_shows_its_paid_model_and_can_revert_to_its_free_one",
    );
}

#[tokio::test]
async fn the_bulk_upgrade_confirmation() {
    let mut f = fixture("bulk", true).await;
    apply(
        &mut f,
        [
            Intent::SwitchTab { tab: Tab::Agents },
            Intent::OpenBulkUpgrade,
        ],
    )
    .await;
    snap(
        &mut f,
        "the_bulk_upgrade_lists_each_agents_paid_pick_before_anything_changes",
    );
}

/// The static export (`nxr export`) of the same fixture: the same pages with the controls and
/// the script taken out and relative links.
#[tokio::test]
async fn the_static_export_of_every_tab_of_a_workspace_with_three_agents() {
    let mut f = fixture("export", true).await;
    for tab in Tab::ALL {
        apply(&mut f, [Intent::SwitchTab { tab }]).await;
        let mut s = screen(&mut f);
        machine_neutral(&mut s);
        let ctx = PageCtx::new(s.tab.path(), Vec::new(), "");
        let html = nxr::webmirror::export::read_only(&render_screen(&s, &ctx).into_string());
        for bad in ["<form", "<script", "<button", "<input"] {
            assert!(!html.contains(bad), "{tab:?}: {bad}");
        }
        insta::with_settings!({
            snapshot_path => "../snapshots/html",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(
                format!("the_static_export_of_the_{}_tab", s.tab.title().to_lowercase()),
                pretty(&html)
            );
        });
    }
}

#[tokio::test]
async fn the_budget_page_with_a_mornings_usage() {
    let mut f = fixture("budget-usage", true).await;
    screens::seed_usage(&mut f).await;
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Budget }]).await;
    snap(
        &mut f,
        "the_budget_page_projects_the_day_and_lists_agents_and_rate_limits",
    );
}

#[tokio::test]
async fn from_70_percent_every_page_warns_of_the_free_tier_under_its_navigation() {
    let mut f = fixture("budget-warning", true).await;
    screens::seed_usage(&mut f).await;
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Hermes }]).await;
    snap(
        &mut f,
        "the_hermes_page_warns_that_the_free_tier_is_at_74_percent",
    );
}
