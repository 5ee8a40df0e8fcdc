//! The OpenRouter HTTP client. One `reqwest::Client` with timeouts; the base URL is a
//! setting (`NXR_OPENROUTER_URL`) so tests point it at a local fake server. Server errors
//! (5xx) are retried with backoff; a 429 waits for `X-RateLimit-Reset` (milliseconds) when
//! that is near (or `Retry-After`), and otherwise says when the limit resets. Errors quote OpenRouter's message.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::catalog::Catalog;
use super::error::{CoreError, Result};

/// Retries after a 5xx or a dropped connection, with these waits in between.
const BACKOFF: [Duration; 2] = [Duration::from_millis(300), Duration::from_millis(1200)];
/// Longest wait for a 429's reset before giving up with a message.
const MAX_RATE_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct OpenRouter {
    http: reqwest::Client,
    base: String,
}

/// `GET /key`: what a key may do and how much it used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub limit: Option<f64>,
    #[serde(default)]
    pub limit_remaining: Option<f64>,
    #[serde(default)]
    pub usage: Option<f64>,
    #[serde(default)]
    pub usage_daily: Option<f64>,
    #[serde(default)]
    pub is_free_tier: Option<bool>,
    #[serde(default)]
    pub free_model_daily_requests: Option<DailyRequests>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DailyRequests {
    #[serde(default)]
    pub used: Option<u64>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub remaining: Option<u64>,
}

/// `GET /credits` (an ordinary key may get 403: then `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    pub total_credits: f64,
    pub total_usage: f64,
}

/// What nxr last learned about the stored key's account from `/key` and `/credits`, recorded
/// when a key is stored or checked (`nxr config set openrouter-key`, `nxr init --key`, the web
/// key form, `nxr upgrade`) so every write can tell offline whether a paid model can be paid
/// for. It names its key (masked) so a record never vouches for another key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    pub key: String,
    #[serde(default)]
    pub limit: Option<f64>,
    #[serde(default)]
    pub limit_remaining: Option<f64>,
    #[serde(default)]
    pub usage: Option<f64>,
    /// `None` when the key may not read `/credits`.
    #[serde(default)]
    pub credits: Option<Credits>,
    pub checked_at: String,
}

impl AccountState {
    pub fn of(masked_key: &str, info: &KeyInfo, credits: Option<&Credits>, now: &str) -> Self {
        AccountState {
            key: masked_key.to_string(),
            limit: info.limit,
            limit_remaining: info.limit_remaining,
            usage: info.usage,
            credits: credits.copied(),
            checked_at: now.to_string(),
        }
    }

    /// Credits bought minus credits used, when the key may read them.
    pub fn balance(&self) -> Option<f64> {
        self.credits.map(|c| c.total_credits - c.total_usage)
    }

    /// Why this account cannot pay for a paid model, or `None` when it can: credits above
    /// zero, and the key's own spending limit (if it has one) not reached. A key that cannot
    /// read its balance can pay only through a limit with room left.
    pub fn cannot_pay(&self) -> Option<String> {
        let limit_left = self.limit.and(self.limit_remaining.or(Some(0.0)));
        if let Some(left) = limit_left
            && left <= 0.0
        {
            return Some(format!(
                "the key's spending limit of ${:.2} is used up",
                self.limit.unwrap_or(0.0)
            ));
        }
        match self.balance() {
            Some(b) if b <= 0.0 => Some(format!("the account has no credits left (balance ${b:.2})")),
            Some(_) => None,
            None if limit_left.is_some() => None,
            None => Some(
                "nxr cannot read this key's balance (OpenRouter refuses /credits to it) and the key has no spending limit".into(),
            ),
        }
    }

    /// "balance $74.75 (100.50 bought, 25.75 used) · key limit $74.50 of $100.00 left".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        match self.credits {
            Some(c) => parts.push(format!(
                "balance ${:.2} ({:.2} bought, {:.2} used)",
                c.total_credits - c.total_usage,
                c.total_credits,
                c.total_usage
            )),
            None => parts.push("balance unknown (the key may not read /credits)".to_string()),
        }
        if let Some(l) = self.limit {
            parts.push(format!(
                "key limit ${:.2} of ${l:.2} left",
                self.limit_remaining.unwrap_or(0.0)
            ));
        }
        parts.join(" · ")
    }
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

/// The free-tier level that applies to an account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FreeTier {
    pub per_minute: u32,
    /// 50 or 1,000 free-model requests per UTC day; `None` when the account does not say.
    pub per_day: Option<u32>,
    pub explanation: String,
}

