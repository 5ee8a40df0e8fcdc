//! OpenRouter's model catalog (`GET /api/v1/models`): parsing exactly what the API sends,
//! the bundled offline default, and storing snapshots with their fetch time.
//!
//! Parsing is tolerant where the API changes over time (unknown fields are ignored, optional
//! ones may be missing or null, zero prices may be left out) and strict where a value is
//! plainly broken (not JSON, no `data`, a model without an id, a price that is not a number):
//! those are refused with a message naming the model and field, and nothing is stored.

use serde::{Deserialize, Deserializer, Serialize};

use super::error::{CoreError, Result};

/// The newest recorded catalog, compiled in: nxr works with no network and no key.
pub const BUNDLED_JSON: &str =
    include_str!("../../assets/catalog/openrouter-models-2026-05-01.json");
pub const BUNDLED_FETCHED_AT: &str = "2026-05-01T00:00:00.000000Z";
pub const BUNDLED_SOURCE: &str = "bundled";

/// The router that picks a free model per request: the first fallback.
pub const FREE_ROUTER_ID: &str = "openrouter/free";

/// Descriptions longer than this are cut when parsed (a hostile catalog may send megabytes).
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

/// The latest `created` accepted (2100-01-01, unix seconds). OpenRouter started in 2023; a
/// timestamp outside 0..=this is broken data, and scoring recency against it would be absurd.
pub const MAX_CREATED: i64 = 4_102_444_800;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub canonical_slug: String,
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub created: i64,
    #[serde(default, deserialize_with = "description")]
    pub description: String,
    #[serde(default)]
    pub context_length: Option<u64>,
    #[serde(default, deserialize_with = "object")]
    pub architecture: Architecture,
    #[serde(default, deserialize_with = "object")]
    pub pricing: Pricing,
    #[serde(default, deserialize_with = "object")]
    pub top_provider: TopProvider,
    #[serde(default, deserialize_with = "null_default")]
    pub supported_parameters: Vec<String>,
    #[serde(default)]
    pub expiration_date: Option<String>,
    #[serde(default)]
    pub knowledge_cutoff: Option<String>,
    /// Quality measurements, when OpenRouter has them (since mid-2026). A malformed block is
    /// read as no data rather than refusing the catalog: it is optional evidence.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub benchmarks: Option<Benchmarks>,
}

/// The catalog's `benchmarks` field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Benchmarks {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub artificial_analysis: Option<ArtificialAnalysis>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient_list"
    )]
    pub design_arena: Vec<ArenaResult>,
}

/// Artificial Analysis indexes (0..100, higher is better); any may be null.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArtificialAnalysis {
    #[serde(default, deserialize_with = "index")]
    pub intelligence_index: Option<f64>,
    #[serde(default, deserialize_with = "index")]
    pub coding_index: Option<f64>,
    #[serde(default, deserialize_with = "index")]
    pub agentic_index: Option<f64>,
}

/// One Design Arena result: an ELO rating in one arena's category.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArenaResult {
    #[serde(default, deserialize_with = "null_default")]
    pub arena: String,
    #[serde(default, deserialize_with = "null_default")]
    pub category: String,
    #[serde(default, deserialize_with = "index")]
    pub elo: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    #[serde(default, deserialize_with = "null_default")]
    pub modality: String,
    #[serde(default, deserialize_with = "null_default")]
    pub input_modalities: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub output_modalities: Vec<String>,
}

/// USD per token, as the strings the API sends. A missing key means zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "price"
    )]
    pub prompt: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "price"
    )]
    pub completion: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TopProvider {
    #[serde(default)]
    pub context_length: Option<u64>,
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
    #[serde(default)]
    pub is_moderated: Option<bool>,
}

impl Model {
    /// Free = the id ends in `:free`, or both prompt and completion cost nothing.
    pub fn is_free(&self) -> bool {
        self.id.ends_with(":free")
            || (self.prompt_price() == Some(0.0) && self.completion_price() == Some(0.0))
    }

