//! Tab 3 Agents: every agent with its role, model and score beside the best free model for
//! its role (and whether that is an upgrade), and the selected agent's skills.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

use super::{Hit, Ui, clickable_table, note, panel, popup};
use crate::core::agents::Advice;
use crate::core::scoring::Fallback;
use crate::core::skills::{SkillOrigin, SkillState};
use crate::core::text;
use crate::core::view::{AgentRow, AgentsView, BulkUpgradeView, ConfirmView, SkillRow};
use crate::widgets::table::{self, Column};
use crate::widgets::theme::Theme;
use crate::widgets::{centered, put_line};

// The room goes to the two model columns (ids run to 40 characters); the best free
// model's score and the skill count (also in the skills panel's title) show once there is
// room beyond that.
const COLUMNS: [Column<'static>; 11] = [
    Column::fixed("AGENT", 12),
    Column::fixed("ROLE", 8),
    Column::fill("MODEL", 14),
    Column::fixed("SCORE", 5).right(),
    Column::fill("BEST FREE", 14),
    Column::fixed("SCORE", 5).right().from_width(140),
    Column::fixed("ADVICE", 7),
    Column::fixed("SKILLS", 6).right().from_width(150),
    // Usage: the heartbeat, today's spend and the last 24 hours' failures.
    // (narrower screens show them in the selected agent's detail line).
    Column::fixed("LAST", 4).right().from_width(170),
    Column::fixed("$TODAY", 6).right().from_width(170),
    Column::fixed("ERR", 4).right().from_width(170),
];

const SKILL_COLUMNS: [Column<'static>; 3] = [
    Column::fill("SKILL", 12),
    Column::fixed("STATE", 10),
    Column::fixed("ORIGIN", 8),
];

pub fn draw(f: &mut Frame, area: Rect, v: &AgentsView, ui: &mut Ui) {
    // Side by side only when the agents table keeps room for whole model ids; at 120
    // columns the table takes the full width and the skills go below.
    let wide = area.width >= 160;
    let [list_area, skills_area] = if wide {
        Layout::horizontal([Constraint::Min(70), Constraint::Length(44)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area)
    };
    let inner = panel(
        f,
        list_area,
        "Agents · current model against the best free one",
        ui,
    );
    if let Some(empty) = &v.empty {
        note(f, inner, empty, ui.theme.muted());
    } else {
        let detail_h = if inner.height > 7 { 2 } else { 0 };
        let [inner, detail] =
            Layout::vertical([Constraint::Min(2), Constraint::Length(detail_h)]).areas(inner);
        if let Some(r) = v.rows.get(v.selected) {
            paid_detail(f, detail, r, v.can_pay, &ui.theme);
        }
        let rows: Vec<Vec<Line>> = v.rows.iter().map(|r| agent_cells(r, &ui.theme)).collect();
        clickable_table(f, inner, &COLUMNS, &rows, v.selected, ui);
    }
    let name = v
        .rows
        .get(v.selected)
        .map(|r| r.name.as_str())
        .unwrap_or("");
    let title = if name.is_empty() {
        "Skills".to_string()
    } else {
        format!("Skills · {name} ({}) · s edits", v.skills.len())
    };
    let inner = panel(f, skills_area, &title, ui);
    if let Some(b) = &v.bulk {
        bulk(f, area, b, ui);
        return;
    }
    if let Some(c) = &v.confirm {
        confirm(f, area, c, ui);
        return;
    }
    if let Some(e) = &v.skills_error {
        note(
            f,
            inner,
            &format!("cannot read the skills: {e}"),
            ui.theme.error(),
        );
    } else if v.rows.is_empty() {
    } else if v.skills.is_empty() {
        note(f, inner, "No skills in this profile.", ui.theme.muted());
    } else {
        let rows: Vec<Vec<Line>> = v.skills.iter().map(|s| skill_cells(s, &ui.theme)).collect();
        table::render(
            f.buffer_mut(),
            inner,
            &SKILL_COLUMNS,
            &rows,
            None,
            &ui.theme,
        );
    }
}

fn agent_cells<'a>(r: &AgentRow, t: &Theme) -> Vec<Line<'a>> {
    let best = match r.fallback {
        Some(Fallback::FreeRouter) => format!("{} (router)", r.best_free),
        Some(Fallback::Ollama) => format!("{} (local)", r.best_free),
        None => r.best_free.clone(),
    };
    let better_free = matches!(r.advice, Advice::SwitchFree | Advice::Replace);
    vec![
        Line::from(r.name.clone()),
        Line::from(r.role.label()),
        Line::from(r.model.clone()),
        if r.model_gone {
            Line::styled("gone", t.error())
        } else {
            Line::from(text::score(r.score))
        },
        if better_free {
            Line::styled(best, t.good())
        } else {
            Line::styled(best, t.muted())
        },
        Line::from(text::score(r.best_free_score)),
        match r.advice {
            Advice::Stay => Line::styled("stay", t.muted()),
            Advice::SwitchFree => Line::styled("switch", t.good()),
            Advice::Upgrade => Line::styled("upgrade", t.key()),
            Advice::Replace => Line::styled("replace", t.error()),
        },
        Line::from(r.skills.to_string()),
        Line::from(r.last_call_ago.clone().unwrap_or_else(|| "-".into())),
        Line::from(format!("{:.2}", r.cost_today_usd)),
        if r.error_rate_24h >= 0.1 {
            Line::styled(format!("{:.0}%", r.error_rate_24h * 100.0), t.warn())
        } else {
            Line::from(format!("{:.0}%", r.error_rate_24h * 100.0))
        },
    ]
}

pub fn state_label(s: SkillState) -> &'static str {
    match s {
        SkillState::Available => "available",
        SkillState::Configured => "disabled",
        SkillState::Installed => "installed",
        SkillState::Missing => "missing",
        SkillState::Stale => "stale",
        SkillState::External => "external",
    }
}

