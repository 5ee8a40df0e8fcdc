//! Every TUI screen as text (ratatui `TestBackend`, 80×24 and 120×40) under
//! `snapshots/tui/`, and the view struct it was drawn from as YAML under `snapshots/vm/`.
//! A change in one but not the other shows which side drifted.
//!
//! Fixtures are real sessions on temporary homes with a frozen clock. The homes live at
//! `/tmp/nxr-snap/<fixture>` (removed before and after) so the paths on screen, and so the
//! layout, are the same on every machine.

mod support;

use support::screens::{self, Fixture, apply, clock, machine_neutral};

use nxr::core::action::Intent;
use nxr::core::view::{Overlay, Screen, Tab};
use nxr::tabs::theme::Theme;
use nxr::tabs::{self, Ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

/// Screen fixtures live at `/tmp/nxr-snap/<name>`.
async fn fixture(name: &str, team: bool) -> Fixture {
    screens::fixture("/tmp/nxr-snap", name, team).await
}

/// The screen at a size, as the TUI draws it.
async fn screen(f: &mut Fixture, w: u16, h: u16) -> Screen {
    f.session
        .apply(Intent::Resize {
            width: w,
            height: h,
        })
        .await;
    f.session.settle();
    f.session.view()
}

fn draw(screen: &Screen, w: u16, h: u16, theme: Theme) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let mut ui = Ui::new(theme);
    term.draw(|frame| tabs::draw(frame, screen, &mut ui))
        .expect("draw");
    term
}

/// Snapshots the fixture's current screen: TUI at both sizes, view struct at 80×24.
async fn snap(f: &mut Fixture, name: &str) {
    for (w, h) in SIZES {
        let mut s = screen(f, w, h).await;
        machine_neutral(&mut s);
        let term = draw(&s, w, h, Theme::no_color());
        insta::with_settings!({
            snapshot_path => "../snapshots/tui",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(format!("{name}__{w}x{h}"), term.backend().to_string());
        });
        if (w, h) == (80, 24) {
            insta::with_settings!({
                snapshot_path => "../snapshots/vm",
                prepend_module_to_snapshot => false,
                omit_expression => true,
                }, {
                insta::assert_yaml_snapshot!(name.to_string(), s);
            });
        }
    }
}

#[tokio::test]
async fn an_empty_workspace_opens_on_the_hermes_tab_and_says_what_to_do() {
    let mut f = fixture("empty", false).await;
    f.session.set_clock(clock("2026-06-20T12:00:00Z"));
    snap(
        &mut f,
        "an_empty_workspace_opens_on_the_hermes_tab_with_a_stale_catalog",
    )
    .await;
}

#[tokio::test]
async fn every_tab_of_a_workspace_with_three_agents() {
    let mut f = fixture("tabs", true).await;
    snap(&mut f, "the_hermes_tab_lists_every_agent_profile").await;
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Models }]).await;
    snap(
        &mut f,
        "the_models_tab_shows_the_first_agents_core_routing_slots",
    )
    .await;
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
    )
    .await;
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Agents }]).await;
    snap(
        &mut f,
        "the_agents_tab_compares_each_model_with_the_best_free_one",
    )
    .await;
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Budget }]).await;
    snap(&mut f, "the_budget_tab_shows_the_free_tier_limits").await;
    apply(
        &mut f,
        [Intent::SwitchTab {
            tab: Tab::Notifications,
        }],
    )
    .await;
    snap(&mut f, "the_notifications_tab_marks_the_unread_one").await;
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
    )
    .await;
    apply(
        &mut f,
        [Intent::SetPickerQuery {
            query: "gemma 31b".into(),
        }],
    )
    .await;
    let s = screen(&mut f, 80, 24).await;
    let Some(Overlay::Picker(p)) = &s.overlay else {
        panic!("picker open: {:?}", s.banner)
    };
    assert!(
        p.rows.first().is_some_and(|r| !r.matches.is_empty()),
        "matches are marked"
    );
    snap(
        &mut f,
        "typing_a_query_narrows_the_picker_and_compares_prices",
    )
    .await;
    apply(
        &mut f,
        [Intent::SetPickerQuery {
            query: "zzzzzz-no-such-model".into(),
        }],
    )
    .await;
    snap(&mut f, "a_query_that_matches_nothing_says_so").await;
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
    )
    .await;
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
    snap(&mut f, "the_skill_editor_ticks_the_agents_current_skills").await;
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
    )
    .await;
    apply(&mut f, [Intent::Activate]).await;
    snap(&mut f, "wizard_step_2_recommends_a_model_and_says_why").await;
    apply(&mut f, [Intent::OpenPicker]).await;
    snap(
        &mut f,
        "wizard_step_2_can_pick_another_model_with_the_same_picker",
    )
    .await;
    apply(&mut f, [Intent::Cancel, Intent::Activate]).await;
    snap(&mut f, "wizard_step_3_prefills_the_skill_template").await;
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
    snap(&mut f, "wizard_step_4_validates_the_name_as_it_is_typed").await;
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
    )
    .await;
}

