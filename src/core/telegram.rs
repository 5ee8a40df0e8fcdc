//! Forwarding notifications to Telegram through the Bot API itself (Hermes has no base-URL
//! override for sends, so nxr sends): `POST {base}/bot<TOKEN>/sendMessage`, form-encoded,
//! HTML parse mode with the text escaped.
//!
//! - Which types go is a per-type toggle kept in the database; urgent types are on unless
//!   turned off, the rest off unless turned on.
//! - Token and chat come from the Hermes root's `.env` (`TELEGRAM_BOT_TOKEN`,
//!   `TELEGRAM_HOME_CHANNEL`, `TELEGRAM_HOME_CHANNEL_THREAD_ID`), else nxr's `secrets.env`.
//!   A channel written `-100123:45` names topic 45 of chat -100123.
//! - Each notification is sent at most once across processes: a process claims the row in a
//!   write transaction before sending, and sets `forwarded_at` only after a 200. A 429 waits
//!   for its `retry_after`; other failures back off.
//! - Sends run on their own tick, so a broken Telegram never delays a scan. The token is part
//!   of the URL only: errors drop the URL, and nothing logs or shows it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::db;
use super::error::{CoreError, Result};
use super::hermes::{self, Profile};
use super::notifications::{self, TYPES, URGENT};
use super::paths::Paths;
use super::runtime::Runtime;
use super::{Core, secrets, time};

const TOGGLES_SETTING: &str = "telegram_forward";
/// A claim older than this belongs to a process that died mid-send; the row may go again.
const CLAIM_TTL: Duration = Duration::from_secs(120);
/// Only notifications this recent are forwarded: turning Telegram on later does not flood the
/// chat with last month's news.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Waits after failures other than 429.
const BACKOFF: [Duration; 4] = [
    Duration::from_secs(10),
    Duration::from_secs(60),
    Duration::from_secs(600),
    Duration::from_secs(3600),
];
/// At most this many sends per tick (Telegram allows about one message a second per chat).
const PER_TICK: usize = 5;
const TIMEOUT: Duration = Duration::from_secs(10);

/// A value from the Hermes root's `.env` (where the Hermes gateway reads it), else from
/// nxr's own `secrets.env`.
pub fn env_value(paths: &Paths, key: &str) -> Option<String> {
    [
        Profile::resolve(&paths.hermes_home, hermes::DEFAULT_PROFILE).env_path(),
        secrets::secrets_file(paths),
    ]
    .iter()
    .find_map(|f| hermes::get_env(f, key).filter(|v| !v.trim().is_empty()))
}

/// Where messages go. Never serialized: it holds the token.
#[derive(Clone, PartialEq)]
pub struct Target {
    token: String,
    pub chat_id: String,
    pub thread_id: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("token", &hermes::mask_key(&self.token))
            .field("chat_id", &self.chat_id)
            .field("thread_id", &self.thread_id)
            .finish()
    }
}

/// `-100123:45` is chat -100123, topic 45; anything else is the chat alone.
pub fn split_channel(channel: &str) -> (String, Option<String>) {
    let c = channel.trim();
    match c.rsplit_once(':') {
        Some((chat, topic))
            if !chat.is_empty()
                && !topic.is_empty()
                && topic.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (chat.to_string(), Some(topic.to_string()))
        }
        _ => (c.to_string(), None),
    }
}

pub fn target(paths: &Paths) -> Option<Target> {
    let token = env_value(paths, "TELEGRAM_BOT_TOKEN")?;
    let channel = env_value(paths, "TELEGRAM_HOME_CHANNEL")?;
    let (chat_id, topic) = split_channel(&channel);
    let thread_id = env_value(paths, "TELEGRAM_HOME_CHANNEL_THREAD_ID").or(topic);
    Some(Target {
        token: token.trim().to_string(),
        chat_id,
        thread_id,
    })
}

/// Escapes text for Telegram's HTML parse mode.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The message for one notification.
pub fn message(kind: &str, title: &str, body: &str) -> String {
    format!(
        "<b>{}</b>\n{}\n<i>nxr · {}</i>",
        escape(title),
        escape(body),
        escape(kind)
    )
}

/// Forwarding on or off, per type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Toggle {
    pub kind: &'static str,
    pub enabled: bool,
    pub urgent: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Forwarding {
    pub toggles: Vec<Toggle>,
    /// A token and a chat were found.
    pub configured: bool,
    pub chat_id: Option<String>,
    pub thread_id: Option<String>,
    /// The token, masked.
    pub token: Option<String>,
}

