//! A small libSQL server for the remote-mode tests: Hrana 3 over HTTP, the protocol libsql's
//! remote client (and sqld / Turso) speak, backed by a real local libSQL database file.
//!
//! What the client sends (captured in the request log): `POST /v3/pipeline` with `execute`,
//! `batch`, `describe`, `get_autocommit` and `close` requests carrying a baton from one
//! request to the next, and `POST /v3/cursor` (one batch whose rows come back as
//! newline-separated JSON entries) for every query. A baton names a stream: one SQLite
//! connection on the server, so a transaction lives across requests exactly as on sqld.
//!
//! The server runs in a child process (this test binary re-run with one test selected) so a
//! test can `kill -9` it mid-write like a crashed server.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libsql_hrana::proto::{
    Batch, BatchCond, BatchResult, Col, CursorEntry, CursorRespBody, DescribeCol, DescribeParam,
    DescribeResult, Error as HranaError, PipelineReqBody, PipelineRespBody, Row, Stmt, StmtResult,
    StreamRequest, StreamResponse, StreamResult, Value,
};

/// The environment variables that turn the child test into the server.
const DB_VAR: &str = "NXR_TEST_HRANA_DB";
const TOKEN_VAR: &str = "NXR_TEST_HRANA_TOKEN";
const PORT_FILE_VAR: &str = "NXR_TEST_HRANA_PORT_FILE";
const LOG_VAR: &str = "NXR_TEST_HRANA_LOG";

/// A stream nobody used for this long is dropped (its transaction rolled back), as sqld
/// expires abandoned streams, so a client killed mid-transaction cannot hold the lock.
const STREAM_IDLE: Duration = Duration::from_secs(15);

