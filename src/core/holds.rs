//! Kanban holds a person can see. While the budget gate is closed, every `ready` task on the
//! kanban boards of the agents' Hermes root is parked with `hermes kanban schedule ID
//! "<reason>"`, and nxr records each one in `kanban_holds`. When the gate opens, nxr runs
//! `hermes kanban unblock ID` for exactly the tasks it held and that are still parked with
//! its reason: a task a person scheduled (or re-scheduled) is never touched.
//!
//! The worker wrapper (`cli/worker.rs`) already keeps a closed gate from calling the
//! provider; the holds make it visible on the board (`hermes kanban list/show`) and keep the
//! dispatcher from spawning a worker every tick just to see it exit 75.
//!
//! Facts from Hermes 0.19: one board per Hermes root (`<root>/kanban.db`, named boards under
//! `<root>/kanban/boards/<slug>/kanban.db`, shared by every profile of the root); `schedule`
//! moves `todo|ready|running|blocked` to `scheduled` and records the reason as the run's
//! summary; `unblock` moves `scheduled` back to `ready` (or `todo` while parents are open).
//!
//! [`sync`] runs from the budget tick every second, so it does nothing unless the gate
//! changed or a board file changed (its size or modification time), and then only reads
//! the boards read-only. Across processes the open-hold row is the claim: a process runs
//! `schedule` only for the row it inserted and `unblock` only for the row it closed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::Core;
use super::budget::Gate;
use super::db;
use super::error::{CoreError, Result};

/// The default board's slug (its file is `<root>/kanban.db`).
pub const DEFAULT_BOARD: &str = "default";
/// A `hermes kanban` call that takes longer than this has failed.
const HERMES_TIMEOUT: Duration = Duration::from_secs(60);
/// A held task found `ready` again (a person unblocked it, or a `schedule` was lost with
/// its process) is held again once it has been seen ready this long: a person who moves a
/// held task through `ready` to schedule it their own way is not overtaken.
const REHOLD_MS: i64 = 30_000;
/// Even with nothing changed, the boards are looked at again after this long.
const RECHECK: Duration = Duration::from_secs(60);

/// A task nxr holds, as the budget shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KanbanHold {
    pub board: String,
    pub task_id: String,
    pub title: String,
    pub assignee: Option<String>,
    /// The reason Hermes shows (`hermes kanban show ID`).
    pub reason: String,
    /// When the gate opens by itself (RFC 3339), if it said.
    pub opens_at: Option<String>,
    pub held_at: String,
}

/// What one [`sync`] did, by task id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    pub held: Vec<String>,
    pub released: Vec<String>,
    pub failed: Vec<String>,
}

