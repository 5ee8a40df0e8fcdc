//! The command line: `nxr --no-tui <command>` builds an Action or a read, runs it through
//! core and prints the result as text or `--json`. Data goes to stdout, messages to stderr;
//! exit 0 ok, 1 failure, 2 usage error.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::core::action::{self, Op, Outcome};
use crate::core::scoring::Role;
use crate::core::skills::{SkillSnapshot, Template};
use crate::core::text::{clean, tokens};
use crate::core::{Core, CoreError, agents, models};

#[derive(Debug, Parser)]
#[command(
    name = "nxr",
    version,
    about = "A terminal control plane for Hermes Agent teams on OpenRouter's free models",
    after_help = "With no command, nxr opens the full-screen TUI. Every command also runs headless."
)]
pub struct Cli {
    /// Run headless even without a command.
    #[arg(long, global = true)]
    pub no_tui: bool,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// With the TUI: also serve the web mirror (on ADDR, default a free loopback port) and
    /// show its URL in the status line.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:0", env = "NXR_WEB")]
    pub web: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

mod budget;
mod daemon;
mod hermes;
mod notifications;
mod setup;
mod tools;
mod worker;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// First run: three free agents (PM, Engineer, Hermes) in five steps, no key needed.
    Init(setup::InitArgs),
    /// Add paid models with an OpenRouter key (or --revert to the free ones).
    Upgrade(setup::UpgradeArgs),
    /// Settings: openrouter-key, ollama-model.
    #[command(subcommand)]
    Config(setup::ConfigCmd),
    /// The model catalog and scores.
    #[command(subcommand)]
    Models(ModelsCmd),
    /// Agents (Hermes profiles).
    #[command(subcommand)]
    Agents(AgentsCmd),
    /// Serve the web mirror (the TUI's screens in a browser, read-write) and the JSON API.
    Serve(crate::webmirror::ServeArgs),
    /// Print a shell completion script: `source <(nxr completions bash)`.
    Completions(tools::CompletionsArgs),
    /// Write man pages: the top page to stdout, or one page per command into DIR.
    Man(tools::ManArgs),
    /// Check everything nxr depends on, one line each; exit 1 when something needed is wrong.
    /// Changes nothing.
    Doctor,
    /// Write every screen as static HTML (read-only, no keys) into DIR.
    Export(tools::ExportArgs),
    /// Run nxr's background work with no screen open, in the foreground (catalog scans).
    Daemon(daemon::DaemonArgs),
    /// What nxr wants you to know (better models, models going away, failed scans, limits);
    /// read, apply, and which types go to Telegram.
    Notifications(notifications::NotificationsArgs),
    /// The agents' Hermes gateway processes: status, start, stop, restart, watchdog.
    #[command(subcommand)]
    Hermes(hermes::HermesCmd),
    /// Free-tier requests today against the limit, the projection, per-agent usage and cost,
    /// the rate-limit log and the gate (reads new usage from the agents' Hermes files first).
    Budget(budget::BudgetArgs),
}

