//! Routing slots: which provider and model Hermes uses for each task of an agent, read from
//! and written to the profile's `config.yaml` (main model, auxiliary tasks, fallback chain).

use serde::{Deserialize, Serialize};

use super::Core;
use super::agents;
use super::catalog::{Catalog, Model};
use super::db;
use super::error::{CoreError, Result};
use super::hermes::{ConfigDoc, OPENROUTER, Profile, RouteSlot};
use super::scoring::{Role, Scorer};
use super::text;
use super::view::{SlotKind, SlotRow};

/// The context `web_extract` and `compression` need: they read whole pages and whole
/// conversations.
pub const LONG_CONTEXT: u64 = 131_072;

/// Blended price (3 parts input, 1 part output) per million tokens under which a model is
/// cheap enough for titles, which run on every new conversation.
pub const CHEAP_PER_MILLION: f64 = 0.5;

/// The model Hermes 0.19 falls through to for `auxiliary.vision` on `auto` when the main
/// model takes no images (`_OPENROUTER_MODEL` in `agent/auxiliary_client.py`).
pub const HERMES_VISION_DEFAULT: &str = "google/gemini-3-flash-preview";

/// What a routing slot needs from its model, so the picker ranks by it, shows it and warns
/// before writing a model that lacks it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Needs {
    pub image_input: bool,
    pub min_context: u64,
    pub cheap: bool,
}

impl Needs {
    /// The needs of an auxiliary task (other tasks and the main slot need nothing special).
    pub fn of_task(task: &str) -> Needs {
        match task {
            "vision" => Needs {
                image_input: true,
                ..Needs::default()
            },
            "web_extract" | "compression" => Needs {
                min_context: LONG_CONTEXT,
                ..Needs::default()
            },
            "title_generation" => Needs {
                cheap: true,
                ..Needs::default()
            },
            _ => Needs::default(),
        }
    }

