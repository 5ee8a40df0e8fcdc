//! The TUI in a detached tmux session of its own (its own server socket, no user config),
//! driven with `send-keys` and read with `capture-pane`. Needs `tmux` (`.ci/run` installs it).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Output, TestEnv, run};

/// How long the screen may take to show something (debug build, busy 2-core machine).
pub const DEADLINE: Duration = Duration::from_secs(30);
pub const POLL: Duration = Duration::from_millis(30);

/// A tmux server of our own running `sh` in one pane of the given size.
pub struct Tmux {
    socket: String,
    log: PathBuf,
}

impl Tmux {
    pub fn start(env: &TestEnv, width: u16, height: u16) -> Tmux {
        assert!(
            Command::new("tmux").arg("-V").output().is_ok(),
            "tmux is not installed: run `.ci/run` (it installs tmux) or `apt-get install tmux`"
        );
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let socket = format!(
            "nxr-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let t = Tmux {
            socket,
            log: env.nxr_home.path().join("nxr.log"),
        };
        // The server starts with this command's environment, and so does the shell in it.
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &t.socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["-s", "main", "sh"]);
        env.apply(&mut cmd);
        cmd.env_remove("NO_COLOR")
            .env_remove("TMUX")
            .env("PS1", "$ ")
            .env("RUST_BACKTRACE", "0");
        t.tmux_cmd(cmd);
        t.wait_for("the shell prompt", |s| !s.trim().is_empty());
        t
    }

    pub fn tmux_cmd(&self, cmd: Command) -> Output {
        let out = run(cmd, Duration::from_secs(20));
        assert!(out.ok(), "tmux failed: {out}");
        out
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]).args(args);
        self.tmux_cmd(cmd)
    }

    /// Presses keys by tmux name: "Enter", "Escape", "C-f", "j", "BTab".
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types text literally.
    pub fn text(&self, s: &str) {
        self.tmux(&["send-keys", "-t", "main", "-l", s]);
    }

    /// Types a shell command line and presses enter.
    pub fn line(&self, s: &str) {
        self.text(s);
        self.keys(&["Enter"]);
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"]).stdout
    }

    /// The screen with its colours and attributes as escape sequences.
    pub fn screen_styled(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-e", "-t", "main"])
            .stdout
    }

    /// Polls the screen until `ok` holds on a settled frame (two captures alike: a capture
    /// can land while a frame is still being painted); panics with the screen and nxr's log
    /// at the deadline.
    #[track_caller]
    pub fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                std::thread::sleep(Duration::from_millis(40));
                if self.screen() == s {
                    return s;
                }
                continue;
            }
            if start.elapsed() > DEADLINE {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("waited {DEADLINE:?} for {what}; the screen:\n{s}\n--- nxr.log ---\n{log}");
            }
            std::thread::sleep(POLL);
        }
    }

    #[track_caller]
    pub fn wait_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?} on screen"), |s| s.contains(text))
    }

    /// Starts nxr from the shell; the shell prints its exit code when it ends.
    pub fn start_nxr(&self, env_prefix: &str) {
        self.line(&format!(
            "{env_prefix} {}; echo nxr-exit=$?",
            env!("CARGO_BIN_EXE_nxr")
        ));
    }

    /// The `icanon` and `echo` flags as `stty -a` in the pane reports them ("icanon echo"
    /// on a normal terminal, "-icanon -echo" in raw mode).
    pub fn stty(&self) -> String {
        self.line("clear; echo \"R=$(stty -a | tr ' ;' '\\n\\n' | grep -xE -e '-?(icanon|echo)' | tr '\\n' ' ')\"");
        let s = self.wait_for("stty's answer", |s| s.lines().any(|l| l.starts_with("R=")));
        s.lines()
            .find_map(|l| l.strip_prefix("R="))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
