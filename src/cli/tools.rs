//! The commands around nxr rather than inside a workspace: shell completions, man pages,
//! `doctor` and the static `export`. The first three open no workspace (doctor must change
//! nothing, completions must not create a database while a person presses TAB), so `main`
//! runs them before anything is opened.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::{CompleteEnv, EnvCompleter};

use super::{Cli, Command, emit};
use crate::core::doctor;
use crate::core::paths::{Endpoints, Paths};
use crate::core::scoring::Role;
use crate::core::skills::Template;
use crate::core::{Core, CoreError};

/// The environment variable the completion scripts set when they call nxr back.
const COMPLETE_VAR: &str = "COMPLETE";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command here (nxr.1, nxr-agents.1, nxr-agents-skills.1, ...);
    /// without it the top page goes to stdout.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The folder to write (created, or replaced when it holds an earlier export).
    pub dir: PathBuf,
}

/// The clap definition with the dynamic value completers attached: agent names, roles and
/// skill categories come from the workspace when the shell asks.
pub fn command() -> clap::Command {
    let agents = || ArgValueCandidates::new(agent_candidates);
    let roles = || ArgValueCandidates::new(role_candidates);
    Cli::command()
        .mut_subcommand("agents", |c| {
            c.mut_subcommand("skills", |c| c.mut_arg("name", |a| a.add(agents())))
                .mut_subcommand("create", |c| {
                    c.mut_arg("role", |a| a.add(roles()))
                        .mut_arg("category", |a| {
                            a.add(ArgValueCandidates::new(category_candidates))
                        })
                })
        })
        .mut_subcommand("models", |c| {
            c.mut_subcommand("best-free", |c| c.mut_arg("role", |a| a.add(roles())))
                .mut_subcommand("show", |c| c.mut_arg("role", |a| a.add(roles())))
        })
        .mut_subcommand("upgrade", |c| c.mut_arg("agent", |a| a.add(agents())))
}

/// Answers a completion request from a shell (`COMPLETE=bash nxr -- nxr ag`) and exits;
/// returns at once on an ordinary run.
pub fn complete_if_asked() {
    CompleteEnv::with_factory(command)
        .var(COMPLETE_VAR)
        .complete();
}

fn agent_candidates() -> Vec<CompletionCandidate> {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    rt.block_on(doctor::agent_names(&Paths::from_env()))
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

fn role_candidates() -> Vec<CompletionCandidate> {
    Role::ALL
        .iter()
        .map(|r| CompletionCandidate::new(r.as_str()))
        .collect()
}

fn category_candidates() -> Vec<CompletionCandidate> {
    Template::CATEGORIES
        .iter()
        .map(|t| CompletionCandidate::new(t.key()))
        .collect()
}

/// Runs the commands that open no workspace (or open it their own way); `None` for the rest.
pub fn early(command: &Command, json: bool, rt: &tokio::runtime::Runtime) -> Option<ExitCode> {
    let result = match command {
        Command::Completions(args) => completions(args.shell),
        Command::Man(args) => man(args.dir.as_deref()),
        Command::Doctor => return Some(rt.block_on(doctor_cmd(json))),
        Command::Export(args) => rt.block_on(export(&args.dir, json)),
        _ => return None,
    };
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nxr: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    })
}

/// The registration script: it calls nxr back with `COMPLETE=<shell>` on every TAB, so
/// subcommands, flags and the workspace's agent names all come from this binary.
fn completions(shell: Shell) -> Result<(), CoreError> {
    // The program the script runs: this binary as it was invoked (`nxr` from PATH, or a path).
    let completer = std::env::args_os()
        .next()
        .unwrap_or_else(|| OsString::from("nxr"));
    let completer = completer.to_string_lossy();
    let mut out = Vec::new();
    let shell: &dyn EnvCompleter = match shell {
        Shell::Bash => &clap_complete::env::Bash,
        Shell::Zsh => &clap_complete::env::Zsh,
        Shell::Fish => &clap_complete::env::Fish,
        Shell::Elvish => &clap_complete::env::Elvish,
        Shell::Powershell => &clap_complete::env::Powershell,
    };
    shell
        .write_registration(COMPLETE_VAR, "nxr", "nxr", &completer, &mut out)
        .map_err(|e| CoreError::io("stdout", e))?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<(), CoreError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CoreError::io("stdout", e)),
        _ => Ok(()),
    }
}

/// Man pages from the clap definition: the top page to stdout, or every page into `dir`.
fn man(dir: Option<&std::path::Path>) -> Result<(), CoreError> {
    let mut cmd = command();
    cmd.build();
    let Some(dir) = dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut out)
            .map_err(|e| CoreError::io("stdout", e))?;
        return write_stdout(&out);
    };
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let mut written = Vec::new();
    write_pages(&cmd, dir, &mut written)?;
    for p in &written {
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

/// Writes `<display name>.1` for `cmd` (clap names subcommands `nxr-agents-skills` once the
/// command is built) and recurses into its visible subcommands.
fn write_pages(
    cmd: &clap::Command,
    dir: &std::path::Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), CoreError> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render(&mut out).map_err(|e| CoreError::io(dir, e))?;
    let path = dir.join(man.get_filename());
    crate::core::hermes::atomic_write(&path, &out, Some(0o644))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() != "help" {
            write_pages(sub, dir, written)?;
        }
    }
    Ok(())
}

async fn doctor_cmd(json: bool) -> ExitCode {
    let report = doctor::run(
        &Paths::from_env(),
        &Endpoints::from_env(),
        doctor::Options::default(),
    )
    .await;
    let printed = emit(json, &report, |out| {
        write!(out, "{}", doctor::render_text(&report))
    });
    match printed {
        Err(e) => {
            eprintln!("nxr: {e}");
            ExitCode::from(1)
        }
        Ok(()) if report.ok => ExitCode::SUCCESS,
        Ok(()) => ExitCode::from(1),
    }
}

async fn export(dir: &std::path::Path, json: bool) -> Result<(), CoreError> {
    let core = Core::from_env().await?;
    let files = crate::webmirror::export::write(&core, dir).await?;
    let summary = serde_json::json!({
        "dir": dir.display().to_string(),
        "files": files.iter().map(|f| &f.name).collect::<Vec<_>>(),
    });
    emit(json, &summary, |out| {
        writeln!(
            out,
            "exported {} files to {} (open {})",
            files.len(),
            dir.display(),
            dir.join("index.html").display()
        )
    })
}