    pub fn of_slot(key: &SlotKey) -> Needs {
        match key {
            SlotKey::Aux(task) => Needs::of_task(task),
            SlotKey::Main | SlotKey::Fallback(_) | SlotKey::NewFallback => Needs::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Needs::default()
    }

    /// "needs image input", "needs 131k+ context", "should be cheap: free or under $0.50/M".
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.image_input {
            parts.push("needs image input".to_string());
        }
        if self.min_context > 0 {
            parts.push(format!("needs {}+ context", text::tokens(self.min_context)));
        }
        if self.cheap {
            parts.push(format!(
                "should be cheap and fast: free or under ${CHEAP_PER_MILLION:.2}/M"
            ));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// What `m` lacks of these needs, in words ("no image input"), or `None`.
    pub fn lacks(&self, m: &Model) -> Option<String> {
        let mut parts = Vec::new();
        if self.image_input && !takes_images(m) {
            parts.push("no image input".to_string());
        }
        // Describing an image is writing text (image and music generators take images too).
        if self.image_input && !m.outputs_text() {
            parts.push("no text output".to_string());
        }
        if self.min_context > 0 && m.context() < self.min_context {
            parts.push(format!(
                "{} context, under {}",
                text::tokens(m.context()),
                text::tokens(self.min_context)
            ));
        }
        if self.cheap && !is_cheap(m) {
            parts.push(format!(
                "{} in, {} out per million: not cheap",
                text::per_million(m.prompt_per_million()),
                text::per_million(m.completion_per_million())
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The model accepts images (`architecture.input_modalities`, or an older `image->text`
/// modality string).
pub fn takes_images(m: &Model) -> bool {
    m.architecture.input_modalities.iter().any(|x| x == "image")
        || m.architecture
            .modality
            .split("->")
            .next()
            .is_some_and(|input| input.contains("image"))
}

fn is_cheap(m: &Model) -> bool {
    if m.is_free() {
        return true;
    }
    match (m.prompt_per_million(), m.completion_per_million()) {
        (Some(i), Some(o)) => (3.0 * i + o) / 4.0 < CHEAP_PER_MILLION,
        _ => false,
    }
}

/// The slot a fresh profile pins `auxiliary.vision` to: the best free model that takes
/// images (scored as a custom agent, else the one with the longest context). Left on `auto`,
/// Hermes sends images from a text-only main model to a paid default.
pub fn vision_pick(catalog: &Catalog) -> Option<RouteSlot> {
    let usable = |m: &Model| m.is_free() && !m.is_router() && m.outputs_text() && takes_images(m);
    let scorer = Scorer::new(catalog);
    let best = scorer
        .best(Role::Custom, |m, _| usable(m))
        .map(|s| scorer.model(&s))
        .or_else(|| {
            catalog
                .models
                .iter()
                .filter(|m| usable(m) && m.expiration_date.is_none())
                .max_by(|a, b| a.context().cmp(&b.context()).then(b.id.cmp(&a.id)))
        })?;
    Some(RouteSlot {
        provider: OPENROUTER.into(),
        model: best.id.clone(),
        base_url: None,
    })
}

/// The seven slots shown by default: the main model and six auxiliary tasks.
pub const CORE_AUX: [&str; 6] = [
    "vision",
    "web_extract",
    "compression",
    "approval",
    "mcp",
    "title_generation",
];

/// Every auxiliary task Hermes 0.19 routes separately.
pub const ALL_AUX: [&str; 18] = [
    "vision",
    "web_extract",
    "compression",
    "skills_hub",
    "approval",
    "mcp",
    "title_generation",
    "memory_query_rewrite",
    "tts_audio_tags",
    "triage_specifier",
    "kanban_decomposer",
    "profile_describer",
    "goal_judge",
    "curator",
    "monitor",
    "background_review",
    "moa_reference",
    "moa_aggregator",
];

/// Which routing slot: typed everywhere inside nxr. Its text form (`main`, `aux:vision`,
/// `fallback:2`, `fallback:new`) exists only at the edges: JSON, forms, URLs, the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SlotKey {
    Main,
    Aux(String),
    Fallback(usize),
    NewFallback,
}

impl SlotKey {
    pub fn parse(s: &str) -> Result<SlotKey> {
        let bad = || {
            CoreError::usage(format!(
                "unknown slot {:?}: use main, a task ({}), aux:<task>, fallback:<n> or fallback:new",
                super::catalog::clip(s, 60),
                ALL_AUX.join(", ")
            ))
        };
        match s {
            "main" => Ok(SlotKey::Main),
            "fallback:new" => Ok(SlotKey::NewFallback),
            // A bare task name, as a person types it (`nxr models set-slot pm vision ...`).
            task if ALL_AUX.contains(&task) => Ok(SlotKey::Aux(task.to_string())),
            _ => {
                if let Some(task) = s.strip_prefix("aux:") {
                    let ok = !task.is_empty()
                        && task.len() <= 64
                        && task
                            .bytes()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
                    if ok {
                        Ok(SlotKey::Aux(task.to_string()))
                    } else {
                        Err(bad())
                    }
                } else if let Some(n) = s.strip_prefix("fallback:") {
                    n.parse().map(SlotKey::Fallback).map_err(|_| bad())
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl std::fmt::Display for SlotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlotKey::Main => f.write_str("main"),
            SlotKey::Aux(t) => write!(f, "aux:{t}"),
            SlotKey::Fallback(i) => write!(f, "fallback:{i}"),
            SlotKey::NewFallback => f.write_str("fallback:new"),
        }
    }
}

impl std::str::FromStr for SlotKey {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<SlotKey> {
        SlotKey::parse(s)
    }
}

impl TryFrom<String> for SlotKey {
    type Error = CoreError;
    fn try_from(s: String) -> Result<SlotKey> {
        SlotKey::parse(&s)
    }
}

impl From<SlotKey> for String {
    fn from(k: SlotKey) -> String {
        k.to_string()
    }
}

/// A key and its text form are the same slot (for readers that hold the text).
impl PartialEq<&str> for SlotKey {
    fn eq(&self, other: &&str) -> bool {
        SlotKey::parse(other).is_ok_and(|k| k == *self)
    }
}

/// What a profile's config.yaml routes where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slots {
    pub agent: String,
    pub config_path: String,
    pub main: RouteSlot,
    /// Tasks configured under `auxiliary:` (file order), with their slot.
    pub aux: Vec<(String, RouteSlot)>,
    pub fallbacks: Vec<RouteSlot>,
}

pub fn read(agent: &str, profile: &Profile) -> Result<Slots> {
    let config = ConfigDoc::load(&profile.config_path())?;
    let aux = config
        .aux_tasks()
        .into_iter()
        .filter_map(|t| config.aux_slot(&t).map(|s| (t, s)))
        .collect();
    Ok(Slots {
        agent: agent.to_string(),
        config_path: profile.config_path().display().to_string(),
        main: config.main_slot(),
        aux,
        fallbacks: config.fallback_providers(),
    })
}

/// The rows Tab 2 and `/models/switch` show: the seven core slots, or everything. Each row
/// says what its slot needs and whether its resolution could reach a paid model.
pub fn rows(slots: &Slots, show_all: bool, catalog: &Catalog) -> Vec<SlotRow> {
    let mut out = vec![SlotRow {
        key: SlotKey::Main,
        label: "main".into(),
        kind: SlotKind::Main,
        provider: slots.main.provider.clone(),
        model: slots.main.model.clone(),
        base_url: slots.main.base_url.clone(),
        auto: slots.main.model.is_empty(),
        needs: None,
        paid: paid_reason(&slots.main, catalog),
    }];
    let mut tasks: Vec<String> = if show_all {
        ALL_AUX.iter().map(|s| s.to_string()).collect()
    } else {
        CORE_AUX.iter().map(|s| s.to_string()).collect()
    };
    if show_all {
        for (t, _) in &slots.aux {
            if !tasks.contains(t) && t != "transient_retries" {
                tasks.push(t.clone());
            }
        }
    }
    for task in tasks {
        let slot = slots
            .aux
            .iter()
            .find(|(t, _)| *t == task)
            .map(|(_, s)| s.clone());
        let (provider, model, base_url) = match slot {
            Some(s) => (s.provider, s.model, s.base_url),
            None => ("auto".to_string(), String::new(), None),
        };
        let auto = model.is_empty() && (provider.is_empty() || provider == "auto");
        let paid = if auto {
            auto_paid_reason(&task, &slots.main, catalog)
        } else {
            paid_reason(
                &RouteSlot {
                    provider: provider.clone(),
                    model: model.clone(),
                    base_url: base_url.clone(),
                },
                catalog,
            )
        };
        out.push(SlotRow {
            key: SlotKey::Aux(task.clone()),
            needs: Needs::of_task(&task).describe(),
            label: task,
            kind: SlotKind::Auxiliary,
            auto,
            provider,
            model,
            base_url,
            paid,
        });
    }
    if show_all {
        for (i, f) in slots.fallbacks.iter().enumerate() {
            out.push(SlotRow {
                key: SlotKey::Fallback(i),
                label: format!("fallback {}", i + 1),
                kind: SlotKind::Fallback,
                provider: f.provider.clone(),
                model: f.model.clone(),
                base_url: f.base_url.clone(),
                auto: false,
                needs: None,
                paid: paid_reason(f, catalog),
            });
        }
        out.push(SlotRow {
            key: SlotKey::NewFallback,
            label: "+ fallback".into(),
            kind: SlotKind::NewFallback,
            provider: String::new(),
            model: String::new(),
            base_url: None,
            auto: false,
            needs: None,
            paid: None,
        });
    }
    out
}

/// Whether a slot routed to OpenRouter names a model that costs money. A local or custom
/// endpoint never bills OpenRouter.
fn paid_reason(slot: &RouteSlot, catalog: &Catalog) -> Option<String> {
    let via_openrouter =
        matches!(slot.provider.as_str(), "" | "auto" | OPENROUTER) && slot.base_url.is_none();
    if !via_openrouter || slot.model.is_empty() {
        return None;
    }
    match catalog.get(&slot.model) {
        Some(m) if m.is_free() => None,
        Some(m) => Some(format!(
            "paid model: {} in, {} out per million tokens",
            text::per_million(m.prompt_per_million()),
            text::per_million(m.completion_per_million())
        )),
        None => Some("not in the catalog: its price is unknown".into()),
    }
}

/// Where Hermes 0.19 sends an `auto` auxiliary task, and whether that costs money: every
/// task uses the main model, except vision when the main model takes no images, which falls
/// through to OpenRouter's default vision model (`agent/auxiliary_client.py`).
fn auto_paid_reason(task: &str, main: &RouteSlot, catalog: &Catalog) -> Option<String> {
    let main_takes_images = catalog.get(&main.model).is_some_and(takes_images);
    let local_main = main.base_url.is_some() || main.provider == "custom";
    if task == "vision" && !main_takes_images && !local_main {
        let free = catalog
            .get(HERMES_VISION_DEFAULT)
            .is_some_and(|m| m.is_free());
        if !free {
            return Some(format!(
                "auto: the main model takes no images, so Hermes uses {HERMES_VISION_DEFAULT} \
                 (paid): pin a free image model"
            ));
        }
        return None;
    }
    paid_reason(main, catalog).map(|why| format!("auto: uses the main model, a {why}"))
}

/// The model name that puts a slot back on `auto` (no model id is a bare word).
pub const AUTO: &str = "auto";

/// Refuses a model id OpenRouter does not list (a typo would leave Hermes failing every
/// call). A local or custom endpoint, and OpenRouter's free router, are not in the catalog.
pub fn check_known(catalog: &Catalog, route: &RouteSlot) -> Result<()> {
    let via_openrouter = route.provider == OPENROUTER && route.base_url.is_none();
    if !via_openrouter
        || route.model.trim().is_empty()
        || route.model == super::catalog::FREE_ROUTER_ID
        || catalog.get(&route.model).is_some()
    {
        return Ok(());
    }
    Err(CoreError::usage(format!(
        "unknown model {:?}: not in the catalog; `nxr models roster` lists the free models and \
         `nxr models scan` refreshes the catalog",
        super::catalog::clip(&route.model, 80)
    )))
}

/// Refuses a model that lacks what the slot needs (an image task on a text-only model, a
/// long-context task on a short one), unless the person insists. A model the catalog does not
/// know is judged elsewhere.
pub fn check_needs(catalog: &Catalog, key: &SlotKey, model: &str, force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    let Some(lacks) = catalog
        .get(model)
        .and_then(|m| Needs::of_slot(key).lacks(m))
    else {
        return Ok(());
    };
    let slot = match key {
        SlotKey::Aux(t) => t.clone(),
        other => other.to_string(),
    };
    Err(CoreError::usage(format!(
        "{} does not fit the {slot} slot: {lacks}; choose another model, or use it anyway with \
         --force (force=true in a post)",
        text::clean(model)
    )))
}

/// Puts a slot back on `auto`. An auxiliary task loses nxr's route, so Hermes resolves it
/// (the main model, or for vision its own default: the slot's paid mark says when that costs
/// money). The main slot has no `auto` in Hermes: it goes to the role's best free pick.
pub async fn set_auto(core: &Core, agent: &str, key: &SlotKey) -> Result<Slots> {
    let conn = core.db.conn().await?;
    let a = agents::find(&conn, agent).await?;
    let profile = Profile::resolve(&core.paths.hermes_home, &a.profile);
    match key {
        SlotKey::Main => {
            let catalog = core.catalog().await?;
            let pick = Scorer::new(&catalog).best_free(a.role, &core.ollama_model().await?);
            if pick.model != a.model {
                let route = RouteSlot {
                    provider: pick.provider,
                    model: pick.model,
                    base_url: pick.base_url,
                };
                agents::set_model(core, &a.name, route, "auto: the best free pick", true).await?;
            }
        }
        SlotKey::Aux(task) => edit(core, &profile, |c| c.reset_aux(task)).await?,
        SlotKey::Fallback(_) | SlotKey::NewFallback => {
            return Err(CoreError::usage(
                "a fallback has no auto: remove it instead (d on the Models tab, or the remove \
                 button)",
            ));
        }
    }
    read(&a.name, &profile)
}

/// Writes one slot. The main slot also updates the agent's row and history.
pub async fn set_slot(core: &Core, agent: &str, key: &SlotKey, route: RouteSlot) -> Result<Slots> {
    let conn = core.db.conn().await?;
    let a = agents::find(&conn, agent).await?;
    let profile = Profile::resolve(&core.paths.hermes_home, &a.profile);
    if route.model.trim().is_empty() {
        return Err(CoreError::usage("choose a model for the slot"));
    }
    match key {
        SlotKey::Main => {
            let catalog = core.catalog().await?;
            let free = catalog.get(&route.model).is_none_or(|m| m.is_free());
            agents::set_model(core, &a.name, route, "slot editor", free).await?;
        }
        SlotKey::Aux(task) => {
            edit(core, &profile, |c| c.set_aux(task, &route)).await?;
        }
        SlotKey::Fallback(i) => {
            let i = *i;
            edit(core, &profile, |c| {
                let mut chain = c.fallback_providers();
                let slot = chain
                    .get_mut(i)
                    .ok_or_else(|| CoreError::usage(format!("there is no fallback {}", i + 1)))?;
                *slot = route.clone();
                c.set_fallback_providers(&chain)
            })
            .await?;
        }
        SlotKey::NewFallback => {
            edit(core, &profile, |c| {
                let mut chain = c.fallback_providers();
                chain.push(route.clone());
                c.set_fallback_providers(&chain)
            })
            .await?;
        }
    }
    read(&a.name, &profile)
}

pub async fn remove_fallback(core: &Core, agent: &str, index: usize) -> Result<Slots> {
    let conn = core.db.conn().await?;
    let a = agents::find(&conn, agent).await?;
    let profile = Profile::resolve(&core.paths.hermes_home, &a.profile);
    edit(core, &profile, |c| {
        let mut chain = c.fallback_providers();
        if index >= chain.len() {
            return Err(CoreError::usage(format!(
                "there is no fallback {}",
                index + 1
            )));
        }
        chain.remove(index);
        c.set_fallback_providers(&chain)
    })
    .await?;
    read(&a.name, &profile)
}

/// Edits config.yaml under the profile lock and records the change for other surfaces.
async fn edit(
    core: &Core,
    profile: &Profile,
    f: impl FnOnce(&mut ConfigDoc) -> Result<()>,
) -> Result<()> {
    {
        let _lock = profile.lock()?;
        let mut config = ConfigDoc::load(&profile.config_path())?;
        f(&mut config)?;
        config.save()?;
    }
    let (_conn, tx) = core.db.write().await?;
    db::touch(&tx, "config").await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_keys_round_trip_and_reject_junk() {
        for k in ["main", "aux:vision", "fallback:2", "fallback:new"] {
            assert_eq!(SlotKey::parse(k).expect(k).to_string(), k);
        }
        for bad in [
            "",
            "aux:",
            "aux:Vision",
            "aux:a b",
            "fallback:x",
            "model",
            "aux:../x",
        ] {
            assert!(SlotKey::parse(bad).is_err(), "{bad}");
        }
    }

    fn on(model: &str) -> RouteSlot {
        RouteSlot {
            provider: "openrouter".into(),
            model: model.into(),
            base_url: None,
        }
    }

    #[test]
    fn every_slot_whose_resolution_could_reach_a_paid_model_is_marked() {
        let catalog = Catalog::bundled();
        let slots = |main: &str, aux: Vec<(String, RouteSlot)>| Slots {
            agent: "pm".into(),
            config_path: "c".into(),
            main: on(main),
            aux,
            fallbacks: vec![on("openrouter/free")],
        };
        let marked = |s: &Slots| -> Vec<String> {
            rows(s, true, &catalog)
                .into_iter()
                .filter(|r| r.paid.is_some())
                .map(|r| r.key.to_string())
                .collect()
        };
        // A free text-only main model: only an auto vision slot leaks (to Hermes's default).
        let text_only = slots("qwen/qwen3-coder:free", vec![]);
        assert_eq!(marked(&text_only), vec!["aux:vision".to_string()]);
        // Pinned to a free image model: nothing.
        let pinned = slots(
            "qwen/qwen3-coder:free",
            vec![("vision".into(), on("google/gemma-4-31b-it:free"))],
        );
        assert!(marked(&pinned).is_empty());
        // A free main model that takes images: auto vision stays on it.
        assert!(marked(&slots("google/gemma-4-31b-it:free", vec![])).is_empty());
        // A paid main model: the main slot and every auto slot reach it.
        let paid = slots("anthropic/claude-sonnet-4", pinned.aux.clone());
        let m = marked(&paid);
        assert!(m.contains(&"main".to_string()));
        assert!(m.contains(&"aux:compression".to_string()));
        assert!(
            !m.contains(&"aux:vision".to_string()),
            "pinned to a free model"
        );
        // A local endpoint never bills OpenRouter.
        let local = Slots {
            aux: vec![(
                "compression".into(),
                RouteSlot {
                    provider: "custom".into(),
                    model: "qwen3:8b".into(),
                    base_url: Some("http://localhost:11434/v1".into()),
                },
            )],
            ..paid.clone()
        };
        assert!(!marked(&local).contains(&"aux:compression".to_string()));
    }

    #[test]
    fn each_slot_says_what_it_needs_and_what_a_model_lacks() {
        let catalog = Catalog::bundled();
        let m = |id: &str| catalog.get(id).expect(id);
        let vision = Needs::of_task("vision");
        assert_eq!(vision.lacks(m("google/gemma-4-31b-it:free")), None);
        assert_eq!(
            vision.lacks(m("qwen/qwen3-coder:free")).as_deref(),
            Some("no image input")
        );
        let long = Needs::of_task("compression");
        assert_eq!(long, Needs::of_task("web_extract"));
        assert!(
            long.lacks(m("meta-llama/llama-3.3-70b-instruct:free"))
                .is_some_and(|l| l.contains("under 131k"))
        );
        let titles = Needs::of_task("title_generation");
        assert_eq!(titles.lacks(m("qwen/qwen3-coder:free")), None);
        assert!(titles.lacks(m("anthropic/claude-sonnet-4")).is_some());
        assert!(Needs::of_task("approval").is_empty());
        assert_eq!(Needs::of_slot(&SlotKey::Main).describe(), None);
        assert_eq!(vision.describe().as_deref(), Some("needs image input"));
        // The slot a fresh profile pins vision to takes images and is free.
        let pin = vision_pick(&catalog).expect("a free image model");
        let pm = m(&pin.model);
        assert!(pm.is_free() && takes_images(pm), "{}", pin.model);
    }

    #[test]
    fn the_default_view_has_seven_slots_and_all_adds_the_rest() {
        let slots = Slots {
            agent: "pm".into(),
            config_path: "c".into(),
            main: RouteSlot {
                provider: "openrouter".into(),
                model: "a/b:free".into(),
                base_url: None,
            },
            aux: vec![(
                "custom_task".into(),
                RouteSlot {
                    provider: "custom".into(),
                    model: "q".into(),
                    base_url: None,
                },
            )],
            fallbacks: vec![RouteSlot {
                provider: "openrouter".into(),
                model: "openrouter/free".into(),
                base_url: None,
            }],
        };
        let catalog = Catalog::bundled();
        let core = rows(&slots, false, &catalog);
        assert_eq!(core.len(), 7);
        assert!(core[1..].iter().all(|r| r.auto));
        let all = rows(&slots, true, &catalog);
        assert_eq!(all.len(), 1 + 18 + 1 + 1 + 1);
        assert_eq!(all.last().map(|r| r.kind), Some(SlotKind::NewFallback));
        assert!(all.iter().any(|r| r.key == "aux:custom_task"));
    }
}
