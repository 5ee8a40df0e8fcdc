//! The Ollama card of Tab 1 and `/hermes`: is the local Ollama (`Endpoints.ollama`)
//! reachable, which version, which models, and which slots of which agents route to it.

use std::time::Duration;

use serde::Serialize;

use super::Core;
use super::agents;
use super::error::Result;
use super::hermes::{Profile, RouteSlot};
use super::routing;

/// How long the card waits for Ollama: it is local, so a slow answer means it is not there.
pub const TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaCard {
    pub url: String,
    pub reachable: bool,
    pub version: Option<String>,
    pub models: Vec<String>,
    /// Every slot of every agent whose base URL is this Ollama.
    pub routes: Vec<OllamaRoute>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaRoute {
    pub agent: String,
    /// `main`, `aux:<task>` or `fallback:<n>`, as `nxr models set-slot` names it.
    pub slot: String,
    pub model: String,
    /// Ollama has this model (false: the slot will fail until it is pulled).
    pub pulled: bool,
}

/// `scheme://host:port` with `localhost` spelled as its loopback address and no `/v1`, so
/// the Hermes base URL `http://localhost:11434/v1` matches `NXR_OLLAMA_URL`.
fn origin(url: &str) -> String {
    let u = url.trim().trim_end_matches('/');
    let u = u.strip_suffix("/v1").unwrap_or(u).trim_end_matches('/');
    u.to_ascii_lowercase()
        .replace("://localhost", "://127.0.0.1")
}

/// True when a slot routes to the Ollama at `ollama_url`.
pub fn routes_to(slot: &RouteSlot, ollama_url: &str) -> bool {
    slot.provider == "ollama"
        || slot
            .base_url
            .as_deref()
            .is_some_and(|b| origin(b) == origin(ollama_url))
}

/// Ollama's model names may omit the `:latest` tag.
fn has_model(models: &[String], name: &str) -> bool {
    let full = |n: &str| {
        if n.contains(':') {
            n.to_string()
        } else {
            format!("{n}:latest")
        }
    };
    models.iter().any(|m| full(m) == full(name))
}

/// The card: one request pair to Ollama, then every agent's `config.yaml`.
pub async fn card(core: &Core) -> Result<OllamaCard> {
    let url = core.endpoints.ollama.clone();
    let found = super::detect::ollama(&url, TIMEOUT).await;
    let conn = core.db.conn().await?;
    let list = agents::list(&conn).await?;
    drop(conn);
    let models = found.as_ref().map(|o| o.models.clone()).unwrap_or_default();
    let mut routes = Vec::new();
    for a in &list {
        let profile = Profile::resolve(&core.paths.hermes_home, &a.profile);
        // A profile whose config cannot be read routes nowhere; doctor names the broken file.
        let Ok(slots) = routing::read(&a.name, &profile) else {
            continue;
        };
        let mut push = |slot: String, r: &RouteSlot| {
            if routes_to(r, &url) {
                routes.push(OllamaRoute {
                    agent: a.name.clone(),
                    slot,
                    model: r.model.clone(),
                    pulled: has_model(&models, &r.model),
                });
            }
        };
        push("main".into(), &slots.main);
        for (task, r) in &slots.aux {
            push(format!("aux:{task}"), r);
        }
        for (i, r) in slots.fallbacks.iter().enumerate() {
            push(format!("fallback:{i}"), r);
        }
    }
    Ok(OllamaCard {
        url,
        reachable: found.is_some(),
        version: found.as_ref().and_then(|o| o.version.clone()),
        models,
        routes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(provider: &str, base: Option<&str>) -> RouteSlot {
        RouteSlot {
            provider: provider.into(),
            model: "qwen3:8b".into(),
            base_url: base.map(Into::into),
        }
    }

    #[test]
    fn a_slot_routes_to_ollama_by_its_base_url_whatever_spelling_of_localhost_and_v1() {
        let ollama = "http://localhost:11434";
        assert!(routes_to(
            &slot("custom", Some("http://localhost:11434/v1")),
            ollama
        ));
        assert!(routes_to(
            &slot("custom", Some("http://127.0.0.1:11434/v1/")),
            ollama
        ));
        assert!(routes_to(&slot("ollama", None), ollama));
        assert!(!routes_to(
            &slot("custom", Some("http://127.0.0.1:8080/v1")),
            ollama
        ));
        assert!(!routes_to(&slot("openrouter", None), ollama));
    }

    #[test]
    fn a_model_without_a_tag_is_the_latest_one() {
        let models = vec!["qwen3:8b".to_string(), "llama3.2:latest".to_string()];
        assert!(has_model(&models, "llama3.2"));
        assert!(has_model(&models, "qwen3:8b"));
        assert!(!has_model(&models, "qwen3:4b"));
    }
}
