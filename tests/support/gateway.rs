//! A world where nxr runs real Hermes gateways: the real `hermes` CLI, a tmux server of the
//! test's own (`NXR_TMUX_SOCKET`), and a guard that stops every gateway and the tmux server
//! when the test ends, however it ends.

use std::path::PathBuf;
use std::process::Command;

use super::{TestEnv, hermes_path};

pub struct GatewayWorld {
    pub env: TestEnv,
    /// The `-L` name of the test's tmux server.
    pub socket: String,
}

impl GatewayWorld {
    /// A fresh world with these agents created (each a real Hermes profile).
    pub fn new(agents: &[&str]) -> GatewayWorld {
        assert!(
            Command::new("tmux").arg("-V").output().is_ok(),
            "tmux is not installed: run `.ci/run` (it installs tmux) or `apt-get install tmux`"
        );
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let socket = format!(
            "nxr-gw-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let mut env = TestEnv::new();
        env.set("NXR_HERMES_BIN", &hermes_path().display().to_string());
        env.set("NXR_TMUX_SOCKET", &socket);
        for a in agents {
            env.nxr(&["agents", "create", "--role", "pm", "--name", a])
                .assert_ok();
        }
        GatewayWorld { env, socket }
    }

    /// `tmux -L <socket> ARGS...`: its stdout (whatever the exit code).
    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The PID of the pane of `nxr-<agent>`.
    pub fn pane_pid(&self, agent: &str) -> Option<i32> {
        self.tmux(&[
            "display-message",
            "-p",
            "-t",
            &format!("=nxr-{agent}:"),
            "#{pane_pid}",
        ])
        .trim()
        .parse()
        .ok()
    }

    /// `nxr hermes status AGENT --json`, the agent's one row.
    pub fn status(&self, agent: &str) -> serde_json::Value {
        let v = self.env.json(&["hermes", "status", agent]);
        v[0].clone()
    }

    pub fn profile_dir(&self, agent: &str) -> PathBuf {
        self.env.profile_dir(agent)
    }

    /// `gateway_state.json` of the agent's profile.
    pub fn state_file(&self, agent: &str) -> serde_json::Value {
        let p = self.profile_dir(agent).join("gateway_state.json");
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        serde_json::from_str(&text).expect("gateway_state.json is JSON")
    }
}

/// True while `pid` is a live (not zombie) process.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.split_whitespace().next() != Some("Z"))
        })
        .unwrap_or(false)
}

/// Field 22 of `/proc/<pid>/stat`.
pub fn start_time(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

impl Drop for GatewayWorld {
    fn drop(&mut self) {
        // Every gateway a test left running: by its pidfile, then the tmux server.
        let Ok(entries) = std::fs::read_dir(self.env.hermes_home.path().join("profiles")) else {
            return;
        };
        for e in entries.flatten() {
            let pidfile = e.path().join("gateway.pid");
            let record = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            let Some(record) = record else { continue };
            let (Some(pid), Some(start)) = (record["pid"].as_i64(), record["start_time"].as_u64())
            else {
                continue;
            };
            // Only the process the pidfile names, not a later one that reused its PID.
            if start_time(pid as i32) == Some(start) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
            }
        }
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
