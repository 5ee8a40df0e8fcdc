//! The quality sub-score (issue 15): on a catalog with `benchmarks`, each role's free pick
//! is within 10 % of the best qualified free model's index, computed here from the raw JSON;
//! the picks follow the data when it is shuffled; older catalogs keep their picks; and
//! zero-priced specials say why they are excluded.

mod support;

use nxr::core::catalog::Catalog;
use nxr::core::scoring::{Quality, Role, Scorer, UNKNOWN_QUALITY};
use serde_json::Value;
use support::{TestEnv, fixture, fixture_path};

const JUNE: &str = "models-2026-06-16.json";

fn parse(body: &str) -> Catalog {
    Catalog::parse(body, "test", "2026-06-16T00:00:00.000000Z").expect("catalog parses")
}

/// The role's figure for a model in the raw JSON, read without nxr's parser.
fn figure(m: &Value, role: Role) -> Option<f64> {
    let aa = &m["benchmarks"]["artificial_analysis"];
    let key = match role {
        Role::Engineer => "coding_index",
        Role::Hermes => "agentic_index",
        _ => "intelligence_index",
    };
    aa[key].as_f64()
}

/// The hard requirements, read from the raw JSON: free, tools, the role's context, text
/// only out, no expiry, not OpenRouter's own router.
fn qualified_free(m: &Value, role: Role) -> bool {
    let id = m["id"].as_str().unwrap_or("");
    let zero = |k: &str| m["pricing"][k].as_str().is_none_or(|p| p == "0");
    let free = id.ends_with(":free") || (zero("prompt") && zero("completion"));
    let tools = m["supported_parameters"]
        .as_array()
        .is_some_and(|p| p.iter().any(|x| x == "tools"));
    let context = m["context_length"].as_u64().unwrap_or(0);
    let text_only = m["architecture"]["output_modalities"]
        .as_array()
        .is_some_and(|o| !o.is_empty() && o.iter().all(|x| x == "text"));
    free && tools
        && context >= role.spec().min_context
        && text_only
        && m["expiration_date"].is_null()
        && !id.starts_with("openrouter/")
}

/// For every role but creative (whose evidence mixes two measures): the best qualified
/// free figure in the raw data, and the pick's figure, which must be within 10 % of it.
fn assert_picks_follow_the_data(raw: &Value, catalog: &Catalog) {
    let scorer = Scorer::new(catalog);
    let models = raw["data"].as_array().expect("data");
    for role in Role::ALL {
        let pick = scorer.best_free(role, "q");
        assert!(pick.fallback.is_none(), "{role}: a free model qualifies");
        if role == Role::Creative {
            continue;
        }
        let best = models
            .iter()
            .filter(|m| qualified_free(m, role))
            .filter_map(|m| figure(m, role))
            .fold(f64::NAN, f64::max);
        let picked = models
            .iter()
            .find(|m| m["id"] == pick.model.as_str())
            .expect("the pick is in the catalog");
        match figure(picked, role) {
            Some(v) => assert!(
                best.is_nan() || v >= 0.9 * best,
                "{role}: {} has {v}, best qualified free has {best}",
                pick.model
            ),
            None => {
                // A model without data may win only with clearly better proxies: its
                // margin over every benchmarked model is what UNKNOWN_QUALITY allows.
                let idx = catalog
                    .models
                    .iter()
                    .position(|m| m.id == pick.model)
                    .expect("index") as u32;
                let s = scorer.score(idx, role);
                assert_eq!(
                    s.sub.quality,
                    Some(UNKNOWN_QUALITY).filter(|_| !best.is_nan())
                );
            }
        }
    }
}