impl FreeTier {
    pub fn of(key: &KeyInfo, credits: Option<&Credits>) -> FreeTier {
        if let Some(limit) = key.free_model_daily_requests.and_then(|d| d.limit) {
            return FreeTier {
                per_minute: 20,
                per_day: Some(limit as u32),
                explanation: format!(
                    "OpenRouter reports {limit} free-model requests per day for this key"
                ),
            };
        }
        if let Some(c) = credits {
            let bought = c.total_credits;
            return if bought >= 10.0 {
                FreeTier {
                    per_minute: 20,
                    per_day: Some(1000),
                    explanation: format!(
                        "{bought:.2} credits bought (10 or more): 1,000 free-model requests per day"
                    ),
                }
            } else {
                FreeTier {
                    per_minute: 20,
                    per_day: Some(50),
                    explanation: format!(
                        "{bought:.2} credits bought (under 10): 50 free-model requests per day"
                    ),
                }
            };
        }
        match key.is_free_tier {
            Some(true) => FreeTier {
                per_minute: 20,
                per_day: Some(50),
                explanation: "no credits bought yet: 50 free-model requests per day (10 credits raise it to 1,000)".into(),
            },
            _ => FreeTier {
                per_minute: 20,
                per_day: None,
                explanation: "credits were bought, but this key cannot read how many: 1,000 free-model requests per day at 10 or more, else 50".into(),
            },
        }
    }
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

    /// GET with retries; returns the status, body and `X-RateLimit-Reset` (unix ms) of the
    /// last answer.
    async fn get(&self, path: &str, key: Option<&str>) -> Result<(u16, String, Option<i64>)> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            let mut req = self.http.get(&url);
            if let Some(k) = key {
                req = req.bearer_auth(k);
            }
            let result = req.send().await;
            let resp = match result {
                Ok(r) => r,
                // A refused connection or a timeout will not fix itself in a second; a dropped
                // one might.
                Err(e) if attempt < BACKOFF.len() && !e.is_timeout() && !e.is_connect() => {
                    tokio::time::sleep(BACKOFF[attempt]).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(CoreError::Network(format!("GET {url}: {}", describe(&e)))),
            };
            let status = resp.status().as_u16();
            let reset = resp
                .headers()
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
                .or_else(|| retry_after(resp.headers()));
            let body = match resp.text().await {
                Ok(b) => b,
                Err(e) if attempt < BACKOFF.len() && !e.is_timeout() => {
                    tokio::time::sleep(BACKOFF[attempt]).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    return Err(CoreError::Network(format!(
                        "GET {url}: reading the answer: {}",
                        describe(&e)
                    )));
                }
            };
            if (500..600).contains(&status) && attempt < BACKOFF.len() {
                tokio::time::sleep(BACKOFF[attempt]).await;
                attempt += 1;
                continue;
            }
            if status == 429 && attempt < BACKOFF.len() {
                let reset = reset.or_else(|| reset_from_body(&body));
                if let Some(wait) = reset.and_then(wait_until)
                    && wait <= MAX_RATE_WAIT
                {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
            }
            return Ok((status, body, reset));
        }
    }

    fn error(&self, path: &str, status: u16, body: &str, reset: Option<i64>) -> CoreError {
        let msg = api_message(body).unwrap_or_else(|| super::catalog::clip(body.trim(), 200));
        let hint = match status {
            401 => " (the key is wrong or revoked: check it at openrouter.ai/settings/keys)",
            402 => " (the account needs credits for this)",
            403 => " (this key may not read that)",
            429 => match reset.or_else(|| reset_from_body(body)) {
                Some(ms) => {
                    return CoreError::Network(format!(
                        "GET {}{path}: HTTP 429: {msg} (resets at {})",
                        self.base,
                        jiff::Timestamp::from_millisecond(ms)
                            .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
                            .unwrap_or_else(|_| ms.to_string())
                    ));
                }
                None => "",
            },
            _ => "",
        };
        CoreError::Network(format!(
            "GET {}{path}: HTTP {status}: {msg}{hint}",
            self.base
        ))
    }

    /// `GET /models`: the catalog, parsed, with the fetch time.
    pub async fn models(&self) -> Result<Catalog> {
        self.models_or_retry_at().await.map_err(|(e, _)| e)
    }

    /// [`Self::models`], and on a 429 the time (unix ms) OpenRouter asked to be left alone
    /// until (`X-RateLimit-Reset`, else `Retry-After`), so a scanner does not come back sooner.
    pub async fn models_or_retry_at(
        &self,
    ) -> std::result::Result<Catalog, (CoreError, Option<i64>)> {
        let (status, body, reset) = self.get("/models", None).await.map_err(|e| (e, None))?;
        if !(200..300).contains(&status) {
            let retry = (status == 429)
                .then(|| reset.or_else(|| reset_from_body(&body)))
                .flatten();
            return Err((self.error("/models", status, &body, reset), retry));
        }
        Catalog::parse(&body, &format!("{}/models", self.base), &super::time::now())
            .map_err(|e| (e, None))
    }

    /// `GET /key` (falling back to the older `/auth/key`): validates a key.
    pub async fn key(&self, key: &str) -> Result<KeyInfo> {
        let (mut status, mut body, mut reset) = self.get("/key", Some(key)).await?;
        let mut path = "/key";
        if status == 404 {
            (status, body, reset) = self.get("/auth/key", Some(key)).await?;
            path = "/auth/key";
        }
        if !(200..300).contains(&status) {
            return Err(self.error(path, status, &body, reset));
        }
        serde_json::from_str::<Data<KeyInfo>>(&body)
            .map(|d| d.data)
            .map_err(|e| {
                CoreError::Network(format!("GET {}{path}: unexpected answer: {e}", self.base))
            })
    }