async fn stored(core: &Core) -> Result<BTreeMap<String, bool>> {
    Ok(core
        .setting(TOGGLES_SETTING)
        .await?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default())
}

pub async fn toggles(core: &Core) -> Result<Vec<Toggle>> {
    let set = stored(core).await?;
    Ok(TYPES
        .iter()
        .map(|t| Toggle {
            kind: t,
            urgent: URGENT.contains(t),
            enabled: set.get(*t).copied().unwrap_or(URGENT.contains(t)),
        })
        .collect())
}

pub async fn forwarding(core: &Core) -> Result<Forwarding> {
    let t = target(&core.paths);
    Ok(Forwarding {
        toggles: toggles(core).await?,
        configured: t.is_some(),
        chat_id: t.as_ref().map(|t| t.chat_id.clone()),
        thread_id: t.as_ref().and_then(|t| t.thread_id.clone()),
        token: t.as_ref().map(|t| hermes::mask_key(&t.token)),
    })
}

/// Turns forwarding of one type on or off (kept for every process).
pub async fn set_forwarding(core: &Core, kind: &str, on: bool) -> Result<Vec<Toggle>> {
    let kind = notifications::parse_type(kind)?;
    let mut set = stored(core).await?;
    set.insert(kind.to_string(), on);
    let json = serde_json::to_string(&set)
        .map_err(|e| CoreError::Db(format!("cannot record the toggles: {e}")))?;
    core.set_setting(TOGGLES_SETTING, &json).await?;
    toggles(core).await
}

/// What one send came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    Ok,
    /// 429: try again after this long.
    RetryAfter(Duration),
    /// Anything else, in words that never hold the token.
    Failed(String),
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