#[tokio::test]
async fn an_error_becomes_a_banner_and_the_status_line_keeps_it() {
    let mut f = fixture("error", false).await;
    apply(
        &mut f,
        [Intent::SwitchTab { tab: Tab::Models }, Intent::OpenPicker],
    )
    .await;
    snap(&mut f, "an_error_shows_as_a_banner_and_in_the_status_line").await;
}

/// With NO_COLOR nothing is coloured; meaning is carried by modifiers. With colour, only the
/// 16 ANSI colours appear.
#[tokio::test]
async fn no_color_draws_without_colour_and_colour_stays_within_16() {
    let mut f = fixture("colour", true).await;
    apply(
        &mut f,
        [
            Intent::SwitchTab { tab: Tab::Models },
            Intent::OpenPicker,
            Intent::SetPickerQuery {
                query: "qwen".into(),
            },
        ],
    )
    .await;
    let s = screen(&mut f, 120, 40).await;
    let term = draw(&s, 120, 40, Theme::no_color());
    let buf = term.backend().buffer();
    let mut modifiers = 0;
    for cell in buf.content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
        if !cell.modifier.is_empty() {
            modifiers += 1;
        }
    }
    assert!(modifiers > 0, "the selection and matches still show");
    let term = draw(&s, 120, 40, Theme::colored());
    let mut colours = 0;
    for cell in term.backend().buffer().content() {
        for c in [cell.fg, cell.bg] {
            assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)), "{cell:?}");
            if c != Color::Reset {
                colours += 1;
            }
        }
    }
    assert!(colours > 0);
}

/// Smaller than the layout needs: a notice, not garbage.
#[tokio::test]
async fn a_tiny_terminal_gets_a_notice() {
    let mut f = fixture("tiny", false).await;
    let s = screen(&mut f, 30, 8).await;
    let term = draw(&s, 30, 8, Theme::no_color());
    let text = term.backend().to_string();
    assert!(text.contains("nxr needs at least"), "{text}");
}

#[tokio::test]
async fn first_run_setup_before_it_starts() {
    let mut f = fixture("setup", false).await;
    f.session.begin_setup(nxr::core::onboarding::Flow::Tui);
    snap(
        &mut f,
        "first_run_setup_says_what_it_will_do_and_waits_for_enter",
    )
    .await;
}

#[tokio::test]
async fn first_run_setup_when_it_has_finished() {
    let mut f = fixture("setup-done", false).await;
    f.session.begin_setup(nxr::core::onboarding::Flow::Tui);
    apply(&mut f, [Intent::Activate]).await;
    while f.session.busy() {
        f.session.advance().await;
    }
    snap(
        &mut f,
        "first_run_setup_ends_with_the_agents_the_free_tier_limits_and_how_to_upgrade",
    )
    .await;
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
    )
    .await;
}

