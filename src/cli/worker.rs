//! The kanban worker wrapper: the nxr binary run as `<NXR_HOME>/bin/nxr-hermes-worker` (a
//! symlink nxr keeps there; gateways started by nxr get it as `HERMES_BIN`). While the
//! budget gate is closed it exits 75 (EX_TEMPFAIL) without calling the provider: Hermes'
//! dispatcher then marks the run `rate_limited` and puts the task back to `ready` without a
//! failure. Otherwise it replaces itself with the real `hermes`, with `-Q` appended (Hermes
//! reports a rate limit as exit 75 only on the quiet path). Arguments pass through as they
//! came, never through a shell.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::core::budget;

/// What Hermes' dispatcher reads as "rate limited, retry later".
pub const HELD_EXIT: u8 = 75;

/// Runs the wrapper when nxr was started under the wrapper's name; `None` otherwise.
pub fn main_if_worker() -> Option<ExitCode> {
    let argv0 = PathBuf::from(std::env::args_os().next()?);
    if argv0.file_name()? != budget::WORKER_NAME {
        return None;
    }
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    Some(run(&argv0, args))
}

fn run(argv0: &Path, mut args: Vec<OsString>) -> ExitCode {
    // `<NXR_HOME>/bin/nxr-hermes-worker`: the wrapper's own path names its workspace, so
    // it needs no environment from the gateway that runs it.
    let home = std::env::var_os("NXR_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| argv0.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let gate = budget::read_gate(&home, budget::now_secs());
    if !gate.open {
        eprintln!(
            "nxr: work held, the provider was not called: {} (opens {})",
            gate.reason
                .as_deref()
                .unwrap_or("the budget gate is closed"),
            gate.opens_at.as_deref().unwrap_or("at 00:00 UTC")
        );
        return ExitCode::from(HELD_EXIT);
    }
    if let Some(h) = profile_arg(&args).and_then(|p| gate.held.iter().find(|h| h.profile == p)) {
        eprintln!(
            "nxr: work held, the provider was not called: {} (opens at 00:00 UTC)",
            h.reason
        );
        return ExitCode::from(HELD_EXIT);
    }
    let Some(hermes) = real_hermes(argv0) else {
        eprintln!("nxr: the hermes CLI was not found on PATH (nor NXR_HERMES_BIN)");
        return ExitCode::from(1);
    };
    if !args.iter().any(|a| a == "-Q") {
        args.push("-Q".into());
    }
    let e = std::process::Command::new(&hermes).args(args).exec();
    eprintln!("nxr: cannot run {}: {e}", hermes.display());
    ExitCode::from(1)
}

/// The profile a worker runs as: `-p NAME`, `--profile NAME` or `--profile=NAME`.
fn profile_arg(args: &[OsString]) -> Option<String> {
    let mut it = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "-p" || a == "--profile" {
            return it.next().map(|p| p.into_owned());
        }
        if let Some(p) = a.strip_prefix("--profile=") {
            return Some(p.to_string());
        }
    }
    None
}

/// `NXR_HERMES_BIN`, else `hermes` on `PATH`, never the wrapper itself.
fn real_hermes(argv0: &Path) -> Option<PathBuf> {
    let me = std::fs::canonicalize(argv0).ok();
    let not_me = |p: &PathBuf| std::fs::canonicalize(p).ok() != me;
    std::env::var_os("NXR_HERMES_BIN")
        .map(PathBuf::from)
        .filter(|p| p.is_file() && not_me(p))
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|d| d.join("hermes"))
                .find(|p| p.is_file() && not_me(p))
        })
}
