//! The libSQL database: opening (a local file or a libSQL server), migrations, and the
//! write discipline every writer follows (`BEGIN IMMEDIATE` + a busy timeout on every
//! connection), so several nxr processes can write at once without `database is locked`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use libsql::{Connection, Database, Transaction, TransactionBehavior};

use super::error::{CoreError, Result};

/// Numbered migrations, embedded in the binary, applied in order, one transaction each.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (2, "v14", include_str!("../../migrations/0002_v14.sql")),
    (
        3,
        "runtime",
        include_str!("../../migrations/0003_runtime.sql"),
    ),
    (
        4,
        "scanner",
        include_str!("../../migrations/0004_scanner.sql"),
    ),
    (5, "usage", include_str!("../../migrations/0005_usage.sql")),
    (
        6,
        "gateway",
        include_str!("../../migrations/0006_gateway.sql"),
    ),
    (
        7,
        "usage_daily",
        include_str!("../../migrations/0007_usage_daily.sql"),
    ),
    (8, "holds", include_str!("../../migrations/0008_holds.sql")),
];

pub const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

pub fn schema_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

#[derive(Clone)]
pub struct Db {
    db: std::sync::Arc<Database>,
    /// Where it lives, for messages: a path or a URL (never the token).
    pub location: String,
    local: bool,
}

impl Db {
    /// Opens the local database file, creating its folder, and brings the schema up to date.
    pub async fn open_local(path: &Path) -> Result<Db> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
        }
        let db = libsql::Builder::new_local(path)
            .build()
            .await
            .map_err(|e| CoreError::Db(format!("cannot open {}: {e}", path.display())))?;
        let db = Db {
            db: std::sync::Arc::new(db),
            location: path.display().to_string(),
            local: true,
        };
        db.migrate().await?;
        Ok(db)
    }

    /// Opens a libSQL server (sqld / Turso) by URL and token: `http://` plain, `https://`
    /// (or `libsql://`, its alias) over rustls with the bundled web PKI roots.
    #[cfg(feature = "remote")]
    pub async fn open_remote(url: &str, token: &str) -> Result<Db> {
        let scheme = url.split_once("://").map(|(s, _)| s);
        if !matches!(scheme, Some("http" | "https" | "libsql")) {
            return Err(CoreError::usage(format!(
                "NXR_DB_URL={url} is not a libSQL server URL: use http://HOST:PORT (sqld), https://HOST or libsql://NAME.turso.io"
            )));
        }
        // libsql's own connector panics unless its `tls` feature (a second rustls and hyper
        // stack) is compiled in; ours reuses the rustls that reqwest already brings.
        let db = libsql::Builder::new_remote(url.to_string(), token.to_string())
            .connector(remote::Connector::new()?)
            .build()
            .await
            .map_err(|e| CoreError::Db(format!("cannot open {url}: {e}")))?;
        let db = Db {
            db: std::sync::Arc::new(db),
            location: url.to_string(),
            local: false,
        };
        db.migrate().await?;
        Ok(db)
    }

    #[cfg(not(feature = "remote"))]
    pub async fn open_remote(url: &str, _token: &str) -> Result<Db> {
        Err(CoreError::usage(format!(
            "NXR_DB_URL={url} needs a build with the `remote` feature"
        )))
    }

    /// A fresh connection with the busy timeout set. Cheap for a local file.
    pub async fn conn(&self) -> Result<Connection> {
        let conn = self.db.connect()?;
        if self.local {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            // PRAGMAs return rows; `execute` would report an error although it applied.
            conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                .await?;
        }
        Ok(conn)
    }

    /// A write transaction that takes the write lock up front (`BEGIN IMMEDIATE`): a
    /// deferred one that reads first and writes later can fail with `database is locked`
    /// under concurrency whatever the timeout.
    pub async fn write(&self) -> Result<(Connection, Transaction)> {
        let conn = self.conn().await?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?;
        Ok((conn, tx))
    }

    async fn migrate(&self) -> Result<()> {
        let conn = self.conn().await?;
        if self.local {
            // Turning a new file to WAL takes an exclusive lock that SQLite does not wait
            // for (no busy handler): several processes opening a fresh database at once
            // retry until one of them has switched it.
            let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
            loop {
                match wal(&conn).await {
                    Ok(()) => break,
                    Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // Fast path: nothing to do on a current database (one read, no write lock).
        if let Ok(v) = current_version(&conn).await {
            if v == schema_version() {
                return Ok(());
            }
            if v > schema_version() {
                return Err(self.newer(v));
            }
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS nxr_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TEXT NOT NULL)",
        )
        .await?;
        let have = current_version(&tx).await?;
        if have > schema_version() {
            tx.rollback().await?;
            return Err(self.newer(have));
        }
        for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > have) {
            tx.execute_batch(sql)
                .await
                .map_err(|e| CoreError::Db(format!("migration {version:04}_{name} failed: {e}")))?;
            tx.execute(
                "INSERT INTO nxr_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                libsql::params![*version, *name, super::time::now()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn newer(&self, found: i64) -> CoreError {
        CoreError::NewerSchema {
            path: self.location.clone(),
            found,
            known: schema_version(),
        }
    }

    pub fn local_path(&self) -> Option<PathBuf> {
        self.local.then(|| PathBuf::from(&self.location))
    }
}

#[cfg(feature = "remote")]
mod remote {
    //! The HTTP(S) connector libsql's remote client sends its Hrana requests through.

    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::net::TcpStream;
    use tokio_rustls::client::TlsStream;
    use tokio_rustls::{TlsConnector, rustls};

    use crate::core::error::{CoreError, Result};

    /// A server that does not accept (or finish the TLS handshake) within this long is
    /// reported as unreachable instead of hanging the command.
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    #[derive(Clone)]
    pub struct Connector {
        tls: TlsConnector,
    }

    impl Connector {
        pub fn new() -> Result<Connector> {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| CoreError::Db(format!("TLS setup failed: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Connector {
                tls: TlsConnector::from(Arc::new(config)),
            })
        }
    }

    impl tower_service::Service<http02::Uri> for Connector {
        type Response = Stream;
        type Error = io::Error;
        type Future = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, uri: http02::Uri) -> Self::Future {
            let tls = self.tls.clone();
            Box::pin(async move {
                tokio::time::timeout(CONNECT_TIMEOUT, connect(tls, uri))
                    .await
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
                        )
                    })?
            })
        }
    }

    async fn connect(tls: TlsConnector, uri: http02::Uri) -> io::Result<Stream> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unsupported URL scheme {other:?}"),
                ));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the URL has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        if !https {
            return Ok(Stream::Plain(tcp));
        }
        let name = rustls::pki_types::ServerName::try_from(host)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Stream::Tls(Box::new(tls.connect(name, tcp).await?)))
    }

    pub enum Stream {
        Plain(TcpStream),
        Tls(Box<TlsStream<TcpStream>>),
    }

    impl hyper014::client::connect::Connection for Stream {
        fn connected(&self) -> hyper014::client::connect::Connected {
            hyper014::client::connect::Connected::new()
        }
    }

    impl AsyncRead for Stream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            match self.get_mut() {
                Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
                Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
            }
        }
    }

    impl AsyncWrite for Stream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            match self.get_mut() {
                Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
                Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
            }
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match self.get_mut() {
                Stream::Plain(s) => Pin::new(s).poll_flush(cx),
                Stream::Tls(s) => Pin::new(s).poll_flush(cx),
            }
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match self.get_mut() {
                Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
                Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
            }
        }
    }
}