/// The picker's rows for the open picker (panics when it is not open).
fn picker_of(s: &Screen) -> &nxr::core::view::PickerView {
    match &s.overlay {
        Some(Overlay::Picker(p)) => p,
        other => panic!("picker open: {other:?} {:?}", s.banner),
    }
}

fn pm_config(f: &Fixture) -> String {
    std::fs::read_to_string(f.root.join("hermes/profiles/pm/config.yaml")).expect("pm config")
}

#[tokio::test]
async fn without_a_paying_key_the_picker_marks_paid_models_unusable_and_never_highlights_one() {
    let mut f = fixture("paid-marks", true).await;
    apply(
        &mut f,
        [
            Intent::SwitchTab { tab: Tab::Models },
            Intent::OpenPicker,
            // The main slot opens on free models; with them all shown, paid ones appear.
            Intent::TogglePickerFilter {
                filter: nxr::core::picker::FilterKind::Free,
            },
        ],
    )
    .await;
    let s = screen(&mut f, 120, 40).await;
    let p = picker_of(&s);
    assert!(!p.can_pay);
    let sel = p
        .selected
        .and_then(|i| p.rows.get(i))
        .expect("a highlighted row");
    assert!(sel.usable && sel.free, "{sel:?}");
    apply(
        &mut f,
        [Intent::SetPickerQuery {
            query: "claude sonnet".into(),
        }],
    )
    .await;
    let s = screen(&mut f, 120, 40).await;
    let p = picker_of(&s);
    assert!(!p.rows.is_empty());
    for r in &p.rows {
        assert_eq!(r.usable, r.free, "{r:?}");
        assert_eq!(r.reason.is_some(), !r.free, "{r:?}");
    }
    let sel = p.selected.and_then(|i| p.rows.get(i)).expect("highlighted");
    assert!(!sel.usable);
    assert!(p.warning.as_deref().is_some_and(|w| w.contains("key")));
    // Both renderers say it from the same fact.
    let term = draw(&s, 120, 40, Theme::no_color());
    assert!(term.backend().to_string().contains("need key"));
    let html = nxr::webmirror::render_screen(
        &s,
        &nxr::webmirror::page::PageCtx::new("/models/switch", vec![], "t"),
    )
    .into_string();
    assert!(html.contains("needs a paying key"), "{html}");
    let before = pm_config(&f);
    apply(&mut f, [Intent::Activate]).await;
    assert_eq!(pm_config(&f), before, "nothing written");
    let s = screen(&mut f, 120, 40).await;
    assert!(
        s.banner
            .as_ref()
            .is_some_and(|b| b.text.contains("openrouter-key")),
        "{:?}",
        s.banner
    );
    assert!(
        matches!(s.overlay, Some(Overlay::Picker(_))),
        "picker stays open"
    );
}

#[tokio::test]
async fn the_vision_picker_ranks_image_models_first_and_warns_before_writing_a_text_only_one() {
    let mut f = fixture("vision-slot", true).await;
    apply(
        &mut f,
        [
            Intent::SwitchTab { tab: Tab::Models },
            Intent::MoveSelection { delta: 1 },
            Intent::OpenPicker,
        ],
    )
    .await;
    snap(
        &mut f,
        "the_vision_picker_shows_image_input_and_ranks_by_it",
    )
    .await;
    let s = screen(&mut f, 120, 40).await;
    let p = picker_of(&s);
    assert!(p.title.contains("aux:vision"), "{}", p.title);
    assert!(p.filters.image_only);
    assert!(p.needs.as_deref().is_some_and(|n| n.contains("image")));
    assert!(p.rows.iter().all(|r| r.image && r.lacks.is_none()));
    // With the filter off, image models still come first.
    apply(
        &mut f,
        [Intent::TogglePickerFilter {
            filter: nxr::core::picker::FilterKind::Image,
        }],
    )
    .await;
    let s = screen(&mut f, 120, 40).await;
    let p = picker_of(&s);
    let first_text_only = p.rows.iter().position(|r| !r.image);
    if let Some(i) = first_text_only {
        assert!(p.rows[i..].iter().all(|r| !r.image), "image models first");
    }
    apply(
        &mut f,
        [Intent::SetPickerQuery {
            query: "qwen3-coder:free".into(),
        }],
    )
    .await;
    let s = screen(&mut f, 120, 40).await;
    let p = picker_of(&s);
    let sel = p.selected.and_then(|i| p.rows.get(i)).expect("highlighted");
    assert!(!sel.image, "{sel:?}");
    assert!(
        p.warning
            .as_deref()
            .is_some_and(|w| w.contains("no image input"))
    );
    let model = sel.model.clone();
    let before = pm_config(&f);
    apply(&mut f, [Intent::Activate]).await;
    let s = screen(&mut f, 120, 40).await;
    assert_eq!(pm_config(&f), before, "a warning first, nothing written");
    assert!(
        s.banner
            .as_ref()
            .is_some_and(|b| b.text.contains("no image input") && b.text.contains("again")),
        "{:?}",
        s.banner
    );
    apply(&mut f, [Intent::Activate]).await;
    assert!(pm_config(&f).contains(&model), "the second Enter writes it");
}

