//! Notifications: what nxr wants a person to know (a better free model, a model that is
//! going away, a failing scan, a limit close to being hit, a crashed gateway). Stored in the
//! database so every surface and process sees the same list.
//!
//! Advice has a life: it is `active` until a later scan makes it false (`obsolete`: no longer
//! actionable and not counted as unread) or a person applies it (`applied`). Advice carries
//! the [`Op`] that acts on it, so applying it is the very same write as doing it by hand.

use serde::{Deserialize, Serialize};

use super::action::{self, Op, Outcome};
use super::db;
use super::error::{CoreError, Result};
use super::time;

/// Every type of notification nxr adds, and who adds it.
pub const BETTER_MODEL: &str = "better_model";
pub const AUTO_UPGRADE: &str = "auto_upgrade";
pub const MODEL_GONE: &str = "model_gone";
pub const SCAN_FAILED: &str = "scan_failed";
pub const RATE_LIMIT_70: &str = "rate_limit_70";
pub const RATE_LIMIT_90: &str = "rate_limit_90";
pub const RATE_LIMIT_100: &str = "rate_limit_100";
pub const GATEWAY_CRASHED: &str = "gateway_crashed";
pub const GATEWAY_RESTARTED: &str = "gateway_restarted";

pub const TYPES: [&str; 9] = [
    BETTER_MODEL,
    AUTO_UPGRADE,
    MODEL_GONE,
    SCAN_FAILED,
    RATE_LIMIT_70,
    RATE_LIMIT_90,
    RATE_LIMIT_100,
    GATEWAY_CRASHED,
    GATEWAY_RESTARTED,
];

/// The types that need a person soon: forwarded to Telegram unless turned off.
pub const URGENT: [&str; 5] = [
    MODEL_GONE,
    SCAN_FAILED,
    RATE_LIMIT_90,
    RATE_LIMIT_100,
    GATEWAY_CRASHED,
];

/// A type name as a person typed it, checked against [`TYPES`].
pub fn parse_type(s: &str) -> Result<&'static str> {
    TYPES
        .iter()
        .find(|t| **t == s.trim())
        .copied()
        .ok_or_else(|| {
            CoreError::usage(format!(
                "unknown notification type {:?}: {}",
                super::catalog::clip(s, 40),
                TYPES.join(", ")
            ))
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Active,
    /// A later scan made it false.
    Obsolete,
    Applied,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Obsolete => "obsolete",
            State::Applied => "applied",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "obsolete" => State::Obsolete,
            "applied" => State::Applied,
            _ => State::Active,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub payload: serde_json::Value,
    pub created_at: String,
    pub read: bool,
    pub state: State,
    /// It carries an action and is still active: `nxr notifications apply ID` does it.
    pub actionable: bool,
    pub forwarded_at: Option<String>,
}

/// Which notifications a list shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Only unread (and active) ones.
    pub unread: bool,
    pub kind: Option<String>,
}

const COLUMNS: &str =
    "id, kind, title, body, payload, created_at, read_at, state, forwarded_at FROM notifications";

fn from_row(row: &libsql::Row) -> Result<Notification> {
    let payload: serde_json::Value =
        serde_json::from_str(&db::text(row, 4)?).unwrap_or(serde_json::Value::Null);
    let state = State::parse(&db::text(row, 7)?);
    Ok(Notification {
        id: db::int(row, 0)?,
        kind: db::text(row, 1)?,
        title: db::text(row, 2)?,
        body: db::text(row, 3)?,
        actionable: state == State::Active && payload.get("action").is_some(),
        payload,
        created_at: db::text(row, 5)?,
        read: db::opt_text(row, 6)?.is_some(),
        state,
        forwarded_at: db::opt_text(row, 8)?,
    })
}

pub async fn list(conn: &libsql::Connection, limit: i64) -> Result<Vec<Notification>> {
    list_filtered(conn, &Filter::default(), limit).await
}