async fn wal(conn: &Connection) -> std::result::Result<(), libsql::Error> {
    let mut rows = conn.query("PRAGMA journal_mode = WAL", ()).await?;
    while rows.next().await?.is_some() {}
    Ok(())
}

/// `SQLITE_BUSY` or `SQLITE_LOCKED` (any extended code).
fn is_busy(e: &libsql::Error) -> bool {
    matches!(e, libsql::Error::SqliteFailure(code, _) if matches!(code & 0xff, 5 | 6))
}

async fn current_version(conn: &Connection) -> Result<i64> {
    let mut rows = conn
        .query("SELECT COALESCE(MAX(version), 0) FROM nxr_migrations", ())
        .await?;
    Ok(match rows.next().await? {
        Some(row) => int(&row, 0)?,
        None => 0,
    })
}

/// Records that `what` changed, inside the caller's transaction, so every open surface
/// (in this process or another) can notice and refresh.
pub async fn touch(tx: &Connection, what: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO changes (what, changed_at) VALUES (?1, ?2)",
        libsql::params![what, super::time::now()],
    )
    .await?;
    Ok(())
}

/// The newest change id: surfaces compare it between frames.
pub async fn change_mark(conn: &Connection) -> Result<i64> {
    let mut rows = conn
        .query("SELECT COALESCE(MAX(id), 0) FROM changes", ())
        .await?;
    Ok(match rows.next().await? {
        Some(row) => int(&row, 0)?,
        None => 0,
    })
}

/// Reads the first column of the first row, if any, as an integer.
pub async fn scalar_i64(
    conn: &Connection,
    sql: &str,
    params: impl libsql::params::IntoParams,
) -> Result<Option<i64>> {
    let mut rows = conn.query(sql, params).await?;
    match rows.next().await? {
        Some(row) => Ok(opt_int(&row, 0)?),
        None => Ok(None),
    }
}

// Typed column readers that never panic on an unexpected storage class (libsql's own
// `Row::get` does), so a hand-edited database gives an error or a default, not a crash.

pub fn text(row: &libsql::Row, idx: i32) -> Result<String> {
    Ok(opt_text(row, idx)?.unwrap_or_default())
}

pub fn opt_text(row: &libsql::Row, idx: i32) -> Result<Option<String>> {
    Ok(match row.get_value(idx)? {
        libsql::Value::Null => None,
        libsql::Value::Text(s) => Some(s),
        libsql::Value::Integer(i) => Some(i.to_string()),
        libsql::Value::Real(f) => Some(f.to_string()),
        libsql::Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
    })
}

pub fn int(row: &libsql::Row, idx: i32) -> Result<i64> {
    Ok(opt_int(row, idx)?.unwrap_or(0))
}

pub fn opt_int(row: &libsql::Row, idx: i32) -> Result<Option<i64>> {
    Ok(match row.get_value(idx)? {
        libsql::Value::Null => None,
        libsql::Value::Integer(i) => Some(i),
        libsql::Value::Real(f) => Some(f as i64),
        libsql::Value::Text(s) => s.trim().parse().ok(),
        libsql::Value::Blob(_) => None,
    })
}

pub fn opt_real(row: &libsql::Row, idx: i32) -> Result<Option<f64>> {
    Ok(match row.get_value(idx)? {
        libsql::Value::Null => None,
        libsql::Value::Integer(i) => Some(i as f64),
        libsql::Value::Real(f) => Some(f),
        libsql::Value::Text(s) => s.trim().parse().ok(),
        libsql::Value::Blob(_) => None,
    })
}

pub fn real(row: &libsql::Row, idx: i32) -> Result<f64> {
    Ok(opt_real(row, idx)?.unwrap_or(0.0))
}
