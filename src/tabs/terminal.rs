//! Entering and leaving the full-screen terminal. The panic hook is installed before raw
//! mode is switched on, restores the terminal first and then calls the previous hook (so the
//! panic message lands on a normal screen); the [`Guard`]'s `Drop` undoes raw mode, the
//! alternate screen, mouse capture and bracketed paste on every other way out.

use std::io::{self, Stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// True between entering the full screen and restoring it.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back the way a shell expects it. Only the first call after entering
/// does anything: leaving the alternate screen twice would move the cursor back up over
/// what was printed in between (a panic message).
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let raw = disable_raw_mode();
    let screen = execute!(
        io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        Show
    );
    raw.and(screen)
}

/// Wraps the current panic hook so a panic restores the terminal before anything is printed.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
    });
}

/// The terminal in raw mode on the alternate screen, with mouse and bracketed paste; dropping
/// it restores everything.
pub struct Guard {
    terminal: Tui,
}

impl Guard {
    pub fn enter() -> io::Result<Guard> {
        install_panic_hook();
        ACTIVE.store(true, Ordering::SeqCst);
        if let Err(e) = enable_raw_mode() {
            ACTIVE.store(false, Ordering::SeqCst);
            return Err(e);
        }
        // From here on a failure must undo what was done: build a guard-less restore path.
        let setup = (|| -> io::Result<Tui> {
            execute!(
                io::stdout(),
                EnterAlternateScreen,
                EnableMouseCapture,
                EnableBracketedPaste
            )?;
            // Cleared by hand: ratatui's `clear()` asks the terminal where the cursor is and
            // fails (after a wait) on one that does not answer.
            execute!(io::stdout(), Clear(ClearType::All))?;
            Terminal::new(CrosstermBackend::new(io::stdout()))
        })();
        match setup {
            Ok(terminal) => Ok(Guard { terminal }),
            Err(e) => {
                let _ = restore();
                Err(e)
            }
        }
    }

    pub fn terminal(&mut self) -> &mut Tui {
        &mut self.terminal
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = restore() {
            tracing::warn!(error = %e, "restoring the terminal");
        }
    }
}
