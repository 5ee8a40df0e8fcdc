//! The runtime: slow work (today the catalog scan) runs on tokio tasks off every input loop,
//! and reports back as events (`JobEvent::ScanStarted`, `ScanProgress`, `ScanFinished`,
//! `JobFailed`) that a session applies like any other input.
//!
//! One runtime serves a process: the TUI, `nxr serve`, the TUI with `--web` (the mirror
//! shares the TUI's) and `nxr daemon`. Across processes the database decides: each job kind
//! has one lease row with an expiry, taken in a write transaction and renewed while the job
//! runs, so a kind of job runs at most once at a time on one database. A holder that dies
//! stops renewing; its lease runs out and the next process takes over. Every job is a row in
//! `jobs`, so any process answers "how is job N doing".

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::Core;
use super::action::{self, JobEvent};
use super::db::{self, Db};
use super::error::{CoreError, Result};
use super::time;

/// How long a lease lasts without renewal (`NXR_LEASE_SECONDS` changes it, for tests).
pub const LEASE: Duration = Duration::from_secs(30);
/// How long a scan waits for OpenRouter (`NXR_SCAN_TIMEOUT_SECONDS` changes it).
pub const SCAN_TIMEOUT: Duration = Duration::from_secs(20);

/// A kind of background job. Each kind has its own lease: two kinds may run at once, two
/// jobs of one kind never do. A new kind is a variant here and an arm in [`Runtime::run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Fetch the catalog from OpenRouter, store it and rescore (`nxr models scan`).
    Scan,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Scan => "scan",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "scan" => Some(JobKind::Scan),
            _ => None,
        }
    }

    /// How a person names it in a sentence.
    pub fn noun(self) -> &'static str {
        match self {
            JobKind::Scan => "catalog scan",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Finished,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Finished => "finished",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> JobState {
        match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "finished" => JobState::Finished,
            _ => JobState::Failed,
        }
    }

    pub fn done(self) -> bool {
        matches!(self, JobState::Finished | JobState::Failed)
    }
}

/// One row of the job registry, as `GET /api/jobs/<id>` answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub state: JobState,
    pub progress: String,
    pub error: Option<String>,
    pub holder: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// The answer to "may I run a job of this kind now".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The lease is ours and this job row was made for the run.
    Won { job: i64 },
    /// Someone holds an unexpired lease (possibly this very process).
    Held { holder: String, job: Option<i64> },
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Takes the lease of `kind` for `holder` when it is free or expired, and records a new
/// running job in the same transaction. An expired lease's job is marked failed: its process
/// stopped without finishing it.
pub async fn claim(db: &Db, kind: JobKind, holder: &str, ttl: Duration, now: i64) -> Result<Claim> {
    let (_conn, tx) = db.write().await?;
    let mut rows = tx
        .query(
            "SELECT holder, job_id, expires_at FROM job_leases WHERE kind = ?1",
            [kind.as_str()],
        )
        .await?;
    let current = match rows.next().await? {
        Some(row) => Some((db::text(&row, 0)?, db::opt_int(&row, 1)?, db::int(&row, 2)?)),
        None => None,
    };
    drop(rows);
    if let Some((holder_now, job, expires)) = &current {
        if *expires > now {
            tx.rollback().await?;
            return Ok(Claim::Held {
                holder: holder_now.clone(),
                job: *job,
            });
        }
        if let Some(old) = job {
            tx.execute(
                "UPDATE jobs SET state = 'failed', finished_at = ?2,
                     error = 'the nxr process running it stopped (its lease ran out)'
                 WHERE id = ?1 AND state IN ('queued', 'running')",
                libsql::params![*old, time::now()],
            )
            .await?;
        }
    }
    let stamp = time::now();
    tx.execute(
        "INSERT INTO jobs (kind, state, progress, holder, created_at, started_at)
         VALUES (?1, 'running', 'starting', ?2, ?3, ?3)",
        libsql::params![kind.as_str(), holder, stamp],
    )
    .await?;
    let job = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO job_leases (kind, holder, job_id, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(kind) DO UPDATE SET holder = excluded.holder, job_id = excluded.job_id,
             expires_at = excluded.expires_at",
        libsql::params![kind.as_str(), holder, job, now + ttl.as_millis() as i64],
    )
    .await?;
    db::touch(&tx, "jobs").await?;
    tx.commit().await?;
    Ok(Claim::Won { job })
}