#[derive(Debug, Subcommand)]
pub enum ModelsCmd {
    /// Fetch the catalog from OpenRouter (or load it from a file), store it and rescore.
    Scan {
        /// A saved `/api/v1/models` response instead of the network.
        #[arg(long, value_name = "FILE")]
        from: Option<std::path::PathBuf>,
        /// Network timeout in seconds.
        #[arg(long, default_value_t = 20)]
        timeout: u64,
        /// Use a catalog older than the one in use (its newest model is older).
        #[arg(long)]
        force: bool,
    },
    /// Every free model with its score for every role.
    Roster,
    /// The best free model for a role, with its score breakdown.
    BestFree {
        #[arg(long)]
        role: String,
    },
    /// Score every model for every role and store the rows.
    Rescore,
    /// One model's score breakdown (why it wins or loses).
    Show {
        id: String,
        #[arg(long)]
        role: Option<String>,
    },
    /// Point one routing slot of an agent at a model, or back to `auto`.
    #[command(
        after_help = "SLOT: main, a task (vision, web_extract, compression, title_generation, ...), \
                      fallback:N or fallback:new.\nMODEL: a catalog id, or `auto` (a task: Hermes \
                      chooses; main: the role's best free model)."
    )]
    SetSlot {
        agent: String,
        slot: String,
        model: String,
        /// Write a model that lacks what the slot needs (image input, long context, cheap).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentsCmd {
    /// All agents with their models and skills.
    List,
    /// Each agent's current model beside the best free model for its role.
    Recommend,
    /// Rescore and report agents whose recommended model changed.
    Rescore,
    /// Create an agent: a Hermes profile on the best free model with its role's skills.
    Create(CreateArgs),
    /// Show or change an agent's skills (Paperclip skill snapshot with --json).
    Skills(SkillsArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub role: Option<String>,
    #[arg(long)]
    pub name: String,
    /// Skill template: tech, creative, business, research, media, personal (or a role).
    #[arg(long)]
    pub category: Option<String>,
    /// Comma-separated skills instead of the template's.
    #[arg(long, value_delimiter = ',')]
    pub skills: Option<Vec<String>>,
    /// A model id instead of the scorer's pick.
    #[arg(long)]
    pub model: Option<String>,
    /// Use a free model (the default; kept for scripts that say so).
    #[arg(long)]
    pub free: bool,
}

#[derive(Debug, Args)]
pub struct SkillsArgs {
    pub name: String,
    #[arg(long, value_delimiter = ',')]
    pub add: Vec<String>,
    #[arg(long, value_delimiter = ',')]
    pub remove: Vec<String>,
    /// Replace the skill set with exactly these (comma-separated).
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["add", "remove"])]
    pub set: Option<Vec<String>>,
    /// Make the profile's files match the agent's skill set again.
    #[arg(long)]
    pub sync: bool,
}

pub fn main() -> ExitCode {
    if let Some(code) = worker::main_if_worker() {
        return code;
    }
    tools::complete_if_asked();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if cli.command.is_none() && cli.no_tui {
        eprintln!("nxr: --no-tui needs a command; try `nxr --help`");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nxr: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let Some(command) = cli.command else {
        // No command: the full-screen TUI.
        let tui = async {
            let core = Core::from_env().await?;
            crate::tabs::run(core, cli.web.as_deref()).await
        };
        return match rt.block_on(tui) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("nxr: {e}");
                ExitCode::from(1)
            }
        };
    };
    let json = cli.json;
    if let Some(code) = tools::early(&command, json, &rt) {
        return code;
    }
    match rt.block_on(run(command, json)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                let body = serde_json::json!({"error": e.to_string(), "usage": is_usage(&e)});
                let _ = writeln!(std::io::stdout(), "{body}");
            }
            // Errors quote user input, file contents and OpenRouter's messages: no escape
            // sequences reach the terminal.
            let _ = writeln!(
                std::io::stderr(),
                "nxr: {}",
                crate::core::text::clean_max(&e.to_string(), 4000)
            );
            ExitCode::from(if is_usage(&e) { 2 } else { 1 })
        }
    }
}

fn is_usage(e: &CoreError) -> bool {
    e.is_usage() || matches!(e, CoreError::NotFound { .. })
}

async fn run(command: Command, json: bool) -> Result<(), CoreError> {
    let core = Core::from_env().await?;
    match command {
        Command::Init(args) => setup::init(&core, args, json).await,
        Command::Upgrade(args) => setup::upgrade(&core, args, json).await,
        Command::Config(cmd) => setup::config(&core, cmd, json).await,
        Command::Models(cmd) => models_cmd(&core, cmd, json).await,
        Command::Agents(cmd) => agents_cmd(&core, cmd, json).await,
        Command::Serve(args) => crate::webmirror::serve(core, args).await,
        // Run by `tools::early` before a workspace is opened.
        Command::Completions(_) | Command::Man(_) | Command::Doctor | Command::Export(_) => Ok(()),
        Command::Daemon(args) => daemon::daemon(core, args, json).await,
        Command::Notifications(args) => notifications::run(&core, args, json).await,
        Command::Hermes(cmd) => hermes::hermes(&core, cmd, json).await,
        Command::Budget(args) => budget::budget(&core, args, json).await,
    }
}