#[test]
fn each_roles_free_pick_on_the_june_catalog_is_within_ten_percent_of_the_best_index() {
    let body = fixture(JUNE);
    let raw: Value = serde_json::from_str(&body).expect("json");
    let catalog = parse(&body);
    assert_picks_follow_the_data(&raw, &catalog);

    // Where only one qualified free model is within the band, it is the pick.
    let scorer = Scorer::new(&catalog);
    let models = raw["data"].as_array().expect("data");
    for role in [Role::Engineer, Role::Hermes, Role::Research, Role::Pm] {
        let figures: Vec<(&str, f64)> = models
            .iter()
            .filter(|m| qualified_free(m, role))
            .filter_map(|m| Some((m["id"].as_str()?, figure(m, role)?)))
            .collect();
        let best = figures.iter().map(|f| f.1).fold(f64::NAN, f64::max);
        let band: Vec<&str> = figures
            .iter()
            .filter(|f| f.1 >= 0.9 * best)
            .map(|f| f.0)
            .collect();
        let pick = scorer.best_free(role, "q").model;
        assert!(
            band.contains(&pick.as_str()),
            "{role}: {pick} not in {band:?}"
        );
        if band.len() == 1 {
            assert_eq!(pick, band[0], "{role}");
        }
    }
}

#[test]
fn the_creative_pick_is_within_ten_percent_of_the_best_on_the_measure_it_was_judged_by() {
    let catalog = parse(&fixture(JUNE));
    let scorer = Scorer::new(&catalog);
    let pick = scorer.best_free(Role::Creative, "q");
    let idx = catalog
        .models
        .iter()
        .position(|m| m.id == pick.model)
        .expect("pick") as u32;
    match scorer.score(idx, Role::Creative).quality {
        Quality::Measured { value, best, .. } => assert!(value >= 0.9 * best, "{value} {best}"),
        other => panic!("the creative pick has evidence: {other:?}"),
    }
}

/// A deterministic shuffle (xorshift), so a failure can be replayed.
fn shuffle<T>(items: &mut [T], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        items.swap(i, (*seed % (i as u64 + 1)) as usize);
    }
}

#[test]
fn shuffling_the_benchmark_blocks_among_models_moves_the_picks_with_the_data() {
    let body = fixture(JUNE);
    let raw: Value = serde_json::from_str(&body).expect("json");
    let mut seed = 0x5eed_u64;
    let mut picks_seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let mut raw = raw.clone();
        let models = raw["data"].as_array_mut().expect("data");
        let mut blocks: Vec<Value> = models
            .iter_mut()
            .map(|m| {
                m.as_object_mut()
                    .and_then(|o| o.remove("benchmarks"))
                    .unwrap_or(Value::Null)
            })
            .collect();
        shuffle(&mut blocks, &mut seed);
        for (m, b) in models.iter_mut().zip(blocks) {
            if !b.is_null() {
                m["benchmarks"] = b;
            }
        }
        let catalog = parse(&raw.to_string());
        assert_picks_follow_the_data(&raw, &catalog);
        picks_seen.insert(Scorer::new(&catalog).best_free(Role::Engineer, "q").model);
    }
    assert!(
        picks_seen.len() > 3,
        "the engineer pick follows the shuffled data: {picks_seen:?}"
    );
}

