//! The OpenRouter HTTP client. One `reqwest::Client` with timeouts; the base URL is a
//! setting (`NXR_OPENROUTER_URL`) so tests point it at a local fake server.

use std::time::Duration;

use super::catalog::Catalog;
use super::error::{CoreError, Result};

#[derive(Clone)]
pub struct OpenRouter {
    http: reqwest::Client,
    base: String,
}

impl OpenRouter {
    pub fn new(base: &str, timeout: Duration) -> Result<OpenRouter> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .user_agent(concat!("nxr/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CoreError::Network(format!("cannot build the HTTP client: {e}")))?;
        Ok(OpenRouter {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /models`: the catalog, parsed, with the fetch time.
    pub async fn models(&self) -> Result<Catalog> {
        let url = format!("{}/models", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| CoreError::Network(format!("GET {url}: {}", describe(&e))))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| {
            CoreError::Network(format!("GET {url}: reading the body: {}", describe(&e)))
        })?;
        if !status.is_success() {
            return Err(CoreError::Network(format!(
                "GET {url}: HTTP {status}{}",
                api_message(&body)
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )));
        }
        Catalog::parse(&body, &url, &super::time::now())
    }
}

/// OpenRouter's error message from `{"error":{"message":...}}`, if the body has one.
pub fn api_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get("error")?
        .get("message")?
        .as_str()
        .map(|s| super::catalog::clip(s, 300))
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s.push_str(": ");
            s.push_str(&inner.to_string());
            src = inner.source();
        }
        s
    }
}
