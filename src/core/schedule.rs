//! Periodic work. Every long-running nxr process (the TUI, `nxr serve`, `nxr --web`,
//! `nxr daemon`) calls [`start`] once with its runtime; each entry of [`TICKS`] then runs on
//! its own task, every [`PERIOD`], so a slow one (a Telegram send waiting out a timeout)
//! never delays another (a catalog scan). A tick decides quickly whether anything is due and
//! hands slow work to the runtime's jobs, whose leases make it happen once across processes.
//!
//! Adding periodic work is one line in [`TICKS`]: a `pub async fn tick(rt: &Runtime) ->
//! Result<()>` in the feature's own module.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::error::Result;
use super::runtime::Runtime;

/// How often each tick runs. Ticks only read a few rows when nothing is due.
pub const PERIOD: Duration = Duration::from_secs(1);

type Tick = fn(Runtime) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// Every periodic job: a name for the log, and its tick.
pub const TICKS: &[(&str, Tick)] = &[
    ("scanner", |rt| {
        Box::pin(async move { super::scanner::tick(&rt).await })
    }),
    ("telegram", |rt| {
        Box::pin(async move { super::telegram::tick(&rt).await })
    }),
    ("gateway", |rt| {
        Box::pin(async move { super::gateway::tick(&rt).await })
    }),
    ("budget", |rt| {
        Box::pin(async move { super::budget::tick(&rt).await })
    }),
];

/// Starts every tick on its own task of the runtime's tokio runtime, for as long as the
/// process lives.
pub fn start(rt: &Runtime) {
    for (name, tick) in TICKS {
        let rt = rt.clone();
        let (name, tick) = (*name, *tick);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PERIOD);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = tick(rt.clone()).await {
                    // A broken tick (a locked database, a bad setting) tries again next time.
                    tracing::warn!(tick = name, error = %e, "periodic work failed");
                }
            }
        });
    }
}