/// The free picks with their totals, and the paid picks, on the catalogs that carry no
/// `benchmarks`, recorded from the scorer before the quality sub-score: all unchanged.
const OLDER_PICKS: &[(&str, &str, &str, f64, &str)] = &[
    (
        "models-2026-02-27.json",
        "pm",
        "qwen/qwen3-vl-235b-a22b-thinking",
        78.4,
        "qwen/qwen3.5-plus-02-15",
    ),
    (
        "models-2026-02-27.json",
        "engineer",
        "qwen/qwen3-coder:free",
        78.14,
        "openai/gpt-5.3-codex",
    ),
    (
        "models-2026-02-27.json",
        "hermes",
        "qwen/qwen3-vl-235b-a22b-thinking",
        77.3,
        "qwen/qwen3.5-flash-02-23",
    ),
    (
        "models-2026-02-27.json",
        "creative",
        "qwen/qwen3-coder:free",
        66.94,
        "qwen/qwen3.5-397b-a17b",
    ),
    (
        "models-2026-02-27.json",
        "research",
        "qwen/qwen3-vl-235b-a22b-thinking",
        79.11,
        "qwen/qwen3.5-flash-02-23",
    ),
    (
        "models-2026-02-27.json",
        "custom",
        "qwen/qwen3-vl-235b-a22b-thinking",
        79.46,
        "qwen/qwen3.5-flash-02-23",
    ),
    (
        "models-2026-03-30.json",
        "pm",
        "nvidia/nemotron-3-super-120b-a12b:free",
        81.38,
        "qwen/qwen3.5-plus-02-15",
    ),
    (
        "models-2026-03-30.json",
        "engineer",
        "qwen/qwen3-coder:free",
        77.6,
        "openai/gpt-5.3-codex",
    ),
    (
        "models-2026-03-30.json",
        "hermes",
        "nvidia/nemotron-3-super-120b-a12b:free",
        86.49,
        "qwen/qwen3.5-flash-02-23",
    ),
    (
        "models-2026-03-30.json",
        "creative",
        "nvidia/nemotron-3-super-120b-a12b:free",
        74.05,
        "qwen/qwen3.5-397b-a17b",
    ),
    (
        "models-2026-03-30.json",
        "research",
        "nvidia/nemotron-3-super-120b-a12b:free",
        78.52,
        "qwen/qwen3.5-flash-02-23",
    ),
    (
        "models-2026-03-30.json",
        "custom",
        "nvidia/nemotron-3-super-120b-a12b:free",
        83.73,
        "qwen/qwen3.5-flash-02-23",
    ),
    (
        "models-2026-03-31.json",
        "pm",
        "nvidia/nemotron-3-super-120b-a12b:free",
        81.33,
        "qwen/qwen3.5-plus-02-15",
    ),
    (
        "models-2026-03-31.json",
        "engineer",
        "qwen/qwen3-coder:free",
        77.54,
        "openai/gpt-5.3-codex",
    ),
    (
        "models-2026-03-31.json",
        "hermes",
        "nvidia/nemotron-3-super-120b-a12b:free",
        86.43,
        "qwen/qwen3.5-flash-02-23",
    ),
    (
        "models-2026-03-31.json",
        "creative",
        "nvidia/nemotron-3-super-120b-a12b:free",
        73.97,
        "qwen/qwen3.5-397b-a17b",
    ),
    (
        "models-2026-03-31.json",
        "research",
        "qwen/qwen3.6-plus-preview:free",
        79.7,
        "qwen/qwen3.5-flash-02-23",
    ),
    (
        "models-2026-03-31.json",
        "custom",
        "nvidia/nemotron-3-super-120b-a12b:free",
        83.65,
        "qwen/qwen3.5-flash-02-23",
    ),
    (
        "models-2026-05-01.json",
        "pm",
        "nvidia/nemotron-3-super-120b-a12b:free",
        80.75,
        "qwen/qwen3.5-plus-20260420",
    ),
    (
        "models-2026-05-01.json",
        "engineer",
        "qwen/qwen3-coder:free",
        76.97,
        "openai/gpt-5.3-codex",
    ),
    (
        "models-2026-05-01.json",
        "hermes",
        "nvidia/nemotron-3-super-120b-a12b:free",
        85.86,
        "xiaomi/mimo-v2.5",
    ),
    (
        "models-2026-05-01.json",
        "creative",
        "nvidia/nemotron-3-super-120b-a12b:free",
        73.11,
        "xiaomi/mimo-v2.5",
    ),
    (
        "models-2026-05-01.json",
        "research",
        "nvidia/nemotron-3-super-120b-a12b:free",
        77.89,
        "deepseek/deepseek-v4-flash",
    ),
    (
        "models-2026-05-01.json",
        "custom",
        "nvidia/nemotron-3-super-120b-a12b:free",
        82.78,
        "xiaomi/mimo-v2.5",
    ),
];

