//! The model scorer: a pure, deterministic function of the catalog and a role.
//!
//! Every model gets eight proxy sub-scores in 0..=1 (see [`SubScores`]); a role weighs them
//! ([`RoleSpec::weights`], summing to 1) into a proxy score. Where the catalog carries the
//! role's benchmark (`benchmarks` in OpenRouter's model objects), a ninth sub-score, quality,
//! takes [`QUALITY_WEIGHT`] of the total (see [`Quality`]). A model that misses one of the
//! role's hard requirements (tool calling, minimum context, text-only output, no expiry date,
//! not a router) is ranked below every qualified model. Ties are broken by model id, so the
//! same catalog always gives the same picks. Nothing here reads the clock: recency is
//! measured against the newest model in the same catalog, quality against the best model of
//! the same price class in the same catalog.

use serde::{Deserialize, Serialize};

use super::catalog::{Catalog, FREE_ROUTER_ID, Model};
use super::error::{CoreError, Result};
use super::hermes::OPENROUTER;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Pm,
    Engineer,
    Hermes,
    Creative,
    Research,
    Custom,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Pm,
        Role::Engineer,
        Role::Hermes,
        Role::Creative,
        Role::Research,
        Role::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Pm => "pm",
            Role::Engineer => "engineer",
            Role::Hermes => "hermes",
            Role::Creative => "creative",
            Role::Research => "research",
            Role::Custom => "custom",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Pm => "PM",
            Role::Engineer => "Engineer",
            Role::Hermes => "Hermes",
            Role::Creative => "Creative",
            Role::Research => "Research",
            Role::Custom => "Custom",
        }
    }

    pub fn parse(s: &str) -> Result<Role> {
        let wanted = s.trim().to_ascii_lowercase();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| {
                CoreError::usage(format!(
                    "unknown role {:?}; roles are: {}",
                    super::catalog::clip(s, 40),
                    Role::ALL.map(|r| r.as_str()).join(", ")
                ))
            })
    }

    /// The benchmark that measures a role's work. Creative reads Design Arena first and
    /// falls back to the intelligence index (see [`Scorer::quality`]).
    pub fn benchmark(self) -> Benchmark {
        match self {
            Role::Pm | Role::Research | Role::Custom => Benchmark::IntelligenceIndex,
            Role::Engineer => Benchmark::CodingIndex,
            Role::Hermes => Benchmark::AgenticIndex,
            Role::Creative => Benchmark::DesignArenaElo,
        }
    }

    pub fn spec(self) -> &'static RoleSpec {
        match self {
            Role::Pm => &ROLE_SPECS[0],
            Role::Engineer => &ROLE_SPECS[1],
            Role::Hermes => &ROLE_SPECS[2],
            Role::Creative => &ROLE_SPECS[3],
            Role::Research => &ROLE_SPECS[4],
            Role::Custom => &ROLE_SPECS[5],
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much each sub-score counts for a role. The weights sum to 1: in a role's spec the
/// eight proxies alone (`quality` 0); in a breakdown, the weights that made that total
/// ([`Weights::with_quality`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    pub context: f64,
    pub capability: f64,
    pub size: f64,
    pub recency: f64,
    pub reliability: f64,
    pub output: f64,
    pub fit: f64,
    pub price: f64,
    pub quality: f64,
}

impl Weights {
    /// The proxies scaled to `1 - QUALITY_WEIGHT` and quality at [`QUALITY_WEIGHT`].
    pub fn with_quality(self) -> Weights {
        let k = 1.0 - QUALITY_WEIGHT;
        Weights {
            context: self.context * k,
            capability: self.capability * k,
            size: self.size * k,
            recency: self.recency * k,
            reliability: self.reliability * k,
            output: self.output * k,
            fit: self.fit * k,
            price: self.price * k,
            quality: QUALITY_WEIGHT,
        }
    }
}

/// The share of the total that quality takes when the role's benchmark is known in the
/// model's price class. Above one half on purpose: a model whose index is 10 % or more below
/// the best cannot make up the difference on the proxies, which are worth only 0.45.
pub const QUALITY_WEIGHT: f64 = 0.55;

/// A model whose index is below this share of the best in its class scores 0 on quality;
/// quality rises linearly from here to 1 at the best.
pub const QUALITY_BAND: f64 = 0.90;

/// The quality counted for a model with no data while others in its price class have
/// some. It wins only with a proxy score more than
/// `QUALITY_WEIGHT × (1 − UNKNOWN_QUALITY) / (1 − QUALITY_WEIGHT)` (24.4 points out of 100)
/// above the best benchmarked model's: when the models with data are clearly worse on
/// everything else.
pub const UNKNOWN_QUALITY: f64 = 0.80;

/// Design Arena categories that fit the creative role: open-ended visual design, not code.
pub const CREATIVE_ARENA_CATEGORIES: [&str; 5] = ["svg", "asciiart", "3d", "graphicdesign", "logo"];

/// A benchmark the catalog carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Benchmark {
    IntelligenceIndex,
    CodingIndex,
    AgenticIndex,
    /// The mean ELO over [`CREATIVE_ARENA_CATEGORIES`].
    DesignArenaElo,
}

