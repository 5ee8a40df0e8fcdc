//! `nxr notifications`: the list (`--unread`, `--type`), `read ID|--all`, `apply ID`, and
//! `telegram` (which types are forwarded); plus the scanner's settings for `nxr config`.

use clap::{Args, Subcommand};

use crate::core::action::Outcome;
use crate::core::notifications::{self, Filter, Notification, State};
use crate::core::text::clean;
use crate::core::{Core, CoreError, scanner, telegram};

use super::{Table, emit};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct NotificationsArgs {
    /// Only unread notifications that still hold.
    #[arg(long)]
    pub unread: bool,
    /// Only this type (better_model, model_gone, scan_failed, auto_upgrade, rate_limit_90, ...).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// How many, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[command(subcommand)]
    pub command: Option<NotificationsCmd>,
}

#[derive(Debug, Subcommand)]
pub enum NotificationsCmd {
    /// Mark one notification read, or every one with --all.
    Read {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        #[arg(long)]
        all: bool,
    },
    /// Do what a notification advises (the same write as doing it by hand; revert works).
    Apply { id: i64 },
    /// Which types are forwarded to Telegram; --enable / --disable one.
    Telegram {
        #[arg(long, value_name = "TYPE", conflicts_with = "disable")]
        enable: Option<String>,
        #[arg(long, value_name = "TYPE")]
        disable: Option<String>,
    },
}

fn state_word(n: &Notification) -> &'static str {
    match n.state {
        State::Obsolete => "withdrawn",
        State::Applied => "applied",
        State::Active if n.read => "read",
        State::Active => "unread",
    }
}

pub async fn run(core: &Core, args: NotificationsArgs, json: bool) -> Result<(), CoreError> {
    match args.command {
        None => {
            let kind = args
                .kind
                .as_deref()
                .map(notifications::parse_type)
                .transpose()?
                .map(str::to_string);
            if args.limit < 1 {
                return Err(CoreError::usage("--limit must be at least 1"));
            }
            let filter = Filter {
                unread: args.unread,
                kind,
            };
            let conn = core.db.conn().await?;
            let list = notifications::list_filtered(&conn, &filter, args.limit).await?;
            let unread = notifications::unread(&conn).await?;
            emit(json, &list, |out| {
                if list.is_empty() {
                    writeln!(out, "no notifications")?;
                    return Ok(());
                }
                let mut t = Table::new(vec!["ID", "TYPE", "STATE", "WHEN", "TITLE"]);
                for n in &list {
                    t.row(vec![
                        n.id.to_string(),
                        n.kind.clone(),
                        state_word(n).into(),
                        n.created_at
                            .get(..16)
                            .unwrap_or(&n.created_at)
                            .replace('T', " "),
                        clean(&n.title),
                    ]);
                }
                t.print(out)?;
                writeln!(
                    out,
                    "{unread} unread; `nxr notifications apply ID` does what one advises"
                )
            })
        }
        Some(NotificationsCmd::Read { id, all }) => {
            let count = notifications::mark_read(core, if all { None } else { id }).await?;
            emit(json, &serde_json::json!({"marked": count}), |out| {
                writeln!(out, "marked {count} read")
            })
        }
        Some(NotificationsCmd::Apply { id }) => {
            let (n, outcome) = notifications::apply(core, id).await?;
            let shown = serde_json::json!({"notification": n, "outcome": outcome});
            emit(json, &shown, |out| {
                writeln!(out, "applied notification {id}: {}", clean(&n.title))?;
                if let Outcome::Routing(slots) = &outcome {
                    writeln!(
                        out,
                        "{} main model: {}",
                        clean(&slots.agent),
                        clean(&slots.main.model)
                    )?;
                }
                Ok(())
            })
        }
        Some(NotificationsCmd::Telegram { enable, disable }) => {
            if let Some(t) = &enable {
                telegram::set_forwarding(core, t, true).await?;
            }
            if let Some(t) = &disable {
                telegram::set_forwarding(core, t, false).await?;
            }
            let f = telegram::forwarding(core).await?;
            emit(json, &f, |out| {
                let mut t = Table::new(vec!["TYPE", "FORWARD", "URGENT"]);
                for x in &f.toggles {
                    t.row(vec![
                        x.kind.to_string(),
                        if x.enabled { "on" } else { "off" }.into(),
                        if x.urgent { "yes" } else { "" }.into(),
                    ]);
                }
                t.print(out)?;
                match (&f.chat_id, &f.token) {
                    (Some(chat), Some(token)) => writeln!(
                        out,
                        "sending to chat {}{} with bot token {token}",
                        clean(chat),
                        f.thread_id
                            .as_deref()
                            .map(|t| format!(" (topic {})", clean(t)))
                            .unwrap_or_default()
                    ),
                    _ => writeln!(
                        out,
                        "Telegram is not set up: put TELEGRAM_BOT_TOKEN and TELEGRAM_HOME_CHANNEL in the Hermes root's .env"
                    ),
                }
            })
        }
    }
}

/// `nxr config set` for the scanner's settings; `None` when `key` is not one of them.
pub async fn config_set(
    core: &Core,
    key: &str,
    value: &str,
    json: bool,
) -> Option<Result<(), CoreError>> {
    let done = match key {
        "scan-interval" => match scanner::set_interval(core, value).await {
            Ok(d) => {
                let v = scanner::format_interval(d);
                emit(json, &serde_json::json!({"scan_interval": v}), |out| {
                    writeln!(out, "scan-interval = {v}")
                })
            }
            Err(e) => Err(e),
        },
        "auto-upgrade-free-models" => match scanner::set_auto_upgrade(core, value).await {
            Ok(on) => emit(
                json,
                &serde_json::json!({"auto_upgrade_free_models": on}),
                |out| {
                    writeln!(out, "auto-upgrade-free-models = {on}")?;
                    if on {
                        writeln!(
                            out,
                            "the scanner now moves agents from a free model to a better free one (never to a paid one)"
                        )?;
                    }
                    Ok(())
                },
            ),
            Err(e) => Err(e),
        },
        _ => return None,
    };
    Some(done)
}

/// `nxr config get` for the scanner's settings.
pub async fn config_get(core: &Core, key: &str, json: bool) -> Option<Result<(), CoreError>> {
    let done = match key {
        "scan-interval" => match scanner::interval(core).await {
            Ok(d) => {
                let v = scanner::format_interval(d);
                emit(json, &serde_json::json!({"scan_interval": v}), |out| {
                    writeln!(out, "{v}")
                })
            }
            Err(e) => Err(e),
        },
        "auto-upgrade-free-models" => match scanner::auto_upgrade(core).await {
            Ok(on) => emit(
                json,
                &serde_json::json!({"auto_upgrade_free_models": on}),
                |out| writeln!(out, "{on}"),
            ),
            Err(e) => Err(e),
        },
        _ => return None,
    };
    Some(done)
}