#[test]
fn catalogs_without_benchmarks_keep_todays_picks_and_totals() {
    for &(name, role, model, total, paid) in OLDER_PICKS {
        let catalog = parse(&fixture(name));
        let scorer = Scorer::new(&catalog);
        let role = Role::parse(role).expect("role");
        let pick = scorer.best_free(role, "q");
        assert_eq!(
            (pick.model.as_str(), pick.score),
            (model, Some(total)),
            "{name} {role}"
        );
        let best_paid = scorer.best_paid(role).expect("a paid model qualifies");
        assert_eq!(
            scorer.model(&best_paid).id,
            paid,
            "{name} {role}: paid pick"
        );
        let sub = pick.sub.expect("sub-scores");
        assert_eq!(sub.quality, None, "no data: the proxies decide alone");
    }
}

#[test]
fn models_show_names_the_benchmark_beside_the_proxies_and_says_when_there_is_none() {
    let env = TestEnv::new();
    let path = fixture_path(JUNE);
    env.nxr(&["models", "scan", "--from", path.to_str().expect("path")])
        .assert_ok();

    let v = env.json(&[
        "models",
        "show",
        "google/gemma-4-31b-it:free",
        "--role",
        "engineer",
    ]);
    let b = &v["roles"][0];
    assert_eq!(b["quality"]["kind"], "measured");
    assert_eq!(b["quality"]["benchmark"], "coding_index");
    assert_eq!(b["quality"]["value"], 38.7);
    assert!(
        b["evidence"]
            .as_str()
            .expect("evidence")
            .contains("coding index 38.7")
    );
    assert!(b["sub"]["quality"].as_f64().is_some());

    let text = env
        .nxr(&[
            "models",
            "show",
            "google/gemma-4-31b-it:free",
            "--role",
            "engineer",
        ])
        .assert_ok()
        .stdout
        .clone();
    assert!(text.contains("QUALITY"), "{text}");
    assert!(text.contains("coding index 38.7"), "{text}");

    let v = env.json(&[
        "models",
        "show",
        "poolside/laguna-m.1:free",
        "--role",
        "engineer",
    ]);
    assert_eq!(v["roles"][0]["quality"]["kind"], "unknown");
    assert!(
        v["roles"][0]["evidence"]
            .as_str()
            .expect("evidence")
            .contains("no benchmark data"),
        "{v}"
    );
}

#[test]
fn zero_priced_routers_and_music_models_are_excluded_with_the_reason_in_models_show() {
    let env = TestEnv::new();
    let path = fixture_path(JUNE);
    env.nxr(&["models", "scan", "--from", path.to_str().expect("path")])
        .assert_ok();
    for (id, reason) in [
        ("openrouter/owl-alpha", "router"),
        ("google/lyria-3-pro-preview", "output modality text+audio"),
        ("nvidia/nemotron-3.5-content-safety:free", "no tool calling"),
    ] {
        let v = env.json(&["models", "show", id]);
        assert_eq!(v["free"], true, "{id} is zero-priced");
        let excluded = v["excluded"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: {v}"));
        assert!(excluded.contains(reason), "{id}: {excluded}");
        for b in v["roles"].as_array().expect("roles") {
            assert_eq!(b["qualified"], false, "{id} {}", b["role"]);
        }
        let text = env.nxr(&["models", "show", id]).assert_ok().stdout.clone();
        assert!(text.contains(reason), "{text}");
    }
    for role in support::ROLES {
        let pick = env.json(&["models", "best-free", "--role", role]);
        let model = pick["pick"]["model"].as_str().expect("model");
        assert!(
            !model.starts_with("openrouter/") && !model.contains("lyria"),
            "{role}: {model}"
        );
    }
}