/// `sendMessage` once.
pub async fn send(http: &reqwest::Client, base: &str, to: &Target, text: &str) -> Sent {
    let url = format!("{base}/bot{}/sendMessage", to.token);
    let mut form = vec![
        ("chat_id", to.chat_id.as_str()),
        ("text", text),
        ("parse_mode", "HTML"),
        ("disable_web_page_preview", "true"),
    ];
    if let Some(t) = &to.thread_id {
        form.push(("message_thread_id", t.as_str()));
    }
    let resp = match http.post(&url).form(&form).send().await {
        Ok(r) => r,
        // The URL holds the token: it never goes into a message.
        Err(e) => return Sent::Failed(format!("cannot reach the Bot API: {}", e.without_url())),
    };
    let status = resp.status().as_u16();
    let header_wait = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = resp.text().await.unwrap_or_default();
    let answer: Option<Answer> = serde_json::from_str(&body).ok();
    match status {
        200 => Sent::Ok,
        429 => {
            let secs = answer
                .as_ref()
                .and_then(|a| a.parameters.as_ref())
                .and_then(|p| p.retry_after)
                .or(header_wait)
                .unwrap_or(30);
            Sent::RetryAfter(Duration::from_secs(secs.min(3600)))
        }
        s => {
            let why = answer
                .and_then(|a| a.description)
                .map(|d| super::text::clean_max(&d, 200).replace(&to.token, "<token>"))
                .unwrap_or_else(|| "no description".into());
            Sent::Failed(format!("the Bot API answered HTTP {s}: {why}"))
        }
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Claims the oldest notification due for forwarding, in a write transaction, so no other
/// process sends it too.
async fn claim(core: &Core, kinds: &[&str]) -> Result<Option<(i64, String, String, String)>> {
    if kinds.is_empty() {
        return Ok(None);
    }
    // The kinds are nxr's own constants, never user input.
    let list = kinds
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let now = now_ms();
    let since = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_secs(MAX_AGE.as_secs() as i64))
        .map(time::format)
        .unwrap_or_default();
    let (_c, tx) = core.db.write().await?;
    let mut rows = tx
        .query(
            &format!(
                "SELECT id, kind, title, body FROM notifications
                 WHERE forwarded_at IS NULL AND state = 'active' AND kind IN ({list})
                   AND created_at >= ?1
                   AND (forward_after IS NULL OR forward_after <= ?2)
                   AND (forward_claimed_at IS NULL OR forward_claimed_at < ?3)
                 ORDER BY id LIMIT 1"
            ),
            libsql::params![since, now, now - CLAIM_TTL.as_millis() as i64],
        )
        .await?;
    let row = match rows.next().await? {
        Some(r) => (
            db::int(&r, 0)?,
            db::text(&r, 1)?,
            db::text(&r, 2)?,
            db::text(&r, 3)?,
        ),
        None => {
            drop(rows);
            tx.rollback().await?;
            return Ok(None);
        }
    };
    drop(rows);
    tx.execute(
        "UPDATE notifications SET forward_claimed_at = ?2 WHERE id = ?1",
        libsql::params![row.0, now],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(row))
}

async fn settle(core: &Core, id: i64, sent: &Sent) -> Result<()> {
    let (_c, tx) = core.db.write().await?;
    match sent {
        Sent::Ok => {
            tx.execute(
                "UPDATE notifications SET forwarded_at = ?2, forward_claimed_at = NULL WHERE id = ?1",
                libsql::params![id, time::now()],
            )
            .await?;
            db::touch(&tx, "notifications").await?;
        }
        Sent::RetryAfter(wait) => {
            tx.execute(
                "UPDATE notifications SET forward_claimed_at = NULL, forward_after = ?2,
                     forward_attempts = forward_attempts + 1 WHERE id = ?1",
                libsql::params![id, now_ms() + wait.as_millis() as i64],
            )
            .await?;
        }
        Sent::Failed(_) => {
            let attempts = db::scalar_i64(
                &tx,
                "SELECT forward_attempts FROM notifications WHERE id = ?1",
                [id],
            )
            .await?
            .unwrap_or(0);
            let wait = BACKOFF[(attempts as usize).min(BACKOFF.len() - 1)];
            tx.execute(
                "UPDATE notifications SET forward_claimed_at = NULL, forward_after = ?2,
                     forward_attempts = forward_attempts + 1 WHERE id = ?1",
                libsql::params![id, now_ms() + wait.as_millis() as i64],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Sends what is due: every unforwarded, active notification of an enabled type, whoever
/// added it. Returns how many went out.
pub async fn forward(core: &Core) -> Result<usize> {
    let Some(to) = target(&core.paths) else {
        return Ok(0);
    };
    let kinds: Vec<&str> = toggles(core)
        .await?
        .into_iter()
        .filter(|t| t.enabled)
        .map(|t| t.kind)
        .collect();
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("nxr/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CoreError::Network(format!("cannot build the HTTP client: {e}")))?;
    let base = super::paths::telegram_api_url();
    let mut sent = 0;
    for _ in 0..PER_TICK {
        let Some((id, kind, title, body)) = claim(core, &kinds).await? else {
            break;
        };
        let outcome = send(&http, &base, &to, &message(&kind, &title, &body)).await;
        settle(core, id, &outcome).await?;
        match outcome {
            Sent::Ok => sent += 1,
            Sent::RetryAfter(wait) => {
                tracing::info!(id, wait_s = wait.as_secs(), "Telegram asked to wait");
                break;
            }
            Sent::Failed(why) => {
                tracing::warn!(id, %why, "cannot forward a notification to Telegram");
                break;
            }
        }
    }
    Ok(sent)
}

/// The scheduler's tick.
pub async fn tick(rt: &Runtime) -> Result<()> {
    forward(rt.core()).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_with_a_topic_splits_into_chat_and_thread() {
        assert_eq!(
            split_channel("-100123:45"),
            ("-100123".to_string(), Some("45".to_string()))
        );
        assert_eq!(split_channel(" 123456 "), ("123456".to_string(), None));
        assert_eq!(split_channel("@news"), ("@news".to_string(), None));
        assert_eq!(split_channel("-100123:"), ("-100123:".to_string(), None));
    }

    #[test]
    fn messages_escape_what_html_mode_would_read_as_markup() {
        let m = message("model_gone", "a <b> & \"c\"", "x<y>z");
        assert_eq!(
            m,
            "<b>a &lt;b&gt; &amp; &quot;c&quot;</b>\nx&lt;y&gt;z\n<i>nxr · model_gone</i>"
        );
    }

    #[test]
    fn a_target_never_prints_its_token() {
        let t = Target {
            token: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ".into(),
            chat_id: "1".into(),
            thread_id: None,
        };
        assert!(!format!("{t:?}").contains("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    }
}