async fn models_cmd(core: &Core, cmd: ModelsCmd, json: bool) -> Result<(), CoreError> {
    match cmd {
        ModelsCmd::Scan {
            from,
            timeout,
            force,
        } => {
            if from.is_none() {
                eprintln!("nxr: fetching {}/models ...", core.endpoints.openrouter);
            }
            let report = crate::core::scanner::scan(
                core,
                from.as_deref(),
                std::time::Duration::from_secs(timeout),
                force,
            )
            .await?;
            for w in &report.warnings {
                eprintln!("nxr: warning: {}", clean(w));
            }
            emit(json, &report, |out| {
                let c = &report.catalog;
                writeln!(
                    out,
                    "stored {} models ({} free) from {}",
                    c.model_count,
                    c.free_count,
                    clean(&c.source)
                )?;
                print_rescore(out, &report.rescore)
            })
        }
        ModelsCmd::Rescore => {
            let report = models::rescore(core).await?;
            emit(json, &report, |out| print_rescore(out, &report))
        }
        ModelsCmd::Roster => {
            let roster = models::roster(core).await?;
            emit(json, &roster, |out| {
                let mut t = Table::new(
                    std::iter::once("MODEL")
                        .chain(std::iter::once("CONTEXT"))
                        .chain(roster.roles.iter().map(|r| r.label()))
                        .collect(),
                );
                for row in &roster.rows {
                    let mut cells = vec![clean(&row.model), tokens(row.context)];
                    for role in &roster.roles {
                        cells.push(match row.scores.get(role) {
                            Some(s) if s.qualified => format!("{:.1}", s.total),
                            Some(_) => "-".into(),
                            None => String::new(),
                        });
                    }
                    t.row(cells);
                }
                t.print(out)?;
                writeln!(
                    out,
                    "{} free models; catalog {} from {} ('-' = misses the role's requirements)",
                    roster.rows.len(),
                    roster.catalog.fetched_at,
                    clean(&roster.catalog.source)
                )
            })
        }
        ModelsCmd::BestFree { role } => {
            let role = Role::parse(&role)?;
            let best = models::best_free(core, role).await?;
            emit(json, &best, |out| {
                let p = &best.pick;
                match p.fallback {
                    None => writeln!(
                        out,
                        "{}: {} (score {:.1})",
                        role,
                        clean(&p.model),
                        p.score.unwrap_or(0.0)
                    )?,
                    Some(f) => writeln!(
                        out,
                        "{}: {} (fallback {:?}: no free model meets the role's requirements)",
                        role,
                        clean(&p.model),
                        f
                    )?,
                }
                if let Some(d) = &best.detail {
                    print_breakdown(out, d)?;
                }
                Ok(())
            })
        }
        ModelsCmd::SetSlot {
            agent,
            slot,
            model,
            force,
        } => {
            // The slot's text ends here: inside nxr it is a SlotKey.
            let key = crate::core::routing::SlotKey::parse(&slot)?;
            let action = Op::SetSlot {
                agent,
                slot: key.clone(),
                model,
                provider: None,
                base_url: None,
                force,
            };
            let Outcome::Routing(slots) = action::apply(core, action).await? else {
                return Err(CoreError::usage("set-slot wrote no routing"));
            };
            let catalog = core.catalog().await?;
            let row = crate::core::routing::rows(&slots, true, &catalog)
                .into_iter()
                .find(|r| r.key == key);
            if let Some(p) = row.as_ref().and_then(|r| r.paid.as_ref()) {
                eprintln!("nxr: note: {}", clean(p));
            }
            let body = serde_json::json!({"slot": row, "routing": slots});
            emit(json, &body, |out| {
                match &row {
                    Some(r) if r.auto => {
                        writeln!(out, "{} {}: auto", clean(&slots.agent), r.label)?
                    }
                    Some(r) => writeln!(
                        out,
                        "{} {}: {} via {}",
                        clean(&slots.agent),
                        r.label,
                        clean(&r.model),
                        clean(&r.provider)
                    )?,
                    None => writeln!(out, "{} {}: written", clean(&slots.agent), clean(&slot))?,
                }
                writeln!(out, "wrote {}", clean(&slots.config_path))
            })
        }
        ModelsCmd::Show { id, role } => {
            let roles = match role {
                Some(r) => vec![Role::parse(&r)?],
                None => Vec::new(),
            };
            let catalog = core.catalog().await?;
            let detail = models::detail(&catalog, &id, &roles)?;
            emit(json, &detail, |out| print_breakdown(out, &detail))
        }
    }
}