#[tokio::test]
async fn the_models_tab_marks_an_auto_vision_slot_that_would_reach_a_paid_model() {
    let mut f = fixture("auto-vision", true).await;
    // A profile from before vision was pinned: `auxiliary.vision` on auto.
    let path = f.root.join("hermes/profiles/pm/config.yaml");
    let text = std::fs::read_to_string(&path).expect("config");
    let mut doc = nxr::core::hermes::ConfigDoc::parse(&path, &text).expect("parse");
    doc.remove_aux("vision").expect("remove");
    doc.save().expect("save");
    f.session.poll().await;
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Models }]).await;
    let s = screen(&mut f, 120, 40).await;
    let nxr::core::view::Body::Models(v) = &s.body else {
        panic!("models")
    };
    let vision = v
        .slots
        .iter()
        .find(|r| r.key == "aux:vision")
        .expect("vision");
    assert!(vision.auto);
    assert!(
        vision
            .paid
            .as_deref()
            .is_some_and(|p| p.contains("google/gemini-3-flash-preview")),
        "{vision:?}"
    );
    for r in v.slots.iter().filter(|r| r.key != "aux:vision") {
        assert_eq!(r.paid, None, "a free main model keeps {} free", r.key);
    }
    apply(&mut f, [Intent::MoveSelection { delta: 1 }]).await;
    snap(
        &mut f,
        "the_models_tab_marks_the_auto_vision_slot_as_reaching_a_paid_model",
    )
    .await;
}

#[tokio::test]
async fn a_message_fades_and_a_later_success_clears_the_last_error() {
    let mut f = fixture("status", true).await;
    apply(
        &mut f,
        [
            Intent::SwitchTab { tab: Tab::Models },
            Intent::RemoveSelectedSlot,
        ],
    )
    .await;
    let s = screen(&mut f, 120, 40).await;
    assert!(s.status.last_error.is_some());
    assert!(s.banner.is_some());
    // The fixture's clock stands at 12:00:00 when the message is said.
    f.session.set_clock(clock("2026-05-04T12:00:14Z"));
    assert!(
        screen(&mut f, 120, 40).await.banner.is_some(),
        "still there at 14 s"
    );
    f.session.set_clock(clock("2026-05-04T12:00:15Z"));
    assert!(f.session.poll().await, "the fading asks for a redraw");
    let s = screen(&mut f, 120, 40).await;
    assert_eq!(s.banner, None, "the message faded");
    assert!(
        s.status.last_error.is_some(),
        "the status line keeps the error"
    );
    apply(&mut f, [Intent::Refresh]).await;
    let s = screen(&mut f, 120, 40).await;
    assert_eq!(s.status.last_error, None, "a later success clears it");
    let term = draw(&s, 120, 40, Theme::no_color());
    let text = term.backend().to_string();
    let status = text.lines().last().expect("status line");
    assert_eq!(status.matches("catalog").count(), 1, "{status}");
}