    /// Routers have no fixed price (`"-1"`: `openrouter/auto`) or are OpenRouter's own
    /// routing products (every `openrouter/...` id: `openrouter/free`, and zero-priced ones
    /// such as `openrouter/owl-alpha` that hand each request to a model of OpenRouter's
    /// choosing); they are fallbacks, never ranked.
    pub fn is_router(&self) -> bool {
        self.id.starts_with("openrouter/")
            || self.pricing.prompt.as_deref() == Some("-1")
            || self.pricing.completion.as_deref() == Some("-1")
    }

    /// USD per token; `None` for a router's `-1`.
    pub fn prompt_price(&self) -> Option<f64> {
        price_value(self.pricing.prompt.as_deref())
    }

    pub fn completion_price(&self) -> Option<f64> {
        price_value(self.pricing.completion.as_deref())
    }

    /// USD per million input tokens, for display.
    pub fn prompt_per_million(&self) -> Option<f64> {
        self.prompt_price().map(|p| p * 1e6)
    }

    pub fn completion_per_million(&self) -> Option<f64> {
        self.completion_price().map(|p| p * 1e6)
    }

    pub fn supports(&self, parameter: &str) -> bool {
        self.supported_parameters.iter().any(|p| p == parameter)
    }

    pub fn outputs_text(&self) -> bool {
        if self.architecture.output_modalities.is_empty() {
            // Older entries only carry "text->text" style modality strings.
            return self
                .architecture
                .modality
                .split("->")
                .nth(1)
                .is_none_or(|out| out.contains("text"));
        }
        self.architecture
            .output_modalities
            .iter()
            .any(|m| m == "text")
    }

    /// Text is all it outputs (no audio, no images), without allocating: the scorer asks
    /// this of every model.
    pub fn outputs_only_text(&self) -> bool {
        if self.architecture.output_modalities.is_empty() {
            return self
                .architecture
                .modality
                .split("->")
                .nth(1)
                .is_none_or(|out| out.split('+').all(|m| m.trim() == "text"));
        }
        self.architecture
            .output_modalities
            .iter()
            .all(|m| m == "text")
    }

    pub fn context(&self) -> u64 {
        self.context_length
            .or(self.top_provider.context_length)
            .unwrap_or(0)
    }

    /// The provider part of the id (`qwen` in `qwen/qwen3-coder:free`).
    pub fn provider(&self) -> &str {
        self.id.split('/').next().unwrap_or("")
    }
}