async fn agents_cmd(core: &Core, cmd: AgentsCmd, json: bool) -> Result<(), CoreError> {
    match cmd {
        AgentsCmd::List => {
            let conn = core.db.conn().await?;
            let mut list = agents::list(&conn).await?;
            agents::mark_gone(&mut list, &core.catalog().await?);
            emit(json, &list, |out| {
                if list.is_empty() {
                    return writeln!(
                        out,
                        "no agents yet: `nxr --no-tui agents create --role pm --name pm` creates one"
                    );
                }
                let mut t = Table::new(vec!["NAME", "ROLE", "MODEL", "SCORE", "SKILLS", "PROFILE"]);
                for a in &list {
                    t.row(vec![
                        clean(&a.name),
                        a.role.to_string(),
                        clean(&a.model),
                        if a.model_gone {
                            "gone".into()
                        } else {
                            a.model_score
                                .map(|s| format!("{s:.1}"))
                                .unwrap_or_else(|| "-".into())
                        },
                        a.skillset.len().to_string(),
                        clean(&a.profile),
                    ]);
                }
                t.print(out)?;
                for a in list.iter().filter(|a| a.model_gone) {
                    writeln!(
                        out,
                        "{}'s model {} is no longer in the catalog: `nxr --no-tui agents recommend` names a replacement",
                        clean(&a.name),
                        clean(&a.model)
                    )?;
                }
                Ok(())
            })
        }
        AgentsCmd::Recommend => {
            let recs = agents::recommend(core).await?;
            emit(json, &recs, |out| {
                let scored = |m: &str, s: Option<f64>| {
                    format!(
                        "{}{}",
                        clean(m),
                        s.map(|s| format!(" ({s:.1})")).unwrap_or_default()
                    )
                };
                let mut t = Table::new(vec![
                    "AGENT",
                    "ROLE",
                    "CURRENT",
                    "BEST FREE",
                    "PAID PICK",
                    "RECOMMENDED",
                    "ADVICE",
                ]);
                for r in &recs {
                    t.row(vec![
                        clean(&r.agent),
                        r.role.to_string(),
                        if r.model_gone {
                            format!("{} (gone from the catalog)", clean(&r.current_model))
                        } else {
                            scored(&r.current_model, r.current_score)
                        },
                        scored(&r.best_free, r.best_free_score),
                        match &r.paid {
                            Some(p) => format!("{} ({:+.1})", clean(&p.model), p.gain),
                            None => "stay on free".into(),
                        },
                        scored(&r.recommended_model, r.recommended_score),
                        advice_word(r.advice).into(),
                    ]);
                }
                t.print(out)?;
                // A paid pick shown but not recommended: the key is missing or cannot pay.
                if recs.iter().any(|r| {
                    r.paid
                        .as_ref()
                        .is_some_and(|p| p.model != r.recommended_model)
                }) {
                    writeln!(
                        out,
                        "paid picks are recommended only with a key whose account can pay: nxr upgrade checks it"
                    )?;
                }
                Ok(())
            })
        }
        AgentsCmd::Rescore => {
            let Outcome::Rescored(report) = action::apply(core, Op::Rescore).await? else {
                return Err(CoreError::Db("rescore returned no report".into()));
            };
            emit(json, &report, |out| {
                print_rescore(out, &report.rescore)?;
                if report.changed.is_empty() {
                    writeln!(out, "no agent's recommendation changed")
                } else {
                    for c in &report.changed {
                        writeln!(
                            out,
                            "{} ({}): recommendation {} -> {} (now on {})",
                            clean(&c.agent),
                            c.role,
                            c.previous_recommendation
                                .as_deref()
                                .map(clean)
                                .unwrap_or_else(|| "-".into()),
                            clean(&c.recommendation),
                            clean(&c.current_model)
                        )?;
                    }
                    Ok(())
                }
            })
        }
        AgentsCmd::Create(args) => {
            let role = args.role.as_deref().map(Role::parse).transpose()?;
            let category = args.category.as_deref().map(Template::parse).transpose()?;
            if role.is_none() && category.is_none() {
                return Err(CoreError::usage(
                    "give --role (pm, engineer, hermes, creative, research, custom) or --category",
                ));
            }
            let outcome = action::apply(
                core,
                Op::CreateAgent {
                    name: args.name,
                    role,
                    category,
                    skills: args.skills,
                    model: args.model,
                },
            )
            .await?;
            let Outcome::Created(created) = outcome else {
                return Err(CoreError::Db("create returned no agent".into()));
            };
            emit(json, &created, |out| {
                writeln!(out, "{}", clean(&created.summary()))
            })
        }
        AgentsCmd::Skills(args) => {
            let snap = if let Some(set) = args.set {
                apply_skills(
                    core,
                    Op::SyncSkills {
                        agent: args.name.clone(),
                        desired: Some(set),
                    },
                )
                .await?
            } else if !args.add.is_empty() || !args.remove.is_empty() {
                let mut snap = None;
                if !args.add.is_empty() {
                    snap = Some(
                        apply_skills(
                            core,
                            Op::AddSkills {
                                agent: args.name.clone(),
                                skills: args.add,
                            },
                        )
                        .await?,
                    );
                }
                if !args.remove.is_empty() {
                    snap = Some(
                        apply_skills(
                            core,
                            Op::RemoveSkills {
                                agent: args.name.clone(),
                                skills: args.remove,
                            },
                        )
                        .await?,
                    );
                }
                snap.ok_or_else(|| CoreError::Db("no skill change".into()))?
            } else if args.sync {
                apply_skills(
                    core,
                    Op::SyncSkills {
                        agent: args.name.clone(),
                        desired: None,
                    },
                )
                .await?
            } else {
                agents::skills(core, &args.name).await?
            };
            emit(json, &snap, |out| print_skills(out, &snap))
        }
    }
}