/// The reason given to Hermes for a hold: what happened and when nxr opens the gate.
pub fn reason(gate: &Gate) -> String {
    let at = gate
        .opens_at
        .as_deref()
        .and_then(super::time::parse)
        .map(|t| t.strftime("%H:%M").to_string())
        .unwrap_or_else(|| "00:00".into());
    format!("free-tier daily limit reached; nxr opens the gate at {at} UTC")
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Board {
    root: PathBuf,
    slug: String,
    db: PathBuf,
}

/// A board of a Hermes root by its slug, where Hermes keeps its database.
fn board_at(root: &Path, slug: &str) -> Board {
    let db = if slug == DEFAULT_BOARD {
        root.join("kanban.db")
    } else {
        root.join("kanban")
            .join("boards")
            .join(slug)
            .join("kanban.db")
    };
    Board {
        root: root.to_path_buf(),
        slug: slug.to_string(),
        db,
    }
}

/// The boards of a Hermes root: the default one and every named one that has a database.
fn boards(root: &Path) -> Vec<Board> {
    let mut out = vec![board_at(root, DEFAULT_BOARD)];
    if let Ok(entries) = std::fs::read_dir(root.join("kanban").join("boards")) {
        let mut named: Vec<Board> = entries
            .flatten()
            .filter_map(|e| {
                let slug = e.file_name().to_str()?.to_string();
                let b = board_at(root, &slug);
                (slug != DEFAULT_BOARD && b.db.is_file()).then_some(b)
            })
            .collect();
        named.sort_by(|a, b| a.slug.cmp(&b.slug));
        out.extend(named);
    }
    out
}

type Stamp = Option<(u64, SystemTime)>;

/// What tells that a board changed: its database file and its WAL, by size and mtime.
fn fingerprint(boards: &[Board]) -> Vec<(PathBuf, Stamp, Stamp)> {
    let stamp = |p: &Path| -> Stamp {
        let m = std::fs::metadata(p).ok()?;
        Some((m.len(), m.modified().ok()?))
    };
    boards
        .iter()
        .map(|b| {
            let mut wal = b.db.clone().into_os_string();
            wal.push("-wal");
            (b.db.clone(), stamp(&b.db), stamp(Path::new(&wal)))
        })
        .collect()
}

/// What this process saw last, per workspace and root: the gate and the boards.
struct Seen {
    open: bool,
    boards: Vec<(PathBuf, Stamp, Stamp)>,
    at: Instant,
}

static SEEN: Mutex<Option<HashMap<String, Seen>>> = Mutex::new(None);

#[derive(Debug, Clone, PartialEq)]
struct Task {
    id: String,
    title: String,
    assignee: Option<String>,
}

/// One read-only query on a board's database, each row mapped by `f`; no rows when the board
/// has no database yet (none is created).
async fn read_board<T>(
    board: &Board,
    sql: &str,
    params: impl libsql::params::IntoParams,
    f: impl Fn(&libsql::Row) -> Result<T>,
) -> Result<Vec<T>> {
    if !board.db.is_file() {
        return Ok(Vec::new());
    }
    let cannot =
        |e: libsql::Error| CoreError::Db(format!("cannot read {}: {e}", board.db.display()));
    let conn = super::doctor::open_read_only(&board.db)
        .await
        .map_err(cannot)?;
    let mut rows = conn.query(sql, params).await.map_err(cannot)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.map_err(cannot)? {
        out.push(f(&row)?);
    }
    Ok(out)
}

/// The `ready` tasks of a board.
async fn ready_tasks(board: &Board) -> Result<Vec<Task>> {
    read_board(
        board,
        "SELECT id, title, assignee FROM tasks WHERE status = 'ready' ORDER BY created_at, id",
        (),
        |row| {
            Ok(Task {
                id: db::text(row, 0)?,
                title: db::text(row, 1)?,
                assignee: db::opt_text(row, 2)?,
            })
        },
    )
    .await
}

/// A task's status and the summary of its newest run (where `schedule` puts its reason).
async fn task_state(board: &Board, id: &str) -> Result<Option<(String, Option<String>)>> {
    let found = read_board(
        board,
        "SELECT t.status, (SELECT r.summary FROM task_runs r WHERE r.task_id = t.id
                            ORDER BY r.id DESC LIMIT 1)
         FROM tasks t WHERE t.id = ?1",
        [id],
        |row| Ok((db::text(row, 0)?, db::opt_text(row, 1)?)),
    )
    .await?;
    Ok(found.into_iter().next())
}