/// Extends `holder`'s lease of `kind`; false when it is no longer theirs (it expired and
/// another process took it), and the holder should stop.
pub async fn renew(db: &Db, kind: JobKind, holder: &str, ttl: Duration, now: i64) -> Result<bool> {
    let (_conn, tx) = db.write().await?;
    let n = tx
        .execute(
            "UPDATE job_leases SET expires_at = ?3 WHERE kind = ?1 AND holder = ?2",
            libsql::params![kind.as_str(), holder, now + ttl.as_millis() as i64],
        )
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

/// Gives the lease back (only `holder`'s own).
pub async fn release(db: &Db, kind: JobKind, holder: &str) -> Result<()> {
    let (_conn, tx) = db.write().await?;
    tx.execute(
        "DELETE FROM job_leases WHERE kind = ?1 AND holder = ?2",
        libsql::params![kind.as_str(), holder],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Reads one job of the registry.
pub async fn job(db: &Db, id: i64) -> Result<Option<Job>> {
    let conn = db.conn().await?;
    let mut rows = conn
        .query(
            "SELECT id, kind, state, progress, error, holder, created_at, started_at, finished_at
             FROM jobs WHERE id = ?1",
            [id],
        )
        .await?;
    let Some(row) = rows.next().await? else {
        return Ok(None);
    };
    Ok(Some(Job {
        id: db::int(&row, 0)?,
        kind: db::text(&row, 1)?,
        state: JobState::parse(&db::text(&row, 2)?),
        progress: db::text(&row, 3)?,
        error: db::opt_text(&row, 4)?,
        holder: db::text(&row, 5)?,
        created_at: db::text(&row, 6)?,
        started_at: db::opt_text(&row, 7)?,
        finished_at: db::opt_text(&row, 8)?,
    }))
}

async fn set_progress(db: &Db, id: i64, text: &str) -> Result<()> {
    let (_conn, tx) = db.write().await?;
    tx.execute(
        "UPDATE jobs SET progress = ?2 WHERE id = ?1",
        libsql::params![id, text],
    )
    .await?;
    db::touch(&tx, "jobs").await?;
    tx.commit().await?;
    Ok(())
}

async fn set_done(db: &Db, id: i64, outcome: &std::result::Result<String, String>) -> Result<()> {
    let (state, progress, error) = match outcome {
        Ok(text) => (JobState::Finished, text.as_str(), None),
        Err(e) => (JobState::Failed, "failed", Some(e.as_str())),
    };
    let (_conn, tx) = db.write().await?;
    tx.execute(
        "UPDATE jobs SET state = ?2, progress = ?3, error = ?4, finished_at = ?5 WHERE id = ?1",
        libsql::params![id, state.as_str(), progress, error, time::now()],
    )
    .await?;
    db::touch(&tx, "jobs").await?;
    tx.commit().await?;
    Ok(())
}

fn env_seconds(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0 && s.is_finite())
        .map(Duration::from_secs_f64)
        .unwrap_or(default)
}

/// The message a surface shows when a job of `kind` is already running somewhere.
pub fn busy_message(kind: JobKind, ours: bool, job: Option<i64>) -> String {
    let which = job.map(|j| format!(" (job {j})")).unwrap_or_default();
    if ours {
        format!("a {} is already running{which}", kind.noun())
    } else {
        format!(
            "a {} is already running in another nxr process{which}",
            kind.noun()
        )
    }
}

/// The background work of one process. Cheap to clone: clones share the event channel.
#[derive(Clone)]
pub struct Runtime {
    core: Core,
    holder: Arc<str>,
    lease: Duration,
    scan_timeout: Duration,
    events: broadcast::Sender<JobEvent>,
    handle: tokio::runtime::Handle,
}

impl Runtime {
    /// A runtime on the current tokio runtime (jobs are spawned there).
    pub fn new(core: Core) -> Result<Runtime> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| CoreError::usage("the runtime needs a tokio runtime"))?;
        let mut tag = [0u8; 4];
        getrandom::fill(&mut tag).map_err(|e| CoreError::Conflict(e.to_string()))?;
        let holder = format!(
            "pid {} ({:02x}{:02x}{:02x}{:02x})",
            std::process::id(),
            tag[0],
            tag[1],
            tag[2],
            tag[3]
        );
        let (events, _) = broadcast::channel(64);
        Ok(Runtime {
            core,
            holder: holder.into(),
            lease: env_seconds("NXR_LEASE_SECONDS", LEASE),
            scan_timeout: env_seconds("NXR_SCAN_TIMEOUT_SECONDS", SCAN_TIMEOUT),
            events,
            handle,
        })
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    /// This process's name in lease rows and job rows.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Events of every job this runtime runs, for an input loop to apply.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.events.subscribe()
    }

    /// Starts a job of `kind` on a task and returns its id at once; a job of that kind
    /// already running here or in another process is a conflict that says so.
    pub async fn start(&self, kind: JobKind) -> Result<i64> {
        match claim(&self.core.db, kind, &self.holder, self.lease, now_ms()).await? {
            Claim::Won { job } => {
                let rt = self.clone();
                self.handle.spawn(async move { rt.run(kind, job).await });
                Ok(job)
            }
            Claim::Held { holder, job } => Err(CoreError::Conflict(busy_message(
                kind,
                holder == *self.holder,
                job,
            ))),
        }
    }

    fn send(&self, event: JobEvent) {
        // No subscriber (a daemon, `nxr serve`) is fine: the registry has the news too.
        let _ = self.events.send(event);
    }

    async fn run(self, kind: JobKind, job: i64) {
        let renewer = {
            let rt = self.clone();
            self.handle.spawn(async move {
                loop {
                    tokio::time::sleep(rt.lease / 3).await;
                    match renew(&rt.core.db, kind, &rt.holder, rt.lease, now_ms()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(job, "lost the lease of a running job");
                            break;
                        }
                        Err(e) => tracing::warn!(job, error = %e, "cannot renew a lease"),
                    }
                }
            })
        };
        self.send(JobEvent::ScanStarted { job });
        let outcome = match kind {
            JobKind::Scan => self.scan(job).await,
        };
        renewer.abort();
        if let Err(e) = set_done(&self.core.db, job, &outcome).await {
            tracing::warn!(job, error = %e, "cannot record a job's end");
        }
        if let Err(e) = release(&self.core.db, kind, &self.holder).await {
            tracing::warn!(job, error = %e, "cannot release a lease");
        }
        match outcome {
            Ok(text) => {
                tracing::info!(job, %text, "job finished");
                self.send(JobEvent::ScanFinished { job, text });
            }
            Err(error) => {
                tracing::warn!(job, %error, "job failed");
                self.send(JobEvent::JobFailed { job, kind, error });
            }
        }
    }

    async fn scan(&self, job: i64) -> std::result::Result<String, String> {
        let text = format!(
            "fetching {}/models (up to {} s)",
            self.core.endpoints.openrouter,
            self.scan_timeout.as_secs()
        );
        if let Err(e) = set_progress(&self.core.db, job, &text).await {
            tracing::warn!(job, error = %e, "cannot record progress");
        }
        self.send(JobEvent::ScanProgress { job, text });
        match action::scan(&self.core, None, self.scan_timeout).await {
            Ok(r) => Ok(format!(
                "catalog stored: {} models, {} free",
                r.catalog.model_count, r.catalog.free_count
            )),
            Err(e) => Err(format!(
                "catalog scan failed: {e} (the last good catalog stays)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open_local(&dir.path().join("hermes_tracking.db"))
            .await
            .expect("open");
        (dir, db)
    }

    const TTL: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn a_free_lease_is_won_and_records_a_running_job() {
        let (_d, db) = db().await;
        let Claim::Won { job } = claim(&db, JobKind::Scan, "a", TTL, 1_000)
            .await
            .expect("claim")
        else {
            panic!("a free lease was not won");
        };
        let j = super::job(&db, job).await.expect("read").expect("row");
        assert_eq!(j.state, JobState::Running);
        assert_eq!(j.holder, "a");
        assert_eq!(j.kind, "scan");
    }

    #[tokio::test]
    async fn a_held_lease_is_refused_to_everyone_including_its_holder_until_it_expires() {
        let (_d, db) = db().await;
        let Claim::Won { job } = claim(&db, JobKind::Scan, "a", TTL, 1_000).await.expect("a")
        else {
            panic!("not won");
        };
        for who in ["b", "a"] {
            assert_eq!(
                claim(&db, JobKind::Scan, who, TTL, 10_999)
                    .await
                    .expect("claim"),
                Claim::Held {
                    holder: "a".into(),
                    job: Some(job)
                },
                "{who} took a lease that had 1 ms left"
            );
        }
    }

    #[tokio::test]
    async fn renewing_keeps_the_lease_past_its_first_expiry() {
        let (_d, db) = db().await;
        claim(&db, JobKind::Scan, "a", TTL, 1_000).await.expect("a");
        assert!(
            renew(&db, JobKind::Scan, "a", TTL, 9_000)
                .await
                .expect("renew")
        );
        assert!(matches!(
            claim(&db, JobKind::Scan, "b", TTL, 15_000)
                .await
                .expect("b"),
            Claim::Held { .. }
        ));
        // Someone else cannot renew a lease that is not theirs.
        assert!(
            !renew(&db, JobKind::Scan, "b", TTL, 15_000)
                .await
                .expect("renew b")
        );
    }

    #[tokio::test]
    async fn an_expired_lease_is_stolen_and_its_job_marked_failed() {
        let (_d, db) = db().await;
        let Claim::Won { job: old } = claim(&db, JobKind::Scan, "a", TTL, 1_000).await.expect("a")
        else {
            panic!("not won");
        };
        let Claim::Won { job } = claim(&db, JobKind::Scan, "b", TTL, 11_000)
            .await
            .expect("b")
        else {
            panic!("an expired lease was not taken");
        };
        assert_ne!(job, old);
        let dead = super::job(&db, old).await.expect("read").expect("row");
        assert_eq!(dead.state, JobState::Failed);
        assert!(dead.error.unwrap_or_default().contains("lease ran out"));
        // The old holder has lost it: its renewal says so and it must stop.
        assert!(
            !renew(&db, JobKind::Scan, "a", TTL, 11_500)
                .await
                .expect("renew")
        );
    }

    #[tokio::test]
    async fn a_released_lease_is_free_at_once_but_only_its_holder_can_release_it() {
        let (_d, db) = db().await;
        claim(&db, JobKind::Scan, "a", TTL, 1_000).await.expect("a");
        release(&db, JobKind::Scan, "b").await.expect("release b");
        assert!(matches!(
            claim(&db, JobKind::Scan, "c", TTL, 2_000).await.expect("c"),
            Claim::Held { .. }
        ));
        release(&db, JobKind::Scan, "a").await.expect("release a");
        assert!(matches!(
            claim(&db, JobKind::Scan, "c", TTL, 2_000).await.expect("c"),
            Claim::Won { .. }
        ));
    }

    #[tokio::test]
    async fn claims_racing_from_many_tasks_are_won_once() {
        let (_d, db) = db().await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                claim(&db, JobKind::Scan, &format!("h{i}"), TTL, 1_000)
                    .await
                    .expect("claim")
            }));
        }
        let mut won = 0;
        for t in tasks {
            if matches!(t.await.expect("task"), Claim::Won { .. }) {
                won += 1;
            }
        }
        assert_eq!(won, 1);
    }
}
