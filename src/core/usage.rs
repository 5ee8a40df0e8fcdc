//! Real usage, read from every agent's Hermes files into nxr's database (`0005_usage.sql`):
//!
//! - `state.db`, opened read-only with one short read transaction per agent (a WAL reader
//!   never blocks Hermes' writer and never sees a half-written transaction). Each
//!   successful main-loop call is one `messages` row with `role = 'assistant'`; auxiliary
//!   calls exist only as `session_model_usage.api_call_count` where `task <> ''`, so nxr takes
//!   deltas against what it read last time. Tokens and cost come from the same deltas.
//! - `nxr-ledger.jsonl`, the file the nxr-ledger Hermes plugin appends to: the failed calls
//!   (429s and the like), which `state.db` never records, with OpenRouter's reset time.
//!
//! Reads are incremental from high-water marks (`usage_marks`) and each agent's new rows
//! land in one write transaction, so a reader of nxr's database never sees half an hour.

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Core;
use super::db;
use super::error::{CoreError, Result};
use super::hermes::Profile;

/// The ledger file the nxr-ledger plugin writes in each profile.
pub const LEDGER_FILE: &str = "nxr-ledger.jsonl";

/// Exact call times are kept this long (the last-minute count and the recent rate need
/// them); hourly totals are kept for good.
const CALLS_KEPT_SECS: f64 = 2.0 * 86_400.0;

/// At most this much of a ledger is read per pass, so one huge file cannot stall a tick.
const LEDGER_CHUNK: u64 = 8 << 20;

/// What one ingest pass read.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct IngestReport {
    pub agents: usize,
    /// Main-loop calls (assistant messages).
    pub calls: i64,
    /// Auxiliary calls (deltas of `session_model_usage.api_call_count`).
    pub aux_calls: i64,
    /// Failed calls from the ledger.
    pub errors: i64,
    /// Agents whose files could not be read, and why (nothing of theirs was written).
    pub warnings: Vec<String>,
}

impl IngestReport {
    pub fn changed(&self) -> bool {
        self.calls + self.aux_calls + self.errors > 0
    }
}

/// A profile's high-water marks.
#[derive(Debug, Clone, Default, PartialEq)]
struct Marks {
    message_id: i64,
    usage_seen: f64,
    ledger_offset: u64,
    state_inode: u64,
    /// [`files_sig`] when the files were last read, if they had settled.
    files_sig: String,
}

/// A main-loop call: when and on which model.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    at: f64,
    model: String,
}

/// A `session_model_usage` row as read.
#[derive(Debug, Clone, PartialEq)]
struct UsageRow {
    session_id: String,
    model: String,
    task: String,
    calls: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost: f64,
    seen: f64,
}

/// One line of the ledger.
#[derive(Debug, Clone, Deserialize)]
pub struct LedgerEntry {
    pub event: String,
    #[serde(default)]
    pub at: f64,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub status: Option<i64>,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub retry_count: Option<i64>,
    #[serde(default)]
    pub reset_ms: Option<i64>,
    #[serde(default)]
    pub limit_kind: String,
    #[serde(default)]
    pub message: String,
}

/// What was read from one profile's files, before it is written.
#[derive(Debug, Default)]
struct Read1 {
    calls: Vec<Call>,
    max_message_id: i64,
    rows: Vec<UsageRow>,
    ledger: Vec<LedgerEntry>,
    ledger_offset: u64,
    state_inode: u64,
    /// The ledger holds more than one pass reads ([`LEDGER_CHUNK`]).
    ledger_more: bool,
    files_sig: String,
}

/// Reads every agent's new usage into nxr's database. An agent whose files cannot be read
/// is reported and skipped; the others are still read.
pub async fn ingest(core: &Core) -> Result<IngestReport> {
    // Every agent with its marks in one read: a connection per agent costs more than the
    // whole pass when nothing is new.
    let agents = {
        let conn = core.db.conn().await?;
        let mut rows = conn
            .query(
                &format!(
                    "SELECT a.name, a.profile, {MARK_COLUMNS} FROM agents a
                     LEFT JOIN usage_marks m ON m.agent = a.name ORDER BY a.id"
                ),
                (),
            )
            .await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push((db::text(&row, 0)?, db::text(&row, 1)?, marks_at(&row, 2)?));
        }
        out
    };
    let mut report = IngestReport {
        agents: agents.len(),
        ..IngestReport::default()
    };
    for (name, profile, marks) in agents {
        let profile = Profile::resolve(&core.paths.hermes_home, &profile);
        match ingest_agent(core, &name, &profile.dir, marks).await {
            Ok((calls, aux, errors)) => {
                report.calls += calls;
                report.aux_calls += aux;
                report.errors += errors;
            }
            Err(e) => report.warnings.push(format!("{name}: {e}")),
        }
    }
    Ok(report)
}