/// Runs `hermes kanban [--board SLUG] ARGS...` on `root` (argv only, never a shell).
async fn hermes_kanban(board: &Board, args: &[&str]) -> Result<()> {
    let hermes = super::detect::hermes_path().ok_or_else(|| {
        CoreError::Conflict(
            "the hermes CLI was not found on PATH: pip install hermes-agent, or set NXR_HERMES_BIN"
                .into(),
        )
    })?;
    let mut cmd = tokio::process::Command::new(&hermes);
    cmd.arg("kanban");
    if board.slug != DEFAULT_BOARD {
        cmd.args(["--board", &board.slug]);
    }
    cmd.args(args)
        .env("HERMES_HOME", &board.root)
        // A board pinned by the caller's environment would not be the one nxr read.
        .env_remove("HERMES_KANBAN_DB")
        .env_remove("HERMES_KANBAN_BOARD")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(HERMES_TIMEOUT, cmd.output())
        .await
        .map_err(|_| {
            CoreError::Conflict(format!(
                "hermes kanban {} took longer than {}s",
                args.first().copied().unwrap_or(""),
                HERMES_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| CoreError::io(&hermes, e))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let text = if text.trim().is_empty() {
        String::from_utf8_lossy(&out.stdout)
    } else {
        text
    };
    Err(CoreError::Conflict(format!(
        "hermes kanban {} failed ({}): {}",
        args.first().copied().unwrap_or(""),
        out.status,
        super::text::clean_max(text.trim(), 300)
    )))
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn root_text(board: &Board) -> String {
    board.root.display().to_string()
}

/// Claims the hold of `task`, a `ready` task: a new open row, or an open row whose task
/// has been seen ready for [`REHOLD_MS`] (the first sighting is only marked). Returns the
/// row id when this process is to run `schedule`.
async fn claim_hold(
    db: &db::Db,
    board: &Board,
    task: &Task,
    gate: &Gate,
    now: i64,
) -> Result<Option<i64>> {
    let (_conn, tx) = db.write().await?;
    let mut rows = tx
        .query(
            "SELECT id, ready_seen_ms FROM kanban_holds
             WHERE root = ?1 AND board = ?2 AND task_id = ?3 AND released_at IS NULL",
            libsql::params![root_text(board), board.slug.as_str(), task.id.as_str()],
        )
        .await?;
    let open = match rows.next().await? {
        Some(row) => Some((db::int(&row, 0)?, db::opt_int(&row, 1)?)),
        None => None,
    };
    drop(rows);
    let id = match open {
        Some((id, None)) => {
            tx.execute(
                "UPDATE kanban_holds SET ready_seen_ms = ?2 WHERE id = ?1 AND ready_seen_ms IS NULL",
                libsql::params![id, now],
            )
            .await?;
            None
        }
        Some((_, Some(seen))) if now - seen < REHOLD_MS => None,
        Some((id, Some(seen))) => {
            let n = tx
                .execute(
                    "UPDATE kanban_holds SET held_ms = ?2, ready_seen_ms = NULL, reason = ?4
                     WHERE id = ?1 AND ready_seen_ms = ?3",
                    libsql::params![id, now, seen, reason(gate)],
                )
                .await?;
            (n == 1).then_some(id)
        }
        None => {
            tx.execute(
                "INSERT INTO kanban_holds
                   (root, board, task_id, title, assignee, reason, opens_at, held_at, held_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                libsql::params![
                    root_text(board),
                    board.slug.as_str(),
                    task.id.as_str(),
                    task.title.as_str(),
                    task.assignee.clone(),
                    reason(gate),
                    gate.opens_at.clone(),
                    super::time::now(),
                    now
                ],
            )
            .await?;
            Some(tx.last_insert_rowid())
        }
    };
    if id.is_some() {
        db::touch(&tx, "kanban_holds").await?;
    }
    tx.commit().await?;
    Ok(id)
}

async fn hold_ready(
    core: &Core,
    gate: &Gate,
    boards: &[Board],
    report: &mut SyncReport,
) -> Result<()> {
    let why = reason(gate);
    for board in boards {
        let ready = ready_tasks(board).await?;
        clear_unready(&core.db, board, &ready).await?;
        for task in ready {
            let Some(id) = claim_hold(&core.db, board, &task, gate, now_ms()).await? else {
                continue;
            };
            match hermes_kanban(board, &["schedule", &task.id, &why]).await {
                Ok(()) => report.held.push(task.id),
                Err(e) => {
                    // Not held: the row goes, so a later look tries again.
                    tracing::warn!(task = %task.id, error = %e, "kanban hold failed");
                    let (_conn, tx) = core.db.write().await?;
                    tx.execute("DELETE FROM kanban_holds WHERE id = ?1", [id])
                        .await?;
                    db::touch(&tx, "kanban_holds").await?;
                    tx.commit().await?;
                    report.failed.push(format!("{}: {e}", task.id));
                }
            }
        }
    }
    Ok(())
}

/// Forgets the ready sightings of held tasks that are not ready any more (held again, or
/// scheduled by a person): only a task that stays ready is held again.
async fn clear_unready(db: &db::Db, board: &Board, ready: &[Task]) -> Result<()> {
    let conn = db.conn().await?;
    let mut rows = conn
        .query(
            "SELECT id, task_id FROM kanban_holds WHERE root = ?1 AND board = ?2
               AND released_at IS NULL AND ready_seen_ms IS NOT NULL",
            libsql::params![root_text(board), board.slug.as_str()],
        )
        .await?;
    let mut stale = Vec::new();
    while let Some(row) = rows.next().await? {
        let task = db::text(&row, 1)?;
        if !ready.iter().any(|t| t.id == task) {
            stale.push(db::int(&row, 0)?);
        }
    }
    drop(rows);
    drop(conn);
    if stale.is_empty() {
        return Ok(());
    }
    let (_conn, tx) = db.write().await?;
    for id in stale {
        tx.execute(
            "UPDATE kanban_holds SET ready_seen_ms = NULL WHERE id = ?1",
            [id],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Unblocks every task nxr holds, each by the one process that closes its row.
async fn release_all(core: &Core, report: &mut SyncReport) -> Result<()> {
    let conn = core.db.conn().await?;
    let mut rows = conn
        .query(
            "SELECT id, root, board, task_id, reason FROM kanban_holds
             WHERE released_at IS NULL ORDER BY id",
            (),
        )
        .await?;
    let mut open = Vec::new();
    while let Some(row) = rows.next().await? {
        open.push((
            db::int(&row, 0)?,
            board_at(Path::new(&db::text(&row, 1)?), &db::text(&row, 2)?),
            db::text(&row, 3)?,
            db::text(&row, 4)?,
        ));
    }
    drop(rows);
    drop(conn);
    for (id, board, task, why) in open {
        let (_conn, tx) = core.db.write().await?;
        let mine = tx
            .execute(
                "UPDATE kanban_holds SET released_at = ?2, outcome = 'releasing'
                 WHERE id = ?1 AND released_at IS NULL",
                libsql::params![id, super::time::now()],
            )
            .await?;
        tx.commit().await?;
        if mine != 1 {
            continue;
        }
        // Only a task still parked with nxr's own reason: one a person moved or scheduled
        // again with theirs is theirs now.
        let outcome = match task_state(&board, &task).await {
            Ok(Some((status, summary)))
                if status == "scheduled" && summary.as_deref() == Some(why.as_str()) =>
            {
                match hermes_kanban(&board, &["unblock", &task]).await {
                    Ok(()) => {
                        report.released.push(task.clone());
                        "unblocked".to_string()
                    }
                    Err(e) => {
                        report.failed.push(format!("{task}: {e}"));
                        format!("failed: {e}")
                    }
                }
            }
            Ok(Some((status, _))) => format!("not held any more ({status}): left as it is"),
            Ok(None) => "the task is gone".to_string(),
            Err(e) => {
                report.failed.push(format!("{task}: {e}"));
                format!("failed: {e}")
            }
        };
        let (_conn, tx) = core.db.write().await?;
        tx.execute(
            "UPDATE kanban_holds SET outcome = ?2 WHERE id = ?1",
            libsql::params![id, outcome],
        )
        .await?;
        db::touch(&tx, "kanban_holds").await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Holds the ready tasks while `gate` is closed and releases nxr's holds once it is open.
/// Cheap when nothing changed since this process last looked: a `stat` per board.
pub async fn sync(core: &Core, gate: &Gate) -> Result<SyncReport> {
    let root = core.paths.hermes_home.clone();
    let key = format!("{}\n{}", core.db.location, root.display());
    let boards = boards(&root);
    let fp = fingerprint(&boards);
    {
        let seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = seen.as_ref().and_then(|m| m.get(&key))
            && s.open == gate.open
            && (gate.open || s.boards == fp)
            && s.at.elapsed() < RECHECK
        {
            return Ok(SyncReport::default());
        }
    }
    let mut report = SyncReport::default();
    if gate.open {
        release_all(core, &mut report).await?;
    } else {
        hold_ready(core, gate, &boards, &mut report).await?;
    }
    // What the boards look like after this process's own changes.
    let after = fingerprint(&boards);
    SEEN.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(
            key,
            Seen {
                open: gate.open,
                boards: after,
                at: Instant::now(),
            },
        );
    Ok(report)
}

/// The tasks nxr holds now, oldest first.
pub async fn open_holds(conn: &libsql::Connection) -> Result<Vec<KanbanHold>> {
    let mut rows = conn
        .query(
            "SELECT board, task_id, title, assignee, reason, opens_at, held_at FROM kanban_holds
             WHERE released_at IS NULL ORDER BY id",
            (),
        )
        .await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(KanbanHold {
            board: db::text(&row, 0)?,
            task_id: db::text(&row, 1)?,
            title: db::text(&row, 2)?,
            assignee: db::opt_text(&row, 3)?,
            reason: db::text(&row, 4)?,
            opens_at: db::opt_text(&row, 5)?,
            held_at: db::text(&row, 6)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(open: bool, opens_at: Option<&str>) -> Gate {
        Gate {
            account: "no key".into(),
            open,
            reason: (!open).then(|| "used up".into()),
            opens_at: opens_at.map(str::to_string),
            day: "2026-12-02".into(),
            held: Vec::new(),
        }
    }

    #[tokio::test]
    async fn one_open_hold_per_task_is_claimed_once_and_again_only_if_its_task_stays_ready() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = db::Db::open_local(&dir.path().join("hermes_tracking.db"))
            .await
            .expect("db");
        let board = boards(dir.path()).remove(0);
        let task = Task {
            id: "t_1".into(),
            title: "report".into(),
            assignee: Some("pm".into()),
        };
        let closed = gate(false, Some("2026-12-03T00:00:00.000000Z"));
        let t0 = 1_000_000;
        let first = claim_hold(&db, &board, &task, &closed, t0)
            .await
            .expect("claim");
        assert!(first.is_some(), "a ready task with no hold is claimed");
        // Another process (or this one a tick later) sees the open hold: not its claim. The
        // first sighting of the task ready marks it; it is held again only if it stays ready.
        for dt in [0, 1_000, REHOLD_MS - 1] {
            assert_eq!(
                claim_hold(&db, &board, &task, &closed, t0 + dt)
                    .await
                    .expect("claim"),
                None
            );
        }
        assert_eq!(
            claim_hold(&db, &board, &task, &closed, t0 + REHOLD_MS)
                .await
                .expect("claim"),
            first,
            "ready for 30 s: the same row, held again"
        );
        // Seen not ready in between (a person scheduled it their way): the sighting is
        // forgotten, and the next one starts the 30 s again.
        let t1 = t0 + 10 * REHOLD_MS;
        assert_eq!(
            claim_hold(&db, &board, &task, &closed, t1)
                .await
                .expect("claim"),
            None
        );
        clear_unready(&db, &board, &[]).await.expect("clear");
        assert_eq!(
            claim_hold(&db, &board, &task, &closed, t1 + REHOLD_MS)
                .await
                .expect("claim"),
            None
        );
        clear_unready(&db, &board, std::slice::from_ref(&task))
            .await
            .expect("still ready");
        assert_eq!(
            claim_hold(&db, &board, &task, &closed, t1 + 2 * REHOLD_MS)
                .await
                .expect("claim"),
            first
        );
        let conn = db.conn().await.expect("conn");
        conn.execute("UPDATE kanban_holds SET released_at = 'x'", ())
            .await
            .expect("release");
        let again = claim_hold(&db, &board, &task, &closed, t1 + 3 * REHOLD_MS)
            .await
            .expect("claim");
        assert!(
            again.is_some() && again != first,
            "a released hold is history"
        );
        assert_eq!(open_holds(&conn).await.expect("holds").len(), 1);
    }

    #[test]
    fn the_reason_says_when_nxr_opens_the_gate_in_utc() {
        assert_eq!(
            reason(&gate(false, Some("2026-12-03T00:00:00.000000Z"))),
            "free-tier daily limit reached; nxr opens the gate at 00:00 UTC"
        );
    }

    #[test]
    fn a_root_has_its_default_board_and_every_named_board_with_a_database() {
        let dir = tempfile::tempdir().expect("tmp");
        let named = dir.path().join("kanban/boards");
        for slug in ["zeta", "alpha", "empty"] {
            std::fs::create_dir_all(named.join(slug)).expect("mkdir");
        }
        for slug in ["zeta", "alpha"] {
            std::fs::write(named.join(slug).join("kanban.db"), b"").expect("db");
        }
        let b = boards(dir.path());
        let slugs: Vec<&str> = b.iter().map(|b| b.slug.as_str()).collect();
        assert_eq!(slugs, ["default", "alpha", "zeta"]);
        assert_eq!(b[0].db, dir.path().join("kanban.db"));
    }

    #[test]
    fn a_board_written_to_changes_its_fingerprint() {
        let dir = tempfile::tempdir().expect("tmp");
        let b = boards(dir.path());
        let none = fingerprint(&b);
        assert_eq!(none[0].1, None, "no board yet");
        std::fs::write(dir.path().join("kanban.db"), b"x").expect("db");
        let one = fingerprint(&b);
        assert_ne!(none, one);
        std::fs::write(dir.path().join("kanban.db-wal"), b"wal").expect("wal");
        assert_ne!(one, fingerprint(&b));
    }
}
