//! Tab 5 Create: the wizard. Category → the recommended model with why (score breakdown) →
//! the skill template, editable → a name, validated as it is typed → confirm. The bottom
//! line always shows the `nxr --no-tui agents create` command that does the same.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::{Hit, Ui, clickable_table, input, note, panel, steps_back};
use crate::core::models::Breakdown;
use crate::core::scoring::Fallback;
use crate::core::text;
use crate::core::view::{CreateView, ModelChoice, WizardStep};
use crate::widgets::table::{self, Column};
use crate::widgets::{put_line, wizard};

const CATEGORY_COLUMNS: [Column<'static>; 3] = [
    Column::fill("CATEGORY", 12),
    Column::fixed("ROLE", 9),
    Column::fixed("SKILLS", 6).right(),
];

const SKILL_COLUMNS: [Column<'static>; 3] = [
    Column::fill("SKILL", 14),
    Column::fixed("TEMPLATE", 8),
    Column::fill("DESCRIPTION", 10).weight(2).from_width(70),
];

pub fn draw(f: &mut Frame, area: Rect, v: &CreateView, ui: &mut Ui) {
    let [steps_area, content, cli_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    for (r, step) in wizard::render(f.buffer_mut(), steps_area, &v.steps, &ui.theme) {
        let back = steps_back(v.step, step);
        if back > 0 {
            ui.hit(r, Hit::Back(back));
        }
    }
    match v.step {
        WizardStep::Category => category(f, content, v, ui),
        WizardStep::Model => model(f, content, v, ui),
        WizardStep::Skills => skills(f, content, v, ui),
        WizardStep::Name => name(f, content, v, ui),
        WizardStep::Confirm => confirm(f, content, v, ui),
    }
    put_line(
        f.buffer_mut(),
        cli_area.x + 1,
        cli_area.y,
        cli_area.width.saturating_sub(1),
        &Line::from(vec![
            Span::styled("same as: ", ui.theme.muted()),
            Span::raw(v.equivalent_cli.clone()),
        ]),
    );
}

fn category(f: &mut Frame, area: Rect, v: &CreateView, ui: &mut Ui) {
    let wide = area.width >= 100;
    let list_h = (v.categories.len() as u16 + 3).min(area.height.saturating_sub(3));
    let [list, detail] = if wide {
        Layout::horizontal([Constraint::Length(48), Constraint::Min(20)]).areas(area)
    } else {
        Layout::vertical([Constraint::Length(list_h), Constraint::Min(3)]).areas(area)
    };
    let inner = panel(f, list, "What will the new agent do?", ui);
    let rows: Vec<Vec<Line>> = v
        .categories
        .iter()
        .map(|c| {
            vec![
                Line::from(c.label.clone()),
                Line::from(c.role.label()),
                Line::from(c.skills.len().to_string()),
            ]
        })
        .collect();
    clickable_table(f, inner, &CATEGORY_COLUMNS, &rows, v.category, ui);
    if let Some(c) = v.categories.get(v.category) {
        let inner = panel(f, detail, &format!("{} skill template", c.label), ui);
        note(f, inner, &c.skills.join(", "), ratatui::style::Style::new());
    }
}

fn model(f: &mut Frame, area: Rect, v: &CreateView, ui: &mut Ui) {
    let inner = panel(
        f,
        area,
        &format!("Model for a {} agent · p picks another", v.role.label()),
        ui,
    );
    let Some(m) = &v.model else {
        note(f, inner, "No model chosen yet.", ui.theme.muted());
        return;
    };
    let mut lines = card(m, ui);
    if let Some(b) = &m.breakdown {
        lines.push(Line::from(""));
        lines.extend(breakdown(b, ui));
    }
    draw_lines(f, inner, &lines);
}

fn card<'a>(m: &ModelChoice, ui: &Ui) -> Vec<Line<'a>> {
    let t = &ui.theme;
    let why = match (m.chosen_by_hand, m.fallback) {
        (true, _) => "chosen by hand".to_string(),
        (false, None) => "the best free model for this role".to_string(),
        (false, Some(Fallback::FreeRouter)) => {
            "no free model qualifies: OpenRouter's free router picks one per request".to_string()
        }
        (false, Some(Fallback::Ollama)) => {
            "no free model qualifies: a local model on Ollama".to_string()
        }
    };
    vec![
        Line::from(vec![
            Span::styled(m.model.clone(), t.key()),
            Span::raw("  "),
            Span::styled(m.name.clone(), t.muted()),
        ]),
        Line::from(vec![
            Span::raw(format!("score {}", text::score(m.score))),
            Span::styled(format!("  ({why})"), t.muted()),
        ]),
        Line::from(format!(
            "price {} in, {} out per million tokens · context {}",
            m.prompt,
            m.completion,
            text::tokens(m.context)
        )),
    ]
}

fn breakdown<'a>(b: &Breakdown, ui: &Ui) -> Vec<Line<'a>> {
    let t = &ui.theme;
    let s = &b.sub;
    let w = &b.weights;
    let parts = [
        ("context", s.context, w.context),
        ("capability", s.capability, w.capability),
        ("size", s.size, w.size),
        ("recency", s.recency, w.recency),
        ("reliability", s.reliability, w.reliability),
        ("output limit", s.output, w.output),
        ("role fit", s.fit, w.fit),
        ("price", s.price, w.price),
    ];
    let mut out = vec![Line::styled(
        format!("{:<14}{:>7}{:>8}{:>8}", "why", "value", "weight", "points"),
        t.header(),
    )];
    for (name, value, weight) in parts {
        out.push(Line::from(format!(
            "{name:<14}{value:>7.2}{weight:>8.2}{:>8.1}",
            value * weight * 100.0
        )));
    }
    let verdict = match &b.disqualified_by {
        None => format!(
            "total {:.1}, qualifies (needs tool calling and {} context)",
            b.total,
            text::tokens(b.min_context)
        ),
        Some(why) => format!("total {:.1}, does not qualify: {why}", b.total),
    };
    out.push(Line::styled(
        verdict,
        if b.qualified { t.good() } else { t.warn() },
    ));
    out
}

fn skills(f: &mut Frame, area: Rect, v: &CreateView, ui: &mut Ui) {
    let checked = v.skills.iter().filter(|s| s.checked).count();
    let inner = panel(
        f,
        area,
        &format!(
            "Skills · {checked} of {} ticked · space toggles",
            v.skills.len()
        ),
        ui,
    );
    let rows: Vec<Vec<Line>> = v
        .skills
        .iter()
        .map(|s| {
            vec![
                Line::from(format!(
                    "[{}] {}",
                    if s.checked { "x" } else { " " },
                    s.name
                )),
                if s.suggested {
                    Line::styled("yes", ui.theme.muted())
                } else {
                    Line::from("")
                },
                Line::styled(s.description.clone(), ui.theme.muted()),
            ]
        })
        .collect();
    let hits = table::render(
        f.buffer_mut(),
        inner,
        &SKILL_COLUMNS,
        &rows,
        Some(v.skill_selected),
        &ui.theme,
    );
    for (r, i) in hits {
        if let Some(s) = v.skills.get(i) {
            ui.hit(
                r,
                Hit::Toggle {
                    index: i,
                    name: s.name.clone(),
                },
            );
        }
    }
}

fn name(f: &mut Frame, area: Rect, v: &CreateView, ui: &mut Ui) {
    let inner = panel(f, area, "Name · the agent's Hermes profile", ui);
    if inner.height < 4 {
        return;
    }
    input::sync_name_field(ui, &v.name);
    let field = Rect {
        x: inner.x + 1,
        y: inner.y,
        width: inner.width.saturating_sub(2).min(48),
        height: 3,
    };
    let block = Block::bordered().border_style(ui.theme.focus_border());
    let field_inner = block.inner(field);
    f.render_widget(block, field);
    ui.name_field.set_cursor_style(ui.theme.selected());
    f.render_widget(&ui.name_field, field_inner);
    let status = match &v.name_error {
        Some(e) => Line::styled(e.clone(), ui.theme.error()),
        None if v.name.is_empty() => Line::styled(
            "type a name: lowercase letters, digits, '-' and '_'",
            ui.theme.muted(),
        ),
        None => Line::styled("ok: enter to review", ui.theme.good()),
    };
    // The validation message may take two lines; it is never cut.
    f.render_widget(
        Paragraph::new(status).wrap(Wrap { trim: true }),
        Rect {
            x: inner.x + 1,
            y: inner.y + 3,
            width: inner.width.saturating_sub(2),
            height: 2,
        },
    );
    let rest = Rect {
        y: inner.y + 6,
        height: inner.height.saturating_sub(6),
        ..inner
    };
    draw_lines(f, rest, &summary(v, ui));
}

fn summary<'a>(v: &CreateView, ui: &Ui) -> Vec<Line<'a>> {
    let t = &ui.theme;
    let label = |s: &str| Span::styled(format!("{s:<10}"), t.muted());
    let cat = v
        .categories
        .get(v.category)
        .map(|c| c.label.clone())
        .unwrap_or_default();
    let skills: Vec<&str> = v
        .skills
        .iter()
        .filter(|s| s.checked)
        .map(|s| s.name.as_str())
        .collect();
    vec![
        Line::from(vec![label("category"), Span::raw(cat)]),
        Line::from(vec![label("role"), Span::raw(v.role.label())]),
        Line::from(vec![
            label("model"),
            Span::raw(
                v.model
                    .as_ref()
                    .map(|m| format!("{} (score {})", m.model, text::score(m.score)))
                    .unwrap_or_default(),
            ),
        ]),
        Line::from(vec![
            label("skills"),
            Span::raw(format!("{}: {}", skills.len(), skills.join(", "))),
        ]),
    ]
}

fn confirm(f: &mut Frame, area: Rect, v: &CreateView, ui: &mut Ui) {
    let inner = panel(f, area, "Confirm · enter creates the agent", ui);
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<10}", "name"), ui.theme.muted()),
        Span::styled(v.name.clone(), ui.theme.key()),
    ])];
    lines.extend(summary(v, ui));
    if let Some(e) = &v.name_error {
        lines.push(Line::from(""));
        lines.push(Line::styled(e.clone(), ui.theme.error()));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(
        "Creates the Hermes profile, installs the ticked skills and writes the model into its config.yaml; the same as:",
        ui.theme.muted(),
    ));
    lines.push(Line::from(v.equivalent_cli.clone()));
    // Everything wraps here: this is the last look before anything is written.
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }),
        Rect {
            x: inner.x + 1,
            width: inner.width.saturating_sub(2),
            ..inner
        },
    );
}

/// Lines one per row, each cut to the width; extra lines are dropped.
fn draw_lines(f: &mut Frame, area: Rect, lines: &[Line<'_>]) {
    for (i, l) in lines.iter().enumerate().take(area.height as usize) {
        put_line(
            f.buffer_mut(),
            area.x + 1,
            area.y + i as u16,
            area.width.saturating_sub(2),
            l,
        );
    }
}