fn skill_cells<'a>(s: &SkillRow, t: &Theme) -> Vec<Line<'a>> {
    let style = match s.state {
        SkillState::Installed => t.good(),
        SkillState::Missing => t.error(),
        SkillState::Stale => t.warn(),
        SkillState::Configured | SkillState::Available => t.muted(),
        SkillState::External => t.meaning(crate::core::view::Meaning::Accent),
    };
    let origin = match s.origin {
        Some(SkillOrigin::CompanyManaged) => "nxr",
        Some(SkillOrigin::UserInstalled) => "by hand",
        Some(SkillOrigin::ExternalUnknown) => "unknown",
        None => "",
    };
    vec![
        Line::from(s.name.clone()),
        Line::styled(state_label(s.state), style),
        Line::styled(origin, t.muted()),
    ]
}

/// Two lines under the table about the selected agent's paid option (the key upgrade).
fn paid_detail(f: &mut Frame, area: Rect, r: &AgentRow, key: bool, t: &Theme) {
    if area.height == 0 {
        return;
    }
    let first = match (&r.paid, key) {
        (Some(p), true) => Line::from(vec![
            Span::styled("paid pick ", t.muted()),
            Span::styled(p.model.clone(), t.key()),
            Span::raw(format!(
                "  {} in / {} out  score {}{}",
                p.prompt,
                p.completion,
                text::score(p.score),
                p.gain.map(|g| format!(" ({g:+.1})")).unwrap_or_default()
            )),
            Span::styled("  p upgrades", t.muted()),
        ]),
        (Some(p), false) => Line::from(vec![
            Span::styled("paid pick ", t.muted()),
            Span::raw(p.model.clone()),
            Span::styled(
                "  (needs a key whose account can pay: nxr upgrade)",
                t.muted(),
            ),
        ]),
        (None, _) => Line::styled(
            format!(
                "stay on free: no paid model beats {} by enough",
                r.best_free
            ),
            t.muted(),
        ),
    };
    let first = if r.model_gone {
        Line::styled(
            format!(
                "{} is gone from the catalog: replace it with {}",
                r.model, r.recommended
            ),
            t.error(),
        )
    } else {
        first
    };
    let second = match (&r.last_free, r.free) {
        (Some(prev), false) => Line::from(vec![
            Span::styled("was on the free model ", t.muted()),
            Span::raw(prev.clone()),
            Span::styled("  v reverts", t.muted()),
        ]),
        (_, true) => Line::from(vec![
            Span::styled("runs a free model", t.good()),
            Span::styled(
                r.evidence
                    .as_deref()
                    .map(|e| format!("  · pick: {e}"))
                    .unwrap_or_default(),
                t.muted(),
            ),
        ]),
        (None, false) => Line::styled("runs a paid model", t.warn()),
    };
    let mut second = second;
    let usage = format!(
        " · last call {} · ${:.2} today · {:.0} % errors (24 h)",
        r.last_call_ago
            .as_deref()
            .map(|a| format!("{a} ago"))
            .unwrap_or_else(|| "none yet".into()),
        r.cost_today_usd,
        r.error_rate_24h * 100.0
    );
    let at = second.spans.len().min(1);
    second.spans.insert(at, Span::styled(usage, t.muted()));
    put_line(
        f.buffer_mut(),
        area.x + 1,
        area.y,
        area.width.saturating_sub(2),
        &first,
    );
    if area.height > 1 {
        put_line(
            f.buffer_mut(),
            area.x + 1,
            area.y + 1,
            area.width.saturating_sub(2),
            &second,
        );
    }
}