/// A running server process.
pub struct HranaServer {
    child: Child,
    pub url: String,
    pub token: String,
    pub db_path: PathBuf,
    pub log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl HranaServer {
    /// Starts the server on a fresh database: this test binary re-run with only `child_test`
    /// selected, which calls [`child_main`].
    pub fn start(child_test: &str, token: &str) -> HranaServer {
        let dir = tempfile::Builder::new()
            .prefix("nxr-test-hrana-")
            .tempdir()
            .expect("tempdir");
        let db_path = dir.path().join("server.db");
        let port_file = dir.path().join("port");
        let log_path = dir.path().join("requests.log");
        let child = Command::new(std::env::current_exe().expect("test binary"))
            .args([child_test, "--exact", "--nocapture", "--test-threads=1"])
            .env(DB_VAR, &db_path)
            .env(TOKEN_VAR, token)
            .env(PORT_FILE_VAR, &port_file)
            .env(LOG_VAR, &log_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the hrana server");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file)
                && let Ok(p) = p.trim().parse::<u16>()
            {
                break p;
            }
            assert!(Instant::now() < deadline, "the hrana server did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        HranaServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
            token: token.to_string(),
            db_path,
            log_path,
            _dir: dir,
        }
    }

    /// `kill -9`: the server dies with whatever it was doing half done.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// One line per request the server saw: `PATH kind kind ...` (see the module comment).
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for HranaServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The body of the child test: serves until killed when started by [`HranaServer::start`],
/// returns at once otherwise (when the test suite runs it as an ordinary test).
pub fn child_main() {
    let Some(db) = std::env::var_os(DB_VAR) else {
        return;
    };
    let token = std::env::var(TOKEN_VAR).unwrap_or_default();
    let port_file = PathBuf::from(std::env::var_os(PORT_FILE_VAR).expect("port file"));
    let log = std::env::var_os(LOG_VAR).map(PathBuf::from);
    serve(Path::new(&db), &token, &port_file, log);
}

struct StreamState {
    conn: libsql::Connection,
    sqls: HashMap<i32, String>,
    used: Instant,
}

struct Server {
    db: libsql::Database,
    token: String,
    streams: Mutex<HashMap<String, StreamState>>,
    next_baton: Mutex<u64>,
    log: Option<Mutex<std::fs::File>>,
    rt: tokio::runtime::Runtime,
}

fn serve(db_path: &Path, token: &str, port_file: &Path, log: Option<PathBuf>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let db = rt
        .block_on(libsql::Builder::new_local(db_path).build())
        .expect("open the server's database");
    rt.block_on(async {
        let conn = db.connect().expect("connect");
        let mut rows = conn
            .query("PRAGMA journal_mode = WAL", ())
            .await
            .expect("wal");
        while rows.next().await.expect("wal row").is_some() {}
    });
    let http = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let port = http.server_addr().to_ip().expect("ip").port();
    let server = Arc::new(Server {
        db,
        token: token.to_string(),
        streams: Mutex::new(HashMap::new()),
        next_baton: Mutex::new(0),
        log: log.map(|p| {
            Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .expect("log"),
            )
        }),
        rt,
    });
    // Written after binding, renamed into place so the parent never reads half a number.
    let tmp = port_file.with_extension("tmp");
    std::fs::write(&tmp, port.to_string()).expect("port file");
    std::fs::rename(&tmp, port_file).expect("port file");
    for request in http.incoming_requests() {
        let server = server.clone();
        // One thread per request: a stream waiting for the write lock must not stall the
        // others (the busy timeout below does the waiting, as in nxr's own local mode).
        std::thread::spawn(move || server.handle(request));
    }
}

impl Server {
    fn handle(&self, mut request: tiny_http::Request) {
        let path = request.url().split('?').next().unwrap_or("").to_string();
        let authorized = self.token.is_empty()
            || request.headers().iter().any(|h| {
                h.field.equiv("Authorization")
                    && h.value.as_str() == format!("Bearer {}", self.token)
            });
        let mut body = String::new();
        let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
        let (status, text) = if !authorized {
            self.record(&format!("{path} unauthorized"));
            (
                401,
                r#"{"error":"Unauthorized: the auth token is not valid"}"#.to_string(),
            )
        } else if request.method() != &tiny_http::Method::Post {
            (405, r#"{"error":"use POST"}"#.to_string())
        } else {
            match path.as_str() {
                "/v3/pipeline" => self.pipeline(&body),
                "/v3/cursor" => self.cursor(&body),
                other => {
                    self.record(&format!("{other} unknown"));
                    (404, r#"{"error":"not found"}"#.to_string())
                }
            }
        };
        let response = tiny_http::Response::from_string(text)
            .with_status_code(status)
            .with_header(
                tiny_http::Header::from_bytes("Content-Type", "application/json").expect("header"),
            );
        let _ = request.respond(response);
    }

    fn record(&self, line: &str) {
        if let Some(log) = &self.log
            && let Ok(mut f) = log.lock()
        {
            let _ = writeln!(f, "{line}");
        }
    }

    /// Takes the stream a baton names (or opens a new one for no baton).
    fn take_stream(&self, baton: Option<&str>) -> Result<StreamState, (u16, String)> {
        let mut streams = self.streams.lock().expect("streams");
        streams.retain(|_, s| s.used.elapsed() < STREAM_IDLE);
        match baton {
            Some(b) => streams
                .remove(b)
                .ok_or_else(|| (400, r#"{"error":"unknown or expired baton"}"#.to_string())),
            None => {
                let conn = self.db.connect().map_err(|e| (500, json_error(&e)))?;
                conn.busy_timeout(Duration::from_secs(15))
                    .map_err(|e| (500, json_error(&e)))?;
                Ok(StreamState {
                    conn,
                    sqls: HashMap::new(),
                    used: Instant::now(),
                })
            }
        }
    }

    /// Keeps an open stream under a new baton (each response hands out a fresh one).
    fn keep_stream(&self, mut stream: StreamState) -> String {
        let baton = {
            let mut n = self.next_baton.lock().expect("baton");
            *n += 1;
            format!("baton-{}-{}", std::process::id(), *n)
        };
        stream.used = Instant::now();
        self.streams
            .lock()
            .expect("streams")
            .insert(baton.clone(), stream);
        baton
    }

    fn pipeline(&self, body: &str) -> (u16, String) {
        let req: PipelineReqBody = match serde_json::from_str(body) {
            Ok(r) => r,
            Err(e) => return (400, format!(r#"{{"error":{:?}}}"#, e.to_string())),
        };
        let kinds: Vec<&str> = req.requests.iter().map(kind).collect();
        self.record(&format!(
            "/v3/pipeline baton={} {}",
            req.baton.is_some(),
            kinds.join(" ")
        ));
        let mut stream = match self.take_stream(req.baton.as_deref()) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let mut closed = false;
        let mut results = Vec::new();
        for r in &req.requests {
            let result = self.rt.block_on(self.stream_request(&mut stream, r));
            if matches!(r, StreamRequest::Close(_)) {
                closed = true;
            }
            results.push(match result {
                Ok(response) => StreamResult::Ok { response },
                Err(error) => StreamResult::Error { error },
            });
        }
        let baton = (!closed).then(|| self.keep_stream(stream));
        let resp = PipelineRespBody {
            baton,
            base_url: None,
            results,
        };
        (200, serde_json::to_string(&resp).expect("json"))
    }

    fn cursor(&self, body: &str) -> (u16, String) {
        #[derive(serde::Deserialize)]
        struct CursorReq {
            baton: Option<String>,
            batch: Batch,
        }
        let req: CursorReq = match serde_json::from_str(body) {
            Ok(r) => r,
            Err(e) => return (400, format!(r#"{{"error":{:?}}}"#, e.to_string())),
        };
        self.record(&format!(
            "/v3/cursor baton={} steps={}",
            req.baton.is_some(),
            req.batch.steps.len()
        ));
        let mut stream = match self.take_stream(req.baton.as_deref()) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let result = self.rt.block_on(run_batch(&mut stream, &req.batch));
        let baton = Some(self.keep_stream(stream));
        let mut out = serde_json::to_string(&CursorRespBody {
            baton,
            base_url: None,
        })
        .expect("json");
        out.push('\n');
        let mut entry = |e: CursorEntry| {
            out.push_str(&serde_json::to_string(&e).expect("json"));
            out.push('\n');
        };
        for (step, (res, err)) in result
            .step_results
            .into_iter()
            .zip(result.step_errors)
            .enumerate()
        {
            let step = step as u32;
            if let Some(error) = err {
                entry(CursorEntry::StepError(
                    libsql_hrana::proto::StepErrorEntry { step, error },
                ));
            } else if let Some(r) = res {
                entry(CursorEntry::StepBegin(
                    libsql_hrana::proto::StepBeginEntry { step, cols: r.cols },
                ));
                for row in r.rows {
                    entry(CursorEntry::Row { row });
                }
                entry(CursorEntry::StepEnd(libsql_hrana::proto::StepEndEntry {
                    affected_row_count: r.affected_row_count,
                    last_insert_rowid: r.last_insert_rowid,
                }));
            }
        }
        (200, out)
    }

    async fn stream_request(
        &self,
        stream: &mut StreamState,
        req: &StreamRequest,
    ) -> Result<StreamResponse, HranaError> {
        Ok(match req {
            StreamRequest::None => return Err(error("SQL_PARSE_ERROR", "empty request")),
            StreamRequest::Close(_) => {
                StreamResponse::Close(libsql_hrana::proto::CloseStreamResp {})
            }
            StreamRequest::Execute(x) => {
                StreamResponse::Execute(libsql_hrana::proto::ExecuteStreamResp {
                    result: run_stmt(stream, &x.stmt).await?,
                })
            }
            StreamRequest::Batch(x) => {
                StreamResponse::Batch(libsql_hrana::proto::BatchStreamResp {
                    result: run_batch(stream, &x.batch).await,
                })
            }
            StreamRequest::Sequence(x) => {
                let sql = sql_of(stream, x.sql.as_ref(), x.sql_id)?;
                stream.conn.execute_batch(&sql).await.map_err(sql_error)?;
                StreamResponse::Sequence(libsql_hrana::proto::SequenceStreamResp {})
            }
            StreamRequest::Describe(x) => {
                let sql = sql_of(stream, x.sql.as_ref(), x.sql_id)?;
                let stmt = stream.conn.prepare(&sql).await.map_err(sql_error)?;
                let params = (1..=stmt.parameter_count())
                    .map(|i| DescribeParam {
                        name: stmt.parameter_name(i as i32).map(str::to_string),
                    })
                    .collect();
                let cols: Vec<DescribeCol> = stmt
                    .columns()
                    .iter()
                    .map(|c| DescribeCol {
                        name: c.name().to_string(),
                        decltype: c.decl_type().map(str::to_string),
                    })
                    .collect();
                let is_readonly =
                    !cols.is_empty() && sql.trim_start().to_ascii_lowercase().starts_with("select");
                StreamResponse::Describe(libsql_hrana::proto::DescribeStreamResp {
                    result: DescribeResult {
                        params,
                        cols,
                        is_explain: false,
                        is_readonly,
                    },
                })
            }
            StreamRequest::StoreSql(x) => {
                stream.sqls.insert(x.sql_id, x.sql.clone());
                StreamResponse::StoreSql(libsql_hrana::proto::StoreSqlStreamResp {})
            }
            StreamRequest::CloseSql(x) => {
                stream.sqls.remove(&x.sql_id);
                StreamResponse::CloseSql(libsql_hrana::proto::CloseSqlStreamResp {})
            }
            StreamRequest::GetAutocommit(_) => {
                StreamResponse::GetAutocommit(libsql_hrana::proto::GetAutocommitStreamResp {
                    is_autocommit: stream.conn.is_autocommit(),
                })
            }
        })
    }
}

fn kind(r: &StreamRequest) -> &'static str {
    match r {
        StreamRequest::None => "none",
        StreamRequest::Close(_) => "close",
        StreamRequest::Execute(_) => "execute",
        StreamRequest::Batch(_) => "batch",
        StreamRequest::Sequence(_) => "sequence",
        StreamRequest::Describe(_) => "describe",
        StreamRequest::StoreSql(_) => "store_sql",
        StreamRequest::CloseSql(_) => "close_sql",
        StreamRequest::GetAutocommit(_) => "get_autocommit",
    }
}

fn error(code: &str, message: &str) -> HranaError {
    HranaError {
        message: message.to_string(),
        code: code.to_string(),
    }
}

fn sql_error(e: libsql::Error) -> HranaError {
    let code = match &e {
        libsql::Error::SqliteFailure(code, _) => match code & 0xff {
            5 => "SQLITE_BUSY",
            6 => "SQLITE_LOCKED",
            19 => "SQLITE_CONSTRAINT",
            _ => "SQLITE_ERROR",
        },
        _ => "SQLITE_ERROR",
    };
    error(code, &e.to_string())
}

fn json_error(e: &libsql::Error) -> String {
    serde_json::json!({ "error": e.to_string() }).to_string()
}

fn sql_of(
    stream: &StreamState,
    sql: Option<&String>,
    sql_id: Option<i32>,
) -> Result<String, HranaError> {
    match (sql, sql_id) {
        (Some(s), _) => Ok(s.clone()),
        (None, Some(id)) => stream
            .sqls
            .get(&id)
            .cloned()
            .ok_or_else(|| error("SQL_NOT_FOUND", "no SQL stored under that id")),
        (None, None) => Err(error("SQL_NO_STATEMENT", "no SQL given")),
    }
}

fn to_libsql(v: &Value) -> libsql::Value {
    match v {
        Value::None | Value::Null => libsql::Value::Null,
        Value::Integer { value } => libsql::Value::Integer(*value),
        Value::Float { value } => libsql::Value::Real(*value),
        Value::Text { value } => libsql::Value::Text(value.to_string()),
        Value::Blob { value } => libsql::Value::Blob(value.to_vec()),
    }
}

fn to_hrana(v: libsql::Value) -> Value {
    match v {
        libsql::Value::Null => Value::Null,
        libsql::Value::Integer(value) => Value::Integer { value },
        libsql::Value::Real(value) => Value::Float { value },
        libsql::Value::Text(s) => Value::Text {
            value: Arc::from(s.as_str()),
        },
        libsql::Value::Blob(b) => Value::Blob { value: b.into() },
    }
}

async fn run_stmt(stream: &mut StreamState, stmt: &Stmt) -> Result<StmtResult, HranaError> {
    let sql = sql_of(stream, stmt.sql.as_ref(), stmt.sql_id)?;
    let params = if stmt.named_args.is_empty() {
        libsql::params::Params::Positional(stmt.args.iter().map(to_libsql).collect())
    } else {
        libsql::params::Params::Named(
            stmt.named_args
                .iter()
                .map(|a| (a.name.clone(), to_libsql(&a.value)))
                .collect(),
        )
    };
    let conn = &stream.conn;
    let prepared = conn.prepare(&sql).await.map_err(sql_error)?;
    let cols: Vec<Col> = prepared
        .columns()
        .iter()
        .map(|c| Col {
            name: Some(c.name().to_string()),
            decltype: c.decl_type().map(str::to_string),
        })
        .collect();
    let mut rows_out = Vec::new();
    if cols.is_empty() {
        prepared.execute(params).await.map_err(sql_error)?;
    } else {
        let mut rows = prepared.query(params).await.map_err(sql_error)?;
        while let Some(row) = rows.next().await.map_err(sql_error)? {
            let values = (0..cols.len() as i32)
                .map(|i| row.get_value(i).map(to_hrana))
                .collect::<Result<Vec<_>, _>>()
                .map_err(sql_error)?;
            rows_out.push(Row { values });
        }
    }
    Ok(StmtResult {
        cols,
        rows: rows_out,
        affected_row_count: conn.changes(),
        last_insert_rowid: Some(conn.last_insert_rowid()),
        replication_index: None,
        rows_read: 0,
        rows_written: 0,
        query_duration_ms: 0.0,
    })
}

async fn run_batch(stream: &mut StreamState, batch: &Batch) -> BatchResult {
    let mut results: Vec<Option<StmtResult>> = Vec::new();
    let mut errors: Vec<Option<HranaError>> = Vec::new();
    for step in &batch.steps {
        let go = step
            .condition
            .as_ref()
            .is_none_or(|c| holds(c, &results, &errors, &stream.conn));
        if !go {
            results.push(None);
            errors.push(None);
            continue;
        }
        match run_stmt(stream, &step.stmt).await {
            Ok(r) => {
                results.push(Some(r));
                errors.push(None);
            }
            Err(e) => {
                results.push(None);
                errors.push(Some(e));
            }
        }
    }
    BatchResult {
        step_results: results,
        step_errors: errors,
        replication_index: None,
    }
}

fn holds(
    c: &BatchCond,
    results: &[Option<StmtResult>],
    errors: &[Option<HranaError>],
    conn: &libsql::Connection,
) -> bool {
    match c {
        BatchCond::None => true,
        BatchCond::Ok { step } => results.get(*step as usize).is_some_and(Option::is_some),
        BatchCond::Error { step } => errors.get(*step as usize).is_some_and(Option::is_some),
        BatchCond::Not { cond } => !holds(cond, results, errors, conn),
        BatchCond::And(l) => l.conds.iter().all(|c| holds(c, results, errors, conn)),
        BatchCond::Or(l) => l.conds.iter().any(|c| holds(c, results, errors, conn)),
        BatchCond::IsAutocommit {} => conn.is_autocommit(),
    }
}