    /// `GET /credits`; `Ok(None)` when the key may not read it (403).
    pub async fn credits(&self, key: &str) -> Result<Option<Credits>> {
        let (status, body, reset) = self.get("/credits", Some(key)).await?;
        if status == 403 || status == 401 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(self.error("/credits", status, &body, reset));
        }
        serde_json::from_str::<Data<Credits>>(&body)
            .map(|d| Some(d.data))
            .map_err(|e| {
                CoreError::Network(format!("GET {}/credits: unexpected answer: {e}", self.base))
            })
    }
}

/// OpenRouter's error message from `{"error":{"message":...}}`, if the body has one.
pub fn api_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get("error")?
        .get("message")?
        .as_str()
        .map(|s| super::text::clean_max(s.trim(), 300))
}

/// `X-RateLimit-Reset` as OpenRouter repeats it in a 429 body's metadata.
fn reset_from_body(body: &str) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.pointer("/error/metadata/headers/X-RateLimit-Reset")?
        .as_str()?
        .parse()
        .ok()
}

/// `Retry-After` in seconds, as a unix-millisecond time.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<i64> {
    let secs = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u32>()
        .ok()?;
    Some(jiff::Timestamp::now().as_millisecond() + i64::from(secs) * 1000)
}

/// How long until a reset time given in unix milliseconds (zero if passed).
fn wait_until(reset_ms: i64) -> Option<Duration> {
    let now = jiff::Timestamp::now().as_millisecond();
    Some(Duration::from_millis((reset_ms - now).max(0) as u64))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/openrouter/examples/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("example")
    }

    #[test]
    fn key_shapes_from_every_recorded_example_parse() {
        for name in [
            "key-2025-03-10-simonw.json",
            "key-2026-spec-example.json",
            "key-free-account-shape.json",
        ] {
            let k: Data<KeyInfo> = serde_json::from_str(&example(name)).expect(name);
            assert!(k.data.label.is_some(), "{name}");
        }
        let c: Data<Credits> =
            serde_json::from_str(&example("credits-spec-example.json")).expect("credits");
        assert_eq!(c.data.total_credits, 100.5);
    }

    #[test]
    fn the_free_tier_level_follows_the_account() {
        let free: Data<KeyInfo> =
            serde_json::from_str(&example("key-free-account-shape.json")).expect("k");
        assert_eq!(FreeTier::of(&free.data, None).per_day, Some(50));
        let paid: Data<KeyInfo> =
            serde_json::from_str(&example("key-2025-03-10-simonw.json")).expect("k");
        assert_eq!(FreeTier::of(&paid.data, None).per_day, None);
        let rich = Credits {
            total_credits: 100.5,
            total_usage: 1.0,
        };
        assert_eq!(FreeTier::of(&paid.data, Some(&rich)).per_day, Some(1000));
        let poor = Credits {
            total_credits: 5.0,
            total_usage: 1.0,
        };
        assert_eq!(FreeTier::of(&paid.data, Some(&poor)).per_day, Some(50));
    }

    #[test]
    fn an_account_can_pay_with_credits_left_or_a_key_limit_with_room() {
        let free: Data<KeyInfo> =
            serde_json::from_str(&example("key-free-account-shape.json")).expect("k");
        let limited: Data<KeyInfo> =
            serde_json::from_str(&example("key-2026-spec-example.json")).expect("k");
        let credits = |bought: f64, used: f64| Credits {
            total_credits: bought,
            total_usage: used,
        };
        let state = |k: &KeyInfo, c: Option<Credits>| AccountState::of("k", k, c.as_ref(), "t");
        assert_eq!(
            state(&free.data, Some(credits(100.5, 25.75))).cannot_pay(),
            None
        );
        assert!(
            state(&free.data, Some(credits(0.0, 0.0)))
                .cannot_pay()
                .is_some()
        );
        assert!(
            state(&free.data, Some(credits(5.0, 5.0)))
                .cannot_pay()
                .is_some()
        );
        assert!(
            state(&free.data, None).cannot_pay().is_some(),
            "balance unknown"
        );
        assert_eq!(
            state(&limited.data, None).cannot_pay(),
            None,
            "limit with room"
        );
        let mut spent = limited.data.clone();
        spent.limit_remaining = Some(0.0);
        assert!(
            state(&spent, Some(credits(100.0, 1.0)))
                .cannot_pay()
                .is_some()
        );
        assert!(
            state(&limited.data, Some(credits(0.0, 0.0)))
                .cannot_pay()
                .is_some(),
            "a limit does not make up for an empty account"
        );
    }

    #[test]
    fn error_bodies_are_quoted() {
        assert_eq!(
            api_message(&example("error-401-invalid-key.json")).as_deref(),
            Some("User not found.")
        );
        assert_eq!(
            reset_from_body(&example("error-429-free-models-per-day.json")),
            Some(1_790_553_600_000)
        );
    }
}