/// Reads one agent's new calls, auxiliary deltas and ledger lines after `marks` (as
/// stored) and writes them in one transaction. Returns (calls, auxiliary calls, errors)
/// added.
async fn ingest_agent(
    core: &Core,
    agent: &str,
    dir: &Path,
    marks: Marks,
) -> Result<(i64, i64, i64)> {
    let state = dir.join("state.db");
    // Taken before anything is read, so the stored signature never describes files newer
    // than what was read: any later change makes the next pass read again.
    let sig = files_sig(dir);
    if !marks.files_sig.is_empty() && sig == marks.files_sig {
        return Ok((0, 0, 0));
    }
    let mut read = Read1 {
        max_message_id: marks.message_id,
        ledger_offset: marks.ledger_offset,
        state_inode: marks.state_inode,
        ..Read1::default()
    };
    let mut marks_used = marks.clone();
    if let Some(inode) = inode(&state) {
        // A replaced state.db (restored, or the profile recreated) is read from the start.
        if inode != marks.state_inode {
            marks_used.message_id = 0;
            marks_used.usage_seen = 0.0;
        }
        read.state_inode = inode;
        read_state(&state, &marks_used, &mut read).await?;
    }
    read_ledger(&dir.join(LEDGER_FILE), marks.ledger_offset, &mut read)?;
    if read.calls.is_empty()
        && read.rows.is_empty()
        && read.ledger.is_empty()
        && read.max_message_id == marks.message_id
        && read.ledger_offset == marks.ledger_offset
        && read.state_inode == marks.state_inode
    {
        if sig != marks.files_sig && !read.ledger_more {
            store_sig(core, agent, &marks, &sig).await?;
        }
        return Ok((0, 0, 0));
    }
    // A signature only stands for files read to their end.
    read.files_sig = if read.ledger_more { String::new() } else { sig };
    write(core, agent, &marks, &marks_used, read).await
}

/// Files modified this recently may change again within the same timestamp: their
/// signature is not trusted (the "racy" case), and the next pass reads them again.
const SETTLED_SECS: u64 = 2;

/// The identity, size and modification time (ns) of a profile's `state.db`, its WAL and
/// its ledger: Hermes' commits append to the WAL or rewrite it, a checkpoint writes the
/// database, the plugin appends to the ledger, a restore replaces a file. Empty when one
/// of them changed within [`SETTLED_SECS`].
fn files_sig(dir: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let recent = std::time::SystemTime::now() - std::time::Duration::from_secs(SETTLED_SECS);
    let mut sig = String::new();
    for name in ["state.db", "state.db-wal", LEDGER_FILE] {
        match std::fs::metadata(dir.join(name)) {
            Ok(m) => {
                if m.modified().map_or(true, |t| t > recent) {
                    return String::new();
                }
                sig.push_str(&format!(
                    "{}:{}:{}.{};",
                    m.ino(),
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec()
                ));
            }
            Err(_) => sig.push_str("-;"),
        }
    }
    sig
}

