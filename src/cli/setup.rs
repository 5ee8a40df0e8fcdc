//! `nxr init`, `nxr upgrade` and `nxr config`: the onboarding and key-upgrade flows on the
//! command line. Prompts appear only on a terminal; without one the defaults are used.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{Table, emit};
use crate::core::onboarding::{self, Flow, InitOptions, InitReport};
use crate::core::picker::{Filters, Picker};
use crate::core::text::clean;
use crate::core::upgrade::{self, UpgradeRow};
use crate::core::{Core, CoreError, hermes, secrets};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Never ask for a key: free models only.
    #[arg(long, conflicts_with = "key")]
    pub free: bool,
    /// An OpenRouter key to validate and store (non-interactive). `-` reads it from standard
    /// input; without the flag, NXR_OPENROUTER_KEY is used when set.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Seconds to wait for a fresh catalog before using the bundled one.
    #[arg(long, default_value_t = 4)]
    pub fetch_timeout: u64,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// Use (and store) this key instead of the stored one. `-` reads it from standard input;
    /// without the flag, NXR_OPENROUTER_KEY is used when set.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Upgrade every agent to its recommended paid model without asking.
    #[arg(long, conflicts_with_all = ["agent", "revert"])]
    pub all: bool,
    /// Upgrade exactly this agent.
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// With --agent: this model instead of the recommended one.
    #[arg(long, value_name = "ID", requires = "agent")]
    pub model: Option<String>,
    /// Put every agent (or only --agent NAME) back on its last free model.
    #[arg(long)]
    pub revert: bool,
    /// With --revert on a terminal: do not ask before reverting every agent.
    #[arg(long, requires = "revert")]
    pub yes: bool,
    #[arg(long, default_value_t = 15)]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Set a value: openrouter-key KEY (or `-` to read it from standard input) | ollama-model NAME
    /// | scan-interval 6h (90s, 15m, 1d, off) | auto-upgrade-free-models true|false
    Set { key: String, value: String },
    /// Show a value (keys are masked): openrouter-key | ollama-model | scan-interval |
    /// auto-upgrade-free-models
    Get { key: String },
}

/// The environment variable an OpenRouter key can come from, so that it never has to sit on
/// a command line, where `ps` shows it to every user of the machine and shell history keeps it.
pub const KEY_ENV: &str = "NXR_OPENROUTER_KEY";

/// The key a `--key` flag stands for: `-` reads one line from standard input; a key typed
/// on the command line still works but earns a warning; no flag falls back to [`KEY_ENV`].
fn resolve_key(arg: Option<&str>) -> Result<Option<String>, CoreError> {
    match arg {
        Some("-") => read_key_from_stdin().map(Some),
        Some(k) => {
            warn_key_on_command_line();
            Ok(Some(k.to_string()))
        }
        None => Ok(std::env::var(KEY_ENV).ok().filter(|k| !k.trim().is_empty())),
    }
}

fn read_key_from_stdin() -> Result<String, CoreError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CoreError::io("stdin", e))?;
    let key = line.trim();
    if key.is_empty() {
        return Err(CoreError::usage(format!(
            "`--key -` found no key on standard input: pipe one in (`nxr init --key - < key.txt`) or set {KEY_ENV}"
        )));
    }
    Ok(key.to_string())
}

fn warn_key_on_command_line() {
    eprintln!(
        "nxr: warning: a key on the command line is visible to other users (ps) and kept in shell history; next time use `--key -` (standard input) or {KEY_ENV}"
    );
}

pub async fn init(core: &Core, args: InitArgs, json: bool) -> Result<(), CoreError> {
    // --free means no key at all, not even one from the environment.
    let mut key = if args.free {
        None
    } else {
        resolve_key(args.key.as_deref())?
    };
    let interactive = !json && !args.free && key.is_none() && std::io::stdin().is_terminal();
    if interactive && !onboarding::completed(core).await? {
        eprintln!("nxr works without a key on free models. Paste an OpenRouter key to use it now,");
        let k = prompt("or press Enter to stay free: ")?;
        if !k.trim().is_empty() {
            key = Some(k.trim().to_string());
        }
    }
    let opts = InitOptions {
        key,
        fetch_timeout: Some(Duration::from_secs(args.fetch_timeout)),
    };
    let started = std::time::Instant::now();
    let mut progress = |step: onboarding::SetupStep, done: Option<&onboarding::StepReport>| {
        if json {
            return;
        }
        match done {
            None => eprint!("[{}/5] {} ... ", step.number(), step.title()),
            Some(r) => eprintln!("{}", clean(&r.text)),
        }
    };
    let report = onboarding::run(core, Flow::Cli, opts, &mut progress).await?;
    let elapsed = started.elapsed();
    emit(json, &report, |out| print_init(out, &report, elapsed))
}

