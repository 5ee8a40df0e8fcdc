//! Where nxr keeps its database and where the Hermes profiles live, and the base URLs of
//! the services nxr talks to. All of them come from the environment so tests can point nxr
//! at temporary homes and local fake servers with the production code path unchanged.

use std::path::PathBuf;

pub const DEFAULT_OPENROUTER_URL: &str = "https://openrouter.ai/api/v1";
pub const DEFAULT_OLLAMA_URL: &str = "http://localhost:11434";
pub const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";

/// `NXR_TELEGRAM_API_URL`: the Telegram Bot API base (`<base>/bot<token>/getMe`).
pub fn telegram_api_url() -> String {
    env_string("NXR_TELEGRAM_API_URL")
        .unwrap_or_else(|| DEFAULT_TELEGRAM_API_URL.to_string())
        .trim_end_matches('/')
        .to_string()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `NXR_HOME`: holds `hermes_tracking.db` and the log.
    pub nxr_home: PathBuf,
    /// `HERMES_HOME`: the Hermes root; the `default` profile is the root itself.
    pub hermes_home: PathBuf,
}

impl Paths {
    pub fn from_env() -> Self {
        let nxr_home = env_path("NXR_HOME").unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(|| home().join(".local/share"))
                .join("nxr")
        });
        let hermes_home = env_path("HERMES_HOME").unwrap_or_else(|| home().join(".hermes"));
        Paths {
            nxr_home,
            hermes_home,
        }
    }

    pub fn db_file(&self) -> PathBuf {
        self.nxr_home.join("hermes_tracking.db")
    }

    pub fn log_file(&self) -> PathBuf {
        self.nxr_home.join("nxr.log")
    }
}

/// Service endpoints and the optional remote database. Read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub openrouter: String,
    pub ollama: String,
    /// `NXR_DB_URL`: a libSQL server (`libsql://`, `http://`, `https://`) instead of the file.
    pub db_url: Option<String>,
    /// `NXR_DB_TOKEN`: its auth token.
    pub db_token: Option<String>,
}

impl Endpoints {
    /// Endpoints where every request fails at once (a closed port on loopback) and the
    /// database is the local file: what tests and benches use when nxr must stay offline.
    pub fn unreachable() -> Self {
        Endpoints {
            openrouter: "http://127.0.0.1:9/api/v1".into(),
            ollama: "http://127.0.0.1:9".into(),
            db_url: None,
            db_token: None,
        }
    }

    pub fn from_env() -> Self {
        Endpoints {
            openrouter: env_string("NXR_OPENROUTER_URL")
                .unwrap_or_else(|| DEFAULT_OPENROUTER_URL.to_string())
                .trim_end_matches('/')
                .to_string(),
            ollama: env_string("NXR_OLLAMA_URL")
                .unwrap_or_else(|| DEFAULT_OLLAMA_URL.to_string())
                .trim_end_matches('/')
                .to_string(),
            db_url: env_string("NXR_DB_URL"),
            db_token: env_string("NXR_DB_TOKEN"),
        }
    }
}

fn env_string(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

fn env_path(key: &str) -> Option<PathBuf> {
    env_string(key).map(PathBuf::from)
}

fn home() -> PathBuf {
    dirs::home_dir().unwrap_or_else(|| PathBuf::from("."))
}