impl Benchmark {
    pub fn label(self) -> &'static str {
        match self {
            Benchmark::IntelligenceIndex => "intelligence index",
            Benchmark::CodingIndex => "coding index",
            Benchmark::AgenticIndex => "agentic index",
            Benchmark::DesignArenaElo => "Design Arena ELO",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Where a model's quality sub-score came from: the evidence "why this model?" shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Quality {
    /// The catalog's figure for this model, and the best figure among the qualified models
    /// of its price class (free or paid) for the role.
    Measured {
        benchmark: Benchmark,
        value: f64,
        best: f64,
    },
    /// No figure for this model while others of its price class have one: counted as
    /// [`UNKNOWN_QUALITY`].
    Unknown { benchmark: Benchmark },
    /// No qualified model of its price class has the role's benchmark (older catalogs): the
    /// proxies alone decide, with today's weights.
    NoData,
}

impl Quality {
    /// One line of evidence, as every surface shows it.
    pub fn describe(&self, free: bool) -> String {
        let class = if free { "free" } else { "paid" };
        match self {
            Quality::Measured {
                benchmark,
                value,
                best,
            } => format!("{} {value:.1} (best {class}: {best:.1})", benchmark.label()),
            Quality::Unknown { benchmark } => format!(
                "no benchmark data ({} unknown, counted as {:.0} %)",
                benchmark.label(),
                UNKNOWN_QUALITY * 100.0
            ),
            Quality::NoData => "no benchmark data (proxies only)".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RoleSpec {
    pub role: Role,
    /// Hard requirement: at least this many tokens of context.
    pub min_context: u64,
    pub weights: Weights,
    /// Words in a model's id or name that suit the role (the `fit` sub-score).
    pub fit_words: &'static [&'static str],
}

#[allow(clippy::too_many_arguments)]
const fn w(
    context: f64,
    capability: f64,
    size: f64,
    recency: f64,
    reliability: f64,
    output: f64,
    fit: f64,
    price: f64,
) -> Weights {
    Weights {
        context,
        capability,
        size,
        recency,
        reliability,
        output,
        fit,
        price,
        quality: 0.0,
    }
}

pub static ROLE_SPECS: [RoleSpec; 6] = [
    RoleSpec {
        role: Role::Pm,
        min_context: 32_768,
        weights: w(0.20, 0.20, 0.15, 0.10, 0.20, 0.05, 0.05, 0.05),
        fit_words: &["instruct", "chat", "plus", "pro"],
    },
    RoleSpec {
        role: Role::Engineer,
        min_context: 65_536,
        weights: w(0.20, 0.15, 0.15, 0.10, 0.10, 0.10, 0.15, 0.05),
        fit_words: &["coder", "code", "devstral", "swe", "program"],
    },
    RoleSpec {
        role: Role::Hermes,
        min_context: 65_536,
        weights: w(0.25, 0.20, 0.10, 0.10, 0.20, 0.05, 0.05, 0.05),
        fit_words: &["hermes", "agent", "tool", "nemotron"],
    },
    RoleSpec {
        role: Role::Creative,
        min_context: 16_384,
        weights: w(0.10, 0.10, 0.20, 0.15, 0.10, 0.15, 0.15, 0.05),
        fit_words: &["creative", "story", "writer", "roleplay", "venice"],
    },
    RoleSpec {
        role: Role::Research,
        min_context: 131_072,
        weights: w(0.30, 0.20, 0.15, 0.10, 0.10, 0.05, 0.05, 0.05),
        fit_words: &["research", "deep", "think", "reason", "search"],
    },
    RoleSpec {
        role: Role::Custom,
        min_context: 32_768,
        weights: w(0.20, 0.20, 0.15, 0.15, 0.15, 0.05, 0.05, 0.05),
        fit_words: &[],
    },
];

/// The sub-scores, each in 0..=1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SubScores {
    /// The role's benchmark against the best of the model's price class: 0 at or below
    /// [`QUALITY_BAND`] of the best, 1 at the best; [`UNKNOWN_QUALITY`] without data; `None`
    /// when no model of the class has data (the proxies decide alone).
    #[serde(default)]
    pub quality: Option<f64>,
    /// log2 of the context window: 8k tokens = 0, 1M = 1.
    pub context: f64,
    /// tool_choice 0.30, structured output 0.25, reasoning 0.30, image input 0.15.
    pub capability: f64,
    /// log10 of the parameter count read from the id ("480b", "1t"): 1B = 0, 1T = 1; unknown 0.5.
    pub size: f64,
    /// Age against the newest model in the catalog: same day = 1, 540 days older = 0.
    pub recency: f64,
    /// 1, less 0.35 for preview/alpha/beta/experimental, less 0.15 with no stated output limit.
    pub reliability: f64,
    /// log2 of max completion tokens: 4k = 0, 128k = 1; unknown 0.3.
    pub output: f64,
    /// 1 when the id or name has a word that suits the role, else 0 (0.5 for custom).
    pub fit: f64,
    /// Free = 1; paid falls with the log of the blended price per million tokens ($100 = 0).
    pub price: f64,
}

/// Why a model cannot serve a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Disqualified {
    Router,
    NoTools,
    NoTextOutput,
    /// Outputs audio or images as well as text: a music, speech or image model.
    NotTextOnly,
    Expiring,
    ContextBelow {
        min: u64,
    },
}

impl std::fmt::Display for Disqualified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Disqualified::Router => f.write_str("a router, not a model"),
            Disqualified::NoTools => f.write_str("no tool calling"),
            Disqualified::NoTextOutput => f.write_str("no text output"),
            Disqualified::NotTextOnly => f.write_str("outputs more than text (not a text model)"),
            Disqualified::Expiring => f.write_str("has an expiration date"),
            Disqualified::ContextBelow { min } => write!(f, "context below {min}"),
        }
    }
}