fn print_init(out: &mut dyn Write, r: &InitReport, elapsed: Duration) -> std::io::Result<()> {
    if r.already_done {
        writeln!(
            out,
            "nxr was already set up{}; nothing was created.",
            r.completed_at
                .as_deref()
                .map(|t| format!(" on {}", &t[..t.len().min(10)]))
                .unwrap_or_default()
        )?;
    } else {
        writeln!(out, "Set up in {:.1}s.", elapsed.as_secs_f64())?;
    }
    let mut t = Table::new(vec!["AGENT", "ROLE", "MODEL", "SKILLS"]);
    for a in &r.agents {
        t.row(vec![
            clean(&a.name),
            a.role.to_string(),
            clean(&a.model),
            a.skills.join(", "),
        ]);
    }
    t.print(out)?;
    if let Some(k) = &r.key {
        writeln!(out, "OpenRouter key: {k}")?;
    }
    if let Some(t) = &r.tier {
        writeln!(out, "Free tier: {}", t.explanation)?;
    }
    writeln!(out, "{}", r.limits.text)?;
    writeln!(out, "{}", r.limits.upgrade)?;
    writeln!(out, "Open the dashboard: nxr")
}

pub async fn config(core: &Core, cmd: ConfigCmd, json: bool) -> Result<(), CoreError> {
    match cmd {
        ConfigCmd::Set { key, value } => match key.as_str() {
            k if let Some(done) = super::notifications::config_set(core, k, &value, json).await => {
                done
            }
            "openrouter-key" => {
                let value = if value == "-" {
                    read_key_from_stdin()?
                } else {
                    warn_key_on_command_line();
                    value
                };
                let info =
                    secrets::set_openrouter_key(core, &value, Duration::from_secs(15)).await?;
                let or = core.openrouter(Duration::from_secs(15))?;
                let credits = or.credits(value.trim()).await.unwrap_or(None);
                let tier = crate::core::openrouter::FreeTier::of(&info, credits.as_ref());
                let payer = secrets::payer(core).await?;
                let account = payer.account().map(|a| a.summary());
                let shown = serde_json::json!({
                    "key": hermes::mask_key(value.trim()),
                    "tier": tier,
                    "account": payer.account(),
                    "can_pay": payer.can_pay(),
                });
                emit(json, &shown, |out| {
                    writeln!(
                        out,
                        "stored OpenRouter key {} for nxr and every agent",
                        hermes::mask_key(value.trim())
                    )?;
                    writeln!(out, "free tier: {}", tier.explanation)?;
                    if let Some(a) = &account {
                        writeln!(out, "account: {a}")?;
                    }
                    if let Some(why) = payer.reason() {
                        writeln!(out, "paid models cannot be used yet: {why}")?;
                    }
                    writeln!(out, "next: nxr upgrade (paid models) or keep the free ones")
                })
            }
            "ollama-model" => {
                let v = value.trim();
                if v.is_empty() || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(CoreError::usage(
                        "give an Ollama model name such as qwen3:8b",
                    ));
                }
                core.set_setting("ollama_model", v).await?;
                emit(json, &serde_json::json!({"ollama_model": v}), |out| {
                    writeln!(out, "ollama-model = {v}")
                })
            }
            other => Err(CoreError::usage(format!(
                "unknown setting {:?}: openrouter-key, ollama-model, scan-interval, auto-upgrade-free-models",
                clean(other)
            ))),
        },
        ConfigCmd::Get { key } => match key.as_str() {
            k if let Some(done) = super::notifications::config_get(core, k, json).await => done,
            "openrouter-key" => {
                let k = secrets::openrouter_key(core).map(|k| hermes::mask_key(&k));
                emit(json, &serde_json::json!({"key": k}), |out| {
                    writeln!(out, "{}", k.as_deref().unwrap_or("(not set)"))
                })
            }
            "ollama-model" => {
                let m = core.ollama_model().await?;
                emit(json, &serde_json::json!({"ollama_model": m}), |out| {
                    writeln!(out, "{m}")
                })
            }
            other => Err(CoreError::usage(format!(
                "unknown setting {:?}: openrouter-key, ollama-model, scan-interval, auto-upgrade-free-models",
                clean(other)
            ))),
        },
    }
}

