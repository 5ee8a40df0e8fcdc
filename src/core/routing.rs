//! Routing slots: which provider and model Hermes uses for each task of an agent, read from
//! and written to the profile's `config.yaml` (main model, auxiliary tasks, fallback chain).

use serde::Serialize;

use super::Core;
use super::agents;
use super::db;
use super::error::{CoreError, Result};
use super::hermes::{ConfigDoc, Profile, RouteSlot};
use super::view::{SlotKind, SlotRow};

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
                "unknown slot {:?}: use main, aux:<task>, fallback:<n> or fallback:new",
                super::catalog::clip(s, 60)
            ))
        };
        match s {
            "main" => Ok(SlotKey::Main),
            "fallback:new" => Ok(SlotKey::NewFallback),
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

    pub fn as_string(&self) -> String {
        match self {
            SlotKey::Main => "main".into(),
            SlotKey::Aux(t) => format!("aux:{t}"),
            SlotKey::Fallback(i) => format!("fallback:{i}"),
            SlotKey::NewFallback => "fallback:new".into(),
        }
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

/// The rows Tab 2 and `/models/switch` show: the seven core slots, or everything.
pub fn rows(slots: &Slots, show_all: bool) -> Vec<SlotRow> {
    let mut out = vec![SlotRow {
        key: "main".into(),
        label: "main".into(),
        kind: SlotKind::Main,
        provider: slots.main.provider.clone(),
        model: slots.main.model.clone(),
        base_url: slots.main.base_url.clone(),
        auto: slots.main.model.is_empty(),
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
        out.push(SlotRow {
            key: format!("aux:{task}"),
            label: task,
            kind: SlotKind::Auxiliary,
            auto: model.is_empty() && (provider.is_empty() || provider == "auto"),
            provider,
            model,
            base_url,
        });
    }
    if show_all {
        for (i, f) in slots.fallbacks.iter().enumerate() {
            out.push(SlotRow {
                key: format!("fallback:{i}"),
                label: format!("fallback {}", i + 1),
                kind: SlotKind::Fallback,
                provider: f.provider.clone(),
                model: f.model.clone(),
                base_url: f.base_url.clone(),
                auto: false,
            });
        }
        out.push(SlotRow {
            key: "fallback:new".into(),
            label: "+ fallback".into(),
            kind: SlotKind::NewFallback,
            provider: String::new(),
            model: String::new(),
            base_url: None,
            auto: false,
        });
    }
    out
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
            assert_eq!(SlotKey::parse(k).expect(k).as_string(), k);
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
        let core = rows(&slots, false);
        assert_eq!(core.len(), 7);
        assert!(core[1..].iter().all(|r| r.auto));
        let all = rows(&slots, true);
        assert_eq!(all.len(), 1 + 18 + 1 + 1 + 1);
        assert_eq!(all.last().map(|r| r.kind), Some(SlotKind::NewFallback));
        assert!(all.iter().any(|r| r.key == "aux:custom_task"));
    }
}