/// A model's score for one role. `index` points into the catalog's `models`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub index: u32,
    pub total: f64,
    pub sub: SubScores,
    pub quality: Quality,
    pub disqualified: Option<Disqualified>,
}

impl Scored {
    pub fn qualified(&self) -> bool {
        self.disqualified.is_none()
    }
}

/// One model's place in a role's ranking ([`Scorer::ranking`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ranked {
    pub index: u32,
    /// The total in hundredths of a point (0..=10000): [`Scored::total`] × 100.
    pub cents: u16,
    pub qualified: bool,
}

impl Ranked {
    /// The total, as [`Scored::total`] has it.
    pub fn total(&self) -> f64 {
        f64::from(self.cents) / 100.0
    }
}

/// Role-independent facts about a model, computed once per catalog.
#[derive(Debug, Clone, Default)]
struct Features {
    sub: SubScores,
    /// Bit `role as u8` is set when the id or name has one of the role's fit words.
    fit: u8,
    context: u64,
    /// The first role-independent hard requirement it misses.
    unfit: Option<Disqualified>,
    free: bool,
    /// Each [`Benchmark`]'s figure (by `slot`), NaN when absent.
    bench: [f64; 4],
}

/// The best figure of each benchmark among a role's qualified models, per price class
/// (`[free, paid]`, by `slot`); NaN when none has it.
type Best = [[f64; 4]; 2];

/// Scores a whole catalog for any role. Build once per catalog, then ask per role.
pub struct Scorer<'a> {
    pub catalog: &'a Catalog,
    features: Vec<Features>,
    /// Per role (by `Role as usize`).
    best: [Best; 6],
    /// Each model's position in id order, so ties are broken by an integer compare.
    by_id: std::sync::OnceLock<Vec<u32>>,
}

impl<'a> Scorer<'a> {
    pub fn new(catalog: &'a Catalog) -> Scorer<'a> {
        let newest = catalog.models.iter().map(|m| m.created).max().unwrap_or(0);
        let models = &catalog.models;
        // Large catalogs are split across the cores; the result is the same either way.
        // (Asking for the core count reads cgroup files: only worth it for a large catalog.)
        let threads = if models.len() < 20_000 {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8)
        };
        let features: Vec<Features> = if threads < 2 {
            let mut buf = String::new();
            models
                .iter()
                .map(|m| features(m, newest, &mut buf))
                .collect()
        } else {
            // Each thread fills its own part of one vector: no per-thread vectors to copy
            // and grow into the result (that copy was a sixth of the time at 100,000).
            let chunk = models.len().div_ceil(threads);
            let mut out = vec![Features::default(); models.len()];
            std::thread::scope(|scope| {
                for (dest, part) in out.chunks_mut(chunk).zip(models.chunks(chunk)) {
                    scope.spawn(move || {
                        let mut buf = String::new();
                        for (d, m) in dest.iter_mut().zip(part) {
                            *d = features(m, newest, &mut buf);
                        }
                    });
                }
            });
            out
        };
        let best = best_figures(&features);
        Scorer {
            catalog,
            features,
            best,
            by_id: std::sync::OnceLock::new(),
        }
    }