/// Records a signature after a pass that found nothing new. The marks themselves are left
/// as another process may have moved them meanwhile; a signature older than their files
/// only costs a read.
async fn store_sig(core: &Core, agent: &str, marks: &Marks, sig: &str) -> Result<()> {
    let (_conn, tx) = core.db.write().await?;
    tx.execute(
        "INSERT INTO usage_marks (agent, message_id, usage_seen, ledger_offset, state_inode, files_sig, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (agent) DO UPDATE SET files_sig = excluded.files_sig",
        libsql::params![
            agent,
            marks.message_id,
            marks.usage_seen,
            marks.ledger_offset as i64,
            marks.state_inode as i64,
            sig,
            super::time::now()
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Opens a Hermes `state.db` read-only (`SQLITE_OPEN_READONLY`: nxr never writes there and
/// never takes a write lock) and reads what is new in one short read transaction, so the
/// messages and the usage rows come from one consistent snapshot.
async fn read_state(path: &Path, marks: &Marks, out: &mut Read1) -> Result<()> {
    let cannot = |e: libsql::Error| CoreError::Db(format!("cannot read {}: {e}", path.display()));
    let db = libsql::Builder::new_local(path)
        .flags(libsql::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .build()
        .await
        .map_err(cannot)?;
    let conn = db.connect().map_err(cannot)?;
    // Hermes checkpoints now and then; a reader waits briefly instead of failing.
    conn.busy_timeout(std::time::Duration::from_secs(2))
        .map_err(cannot)?;
    conn.execute_batch("BEGIN").await.map_err(cannot)?;
    let result = async {
        let mut rows = conn
            .query(
                "SELECT m.id, m.timestamp, COALESCE(s.model, '') FROM messages m
                 LEFT JOIN sessions s ON s.id = m.session_id
                 WHERE m.id > ?1 AND m.role = 'assistant' ORDER BY m.id",
                [marks.message_id],
            )
            .await?;
        while let Some(row) = rows.next().await? {
            out.calls.push(Call {
                at: db::real(&row, 1)?,
                model: db::text(&row, 2)?,
            });
        }
        drop(rows);
        out.max_message_id = db::scalar_i64(&conn, "SELECT COALESCE(MAX(id), 0) FROM messages", ())
            .await?
            .unwrap_or(0)
            .max(marks.message_id);
        // Rows seen at the mark's second again: a row updated twice in one second keeps
        // its last_seen, and the delta against the stored row is zero when nothing moved.
        let mut rows = conn
            .query(
                "SELECT session_id, model, task, api_call_count, input_tokens, output_tokens,
                        CASE WHEN actual_cost_usd > 0 THEN actual_cost_usd ELSE estimated_cost_usd END,
                        COALESCE(last_seen, first_seen, 0)
                 FROM session_model_usage WHERE COALESCE(last_seen, first_seen, 0) >= ?1",
                [marks.usage_seen],
            )
            .await?;
        while let Some(row) = rows.next().await? {
            out.rows.push(UsageRow {
                session_id: db::text(&row, 0)?,
                model: db::text(&row, 1)?,
                task: db::text(&row, 2)?,
                calls: db::int(&row, 3)?,
                input_tokens: db::int(&row, 4)?,
                output_tokens: db::int(&row, 5)?,
                cost: db::real(&row, 6)?,
                seen: db::real(&row, 7)?,
            });
        }
        Ok::<(), CoreError>(())
    }
    .await;
    // A read transaction: ending it releases the snapshot, whatever happened.
    let _ = conn.execute_batch("COMMIT").await;
    match result {
        Ok(()) => Ok(()),
        // A profile Hermes has not run yet has a state.db without these tables.
        Err(CoreError::Db(m)) if m.contains("no such table") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads the ledger's complete lines after `offset` (a line still being written waits for
/// the next pass). A file shorter than the offset was replaced: it is read from the start.
fn read_ledger(path: &Path, offset: u64, out: &mut Read1) -> Result<()> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CoreError::io(path, e)),
    };
    let len = file.metadata().map_err(|e| CoreError::io(path, e))?.len();
    let start = if len < offset { 0 } else { offset };
    if len == start {
        out.ledger_offset = start;
        return Ok(());
    }
    file.seek(std::io::SeekFrom::Start(start))
        .map_err(|e| CoreError::io(path, e))?;
    let mut buf = Vec::new();
    file.take(LEDGER_CHUNK)
        .read_to_end(&mut buf)
        .map_err(|e| CoreError::io(path, e))?;
    out.ledger_more = start + (buf.len() as u64) < len;
    let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    for line in buf[..complete].split(|b| *b == b'\n') {
        // A line nxr cannot parse (a plugin from another version, a torn write) is skipped.
        if let Ok(e) = serde_json::from_slice::<LedgerEntry>(line) {
            out.ledger.push(e);
        }
    }
    out.ledger_offset = start + complete as u64;
    Ok(())
}

/// `usage_marks` (aliased `m`) as [`marks_at`] reads it; an agent without a row (NULLs
/// through a left join) has zeros, as [`Marks::default`].
const MARK_COLUMNS: &str =
    "m.message_id, m.usage_seen, m.ledger_offset, m.state_inode, m.files_sig";

/// The marks in [`MARK_COLUMNS`] from column `at` on.
fn marks_at(row: &libsql::Row, at: i32) -> Result<Marks> {
    Ok(Marks {
        message_id: db::int(row, at)?,
        usage_seen: db::real(row, at + 1)?,
        ledger_offset: db::int(row, at + 2)?.max(0) as u64,
        state_inode: db::int(row, at + 3)?.max(0) as u64,
        files_sig: db::text(row, at + 4)?,
    })
}

async fn marks_in(conn: &libsql::Connection, agent: &str) -> Result<Marks> {
    let mut rows = conn
        .query(
            &format!("SELECT {MARK_COLUMNS} FROM usage_marks m WHERE m.agent = ?1"),
            [agent],
        )
        .await?;
    match rows.next().await? {
        Some(row) => marks_at(&row, 0),
        None => Ok(Marks::default()),
    }
}

/// The start of the UTC hour holding `at` (unix seconds).
pub fn hour_of(at: f64) -> i64 {
    let s = at.floor() as i64;
    s - s.rem_euclid(3600)
}

#[derive(Default)]
struct Bucket {
    requests: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost: f64,
}

/// Writes what was read from `was` (the marks as they were stored) on, reading from
/// `marks`. Another process (a TUI and a daemon both ticking) may have written the same
/// rows meanwhile: the marks are compared again under the write lock, and a pass that lost
/// the race writes nothing, so no call is counted twice.
async fn write(
    core: &Core,
    agent: &str,
    was: &Marks,
    marks: &Marks,
    read: Read1,
) -> Result<(i64, i64, i64)> {
    let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    let keep_from = now - CALLS_KEPT_SECS;
    let (_conn, tx) = core.db.write().await?;
    if marks_in(&tx, agent).await? != *was {
        tx.rollback().await?;
        return Ok((0, 0, 0));
    }
    let mut buckets: HashMap<(i64, String), Bucket> = HashMap::new();
    let calls = read.calls.len() as i64;
    {
        let insert = tx
            .prepare("INSERT INTO usage_calls (agent, model, at, error) VALUES (?1, ?2, ?3, ?4)")
            .await?;
        for c in &read.calls {
            buckets
                .entry((hour_of(c.at), c.model.clone()))
                .or_default()
                .requests += 1;
            if c.at >= keep_from {
                insert
                    .execute(libsql::params![agent, c.model.as_str(), c.at, 0])
                    .await?;
                insert.reset();
            }
        }
        for e in read.ledger.iter().filter(|e| e.event == "error") {
            // Only an answer from the provider (a status) counts against the quota; a call
            // that never connected is logged but spent nothing.
            if e.status.is_some() {
                buckets
                    .entry((hour_of(e.at), e.model.clone()))
                    .or_default()
                    .errors += 1;
            }
            if e.status.is_some() && e.at >= keep_from {
                insert
                    .execute(libsql::params![agent, e.model.as_str(), e.at, 1])
                    .await?;
                insert.reset();
            }
            tx.execute(
                "INSERT INTO rate_limit_events
                   (agent, at, model, status, reason, limit_kind, retry_count, reset_at, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                libsql::params![
                    agent,
                    (e.at * 1000.0) as i64,
                    e.model.as_str(),
                    e.status,
                    e.reason.as_str(),
                    e.limit_kind.as_str(),
                    e.retry_count,
                    e.reset_ms,
                    super::text::clean_max(&e.message, 500)
                ],
            )
            .await?;
        }
    }
    let errors = read.ledger.iter().filter(|e| e.event == "error").count() as i64;
    let mut aux = 0;
    let mut usage_seen = marks.usage_seen;
    for r in &read.rows {
        usage_seen = usage_seen.max(r.seen);
        let mut rows = tx
            .query(
                "SELECT calls, input_tokens, output_tokens, cost_usd FROM usage_seen_rows
                 WHERE agent = ?1 AND session_id = ?2 AND model = ?3 AND task = ?4",
                libsql::params![
                    agent,
                    r.session_id.as_str(),
                    r.model.as_str(),
                    r.task.as_str()
                ],
            )
            .await?;
        let before = match rows.next().await? {
            Some(row) => (
                db::int(&row, 0)?,
                db::int(&row, 1)?,
                db::int(&row, 2)?,
                db::real(&row, 3)?,
            ),
            None => (0, 0, 0, 0.0),
        };
        drop(rows);
        // Counters only grow; a smaller value is a new row under an old key.
        let delta = |now: i64, was: i64| if now >= was { now - was } else { now };
        let b = buckets
            .entry((hour_of(r.seen), r.model.clone()))
            .or_default();
        if !r.task.is_empty() {
            let d = delta(r.calls, before.0);
            b.requests += d;
            aux += d;
        }
        b.input_tokens += delta(r.input_tokens, before.1);
        b.output_tokens += delta(r.output_tokens, before.2);
        b.cost += if r.cost >= before.3 {
            r.cost - before.3
        } else {
            r.cost
        };
        tx.execute(
            "INSERT INTO usage_seen_rows (agent, session_id, model, task, calls, input_tokens, output_tokens, cost_usd)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (agent, session_id, model, task) DO UPDATE SET calls = excluded.calls,
               input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
               cost_usd = excluded.cost_usd",
            libsql::params![
                agent,
                r.session_id.as_str(),
                r.model.as_str(),
                r.task.as_str(),
                r.calls,
                r.input_tokens,
                r.output_tokens,
                r.cost
            ],
        )
        .await?;
    }
    for ((hour, model), b) in &buckets {
        if b.requests == 0
            && b.errors == 0
            && b.input_tokens == 0
            && b.output_tokens == 0
            && b.cost == 0.0
        {
            continue;
        }
        tx.execute(
            "INSERT INTO usage_hourly (hour, agent, model, requests, errors, input_tokens, output_tokens, cost_usd)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (hour, agent, model) DO UPDATE SET
               requests = requests + excluded.requests, errors = errors + excluded.errors,
               input_tokens = input_tokens + excluded.input_tokens,
               output_tokens = output_tokens + excluded.output_tokens,
               cost_usd = cost_usd + excluded.cost_usd",
            libsql::params![
                *hour,
                agent,
                model.as_str(),
                b.requests,
                b.errors,
                b.input_tokens,
                b.output_tokens,
                b.cost
            ],
        )
        .await?;
    }
    tx.execute("DELETE FROM usage_calls WHERE at < ?1", [keep_from])
        .await?;
    tx.execute(
        "INSERT INTO usage_marks (agent, message_id, usage_seen, ledger_offset, state_inode, files_sig, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (agent) DO UPDATE SET message_id = excluded.message_id,
           usage_seen = excluded.usage_seen, ledger_offset = excluded.ledger_offset,
           state_inode = excluded.state_inode, files_sig = excluded.files_sig,
           updated_at = excluded.updated_at",
        libsql::params![
            agent,
            read.max_message_id,
            usage_seen,
            read.ledger_offset as i64,
            read.state_inode as i64,
            read.files_sig.as_str(),
            super::time::now()
        ],
    )
    .await?;
    if calls + aux + errors > 0 {
        db::touch(&tx, "usage").await?;
    }
    tx.commit().await?;
    Ok((calls, aux, errors))
}

/// Where an agent's ledger lives.
pub fn ledger_path(profile_dir: &Path) -> PathBuf {
    profile_dir.join(LEDGER_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_starts_on_the_utc_hour() {
        assert_eq!(hour_of(1_700_000_000.5), 1_699_999_200);
        assert_eq!(hour_of(3600.0), 3600);
        assert_eq!(hour_of(3599.999), 0);
    }

    #[test]
    fn the_ledger_is_read_by_whole_lines_from_its_offset() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join(LEDGER_FILE);
        std::fs::write(
            &p,
            "{\"event\":\"error\",\"at\":10.5,\"status\":429,\"reset_ms\":99}\n{\"event\":\"call\",\"at\":11}\n{\"event\":\"err",
        )
        .expect("write");
        let mut r = Read1::default();
        read_ledger(&p, 0, &mut r).expect("read");
        assert_eq!(r.ledger.len(), 2);
        assert_eq!(r.ledger[0].reset_ms, Some(99));
        let whole = std::fs::read(&p).expect("read").len() as u64;
        assert_eq!(r.ledger_offset, whole - "{\"event\":\"err".len() as u64);
        // The torn line, once finished, is read on the next pass and nothing twice.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .expect("open");
        std::io::Write::write_all(&mut f, b"or\",\"at\":12}\n").expect("append");
        let mut r2 = Read1::default();
        read_ledger(&p, r.ledger_offset, &mut r2).expect("read");
        assert_eq!(r2.ledger.len(), 1);
        assert_eq!(r2.ledger[0].event, "error");
        // A replaced (shorter) file is read from the start.
        std::fs::write(&p, "{\"event\":\"call\",\"at\":1}\n").expect("write");
        let mut r3 = Read1::default();
        read_ledger(&p, r2.ledger_offset, &mut r3).expect("read");
        assert_eq!(r3.ledger.len(), 1);
    }
}
