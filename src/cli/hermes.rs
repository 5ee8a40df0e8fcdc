//! `nxr hermes status|start|stop|restart|watch`: the agents' Hermes gateway processes.

use clap::{Args, Subcommand, ValueEnum};

use super::{Table, emit};
use crate::core::action::{self, Op, Outcome};
use crate::core::gateway::{self, GatewayStatus};
use crate::core::text::clean;
use crate::core::{Core, CoreError};

#[derive(Debug, Subcommand)]
pub enum HermesCmd {
    /// Each agent's gateway: state, PID, uptime, model, platforms, tmux viewers, heartbeat.
    Status {
        /// One agent (default: all).
        agent: Option<String>,
    },
    /// Start the gateway (`hermes gateway run` in tmux session `nxr-AGENT`).
    Start(Target),
    /// Stop the gateway (a planned stop: SIGTERM, SIGKILL after 10 s).
    Stop(Target),
    /// Stop, wait for the gateway's lock to be free, start.
    Restart(Target),
    /// Turn the watchdog (restart on crash, with back-off) on or off for an agent.
    Watch { agent: String, switch: Switch },
    /// The local Ollama: reachable, version, models, and the agents' slots routed to it.
    Ollama,
}

#[derive(Debug, Args)]
pub struct Target {
    /// The agent.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub agent: Option<String>,
    /// Every agent.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

fn dash<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

fn print_status(out: &mut dyn std::io::Write, list: &[GatewayStatus]) -> std::io::Result<()> {
    if list.is_empty() {
        return writeln!(
            out,
            "no agents yet: `nxr init --free` creates three, `nxr agents create` one"
        );
    }
    let mut t = Table::new(vec![
        "AGENT",
        "STATE",
        "PID",
        "UPTIME",
        "MODEL",
        "PLATFORMS",
        "VIEWERS",
        "HEARTBEAT",
        "WATCH",
    ]);
    for s in list {
        t.row(vec![
            clean(&s.agent),
            s.label(),
            dash(s.pid),
            dash(s.uptime.clone()),
            clean(&s.model),
            if s.platforms.is_empty() {
                "-".into()
            } else {
                clean(&s.platforms.join(","))
            },
            s.viewers.to_string(),
            dash(s.heartbeat.clone()),
            match (s.watch, s.gave_up) {
                (true, true) => "gave up".into(),
                (true, false) => "on".into(),
                (false, _) => "off".into(),
            },
        ]);
    }
    t.print(out)?;
    for s in list {
        if let Some(d) = &s.detail {
            writeln!(out, "{}: {}", clean(&s.agent), clean(d))?;
        }
    }
    Ok(())
}

pub async fn hermes(core: &Core, cmd: HermesCmd, json: bool) -> Result<(), CoreError> {
    match cmd {
        HermesCmd::Status { agent } => {
            let list = gateway::status(core, agent.as_deref()).await?;
            emit(json, &list, |out| print_status(out, &list))
        }
        HermesCmd::Start(t) => {
            let op = match t.agent {
                Some(agent) if !t.all => Op::StartGateway { agent },
                _ => Op::StartAllGateways,
            };
            control(core, op, json).await
        }
        HermesCmd::Stop(t) => {
            let op = match t.agent {
                Some(agent) if !t.all => Op::StopGateway { agent },
                _ => Op::StopAllGateways,
            };
            control(core, op, json).await
        }
        HermesCmd::Restart(t) => {
            let op = match t.agent {
                Some(agent) if !t.all => Op::RestartGateway { agent },
                _ => Op::RestartAllGateways,
            };
            control(core, op, json).await
        }
        HermesCmd::Ollama => {
            let card = crate::core::ollama::card(core).await?;
            emit(json, &card, |out| {
                match (&card.reachable, &card.version) {
                    (true, v) => writeln!(
                        out,
                        "Ollama at {}: reachable, version {}, {} models ({})",
                        clean(&card.url),
                        clean(v.as_deref().unwrap_or("?")),
                        card.models.len(),
                        clean(&card.models.join(", "))
                    )?,
                    (false, _) => writeln!(
                        out,
                        "Ollama at {}: not reachable (install it from ollama.com, or set NXR_OLLAMA_URL)",
                        clean(&card.url)
                    )?,
                }
                if card.routes.is_empty() {
                    return writeln!(out, "no agent routes a slot to it");
                }
                let mut t = Table::new(vec!["AGENT", "SLOT", "MODEL", "PULLED"]);
                for r in &card.routes {
                    t.row(vec![
                        clean(&r.agent),
                        clean(&r.slot),
                        clean(&r.model),
                        if r.pulled { "yes" } else { "no" }.into(),
                    ]);
                }
                t.print(out)
            })
        }
        HermesCmd::Watch { agent, switch } => {
            let on = matches!(switch, Switch::On);
            let Outcome::Watched(s) = action::apply(core, Op::WatchGateway { agent, on }).await?
            else {
                return Err(CoreError::Conflict("the watchdog answered nothing".into()));
            };
            eprintln!(
                "nxr: the watchdog is {} for {}",
                if on { "on" } else { "off" },
                clean(&s.agent)
            );
            emit(json, &s, |out| print_status(out, std::slice::from_ref(&*s)))
        }
    }
}

async fn control(core: &Core, op: Op, json: bool) -> Result<(), CoreError> {
    let Outcome::Gateways { reports } = action::apply(core, op).await? else {
        return Err(CoreError::Conflict(
            "the gateway control answered nothing".into(),
        ));
    };
    for r in &reports {
        eprintln!("nxr: {}", clean(&r.message));
    }
    let statuses: Vec<GatewayStatus> = reports.iter().filter_map(|r| r.status.clone()).collect();
    emit(json, &reports, |out| print_status(out, &statuses))?;
    match reports
        .iter()
        .find(|r| r.outcome == gateway::ControlOutcome::Failed)
    {
        Some(r) => Err(CoreError::Conflict(format!(
            "not every gateway could be handled: {}",
            r.message
        ))),
        None => Ok(()),
    }
}