/// The advice as one word for the tables.
pub(crate) fn advice_word(a: agents::Advice) -> &'static str {
    match a {
        agents::Advice::Stay => "stay",
        agents::Advice::SwitchFree => "switch (free)",
        agents::Advice::Upgrade => "upgrade (paid)",
        agents::Advice::Replace => "replace (model gone)",
    }
}

async fn apply_skills(core: &Core, op: Op) -> Result<SkillSnapshot, CoreError> {
    match action::apply(core, op).await? {
        Outcome::Skills(s) => Ok(s),
        _ => Err(CoreError::Db("skill change returned no snapshot".into())),
    }
}

fn print_rescore(out: &mut dyn Write, r: &models::RescoreReport) -> std::io::Result<()> {
    writeln!(
        out,
        "scored {} models for {} roles ({} rows) at {}",
        r.models,
        r.best.len(),
        r.rows_written,
        r.scored_at
    )?;
    for p in &r.best {
        let why = match (p.fallback, p.score) {
            (Some(f), _) => format!("fallback {f:?}"),
            (None, Some(s)) => format!("{s:.1}"),
            (None, None) => String::new(),
        };
        writeln!(out, "  {:<9} {} ({why})", p.role.as_str(), clean(&p.model))?;
    }
    for c in &r.changed {
        writeln!(
            out,
            "  changed: {} {} -> {}",
            c.role,
            c.from.as_deref().map(clean).unwrap_or_else(|| "-".into()),
            clean(&c.to)
        )?;
    }
    Ok(())
}