    /// The model indexes in id order (computed on first use): ranking walks them in this
    /// order, so ties come out by id without comparing strings per role.
    fn by_id(&self) -> &[u32] {
        self.by_id.get_or_init(|| {
            let models = &self.catalog.models;
            // Sort on the ids' first 16 bytes as one integer; only equal prefixes compare
            // the whole strings (the same order as comparing the strings).
            let prefix = |id: &str| {
                let mut b = [0u8; 16];
                let n = id.len().min(16);
                b[..n].copy_from_slice(&id.as_bytes()[..n]);
                u128::from_be_bytes(b)
            };
            let mut by_id: Vec<(u128, u32)> = models
                .iter()
                .enumerate()
                .map(|(i, m)| (prefix(&m.id), i as u32))
                .collect();
            by_id.sort_unstable_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| models[a.1 as usize].id.cmp(&models[b.1 as usize].id))
            });
            by_id.into_iter().map(|(_, i)| i).collect()
        })
    }

    pub fn model(&self, s: &Scored) -> &'a Model {
        &self.catalog.models[s.index as usize]
    }

    pub fn is_free(&self, index: u32) -> bool {
        self.features[index as usize].free
    }

    /// The evidence for a model's quality in a role, and the quality sub-score it gives.
    pub fn quality(&self, index: u32, role: Role) -> (Quality, Option<f64>) {
        self.quality_of(&self.features[index as usize], role)
    }

    #[inline]
    fn quality_of(&self, f: &Features, role: Role) -> (Quality, Option<f64>) {
        let best = &self.best[role as usize][usize::from(!f.free)];
        // Creative: Design Arena where the model has a fitting category, else intelligence.
        let candidates: &[Benchmark] = match role {
            Role::Creative => &[Benchmark::DesignArenaElo, Benchmark::IntelligenceIndex],
            _ => std::slice::from_ref(match role {
                Role::Pm | Role::Research | Role::Custom => &Benchmark::IntelligenceIndex,
                Role::Engineer => &Benchmark::CodingIndex,
                Role::Hermes => &Benchmark::AgenticIndex,
                Role::Creative => &Benchmark::DesignArenaElo,
            }),
        };
        for &b in candidates {
            let (value, top) = (f.bench[b.slot()], best[b.slot()]);
            if !value.is_nan() && top > 0.0 {
                let q = unit((value / top - QUALITY_BAND) / (1.0 - QUALITY_BAND));
                let evidence = Quality::Measured {
                    benchmark: b,
                    value,
                    best: top,
                };
                return (evidence, Some(q));
            }
        }
        if candidates.iter().any(|b| best[b.slot()] > 0.0) {
            (
                Quality::Unknown {
                    benchmark: role.benchmark(),
                },
                Some(UNKNOWN_QUALITY),
            )
        } else {
            (Quality::NoData, None)
        }
    }

    /// A model's sub-scores, quality evidence and total (rounded to hundredths) for a role:
    /// the one formula behind both [`Scorer::score`] and the rankings.
    #[inline]
    fn total(&self, f: &Features, role: Role) -> (SubScores, Quality, f64) {
        let spec = role.spec();
        let mut sub = f.sub;
        sub.fit = if spec.fit_words.is_empty() {
            0.5
        } else if f.fit & (1 << role as u8) != 0 {
            1.0
        } else {
            0.0
        };
        let (quality, q) = self.quality_of(f, role);
        sub.quality = q;
        let wts = spec.weights;
        let proxies = wts.context * sub.context
            + wts.capability * sub.capability
            + wts.size * sub.size
            + wts.recency * sub.recency
            + wts.reliability * sub.reliability
            + wts.output * sub.output
            + wts.fit * sub.fit
            + wts.price * sub.price;
        let total = 100.0
            * match q {
                Some(q) => QUALITY_WEIGHT * q + (1.0 - QUALITY_WEIGHT) * proxies,
                None => proxies,
            };
        (sub, quality, (total * 100.0).round() / 100.0)
    }

    /// The first of a role's hard requirements a model misses, if any.
    #[inline]
    fn disqualified(f: &Features, role: Role) -> Option<Disqualified> {
        let min = role.spec().min_context;
        f.unfit
            .or_else(|| (f.context < min).then_some(Disqualified::ContextBelow { min }))
    }

    /// One model's score for one role.
    pub fn score(&self, index: u32, role: Role) -> Scored {
        let f = &self.features[index as usize];
        let (sub, quality, total) = self.total(f, role);
        Scored {
            index,
            total,
            sub,
            quality,
            disqualified: Scorer::disqualified(f, role),
        }
    }

    /// "Why this model?" in one line for a model of the catalog: the role's benchmark and
    /// its value, or that there is none.
    pub fn evidence(&self, id: &str, role: Role) -> Option<String> {
        let index = self.catalog.models.iter().position(|m| m.id == id)? as u32;
        let (quality, _) = self.quality(index, role);
        Some(quality.describe(self.is_free(index)))
    }

    /// The weights that made a score's total (see [`Weights::with_quality`]).
    pub fn weights(s: &Scored, role: Role) -> Weights {
        match s.sub.quality {
            Some(_) => role.spec().weights.with_quality(),
            None => role.spec().weights,
        }
    }

    /// Every model ranked for `role`: qualified first, then by total (high first), then id;
    /// each with its whole breakdown (see [`Scorer::ranking`] for the compact form).
    pub fn rank(&self, role: Role) -> Vec<Scored> {
        self.ranking(role)
            .iter()
            .map(|r| self.score(r.index, role))
            .collect()
    }

    /// Every model's total and place for `role`, best first: qualified first, then by total
    /// (high first), then id. Eight bytes a model, so a large catalog's six rankings stay
    /// small; [`Scorer::score`] gives any row's breakdown when it is needed.
    pub fn ranking(&self, role: Role) -> Vec<Ranked> {
        // Totals are whole cents of a point (0..=10000), so the order "qualified first, then
        // total high to low" has 2 × 10001 keys: a counting sort, with no comparisons.
        // Filling the buckets in id order makes ties come out by id.
        const CENTS: u16 = 10_001;
        let keys: Vec<u16> = self
            .features
            .iter()
            .map(|f| {
                let cents = (self.total(f, role).2 * 100.0).round().clamp(0.0, 10_000.0) as u16;
                let unqualified = Scorer::disqualified(f, role).is_some();
                u16::from(unqualified) * CENTS + (10_000 - cents)
            })
            .collect();
        let mut start = vec![0u32; 2 * usize::from(CENTS) + 1];
        for &k in &keys {
            start[usize::from(k) + 1] += 1;
        }
        for b in 1..start.len() {
            start[b] += start[b - 1];
        }
        let mut out = vec![Ranked::default(); keys.len()];
        for &index in self.by_id() {
            let k = keys[index as usize];
            let slot = &mut start[usize::from(k)];
            out[*slot as usize] = Ranked {
                index,
                cents: 10_000 - k % CENTS,
                qualified: k < CENTS,
            };
            *slot += 1;
        }
        out
    }

    /// Every role's ranking, the roles split across the cores for a large catalog: what a
    /// rescore needs.
    pub fn rank_all(&self) -> Vec<(Role, Vec<Ranked>)> {
        let threads = if self.features.len() < 20_000 {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(Role::ALL.len())
        };
        if threads < 2 {
            return Role::ALL.iter().map(|&r| (r, self.ranking(r))).collect();
        }
        self.by_id();
        let per = Role::ALL.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = Role::ALL
                .chunks(per)
                .map(|roles| {
                    scope.spawn(move || {
                        roles
                            .iter()
                            .map(|&r| (r, self.ranking(r)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }

    /// The best qualified model among those `keep` accepts, if any.
    pub fn best(&self, role: Role, keep: impl Fn(&Model, bool) -> bool) -> Option<Scored> {
        let models = &self.catalog.models;
        (0..self.features.len() as u32)
            .filter(|&i| keep(&models[i as usize], self.features[i as usize].free))
            .map(|i| self.score(i, role))
            .filter(Scored::qualified)
            .max_by(|a, b| {
                a.total.total_cmp(&b.total).then_with(|| {
                    let models = &self.catalog.models;
                    models[b.index as usize]
                        .id
                        .cmp(&models[a.index as usize].id)
                })
            })
    }

    /// The pick for a free agent, with the fallback chain when nothing free qualifies.
    pub fn best_free(&self, role: Role, ollama_model: &str) -> Pick {
        if let Some(s) = self.best(role, |_, free| free) {
            let m = self.model(&s);
            return Pick {
                role,
                model: m.id.clone(),
                provider: OPENROUTER.into(),
                base_url: None,
                score: Some(s.total),
                sub: Some(s.sub),
                fallback: None,
            };
        }
        if self.catalog.get(FREE_ROUTER_ID).is_some() {
            return Pick {
                role,
                model: FREE_ROUTER_ID.into(),
                provider: OPENROUTER.into(),
                base_url: None,
                score: None,
                sub: None,
                fallback: Some(Fallback::FreeRouter),
            };
        }
        Pick {
            role,
            model: ollama_model.to_string(),
            provider: "custom".into(),
            base_url: Some(format!("{}/v1", super::paths::DEFAULT_OLLAMA_URL)),
            score: None,
            sub: None,
            fallback: Some(Fallback::Ollama),
        }
    }

    /// The best paid model for a role: what `upgrade` recommends.
    pub fn best_paid(&self, role: Role) -> Option<Scored> {
        self.best(role, |_, free| !free)
    }
}

/// How a pick was made when no free model qualified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// `openrouter/free`: OpenRouter picks a free model per request.
    FreeRouter,
    /// A local Qwen model on Ollama.
    Ollama,
}

/// The model chosen for a role, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    pub role: Role,
    pub model: String,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub score: Option<f64>,
    pub sub: Option<SubScores>,
    pub fallback: Option<Fallback>,
}

/// The default local model for the last fallback, when Ollama lists no Qwen model.
pub const DEFAULT_OLLAMA_MODEL: &str = "qwen3:8b";

/// Role-independent facts about one model. `haystack` is a reusable buffer.
fn features(m: &Model, newest: i64, haystack: &mut String) -> Features {
    haystack.clear();
    haystack.push_str(&m.id);
    haystack.push(' ');
    haystack.push_str(&m.name);
    haystack.make_ascii_lowercase();
    let haystack = haystack.as_str();

    let ctx = m.context();
    let context = unit((log2(ctx) - 13.0) / 7.0);
    let (mut tools, mut tool_choice, mut structured, mut reasoning) = (false, false, false, false);
    for p in &m.supported_parameters {
        match p.as_str() {
            "tools" => tools = true,
            "tool_choice" => tool_choice = true,
            "structured_outputs" | "response_format" => structured = true,
            "reasoning" | "include_reasoning" => reasoning = true,
            _ => {}
        }
    }
    let mut capability = 0.0;
    if tool_choice {
        capability += 0.30;
    }
    if structured {
        capability += 0.25;
    }
    if reasoning {
        capability += 0.30;
    }
    if m.architecture.input_modalities.iter().any(|x| x == "image") {
        capability += 0.15;
    }
    let size = match parameter_billions(haystack).or_else(|| {
        let slug = m.canonical_slug.to_ascii_lowercase();
        parameter_billions(&slug)
    }) {
        Some(b) => unit(b.log10() / 3.0),
        None => 0.5,
    };
    // Saturating: a catalog that slipped an absurd `created` past the parser must not wrap
    // an ancient model into the newest.
    let age_days = newest.saturating_sub(m.created).max(0) as f64 / 86_400.0;
    let recency = unit(1.0 - age_days / 540.0);
    let words = find_words(haystack.as_bytes());
    let mut reliability: f64 = 1.0;
    if words & UNSTABLE != 0 {
        reliability -= 0.35;
    }
    if m.top_provider.max_completion_tokens.is_none() {
        reliability -= 0.15;
    }
    let output = match m.top_provider.max_completion_tokens {
        Some(t) if t > 0 => unit((log2(t) - 12.0) / 5.0),
        _ => 0.3,
    };
    // Each price string is parsed once (`is_free` and the per-million prices would parse
    // them again): the same answers as those methods.
    let (prompt, completion) = (m.prompt_price(), m.completion_price());
    let free = m.id.ends_with(":free") || (prompt == Some(0.0) && completion == Some(0.0));
    let price = if free {
        1.0
    } else {
        match (prompt.map(|p| p * 1e6), completion.map(|c| c * 1e6)) {
            (Some(p), Some(c)) => {
                let blended = (3.0 * p + c) / 4.0;
                unit(1.0 - (1.0 + blended).log10() / 101f64.log10())
            }
            _ => 0.0,
        }
    };
    let mut bench = [f64::NAN; 4];
    if let Some(b) = &m.benchmarks {
        if let Some(aa) = &b.artificial_analysis {
            for (slot, v) in [
                (Benchmark::IntelligenceIndex, aa.intelligence_index),
                (Benchmark::CodingIndex, aa.coding_index),
                (Benchmark::AgenticIndex, aa.agentic_index),
            ] {
                if let Some(v) = v {
                    bench[slot.slot()] = v;
                }
            }
        }
        let (sum, n) = b
            .design_arena
            .iter()
            .filter(|r| CREATIVE_ARENA_CATEGORIES.contains(&r.category.as_str()))
            .filter_map(|r| r.elo)
            .fold((0.0, 0u32), |(s, n), e| (s + e, n + 1));
        if n > 0 {
            bench[Benchmark::DesignArenaElo.slot()] = sum / f64::from(n);
        }
    }
    let unfit = if m.is_router() {
        Some(Disqualified::Router)
    } else if !m.outputs_text() {
        Some(Disqualified::NoTextOutput)
    } else if !m.outputs_only_text() {
        Some(Disqualified::NotTextOnly)
    } else if !tools {
        Some(Disqualified::NoTools)
    } else if m
        .expiration_date
        .as_deref()
        .is_some_and(|d| !d.trim().is_empty())
    {
        Some(Disqualified::Expiring)
    } else {
        None
    };
    Features {
        sub: SubScores {
            quality: None,
            context,
            capability,
            size,
            recency,
            reliability: reliability.max(0.0),
            output,
            fit: 0.0,
            price,
        },
        fit: (words & 0xff) as u8,
        context: ctx,
        unfit,
        free,
        bench,
    }
}

/// The best figure of each benchmark among each role's qualified models, per price class.
fn best_figures(features: &[Features]) -> [Best; 6] {
    let mut best = [[[f64::NAN; 4]; 2]; 6];
    for f in features.iter().filter(|f| f.unfit.is_none()) {
        if f.bench.iter().all(|v| v.is_nan()) {
            continue;
        }
        for role in Role::ALL {
            if f.context < role.spec().min_context {
                continue;
            }
            let slots = &mut best[role as usize][usize::from(!f.free)];
            for (top, &v) in slots.iter_mut().zip(&f.bench) {
                // NaN.max(v) is v: the first figure seen becomes the best so far.
                if !v.is_nan() {
                    *top = top.max(v);
                }
            }
        }
    }
    best
}

/// The role-independent requirement a model misses (router, output, tools, expiry), if any.
pub fn unfit(m: &Model) -> Option<Disqualified> {
    features(m, m.created, &mut String::new()).unfit
}

/// Bit 8 of [`find_words`]: a preview/alpha/beta/experimental model.
const UNSTABLE: u16 = 1 << 8;
const UNSTABLE_WORDS: [&str; 5] = ["preview", "alpha", "beta", "experimental", "-exp"];

/// Which words of interest a lowercase id-and-name holds, in one pass: bit `role` for each
/// role with a fit word in it, and [`UNSTABLE`]. The same answer as `str::contains` for each
/// word, at a fraction of the cost over large catalogs.
fn find_words(hay: &[u8]) -> u16 {
    struct Table {
        /// For each first byte, the range of `words` that start with it.
        by_first: [(u8, u8); 256],
        words: Vec<(&'static [u8], u16)>,
    }
    static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut words: Vec<(&'static [u8], u16)> = Vec::new();
        for spec in &ROLE_SPECS {
            for w in spec.fit_words {
                words.push((w.as_bytes(), 1 << spec.role as u8));
            }
        }
        for w in UNSTABLE_WORDS {
            words.push((w.as_bytes(), UNSTABLE));
        }
        words.sort_by_key(|(w, _)| w.first().copied().unwrap_or(0));
        let mut by_first = [(0u8, 0u8); 256];
        for (i, (w, _)) in words.iter().enumerate() {
            let b = w.first().copied().unwrap_or(0) as usize;
            if by_first[b].1 == 0 {
                by_first[b].0 = i as u8;
            }
            by_first[b].1 += 1;
        }
        Table { by_first, words }
    });
    let mut bits = 0u16;
    for i in 0..hay.len() {
        let (start, len) = t.by_first[hay[i] as usize];
        for (w, bit) in &t.words[start as usize..(start + len) as usize] {
            // The second byte rules out most candidates before a whole compare.
            if bits & bit == 0 && hay.get(i + 1) == w.get(1) && hay[i..].starts_with(w) {
                bits |= bit;
            }
        }
    }
    bits
}

fn unit(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

fn log2(x: u64) -> f64 {
    if x == 0 { 0.0 } else { (x as f64).log2() }
}

/// The largest parameter count named in an id or name: "480b" → 480, "1.2b" → 1.2,
/// "1t" → 1000. Active-parameter tags ("a35b", "e4b") are skipped.
pub fn parameter_billions(s: &str) -> Option<f64> {
    let bytes = s.as_bytes();
    let mut best: Option<f64> = None;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit()
            || (i > 0 && (bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.'))
        {
            i += 1;
            continue;
        }
        let prev = if i > 0 { bytes[i - 1] } else { b' ' };
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let unit_char = bytes.get(i).copied();
        let next_ok = bytes.get(i + 1).is_none_or(|c| !c.is_ascii_alphanumeric());
        let active = prev == b'a' || prev == b'e';
        let scale = match unit_char {
            Some(b'b') => Some(1.0),
            Some(b't') => Some(1000.0),
            _ => None,
        };
        if let (Some(scale), true, false) = (scale, next_ok, active)
            && let Ok(n) = s[start..i].parse::<f64>()
        {
            let v = n * scale;
            if v > 0.0 && best.is_none_or(|b| v > b) {
                best = Some(v);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(name: &str) -> Catalog {
        let path = format!(
            "{}/tests/fixtures/openrouter/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read_to_string(path).expect("fixture");
        Catalog::parse(&body, name, "2026-05-01T00:00:00.000000Z").expect("parse")
    }

    #[test]
    fn weights_sum_to_one_for_every_role() {
        for spec in &ROLE_SPECS {
            let w = spec.weights;
            let sum = w.context
                + w.capability
                + w.size
                + w.recency
                + w.reliability
                + w.output
                + w.fit
                + w.price;
            assert!((sum - 1.0).abs() < 1e-9, "{:?} sums to {sum}", spec.role);
            assert_eq!(w.quality, 0.0, "a spec holds the proxy weights");
            let q = w.with_quality();
            let sum = q.context
                + q.capability
                + q.size
                + q.recency
                + q.reliability
                + q.output
                + q.fit
                + q.price
                + q.quality;
            assert!(
                (sum - 1.0).abs() < 1e-9,
                "{:?} with quality: {sum}",
                spec.role
            );
            assert_eq!(spec.role.spec().role, spec.role);
        }
    }

    #[test]
    fn the_same_catalog_gives_the_same_picks_whatever_its_order() {
        let c = catalog("models-2026-05-01.json");
        let mut reversed = c.clone();
        reversed.models.reverse();
        for role in Role::ALL {
            let a = Scorer::new(&c).best_free(role, DEFAULT_OLLAMA_MODEL);
            let b = Scorer::new(&reversed).best_free(role, DEFAULT_OLLAMA_MODEL);
            assert_eq!(a, b, "{role}");
            assert!(a.fallback.is_none(), "{role} found a free model");
        }
    }

    #[test]
    fn every_pick_meets_its_role_requirements() {
        for name in [
            "models-2026-02-27.json",
            "models-2026-03-31.json",
            "models-2026-05-01.json",
        ] {
            let c = catalog(name);
            let s = Scorer::new(&c);
            for role in Role::ALL {
                let pick = s.best_free(role, DEFAULT_OLLAMA_MODEL);
                let m = c.get(&pick.model).expect("picked model is in the catalog");
                assert!(m.is_free(), "{name} {role}: {} is free", m.id);
                assert!(m.supports("tools"));
                assert!(m.context() >= role.spec().min_context);
                assert!(m.outputs_text());
                assert!(m.expiration_date.is_none());
                assert!(!m.is_router());
            }
        }
    }

    #[test]
    fn ranking_all_roles_at_once_equals_ranking_each() {
        let c = catalog("models-2026-05-01.json");
        let mut big = c.clone();
        big.models = (0..25_000)
            .map(|i| {
                let mut m = c.models[(i * 7919) % c.models.len()].clone();
                m.id = format!("{}-{i}", m.id);
                m
            })
            .collect();
        let s = Scorer::new(&big);
        let all = s.rank_all();
        assert_eq!(all.len(), 6);
        for (role, ranked) in all {
            assert_eq!(ranked, s.ranking(role), "{role}");
            let full = s.rank(role);
            assert_eq!(full.len(), ranked.len());
            for (r, f) in ranked.iter().zip(&full) {
                assert_eq!(r.index, f.index, "{role}");
                assert_eq!(r.total(), f.total, "{role}");
                assert_eq!(r.qualified, f.qualified(), "{role}");
            }
        }
    }

    #[test]
    fn ranking_agrees_with_a_plain_sort_by_qualified_total_and_id() {
        for name in ["models-2026-05-01.json", "models-2026-06-16.json"] {
            let c = catalog(name);
            let s = Scorer::new(&c);
            for role in Role::ALL {
                let mut expected: Vec<Scored> = (0..c.models.len() as u32)
                    .map(|i| s.score(i, role))
                    .collect();
                expected.sort_by(|a, b| {
                    b.qualified()
                        .cmp(&a.qualified())
                        .then(b.total.total_cmp(&a.total))
                        .then_with(|| s.model(a).id.cmp(&s.model(b).id))
                });
                assert_eq!(s.rank(role), expected, "{name} {role}");
            }
        }
    }

    #[test]
    fn the_scorers_price_class_agrees_with_the_catalogs() {
        for name in ["models-2026-05-01.json", "models-2026-06-16.json"] {
            let c = catalog(name);
            let s = Scorer::new(&c);
            for (i, m) in c.models.iter().enumerate() {
                assert_eq!(s.is_free(i as u32), m.is_free(), "{name} {}", m.id);
            }
        }
    }

    #[test]
    fn ties_are_broken_by_id() {
        let body = r#"{"data":[
          {"id":"b/same:free","created":1,"context_length":131072,"supported_parameters":["tools"],"architecture":{"output_modalities":["text"]}},
          {"id":"a/same:free","created":1,"context_length":131072,"supported_parameters":["tools"],"architecture":{"output_modalities":["text"]}}
        ]}"#;
        let c = Catalog::parse(body, "t", "x").expect("parse");
        let s = Scorer::new(&c);
        assert_eq!(s.best_free(Role::Pm, "q").model, "a/same:free");
        let ranked = s.rank(Role::Pm);
        assert_eq!(c.models[ranked[0].index as usize].id, "a/same:free");
    }

    #[test]
    fn with_nothing_qualified_the_free_router_then_ollama_is_used() {
        let body = r#"{"data":[
          {"id":"openrouter/free","context_length":200000,"supported_parameters":["tools"],"pricing":{"prompt":"0","completion":"0"}},
          {"id":"tiny/model:free","context_length":4096,"supported_parameters":["tools"]}
        ]}"#;
        let c = Catalog::parse(body, "t", "x").expect("parse");
        let pick = Scorer::new(&c).best_free(Role::Research, "qwen3:8b");
        assert_eq!(pick.model, "openrouter/free");
        assert_eq!(pick.fallback, Some(Fallback::FreeRouter));

        let body = r#"{"data":[{"id":"tiny/model:free","context_length":4096}]}"#;
        let c = Catalog::parse(body, "t", "x").expect("parse");
        let pick = Scorer::new(&c).best_free(Role::Engineer, "qwen3:8b");
        assert_eq!(pick.fallback, Some(Fallback::Ollama));
        assert_eq!(pick.provider, "custom");
        assert_eq!(pick.model, "qwen3:8b");
    }

    #[test]
    fn disqualified_models_say_why() {
        let c = catalog("models-2026-05-01.json");
        let s = Scorer::new(&c);
        let idx = |id: &str| c.models.iter().position(|m| m.id == id).expect(id) as u32;
        assert_eq!(
            s.score(idx("google/gemma-3-27b-it:free"), Role::Pm)
                .disqualified,
            Some(Disqualified::NoTools)
        );
        assert_eq!(
            s.score(idx("inclusionai/ling-2.6-1t:free"), Role::Pm)
                .disqualified,
            Some(Disqualified::Expiring)
        );
        assert_eq!(
            s.score(idx("openrouter/free"), Role::Pm).disqualified,
            Some(Disqualified::Router)
        );
        assert_eq!(
            s.score(
                idx("meta-llama/llama-3.3-70b-instruct:free"),
                Role::Research
            )
            .disqualified,
            Some(Disqualified::ContextBelow { min: 131_072 })
        );
    }

    #[test]
    fn sub_scores_stay_in_range_and_totals_in_0_to_100() {
        let c = catalog("models-2026-06-16.json");
        let s = Scorer::new(&c);
        for role in Role::ALL {
            for r in s.rank(role) {
                let x = r.sub;
                for v in [
                    x.context,
                    x.capability,
                    x.size,
                    x.recency,
                    x.reliability,
                    x.output,
                    x.fit,
                    x.price,
                    x.quality.unwrap_or(0.0),
                ] {
                    assert!((0.0..=1.0).contains(&v));
                }
                assert!((0.0..=100.0).contains(&r.total));
            }
        }
    }

    #[test]
    fn the_one_pass_word_finder_agrees_with_contains() {
        let c = catalog("models-2026-05-01.json");
        for m in &c.models {
            let hay = format!("{} {}", m.id, m.name).to_ascii_lowercase();
            let bits = find_words(hay.as_bytes());
            for spec in &ROLE_SPECS {
                let expect = spec.fit_words.iter().any(|w| hay.contains(w));
                assert_eq!(
                    bits & (1 << spec.role as u8) != 0,
                    expect,
                    "{} {:?}",
                    m.id,
                    spec.role
                );
            }
            let unstable = UNSTABLE_WORDS.iter().any(|w| hay.contains(w));
            assert_eq!(bits & UNSTABLE != 0, unstable, "{}", m.id);
        }
    }

    #[test]
    fn parameter_counts_are_read_from_ids() {
        assert_eq!(
            parameter_billions("qwen/qwen3-coder-480b-a35b-07-25"),
            Some(480.0)
        );
        assert_eq!(
            parameter_billions("liquid/lfm-2.5-1.2b-instruct:free"),
            Some(1.2)
        );
        assert_eq!(
            parameter_billions("inclusionai/ling-2.6-1t:free"),
            Some(1000.0)
        );
        assert_eq!(parameter_billions("google/gemma-3n-e4b-it:free"), None);
        assert_eq!(parameter_billions("minimax/minimax-m2.5:free"), None);
        assert_eq!(
            parameter_billions("openai/gpt-oss-120b:free gpt-oss-120b"),
            Some(120.0)
        );
    }

    #[test]
    fn a_newer_catalog_with_a_better_model_changes_the_pick() {
        let old = catalog("models-2026-03-30.json");
        let new = catalog("models-2026-03-31.json");
        let changed: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|&r| {
                Scorer::new(&old).best_free(r, "q").model
                    != Scorer::new(&new).best_free(r, "q").model
            })
            .collect();
        assert!(
            !changed.is_empty(),
            "the 03-31 scan adds qwen3.6-plus-preview"
        );
    }

    #[test]
    fn unknown_roles_list_the_known_ones() {
        let e = Role::parse("wizard").expect_err("unknown").to_string();
        assert!(
            e.contains("pm, engineer, hermes, creative, research, custom"),
            "{e}"
        );
        assert_eq!(Role::parse(" Engineer ").expect("role"), Role::Engineer);
    }
}
