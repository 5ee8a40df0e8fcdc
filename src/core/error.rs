//! One error type for everything `core` does. Surfaces turn it into a banner, an HTTP status
//! or an exit code; none of them panics on it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The user asked for something that cannot be: an unknown role, a bad name, a duplicate.
    /// The CLI exits 2, the web answers 400.
    #[error("{0}")]
    Usage(String),

    #[error("{what} not found: {name}")]
    NotFound { what: &'static str, name: String },

    #[error("catalog rejected: {0}")]
    Catalog(String),

    #[error("database: {0}")]
    Db(String),

    #[error(
        "this database ({path}) was written by a newer nxr (schema version {found}, this nxr knows up to {known}); upgrade nxr or point NXR_HOME elsewhere"
    )]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Yaml { path: PathBuf, message: String },

    #[error("{0}")]
    Network(String),

    #[error("{0}")]
    Conflict(String),
}

impl CoreError {
    pub fn usage(msg: impl Into<String>) -> Self {
        CoreError::Usage(msg.into())
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoreError::Io {
            path: path.into(),
            source,
        }
    }

    /// True for mistakes in what the user asked (exit code 2, HTTP 400).
    pub fn is_usage(&self) -> bool {
        matches!(self, CoreError::Usage(_))
    }
}

impl From<libsql::Error> for CoreError {
    fn from(e: libsql::Error) -> Self {
        let text = e.to_string();
        // Only the remote client (NXR_DB_URL) reports transport ("http error") and status
        // ("api error", e.g. 401) failures: the server is down, gone or refused the token.
        let unreachable = matches!(e, libsql::Error::Hrana(_))
            && (text.contains("http error") || text.contains("api error"));
        if unreachable {
            CoreError::Db(format!(
                "the libSQL server at NXR_DB_URL failed the request ({text}); check that it is running and reachable, and that NXR_DB_TOKEN is valid"
            ))
        } else {
            CoreError::Db(text)
        }
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