fn price_value(s: Option<&str>) -> Option<f64> {
    match s {
        None => Some(0.0),
        Some("-1") => None,
        Some(s) => s.trim().parse::<f64>().ok(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Catalog {
    pub models: Vec<Model>,
    /// When it was fetched (RFC 3339, UTC).
    pub fetched_at: String,
    /// `bundled`, a file path or a URL.
    pub source: String,
    /// Its row in `catalog_snapshots`, once stored.
    pub id: Option<i64>,
    /// Models skipped when parsing, and why (an id with control characters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Envelope {
    data: Option<Vec<serde_json::Value>>,
}

impl Catalog {
    /// Parses a `/api/v1/models` response body. Errors name the problem.
    pub fn parse(body: &str, source: &str, fetched_at: &str) -> Result<Catalog> {
        let envelope: Envelope = serde_json::from_str(body).map_err(|e| {
            let hint = if e.is_eof() {
                " (the response ends early: truncated?)"
            } else {
                ""
            };
            CoreError::Catalog(format!("{source}: not valid JSON{hint}: {e}"))
        })?;
        let data = envelope.data.ok_or_else(|| {
            CoreError::Catalog(format!(
                "{source}: no \"data\" array (is this a models list?)"
            ))
        })?;
        if data.is_empty() {
            return Err(CoreError::Catalog(format!(
                "{source}: \"data\" holds no models"
            )));
        }
        let mut models = Vec::with_capacity(data.len());
        let mut warnings = Vec::new();
        let mut seen = std::collections::HashSet::with_capacity(data.len());
        for (i, value) in data.into_iter().enumerate() {
            let label = value
                .get("id")
                .and_then(|v| v.as_str())
                .map(|s| format!("model {:?}", clip(s, 80)))
                .unwrap_or_else(|| format!("model #{}", i + 1));
            let model: Model = serde_json::from_value(value)
                .map_err(|e| CoreError::Catalog(format!("{source}: {label}: {e}")))?;
            if model.id.trim().is_empty() {
                return Err(CoreError::Catalog(format!("{source}: {label}: empty id")));
            }
            // Such an id could never be written to a profile (and would garble a terminal):
            // one odd entry must not cost the user the whole catalog, so it is left out.
            if model.id.chars().any(char::is_control) {
                let w = format!(
                    "{source}: skipped model {:?}: its id holds control characters",
                    clip(&model.id, 80)
                );
                tracing::warn!("{w}");
                warnings.push(w);
                continue;
            }
            if !(0..=MAX_CREATED).contains(&model.created) {
                return Err(CoreError::Catalog(format!(
                    "{source}: {label}: created {} is not a plausible unix time",
                    model.created
                )));
            }
            for (field, v) in [
                ("pricing.prompt", &model.pricing.prompt),
                ("pricing.completion", &model.pricing.completion),
            ] {
                if let Some(v) = v
                    && v != "-1"
                    && v.trim()
                        .parse::<f64>()
                        .map_or(true, |p| !p.is_finite() || p < 0.0)
                {
                    return Err(CoreError::Catalog(format!(
                        "{source}: {label}: {field} {:?} is not a price",
                        clip(v, 40)
                    )));
                }
            }
            if !seen.insert(model.id.clone()) {
                return Err(CoreError::Catalog(format!(
                    "{source}: {label} appears twice"
                )));
            }
            models.push(model);
        }
        if models.is_empty() {
            return Err(CoreError::Catalog(format!(
                "{source}: no usable models ({})",
                warnings.len()
            )));
        }
        Ok(Catalog {
            models,
            fetched_at: fetched_at.to_string(),
            source: source.to_string(),
            id: None,
            warnings,
        })
    }

    pub fn bundled() -> Catalog {
        // The bundled file is checked by a test; it cannot fail to parse at run time.
        Catalog::parse(BUNDLED_JSON, BUNDLED_SOURCE, BUNDLED_FETCHED_AT).unwrap_or_else(|_| {
            Catalog {
                models: Vec::new(),
                fetched_at: BUNDLED_FETCHED_AT.to_string(),
                source: BUNDLED_SOURCE.to_string(),
                id: None,
                warnings: Vec::new(),
            }
        })
    }

    pub fn get(&self, id: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.id == id)
    }

    pub fn free_count(&self) -> usize {
        self.models.iter().filter(|m| m.is_free()).count()
    }

    /// The body stored in `catalog_snapshots`: the parsed models only, as JSON.
    pub fn to_body(&self) -> String {
        serde_json::to_string(&self.models).unwrap_or_else(|_| "[]".to_string())
    }

    pub fn from_body(body: &str, source: &str, fetched_at: &str, id: i64) -> Result<Catalog> {
        let models: Vec<Model> = serde_json::from_str(body)
            .map_err(|e| CoreError::Db(format!("stored catalog #{id} is unreadable: {e}")))?;
        Ok(Catalog {
            models,
            fetched_at: fetched_at.to_string(),
            source: source.to_string(),
            id: Some(id),
            warnings: Vec::new(),
        })
    }
}

/// Stores a catalog as the newest snapshot. Old snapshots are dropped by [`prune`] once
/// nothing refers to them (a rescore calls it after writing its scores).
pub async fn store(tx: &libsql::Connection, catalog: &Catalog) -> Result<i64> {
    tx.execute(
        "INSERT INTO catalog_snapshots (fetched_at, source, model_count, free_count, body, stored_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        libsql::params![
            catalog.fetched_at.as_str(),
            catalog.source.as_str(),
            catalog.models.len() as i64,
            catalog.free_count() as i64,
            catalog.to_body(),
            super::time::now()
        ],
    )
    .await?;
    let id = tx.last_insert_rowid();
    super::db::touch(tx, "catalog").await?;
    Ok(id)
}

/// How many of the newest snapshots are always kept.
pub const KEEP_SNAPSHOTS: usize = 10;

/// Drops the scans started before `cutoff` (keeping the newest ten and the newest good
/// one), then every snapshot that is not among the newest [`KEEP_SNAPSHOTS`] and that no
/// scan and no `model_scores` row refers to. Deleting a referenced snapshot is what made
/// the tenth scan fail on its foreign key; this never does.
pub async fn prune(tx: &libsql::Connection, cutoff: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM scans WHERE started_at < ?1
           AND id NOT IN (SELECT id FROM scans ORDER BY id DESC LIMIT 10)
           AND id NOT IN (SELECT id FROM scans WHERE status = 'ok' ORDER BY id DESC LIMIT 1)",
        [cutoff],
    )
    .await?;
    let mut keep = std::collections::BTreeSet::new();
    let mut scorings = Vec::new();
    let mut rows = tx
        .query("SELECT DISTINCT scored_at FROM model_scores", ())
        .await?;
    while let Some(row) = rows.next().await? {
        scorings.push(super::db::text(&row, 0)?);
    }
    drop(rows);
    // One catalog per scoring: its first row says which (found through the scored_at index,
    // where a DISTINCT over catalog_id would read every row).
    for at in &scorings {
        let mut rows = tx
            .query(
                "SELECT catalog_id FROM model_scores WHERE scored_at = ?1 AND catalog_id IS NOT NULL LIMIT 1",
                [at.as_str()],
            )
            .await?;
        if let Some(row) = rows.next().await? {
            keep.insert(super::db::int(&row, 0)?);
        }
    }
    let mut rows = tx
        .query(
            "SELECT id FROM catalog_snapshots
             WHERE id NOT IN (SELECT catalog_id FROM scans WHERE catalog_id IS NOT NULL)
             ORDER BY id DESC",
            (),
        )
        .await?;
    let mut unreferenced = Vec::new();
    while let Some(row) = rows.next().await? {
        unreferenced.push(super::db::int(&row, 0)?);
    }
    drop(rows);
    let newest = newest_snapshot_ids(tx).await?;
    for id in unreferenced {
        if !keep.contains(&id) && !newest.contains(&id) {
            tx.execute("DELETE FROM catalog_snapshots WHERE id = ?1", [id])
                .await?;
        }
    }
    Ok(())
}

