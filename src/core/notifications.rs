//! Notifications: what nxr wants a person to know (a better free model, a limit close to
//! being hit). Stored in the database so every surface and process sees the same list.

use serde::Serialize;

use super::db;
use super::error::Result;
use super::time;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub payload: serde_json::Value,
    pub created_at: String,
    pub read: bool,
}

pub async fn list(conn: &libsql::Connection, limit: i64) -> Result<Vec<Notification>> {
    let mut rows = conn
        .query(
            "SELECT id, kind, title, body, payload, created_at, read_at FROM notifications
             ORDER BY id DESC LIMIT ?1",
            [limit],
        )
        .await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(Notification {
            id: db::int(&row, 0)?,
            kind: db::text(&row, 1)?,
            title: db::text(&row, 2)?,
            body: db::text(&row, 3)?,
            payload: serde_json::from_str(&db::text(&row, 4)?).unwrap_or(serde_json::Value::Null),
            created_at: db::text(&row, 5)?,
            read: db::opt_text(&row, 6)?.is_some(),
        });
    }
    Ok(out)
}

pub async fn unread(conn: &libsql::Connection) -> Result<i64> {
    Ok(db::scalar_i64(
        conn,
        "SELECT COUNT(*) FROM notifications WHERE read_at IS NULL",
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
    tx.execute(
        "INSERT INTO notifications (kind, title, body, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        libsql::params![kind, title, body, payload.to_string(), time::now()],
    )
    .await?;
    db::touch(tx, "notifications").await
}

/// Marks one notification (or all, with `None`) read.
pub async fn mark_read(core: &super::Core, id: Option<i64>) -> Result<u64> {
    let (_conn, tx) = core.db.write().await?;
    let n = match id {
        Some(id) => {
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
