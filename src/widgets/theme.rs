//! Semantic roles → ratatui styles. Only the 16 ANSI colours are used, so the screen reads
//! the same over SSH, inside tmux and on a bare console; with `NO_COLOR` set (and not empty)
//! no colour is emitted at all and meaning is carried by bold, reversed and underline alone.

use ratatui::style::{Color, Modifier, Style};

use crate::core::view::Meaning;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::from_env()
    }
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value (https://no-color.org).
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    pub fn colored() -> Theme {
        Theme { color: true }
    }

    pub fn no_color() -> Theme {
        Theme { color: false }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn meaning(&self, m: Meaning) -> Style {
        match m {
            Meaning::Normal => Style::new(),
            Meaning::Muted => self.muted(),
            Meaning::Accent => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Meaning::Success => self.fg(Color::Green),
            Meaning::Warning => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Meaning::Error => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    /// The highlighted row.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Secondary text: explanations, empty cells, read notifications.
    pub fn muted(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    /// Characters the fuzzy matcher matched.
    pub fn matched(&self) -> Style {
        self.fg(Color::Yellow)
            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// Column headers and section titles.
    pub fn header(&self) -> Style {
        self.fg(Color::Blue).add_modifier(Modifier::BOLD)
    }

    /// The current tab's title and the current wizard step.
    pub fn active(&self) -> Style {
        self.fg(Color::Cyan)
            .add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    /// Keys in the hint bar and the help overlay.
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn border(&self) -> Style {
        self.fg(Color::Gray)
    }

    /// Borders of an overlay that has the keyboard.
    pub fn focus_border(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Free models and good news.
    pub fn good(&self) -> Style {
        self.meaning(Meaning::Success)
    }

    pub fn warn(&self) -> Style {
        self.meaning(Meaning::Warning)
    }

    pub fn error(&self) -> Style {
        self.meaning(Meaning::Error)
    }

    /// The gauge's filled part.
    pub fn gauge(&self, m: Meaning) -> Style {
        match m {
            Meaning::Normal | Meaning::Muted => self.fg(Color::Cyan),
            other => self.meaning(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_uses_modifiers_only() {
        let t = Theme::no_color();
        for s in [
            t.selected(),
            t.muted(),
            t.matched(),
            t.header(),
            t.active(),
            t.key(),
            t.border(),
            t.focus_border(),
            t.meaning(Meaning::Error),
            t.meaning(Meaning::Warning),
            t.meaning(Meaning::Success),
            t.meaning(Meaning::Accent),
            t.gauge(Meaning::Normal),
        ] {
            assert_eq!(s.fg, None, "{s:?}");
            assert_eq!(s.bg, None, "{s:?}");
        }
        assert!(t.selected().add_modifier.contains(Modifier::REVERSED));
        assert!(t.matched().add_modifier.contains(Modifier::UNDERLINED));
    }

    #[test]
    fn colours_stay_within_the_sixteen_ansi_ones() {
        let t = Theme::colored();
        for s in [
            t.muted(),
            t.matched(),
            t.header(),
            t.key(),
            t.meaning(Meaning::Error),
        ] {
            assert!(
                !matches!(s.fg, Some(Color::Rgb(..)) | Some(Color::Indexed(_))),
                "{s:?}"
            );
        }
    }
}
