//! First run: the setup wizard covers the screen until it is finished. Each step shows its
//! state and what it found; when done, the three agents and how to upgrade.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Ui, panel};
use crate::core::view::{SetupView, StepState};
use crate::widgets::{fit, put_line, wrap};

const INDENT: &str = "     ";

pub fn draw(f: &mut Frame, area: Rect, v: &SetupView, ui: &mut Ui) {
    let t = ui.theme;
    let inner = panel(f, area, "Welcome to nxr · first-run setup", ui);
    let body = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    let w = body.width as usize;
    // On a short screen each step's report gets one line, so the result stays in view.
    let roomy = body.height >= 30;
    let mut lines: Vec<Line> = Vec::new();
    if !v.done {
        lines.extend(wrap(&v.intro, w).into_iter().map(Line::from));
        lines.push(Line::from(""));
    }
    for s in &v.steps {
        let (mark, style) = match s.state {
            StepState::Pending => ("[  ]", t.muted()),
            StepState::Running => ("[..]", t.warn()),
            StepState::Done => ("[ok]", t.good()),
            StepState::Failed => ("[!!]", t.error()),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} "), style),
            Span::styled(format!("{}. {}", s.number, s.title), style),
        ]));
        if let Some(text) = &s.text {
            let room = w.saturating_sub(INDENT.len());
            let parts = if roomy {
                wrap(text, room)
            } else {
                vec![fit(text, room)]
            };
            for p in parts {
                lines.push(Line::styled(format!("{INDENT}{p}"), t.muted()));
            }
        }
    }
    if let Some(e) = &v.error {
        lines.push(Line::from(""));
        for l in wrap(&format!("Setup stopped: {e}. Press enter to try again."), w) {
            lines.push(Line::styled(l, t.error()));
        }
        key_field(&mut lines, v, t);
    }
    if v.done {
        lines.push(Line::from(""));
        let head = if v.already_done {
            "Already set up; your agents:"
        } else {
            "Ready. Your agents:"
        };
        lines.push(Line::styled(head, t.header()));
        let model_w = v
            .agents
            .iter()
            .map(|a| a.model.chars().count())
            .max()
            .unwrap_or(0);
        for a in &v.agents {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<10} ", a.name), t.key()),
                Span::raw(format!("{:<9} ", a.role.label())),
                Span::raw(format!("{:<model_w$}", a.model)),
                Span::styled(format!("  {} skills", a.skills.len()), t.muted()),
            ]));
        }
        lines.push(Line::from(""));
        for l in wrap(&v.limits.text, w) {
            lines.push(Line::styled(l, t.warn()));
        }
        if let Some(k) = &v.key {
            lines.push(Line::styled(format!("OpenRouter key: {k}"), t.muted()));
        }
        lines.push(Line::styled(v.limits.upgrade.clone(), t.muted()));
        lines.push(Line::styled("Press enter to open nxr.", t.key()));
    } else if !v.started {
        lines.push(Line::from(""));
        key_field(&mut lines, v, t);
        lines.push(Line::styled(
            "Press enter to start, ctrl-c to quit.",
            t.key(),
        ));
    } else if v.running {
        lines.push(Line::from(""));
        lines.push(Line::styled("Working...", t.warn()));
    }
    for (i, l) in lines.iter().enumerate().take(body.height as usize) {
        put_line(f.buffer_mut(), body.x, body.y + i as u16, body.width, l);
    }
}

/// The optional key, as stars: what was typed is never drawn.
fn key_field(lines: &mut Vec<Line>, v: &SetupView, t: crate::widgets::theme::Theme) {
    let Some(stars) = &v.key_field else {
        return;
    };
    lines.push(Line::from(vec![
        Span::styled("OpenRouter key (optional): ", t.muted()),
        Span::styled(
            if stars.is_empty() {
                "none, free models only".to_string()
            } else {
                stars.clone()
            },
            t.key(),
        ),
    ]));
}