pub async fn upgrade(core: &Core, mut args: UpgradeArgs, json: bool) -> Result<(), CoreError> {
    let timeout = Duration::from_secs(args.timeout);
    if args.revert {
        let reverted = match &args.agent {
            Some(name) => upgrade::revert(core, name).await?,
            None => {
                // Reverting every agent is its own, confirmed act on a terminal.
                if !json && !args.yes && std::io::stdin().is_terminal() {
                    let q = "Put every agent on a paid model back on its free model? [y/N] ";
                    if ask(q, false)? != Answer::Yes {
                        eprintln!("nothing changed");
                        return Ok(());
                    }
                }
                upgrade::revert_all(core).await?
            }
        };
        return emit(json, &reverted, |out| {
            if reverted.is_empty() {
                return match &args.agent {
                    Some(a) => writeln!(out, "{} is already on a free model", clean(a)),
                    None => writeln!(out, "every agent is already on a free model"),
                };
            }
            for a in &reverted {
                writeln!(out, "{} is back on {}", clean(&a.name), clean(&a.model))?;
            }
            Ok(())
        });
    }
    args.key = resolve_key(args.key.as_deref())?;
    // A mistyped agent or model is a usage error before any network call, and before a
    // --key is stored: a failed upgrade changes nothing.
    if let Some(name) = &args.agent {
        crate::core::agents::find(&core.db.conn().await?, name).await?;
        if let Some(id) = &args.model
            && core.catalog().await?.get(id).is_none()
        {
            return Err(CoreError::usage(format!(
                "model {:?} is not in the catalog",
                crate::core::text::clean_max(id, 100)
            )));
        }
    }
    if !json {
        eprintln!("nxr: checking the key with OpenRouter ...");
    }
    let account = upgrade::account(core, args.key.as_deref(), timeout).await?;
    if let Some(k) = &args.key {
        secrets::store(core, k.trim()).await?;
    }
    // The balance read now is what every later write checks.
    upgrade::remember(core, args.key.as_deref(), &account).await?;
    let plan = upgrade::plan(core).await?;
    let cannot_pay = account.state.cannot_pay();
    if !json {
        eprintln!("key {} · {}", account.key, account.tier.explanation);
        eprintln!("account: {}", account.state.summary());
        if let Some(why) = &cannot_pay {
            eprintln!(
                "paid models cannot be used: {why}; buy credits at openrouter.ai/settings/credits, then run nxr upgrade again"
            );
        }
    }
    if args.all {
        let done = upgrade::upgrade_all(core).await?;
        return emit(
            json,
            &serde_json::json!({"account": account, "upgraded": done}),
            |out| {
                if done.is_empty() {
                    writeln!(
                        out,
                        "no agent has a paid pick worth paying for: every agent stays on free"
                    )?;
                }
                for a in &done {
                    writeln!(out, "{} now runs {}", clean(&a.name), clean(&a.model))?;
                }
                writeln!(out, "revert any time: nxr upgrade --revert [--agent NAME]")
            },
        );
    }
    if let Some(name) = &args.agent {
        let a = upgrade::upgrade_agent(core, name, args.model.as_deref()).await?;
        return emit(
            json,
            &serde_json::json!({"account": account, "upgraded": [a]}),
            |out| writeln!(out, "{} now runs {}", clean(&a.name), clean(&a.model)),
        );
    }
    if json || !std::io::stdin().is_terminal() || cannot_pay.is_some() {
        return emit(
            json,
            &serde_json::json!({"account": account, "plan": plan}),
            |out| {
                print_plan(out, &plan)?;
                match &cannot_pay {
                    Some(_) => writeln!(
                        out,
                        "nothing changed: paid models need credits first (see above)"
                    ),
                    None => writeln!(
                        out,
                        "nothing changed: run with --all, or --agent NAME, to switch"
                    ),
                }
            },
        );
    }
    let mut stdout = std::io::stdout();
    print_plan(&mut stdout, &plan).map_err(|e| CoreError::io("stdout", e))?;
    for row in &plan {
        let Some(rec) = &row.recommended else {
            continue;
        };
        let q = format!(
            "Upgrade {} from {} to {} ({} in, {} out per M)? [Y/n/custom] ",
            clean(&row.agent),
            clean(&row.current.model),
            clean(&rec.model),
            rec.prompt,
            rec.completion
        );
        match ask(&q, true)? {
            Answer::Yes => {
                let a = upgrade::upgrade_agent(core, &row.agent, None).await?;
                println!("{} now runs {}", clean(&a.name), clean(&a.model));
            }
            Answer::Custom => {
                if let Some(model) = choose_model(core, row).await? {
                    let a = upgrade::upgrade_agent(core, &row.agent, Some(&model)).await?;
                    println!("{} now runs {}", clean(&a.name), clean(&a.model));
                }
            }
            Answer::No => println!(
                "{} stays on {}",
                clean(&row.agent),
                clean(&row.current.model)
            ),
            Answer::Quit => {
                println!("stopped: nothing more changes");
                break;
            }
            Answer::Again => {}
        }
    }
    println!("revert any time: nxr upgrade --revert [--agent NAME]");
    Ok(())
}