#[tokio::test]
async fn at_120_columns_the_agents_table_shows_whole_model_ids() {
    let mut f = fixture("wide-agents", true).await;
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Agents }]).await;
    let s = screen(&mut f, 120, 40).await;
    let term = draw(&s, 120, 40, Theme::no_color());
    let text = term.backend().to_string();
    let nxr::core::view::Body::Agents(v) = &s.body else {
        panic!("agents")
    };
    for r in &v.rows {
        assert!(text.contains(&r.model), "{} cut:\n{text}", r.model);
    }
    for sk in &v.skills {
        assert!(text.contains(&sk.name), "{} cut:\n{text}", sk.name);
    }
}

#[tokio::test]
async fn the_first_run_summary_says_the_free_tier_limits_once() {
    let mut f = fixture("setup-once", false).await;
    f.session.begin_setup(nxr::core::onboarding::Flow::Tui);
    apply(&mut f, [Intent::Activate]).await;
    while f.session.busy() {
        f.session.advance().await;
    }
    let s = screen(&mut f, 120, 40).await;
    let term = draw(&s, 120, 40, Theme::no_color());
    let text = term.backend().to_string();
    assert_eq!(text.matches("requests/minute").count(), 1, "{text}");
}

#[tokio::test]
async fn the_budget_tab_with_a_mornings_usage() {
    let mut f = fixture("budget-usage", true).await;
    screens::seed_usage(&mut f).await;
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Budget }]).await;
    snap(
        &mut f,
        "the_budget_tab_projects_the_day_and_lists_agents_and_rate_limits",
    )
    .await;
}

#[tokio::test]
async fn from_70_percent_every_tab_warns_of_the_free_tier_under_its_tab_bar() {
    let mut f = fixture("budget-warning", true).await;
    screens::seed_usage(&mut f).await;
    apply(&mut f, [Intent::SwitchTab { tab: Tab::Hermes }]).await;
    snap(
        &mut f,
        "the_hermes_tab_warns_that_the_free_tier_is_at_74_percent",
    )
    .await;
}

#[tokio::test]
async fn the_warning_goes_when_the_utc_day_changes_without_any_database_change() {
    let mut f = fixture("budget-midnight", true).await;
    screens::seed_usage(&mut f).await;
    assert!(f.session.view().warning.is_some(), "74 % at noon");
    // Midnight: yesterday's count no longer warns, even before the next reload...
    f.session.set_clock(clock("2026-05-05T00:00:01Z"));
    assert_eq!(f.session.view().warning, None);
    // ...and the next poll reads the new day's budget (nothing used yet).
    assert!(f.session.poll().await, "the new day redraws");
    assert_eq!(f.session.view().warning, None);
    f.session.set_clock(clock("2026-05-04T12:00:00Z"));
    f.session.apply(Intent::Refresh).await;
    assert!(
        f.session.view().warning.is_some(),
        "the day's usage still warns"
    );
}

#[tokio::test]
async fn the_picker_gives_the_warning_line_one_of_its_rows() {
    let rows = |s: &Screen| picker_of(s).rows.len();
    let mut quiet = fixture("picker-quiet", true).await;
    let mut busy = fixture("picker-warning", true).await;
    screens::seed_usage(&mut busy).await;
    for f in [&mut quiet, &mut busy] {
        apply(
            f,
            [Intent::SwitchTab { tab: Tab::Models }, Intent::OpenPicker],
        )
        .await;
    }
    let q = screen(&mut quiet, 80, 24).await;
    let b = screen(&mut busy, 80, 24).await;
    assert!(q.warning.is_none() && b.warning.is_some());
    assert_eq!(rows(&b), rows(&q) - 1);
    // The selected model, the first, is still drawn under the warning and the tab bar.
    let text = draw(&b, 80, 24, Theme::no_color()).backend().to_string();
    let first = &picker_of(&b).rows[0].model;
    assert!(text.contains(&first[..20.min(first.len())]), "{text}");
    assert!(text.contains("Free tier: 37/50"), "{text}");
}
