//! First run: the setup wizard covers the screen until it is finished. Each step shows its
//! state and what it found; when done, the three agents and the free-tier limits.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Ui, panel};
use crate::core::view::{SetupView, StepState};

pub fn draw(f: &mut Frame, area: Rect, v: &SetupView, ui: &mut Ui) {
    let t = ui.theme;
    let inner = panel(f, area, "Welcome to nxr · first-run setup", ui);
    let mut lines: Vec<Line> = vec![Line::from(v.intro.clone()), Line::from("")];
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
            lines.push(Line::styled(format!("     {text}"), t.muted()));
        }
    }
    if let Some(e) = &v.error {
        lines.push(Line::from(""));
        lines.push(Line::styled(
            format!("Setup stopped: {e}. Press enter to try again."),
            t.error(),
        ));
    }
    if v.done {
        lines.push(Line::from(""));
        let head = if v.already_done {
            "Already set up; your agents:"
        } else {
            "Ready. Your agents:"
        };
        lines.push(Line::styled(head, t.header()));
        for a in &v.agents {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<10}", a.name), t.key()),
                Span::raw(format!("{:<10}", a.role.label())),
                Span::raw(a.model.clone()),
                Span::styled(format!("  ({} skills)", a.skills.len()), t.muted()),
            ]));
        }
        lines.push(Line::from(""));
        lines.push(Line::styled(v.limits.text.clone(), t.muted()));
        lines.push(Line::styled(v.limits.upgrade.clone(), t.muted()));
        lines.push(Line::from(""));
        lines.push(Line::styled("Press enter to open nxr.", t.key()));
    } else if !v.started {
        lines.push(Line::from(""));
        lines.push(Line::styled("Press enter to start, q to quit.", t.key()));
    } else if v.running {
        lines.push(Line::from(""));
        lines.push(Line::styled("Working...", t.warn()));
    }
    let [body] = Layout::vertical([Constraint::Min(1)]).areas(Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    });
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
}