async fn newest_snapshot_ids(conn: &libsql::Connection) -> Result<Vec<i64>> {
    let mut rows = conn
        .query(
            "SELECT id FROM catalog_snapshots ORDER BY id DESC LIMIT ?1",
            [KEEP_SNAPSHOTS as i64],
        )
        .await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(super::db::int(&row, 0)?);
    }
    Ok(out)
}

/// The newest stored snapshot, if any.
pub async fn load_latest(conn: &libsql::Connection) -> Result<Option<Catalog>> {
    Ok(load_latest_keyed(conn).await?.map(|(_, c)| c))
}

/// The newest stored snapshot with its cache key (id, `stored_at`).
async fn load_latest_keyed(conn: &libsql::Connection) -> Result<Option<((i64, String), Catalog)>> {
    let mut rows = conn
        .query(
            "SELECT id, fetched_at, source, body, stored_at FROM catalog_snapshots ORDER BY id DESC LIMIT 1",
            (),
        )
        .await?;
    let Some(row) = rows.next().await? else {
        return Ok(None);
    };
    let id = super::db::int(&row, 0)?;
    let fetched_at = super::db::text(&row, 1)?;
    let source = super::db::text(&row, 2)?;
    let body = super::db::text(&row, 3)?;
    let stored_at = super::db::text(&row, 4)?;
    drop(rows);
    let catalog = Catalog::from_body(&body, &source, &fetched_at, id)?;
    Ok(Some(((id, stored_at), catalog)))
}

/// The newest catalog, parsed once per stored snapshot and shared by every reader in the
/// process: a pick, the roster and a rescore each used to parse the snapshot's body again.
/// Each read asks the database which snapshot is newest (one small row), so a snapshot
/// stored by another process is seen at once; only a new one is parsed.
#[derive(Clone, Default)]
pub struct Cache {
    inner: std::sync::Arc<std::sync::Mutex<CacheState>>,
}

#[derive(Default)]
struct CacheState {
    /// The snapshot `catalog` was read from: its id and `stored_at` (an id alone could be
    /// reused after every snapshot was deleted), `None` for the bundled catalog.
    key: Option<(i64, String)>,
    catalog: Option<std::sync::Arc<Catalog>>,
    parses: u64,
}

