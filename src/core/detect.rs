//! What the machine offers the agents: a local Ollama (and a Qwen model on it), local
//! speech-to-text, and the `hermes` CLI. Every probe has a short timeout and none fails
//! onboarding: a missing thing is simply recorded as missing.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub ollama: Option<Ollama>,
    /// "faster-whisper", "HERMES_LOCAL_STT_COMMAND" or "whisper".
    pub whisper: Option<String>,
    pub hermes: Option<HermesCli>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ollama {
    pub url: String,
    pub version: Option<String>,
    pub models: Vec<String>,
    /// The Qwen model auxiliary tasks will use, if Ollama has one.
    pub qwen: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HermesCli {
    pub path: String,
    pub version: Option<String>,
}

pub async fn detect(ollama_url: &str, timeout: Duration) -> Detection {
    let (ollama, whisper, hermes) =
        tokio::join!(ollama(ollama_url, timeout), whisper(), hermes_cli());
    Detection {
        ollama,
        whisper,
        hermes,
    }
}

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    models: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
}

#[derive(Deserialize)]
struct Version {
    version: String,
}

/// `GET /api/tags` (and `/api/version`) on Ollama.
pub async fn ollama(url: &str, timeout: Duration) -> Option<Ollama> {
    let url = url.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .ok()?;
    let tags: Tags = http
        .get(format!("{url}/api/tags"))
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()?;
    let version = match http.get(format!("{url}/api/version")).send().await {
        Ok(r) => r.json::<Version>().await.ok().map(|v| v.version),
        Err(_) => None,
    };
    let models: Vec<String> = tags.models.into_iter().map(|t| t.name).collect();
    let qwen = pick_qwen(&models);
    Some(Ollama {
        url: url.to_string(),
        version,
        models,
        qwen,
    })
}

/// The Qwen model to route local work to: the newest generation first, then the largest.
pub fn pick_qwen(models: &[String]) -> Option<String> {
    let mut qwens: Vec<&String> = models
        .iter()
        .filter(|m| m.to_ascii_lowercase().starts_with("qwen"))
        .collect();
    qwens.sort_by(|a, b| {
        let family = |s: &str| s.split(':').next().unwrap_or("").to_string();
        let size =
            |s: &str| super::scoring::parameter_billions(&s.to_ascii_lowercase()).unwrap_or(0.0);
        family(b)
            .cmp(&family(a))
            .then(size(b).total_cmp(&size(a)))
            .then(a.cmp(b))
    });
    qwens.first().map(|s| s.to_string())
}

async fn whisper() -> Option<String> {
    let python = tokio::process::Command::new("python3")
        .args(["-c", "import faster_whisper"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .status();
    if let Ok(Ok(status)) = tokio::time::timeout(Duration::from_secs(10), python).await
        && status.success()
    {
        return Some("faster-whisper".into());
    }
    if std::env::var("HERMES_LOCAL_STT_COMMAND").is_ok_and(|v| !v.trim().is_empty()) {
        return Some("HERMES_LOCAL_STT_COMMAND".into());
    }
    which("whisper").map(|_| "whisper".into())
}

/// The `hermes` CLI nxr would run: `NXR_HERMES_BIN`, else `hermes` on `PATH`.
pub fn hermes_path() -> Option<PathBuf> {
    std::env::var_os("NXR_HERMES_BIN")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| which("hermes"))
}

async fn hermes_cli() -> Option<HermesCli> {
    let path = hermes_path()?;
    let version = super::hermes_version::installed(&path, Duration::from_secs(10)).await;
    Some(HermesCli {
        path: path.display().to_string(),
        version,
    })
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_largest_qwen_is_chosen() {
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            pick_qwen(&m(&["llama3:8b", "qwen2.5:7b", "qwen3:4b", "qwen3:8b"])).as_deref(),
            Some("qwen3:8b")
        );
        assert_eq!(pick_qwen(&m(&["llama3:8b"])), None);
    }

    #[tokio::test]
    async fn a_missing_ollama_is_just_missing() {
        assert!(
            ollama("http://127.0.0.1:9", Duration::from_millis(300))
                .await
                .is_none()
        );
    }
}