/// The newest `limit` notifications that pass `filter`, newest first.
pub async fn list_filtered(
    conn: &libsql::Connection,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Notification>> {
    let mut sql = format!("SELECT {COLUMNS} WHERE 1 = 1");
    if filter.unread {
        sql.push_str(" AND read_at IS NULL AND state = 'active'");
    }
    if filter.kind.is_some() {
        sql.push_str(" AND kind = ?2");
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?1");
    let mut rows = match &filter.kind {
        Some(k) => conn.query(&sql, libsql::params![limit, k.as_str()]).await?,
        None => conn.query(&sql, [limit]).await?,
    };
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(from_row(&row)?);
    }
    Ok(out)
}

pub async fn get(conn: &libsql::Connection, id: i64) -> Result<Notification> {
    let mut rows = conn
        .query(&format!("SELECT {COLUMNS} WHERE id = ?1"), [id])
        .await?;
    match rows.next().await? {
        Some(row) => from_row(&row),
        None => Err(CoreError::NotFound {
            what: "notification",
            name: id.to_string(),
        }),
    }
}

/// Unread notifications that still hold: withdrawn advice does not count.
pub async fn unread(conn: &libsql::Connection) -> Result<i64> {
    Ok(db::scalar_i64(
        conn,
        "SELECT COUNT(*) FROM notifications WHERE read_at IS NULL AND state = 'active'",
        (),
    )
    .await?
    .unwrap_or(0))
}

/// Adds a notification inside the caller's write transaction.
pub async fn add(
    tx: &libsql::Connection,
    kind: &str,
    title: &str,
    body: &str,
    payload: &serde_json::Value,
) -> Result<()> {
    add_keyed(tx, kind, title, body, payload, None)
        .await
        .map(|_| ())
}

/// Adds a notification about `key` unless an active one about it exists (the same advice is
/// never repeated); returns the new id, or `None` when it was already there.
pub async fn add_keyed(
    tx: &libsql::Connection,
    kind: &str,
    title: &str,
    body: &str,
    payload: &serde_json::Value,
    key: Option<&str>,
) -> Result<Option<i64>> {
    if let Some(k) = key {
        let seen = db::scalar_i64(
            tx,
            "SELECT COUNT(*) FROM notifications WHERE dedupe_key = ?1 AND state = 'active'",
            [k],
        )
        .await?
        .unwrap_or(0);
        if seen > 0 {
            return Ok(None);
        }
    }
    tx.execute(
        "INSERT INTO notifications (kind, title, body, payload, created_at, dedupe_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        libsql::params![kind, title, body, payload.to_string(), time::now(), key],
    )
    .await?;
    let id = tx.last_insert_rowid();
    db::touch(tx, "notifications").await?;
    Ok(Some(id))
}

/// Withdraws the active advice of `kinds` whose key is not in `keep`: a later scan made it
/// false. Returns how many were withdrawn.
pub async fn withdraw_except(
    tx: &libsql::Connection,
    kinds: &[&str],
    keep: &std::collections::BTreeSet<String>,
) -> Result<u64> {
    let mut stale = Vec::new();
    for kind in kinds {
        let mut rows = tx
            .query(
                "SELECT id, dedupe_key FROM notifications
                 WHERE kind = ?1 AND state = 'active' AND dedupe_key IS NOT NULL",
                [*kind],
            )
            .await?;
        while let Some(row) = rows.next().await? {
            if !keep.contains(&db::text(&row, 1)?) {
                stale.push(db::int(&row, 0)?);
            }
        }
    }
    for id in &stale {
        tx.execute(
            "UPDATE notifications SET state = 'obsolete' WHERE id = ?1",
            [*id],
        )
        .await?;
    }
    if !stale.is_empty() {
        db::touch(tx, "notifications").await?;
    }
    Ok(stale.len() as u64)
}

/// Marks one notification (or all, with `None`) read.
pub async fn mark_read(core: &super::Core, id: Option<i64>) -> Result<u64> {
    let (_conn, tx) = core.db.write().await?;
    let n = match id {
        Some(id) => {
            let exists = db::scalar_i64(
                &tx,
                "SELECT COUNT(*) FROM notifications WHERE id = ?1",
                [id],
            )
            .await?
            .unwrap_or(0);
            if exists == 0 {
                tx.rollback().await?;
                return Err(CoreError::NotFound {
                    what: "notification",
                    name: id.to_string(),
                });
            }
            tx.execute(
                "UPDATE notifications SET read_at = ?1 WHERE id = ?2 AND read_at IS NULL",
                libsql::params![time::now(), id],
            )
            .await?
        }
        None => {
            tx.execute(
                "UPDATE notifications SET read_at = ?1 WHERE read_at IS NULL",
                [time::now()],
            )
            .await?
        }
    };
    db::touch(&tx, "notifications").await?;
    tx.commit().await?;
    Ok(n)
}

/// Does what a notification advises (its `action`, through [`action::apply`], exactly as
/// the same change made by hand), then marks it applied and read. Withdrawn or applied advice
/// is refused and changes nothing.
pub async fn apply(core: &super::Core, id: i64) -> Result<(Notification, Outcome)> {
    let conn = core.db.conn().await?;
    let n = get(&conn, id).await?;
    match n.state {
        State::Obsolete => {
            return Err(CoreError::usage(format!(
                "notification {id} was withdrawn: a later scan made it false, so there is nothing to apply"
            )));
        }
        State::Applied => {
            return Err(CoreError::usage(format!(
                "notification {id} was already applied"
            )));
        }
        State::Active => {}
    }
    let act: Op = n
        .payload
        .get("action")
        .cloned()
        .ok_or_else(|| CoreError::usage(format!("notification {id} has nothing to apply")))
        .and_then(|a| {
            serde_json::from_value(a).map_err(|e| {
                CoreError::usage(format!("notification {id} carries no valid action: {e}"))
            })
        })?;
    // Boxed: applying a notification is itself an op.
    let outcome = Box::pin(action::apply(core, act.clone())).await?;
    super::scanner::remember_applied(core, &act).await?;
    let (_c, tx) = core.db.write().await?;
    tx.execute(
        "UPDATE notifications SET state = 'applied', read_at = COALESCE(read_at, ?2) WHERE id = ?1",
        libsql::params![id, time::now()],
    )
    .await?;
    db::touch(&tx, "notifications").await?;
    tx.commit().await?;
    let n = get(&conn, id).await?;
    Ok((n, outcome))
}