impl Cache {
    /// The newest stored catalog, or the bundled one when nothing was scanned yet.
    pub async fn latest(&self, conn: &libsql::Connection) -> Result<std::sync::Arc<Catalog>> {
        let key = newest_key(conn).await?;
        if let Some(c) = self.hit(&key) {
            return Ok(c);
        }
        let (key, catalog) = match load_latest_keyed(conn).await? {
            Some((key, c)) => (Some(key), c),
            None => (None, Catalog::bundled()),
        };
        let catalog = std::sync::Arc::new(catalog);
        let mut s = self.state();
        s.parses += 1;
        // Two readers that missed together both parse and the last one's is kept: every
        // read checks the key again, so a replaced entry costs a parse, never a stale read.
        s.key = key;
        s.catalog = Some(catalog.clone());
        Ok(catalog)
    }

    fn hit(&self, key: &Option<(i64, String)>) -> Option<std::sync::Arc<Catalog>> {
        let s = self.state();
        s.catalog.as_ref().filter(|_| s.key == *key).cloned()
    }

    /// How many catalogs this cache has parsed (one per snapshot it was asked for).
    pub fn parses(&self) -> u64 {
        self.state().parses
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // The state is replaced whole under the lock: a panic elsewhere cannot leave it torn.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn newest_key(conn: &libsql::Connection) -> Result<Option<(i64, String)>> {
    let mut rows = conn
        .query(
            "SELECT id, stored_at FROM catalog_snapshots ORDER BY id DESC LIMIT 1",
            (),
        )
        .await?;
    match rows.next().await? {
        Some(row) => Ok(Some((super::db::int(&row, 0)?, super::db::text(&row, 1)?))),
        None => Ok(None),
    }
}

/// What the newest snapshot is, without reading its body (for status lines).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogInfo {
    pub id: Option<i64>,
    pub fetched_at: String,
    pub source: String,
    pub model_count: i64,
    pub free_count: i64,
}

pub async fn latest_info(conn: &libsql::Connection) -> Result<CatalogInfo> {
    let mut rows = conn
        .query(
            "SELECT id, fetched_at, source, model_count, free_count FROM catalog_snapshots ORDER BY id DESC LIMIT 1",
            (),
        )
        .await?;
    match rows.next().await? {
        Some(row) => Ok(CatalogInfo {
            id: Some(super::db::int(&row, 0)?),
            fetched_at: super::db::text(&row, 1)?,
            source: super::db::text(&row, 2)?,
            model_count: super::db::int(&row, 3)?,
            free_count: super::db::int(&row, 4)?,
        }),
        None => {
            let c = Catalog::bundled();
            Ok(CatalogInfo {
                id: None,
                fetched_at: c.fetched_at.clone(),
                source: c.source.clone(),
                model_count: c.models.len() as i64,
                free_count: c.free_count() as i64,
            })
        }
    }
}

pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn description<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    if s.len() <= MAX_DESCRIPTION_BYTES {
        return Ok(s);
    }
    let mut end = MAX_DESCRIPTION_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Ok(s[..end].to_string())
}

/// Prices are strings in the API, but a number is accepted too; anything else is refused.
fn price<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    use serde::de::Error;
    let v = Option::<serde_json::Value>::deserialize(d)?;
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(D::Error::custom(format!(
            "a price must be a string or a number, not {}",
            json_kind(&other)
        ))),
    }
}

/// A nested object (`pricing`, `architecture`, `top_provider`): only a JSON object or null.
/// serde would otherwise read `"pricing": [1, 2]` positionally, as prompt "1" and
/// completion "2" (USD per token: a million dollars per million tokens).
fn object<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + serde::de::DeserializeOwned,
{
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(v @ serde_json::Value::Object(_)) => {
            serde_json::from_value(v).map_err(D::Error::custom)
        }
        Some(other) => Err(D::Error::custom(format!(
            "expected an object, found {}",
            json_kind(&other)
        ))),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Optional evidence: an object of the right shape, else `None` (never an error).
fn lenient<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(v @ serde_json::Value::Object(_)) => serde_json::from_value(v).ok(),
        _ => None,
    })
}

