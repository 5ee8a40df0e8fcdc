//! `nxr daemon`: the runtime with no screen open, in the foreground (what a person runs under
//! systemd or tmux). Today it runs catalog scans on demand (`--scan`); periodic work (the
//! scanner, usage sampling, gateway probes) plugs into [`tick`] as it lands.

use clap::Args;

use crate::core::action::JobEvent;
use crate::core::runtime::{self, JobKind, Runtime};
use crate::core::{Core, CoreError};

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Start a catalog scan at once (refused, and said so, when another nxr process is
    /// scanning).
    #[arg(long)]
    pub scan: bool,
    /// Stop when the jobs asked for have ended instead of running until Ctrl-C or SIGTERM;
    /// exit 1 when one failed or could not start.
    #[arg(long)]
    pub once: bool,
}

/// Where scheduled work will be started from (called every [`TICK`]); nothing is periodic
/// yet.
async fn tick(_rt: &Runtime) {}

const TICK: std::time::Duration = std::time::Duration::from_secs(1);

pub async fn daemon(core: Core, args: DaemonArgs, json: bool) -> Result<(), CoreError> {
    let rt = Runtime::new(core)?;
    let mut events = rt.subscribe();
    eprintln!(
        "nxr: daemon running as {}{}",
        rt.holder(),
        if args.once { "" } else { " (Ctrl-C stops it)" }
    );
    let mut waiting: Vec<i64> = Vec::new();
    let mut failed: Option<CoreError> = None;
    if args.scan {
        match rt.start(JobKind::Scan).await {
            Ok(job) => {
                eprintln!("nxr: catalog scan started (job {job})");
                waiting.push(job);
            }
            Err(e) => {
                eprintln!("nxr: {e}");
                failed = Some(e);
            }
        }
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| CoreError::io("signal", e))?;
    let mut ticks = tokio::time::interval(TICK);
    while !(args.once && waiting.is_empty()) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = ticks.tick() => tick(&rt).await,
            ev = events.recv() => {
                let (job, error) = match ev {
                    Ok(JobEvent::ScanFinished { job, text }) => {
                        eprintln!("nxr: job {job}: {text}");
                        (job, None)
                    }
                    Ok(JobEvent::JobFailed { job, error, .. }) => {
                        eprintln!("nxr: job {job}: {error}");
                        (job, Some(error))
                    }
                    Ok(_) => continue,
                    // Missed events: ask the registry about the jobs still awaited.
                    Err(_) => {
                        let mut left = Vec::new();
                        for id in waiting.drain(..) {
                            match runtime::job(&rt.core().db, id).await? {
                                Some(j) if !j.state.done() => left.push(id),
                                Some(j) => {
                                    if let Some(e) = j.error {
                                        failed = Some(CoreError::Conflict(e));
                                    }
                                }
                                None => {}
                            }
                        }
                        waiting = left;
                        continue;
                    }
                };
                if waiting.contains(&job) {
                    waiting.retain(|j| *j != job);
                    if let Some(e) = error {
                        failed = Some(CoreError::Conflict(e));
                    }
                    if let Some(j) = runtime::job(&rt.core().db, job).await? {
                        super::emit(json, &j, |out| {
                            writeln!(out, "job {} {}: {}", j.id, j.state.as_str(), j.progress)
                        })?;
                    }
                }
            }
        }
    }
    match failed {
        Some(e) if args.once => Err(e),
        _ => Ok(()),
    }
}