fn print_breakdown(out: &mut dyn Write, d: &models::ModelDetail) -> std::io::Result<()> {
    let price = |p: Option<f64>| {
        p.map(|v| format!("${v:.2}/M"))
            .unwrap_or_else(|| "varies".into())
    };
    writeln!(
        out,
        "{} ({}): context {}, output {}, input {}, output {}, tools {}{}",
        clean(&d.model),
        clean(&d.name),
        tokens(d.context),
        d.max_output.map(tokens).unwrap_or_else(|| "?".into()),
        price(d.prompt_per_million),
        price(d.completion_per_million),
        if d.tools { "yes" } else { "no" },
        if d.free { ", free" } else { "" }
    )?;
    if let Some(e) = &d.excluded {
        writeln!(out, "{e}")?;
    }
    let mut t = Table::new(vec![
        "ROLE", "TOTAL", "QUALITY", "CONTEXT", "CAPAB.", "SIZE", "RECENCY", "RELIAB.", "OUTPUT",
        "FIT", "PRICE", "NOTE",
    ]);
    for b in &d.roles {
        let cell = |s: f64, w: f64| format!("{:.2}x{:.2}", s, w);
        t.row(vec![
            b.role.to_string(),
            format!("{:.1}", b.total),
            b.sub
                .quality
                .map(|q| cell(q, b.weights.quality))
                .unwrap_or_else(|| "-".into()),
            cell(b.sub.context, b.weights.context),
            cell(b.sub.capability, b.weights.capability),
            cell(b.sub.size, b.weights.size),
            cell(b.sub.recency, b.weights.recency),
            cell(b.sub.reliability, b.weights.reliability),
            cell(b.sub.output, b.weights.output),
            cell(b.sub.fit, b.weights.fit),
            cell(b.sub.price, b.weights.price),
            b.disqualified_by
                .clone()
                .unwrap_or_else(|| "qualified".into()),
        ]);
    }
    t.print(out)?;
    for b in &d.roles {
        writeln!(out, "{} quality: {}", b.role, clean(&b.evidence))?;
    }
    writeln!(
        out,
        "each cell: sub-score x weight; total = 100 x sum of the products"
    )
}

fn print_skills(out: &mut dyn Write, s: &SkillSnapshot) -> std::io::Result<()> {
    let mut t = Table::new(vec!["SKILL", "STATE", "WANTED", "ORIGIN"]);
    for e in s
        .entries
        .iter()
        .filter(|e| e.desired || e.state != crate::core::skills::SkillState::Available)
    {
        t.row(vec![
            clean(&e.key),
            format!("{:?}", e.state).to_lowercase(),
            if e.desired { "yes".into() } else { "no".into() },
            e.origin.map(|o| format!("{o:?}")).unwrap_or_default(),
        ]);
    }
    t.print(out)?;
    for w in &s.warnings {
        writeln!(out, "warning: {}", clean(w))?;
    }
    let available = s
        .entries
        .iter()
        .filter(|e| e.state == crate::core::skills::SkillState::Available)
        .count();
    writeln!(
        out,
        "{} wanted; {available} more shipped by nxr (--add NAME)",
        s.desired_skills.len()
    )
}

/// Prints `value` as JSON, or as text through `text`.
pub(crate) fn emit<T: Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CoreError> {
    let stdout = std::io::stdout();
    // One write at the end rather than one per line (stdout is line-buffered): a budget
    // is hundreds of JSON lines.
    let mut out = std::io::BufWriter::with_capacity(64 << 10, stdout.lock());
    let r = if json {
        serde_json::to_writer_pretty(&mut out, value)
            .map_err(|e| match e.io_error_kind() {
                Some(kind) => std::io::Error::from(kind),
                None => std::io::Error::other(e),
            })
            .and_then(|_| writeln!(out))
    } else {
        text(&mut out)
    }
    .and_then(|()| out.flush());
    match r {
        Ok(()) => Ok(()),
        // A closed pipe (`nxr ... | head`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CoreError::io("stdout", e)),
    }
}

/// A plain text table with padded columns.
pub(crate) struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new<S: Into<String>>(head: Vec<S>) -> Table {
        Table {
            head: head.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut widths: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(c.chars().count());
                }
            }
        }
        let line = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    s.push_str(&" ".repeat(widths[i].saturating_sub(c.chars().count()) + 2));
                }
            }
            writeln!(out, "{}", s.trim_end())
        };
        line(out, &self.head)?;
        for r in &self.rows {
            line(out, r)?;
        }
        Ok(())
    }
}