/// A list of optional evidence: the entries of the right shape, the others dropped.
fn lenient_list<'de, D, T>(d: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .filter(serde_json::Value::is_object)
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// A benchmark figure: a finite, non-negative number, else no data.
fn index<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<f64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_f64().filter(|x| x.is_finite() && *x >= 0.0),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &[&str] = &[
        "models-2026-02-27.json",
        "models-2026-03-30.json",
        "models-2026-03-31.json",
        "models-2026-05-01.json",
    ];

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/openrouter/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).expect("fixture")
    }

    #[test]
    fn every_recorded_catalog_loads_with_its_free_models() {
        let expected_free_ids = [25, 24, 24, 29];
        for (name, free_ids) in FIXTURES.iter().zip(expected_free_ids) {
            let c = Catalog::parse(&fixture(name), name, BUNDLED_FETCHED_AT).expect(name);
            let n = c.models.iter().filter(|m| m.id.ends_with(":free")).count();
            assert_eq!(n, free_ids, "{name}");
            assert!(c.free_count() >= n);
        }
    }

    #[test]
    fn the_bundled_catalog_is_the_newest_fixture() {
        let c = Catalog::bundled();
        assert_eq!(c.models.len(), 371);
        assert_eq!(c.source, "bundled");
        assert!(c.get("qwen/qwen3-coder:free").is_some());
    }

    #[test]
    fn prices_are_strings_and_missing_ones_are_zero() {
        let body = r#"{"data":[
            {"id":"a/one","pricing":{"prompt":"0.000001","completion":"0.000002"}},
            {"id":"a/two","pricing":{}},
            {"id":"openrouter/auto","pricing":{"prompt":"-1","completion":"-1"}},
            {"id":"a/three:free","pricing":{"prompt":"0.5","completion":"0"},"extra":{"x":1}}
        ]}"#;
        let c = Catalog::parse(body, "t", BUNDLED_FETCHED_AT).expect("parse");
        assert!(!c.models[0].is_free());
        assert_eq!(c.models[0].prompt_per_million(), Some(1.0));
        assert!(c.models[1].is_free());
        assert!(c.models[2].is_router());
        assert_eq!(c.models[2].prompt_price(), None);
        assert!(c.models[3].is_free());
    }

    #[test]
    fn optional_fields_may_be_null_or_missing() {
        let body = r#"{"data":[{"id":"x/y","name":null,"description":null,"context_length":null,
            "architecture":null,"top_provider":null,"supported_parameters":null,"pricing":null}]}"#;
        let c = Catalog::parse(body, "t", BUNDLED_FETCHED_AT).expect("parse");
        assert_eq!(c.models[0].context(), 0);
        assert!(c.models[0].outputs_text());
    }

    #[test]
    fn broken_catalogs_are_refused_with_the_reason() {
        let full = fixture("models-2026-05-01.json");
        let cases: Vec<(String, &str)> = vec![
            (full[..full.len() / 2].to_string(), "truncated"),
            ("{\"models\":[]}".into(), "no \"data\""),
            ("{\"data\":[]}".into(), "no models"),
            ("<html>502</html>".into(), "not valid JSON"),
            (r#"{"data":[{"name":"no id"}]}"#.into(), "model #1"),
            (
                r#"{"data":[{"id":"a/b","pricing":{"prompt":"free"}}]}"#.into(),
                "not a price",
            ),
            (r#"{"data":[{"id":"a/b"},{"id":"a/b"}]}"#.into(), "twice"),
            (
                r#"{"data":[{"id":"a/b","context_length":"big"}]}"#.into(),
                "\"a/b\"",
            ),
        ];
        for (body, needle) in cases {
            let err = Catalog::parse(&body, "src", BUNDLED_FETCHED_AT)
                .expect_err(needle)
                .to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
    }

    #[test]
    fn huge_descriptions_are_cut_on_a_char_boundary() {
        let desc = "é".repeat(1_000_000);
        let body = serde_json::json!({"data":[{"id":"h/x","description":desc}]}).to_string();
        let c = Catalog::parse(&body, "t", BUNDLED_FETCHED_AT).expect("parse");
        assert!(c.models[0].description.len() <= MAX_DESCRIPTION_BYTES);
    }

    #[test]
    fn a_stored_body_reads_back_equal() {
        let c = Catalog::bundled();
        let back = Catalog::from_body(&c.to_body(), &c.source, &c.fetched_at, 7).expect("body");
        assert_eq!(back.models, c.models);
    }
}