const BULK_COLUMNS: [Column<'static>; 5] = [
    Column::fill("AGENT", 6),
    Column::fill("NOW", 14).weight(2),
    Column::fixed("IN/OUT", 15).from_width(90),
    Column::fill("PAID PICK", 14).weight(2),
    Column::fixed("IN/OUT", 15).from_width(70),
];

/// The bulk upgrade's confirmation: every agent's current model beside its paid pick.
fn bulk(f: &mut Frame, area: Rect, b: &BulkUpgradeView, ui: &mut Ui) {
    let w = area.width.saturating_sub(2).min(110);
    let h = (b.rows.len() as u16 + 6).min(area.height);
    let rect = centered(area, w, h);
    // The rows beneath the confirmation cannot be clicked.
    ui.hits.retain(|(_, h)| !matches!(h, Hit::Row { .. }));
    let inner = popup(
        f,
        rect,
        "Upgrade every agent to its paid pick?",
        "enter upgrades all · esc cancels",
        ui,
    );
    let t = ui.theme;
    let rows: Vec<Vec<Line>> = b
        .rows
        .iter()
        .map(|r| {
            vec![
                Line::from(r.agent.clone()),
                Line::from(r.current.clone()),
                Line::styled(
                    format!("{} / {}", r.current_prompt, r.current_completion),
                    t.muted(),
                ),
                match &r.recommended {
                    Some(p) => Line::styled(p.model.clone(), t.key()),
                    None if r.stay_on_free => Line::styled("stay on free", t.muted()),
                    None => Line::styled("(none)", t.muted()),
                },
                match &r.recommended {
                    Some(p) => Line::from(format!("{} / {}", p.prompt, p.completion)),
                    None => Line::from(""),
                },
            ]
        })
        .collect();
    let list_h = inner.height.saturating_sub(2);
    table::render(
        f.buffer_mut(),
        Rect {
            height: list_h,
            ..inner
        },
        &BULK_COLUMNS,
        &rows,
        None,
        &t,
    );
    let msg = match (&b.cannot_pay, &b.account) {
        (Some(why), _) => Line::styled(why.clone(), t.error()),
        (None, Some(a)) => Line::styled(
            format!("{a}. Prices per million tokens, in / out; paid models spend credits."),
            t.warn(),
        ),
        (None, None) => Line::styled(
            "Prices are per million tokens, in / out. Paid models spend credits.",
            t.warn(),
        ),
    };
    put_line(
        f.buffer_mut(),
        inner.x + 1,
        inner.y + inner.height.saturating_sub(1),
        inner.width.saturating_sub(2),
        &msg,
    );
}

/// A yes/no question over the table: what will change, the prices and the balance.
fn confirm(f: &mut Frame, area: Rect, c: &ConfirmView, ui: &mut Ui) {
    let w = area.width.saturating_sub(2).min(100);
    let h = (c.lines.len() as u16 + 4).min(area.height);
    let rect = centered(area, w, h);
    ui.hits.retain(|(_, h)| !matches!(h, Hit::Row { .. }));
    let inner = popup(f, rect, &c.title, "enter / y: yes · esc / n: no", ui);
    let t = ui.theme;
    for (i, l) in c.lines.iter().enumerate() {
        if i as u16 >= inner.height {
            break;
        }
        put_line(
            f.buffer_mut(),
            inner.x + 1,
            inner.y + i as u16,
            inner.width.saturating_sub(2),
            &Line::styled(l.clone(), t.warn()),
        );
    }
}