/// An answer to a yes/no question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Yes,
    No,
    Custom,
    /// End of input (Ctrl-D): no, and no more questions.
    Quit,
    /// Not an answer: ask again.
    Again,
}

/// Reads one answer. `None` is the end of input, which is never a yes; an empty line takes
/// `default_yes`.
pub(crate) fn answer(line: Option<&str>, default_yes: bool) -> Answer {
    let Some(line) = line else {
        return Answer::Quit;
    };
    match line.trim().to_ascii_lowercase().as_str() {
        "" if default_yes => Answer::Yes,
        "" => Answer::No,
        "y" | "yes" => Answer::Yes,
        "n" | "no" => Answer::No,
        "c" | "custom" => Answer::Custom,
        _ => Answer::Again,
    }
}

/// Asks until the answer is one (or input ends).
fn ask(question: &str, default_yes: bool) -> Result<Answer, CoreError> {
    loop {
        match answer(prompt_line(question)?.as_deref(), default_yes) {
            Answer::Again => eprintln!("please answer y or n (or c to choose a model)"),
            Answer::Quit => {
                eprintln!();
                return Ok(Answer::Quit);
            }
            a => return Ok(a),
        }
    }
}

fn print_plan(out: &mut dyn Write, plan: &[UpgradeRow]) -> std::io::Result<()> {
    let mut t = Table::new(vec![
        "AGENT",
        "ROLE",
        "CURRENT",
        "IN/OUT per M",
        "RECOMMENDED",
        "IN/OUT per M",
        "GAIN",
    ]);
    for r in plan {
        let (rec, price) = match &r.recommended {
            Some(x) => (clean(&x.model), format!("{} / {}", x.prompt, x.completion)),
            None if r.stay_on_free => ("stay on free".into(), "-".into()),
            None => ("-".into(), "-".into()),
        };
        t.row(vec![
            clean(&r.agent),
            r.role.to_string(),
            clean(&r.current.model),
            format!("{} / {}", r.current.prompt, r.current.completion),
            rec,
            price,
            r.gain
                .map(|g| format!("{g:+.1}"))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    t.print(out)?;
    for r in plan.iter().filter(|r| r.recommended.is_none()) {
        if let Some(n) = &r.note {
            writeln!(out, "{}: {}", clean(&r.agent), clean(n))?;
        }
    }
    Ok(())
}

/// "custom": the fuzzy picker over the catalog, on the command line.
async fn choose_model(core: &Core, row: &UpgradeRow) -> Result<Option<String>, CoreError> {
    let catalog = core.shared_catalog().await?;
    let mut picker = Picker::new(
        catalog,
        row.role,
        Filters {
            tools_only: true,
            ..Filters::default()
        },
        Arc::new(|| {}),
    );
    loop {
        let q = prompt("Search models (Enter to cancel): ")?;
        if q.trim().is_empty() {
            return Ok(None);
        }
        picker.set_query(q.trim());
        picker.settle();
        let rows = picker.window(9);
        if rows.is_empty() {
            println!("no model matches {:?}", clean(&q));
            continue;
        }
        for (i, r) in rows.iter().enumerate() {
            println!(
                "  {}. {}  {} in / {} out per M  score {}",
                i + 1,
                clean(&r.model),
                r.prompt,
                r.completion,
                crate::core::text::score(r.score)
            );
        }
        let n = prompt("Number (Enter to search again): ")?;
        if let Ok(i) = n.trim().parse::<usize>()
            && let Some(r) = rows.get(i.wrapping_sub(1))
        {
            return Ok(Some(r.model.clone()));
        }
    }
}

fn prompt(question: &str) -> Result<String, CoreError> {
    Ok(prompt_line(question)?.unwrap_or_default())
}

/// One line from stdin; `None` at the end of input (Ctrl-D).
fn prompt_line(question: &str) -> Result<Option<String>, CoreError> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CoreError::io("stdin", e))?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_input_is_never_a_yes_and_an_unknown_answer_asks_again() {
        assert_eq!(answer(None, true), Answer::Quit);
        assert_eq!(answer(None, false), Answer::Quit);
        assert_eq!(answer(Some("maybe"), true), Answer::Again);
        assert_eq!(answer(Some("yess"), true), Answer::Again);
        assert_eq!(answer(Some(" Y "), false), Answer::Yes);
        assert_eq!(answer(Some("no"), true), Answer::No);
        assert_eq!(answer(Some(""), true), Answer::Yes);
        assert_eq!(answer(Some(""), false), Answer::No);
        assert_eq!(answer(Some("custom"), true), Answer::Custom);
    }
}
