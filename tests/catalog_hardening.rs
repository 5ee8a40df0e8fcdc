//! Bad catalog input that used to get through (issue 13, items 7, 8 and 9): each is refused
//! or skipped at parse time, with the reason.

mod support;

use nxr::core::catalog::Catalog;
use nxr::core::scoring::{Role, Scorer};
use serde_json::json;
use support::TestEnv;

fn model(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "name": "A model",
        "created": 1_777_000_000,
        "context_length": 262_144,
        "architecture": {"output_modalities": ["text"]},
        "pricing": {"prompt": "0", "completion": "0"},
        "top_provider": {"max_completion_tokens": 65_536},
        "supported_parameters": ["tools", "tool_choice"]
    })
}

fn body(models: Vec<serde_json::Value>) -> String {
    json!({ "data": models }).to_string()
}

#[test]
fn catalog_skips_model_ids_with_control_characters_with_a_warning() {
    let mut bad = model("evil/model\u{1b}[2J:free");
    // Make it the best model by far, so a pick would find it if it got through.
    bad["context_length"] = json!(2_000_000);
    bad["name"] = json!("Hermes agent tool coder");
    let c = Catalog::parse(
        &body(vec![
            bad,
            model("good/model:free"),
            model("tab/in\tid:free"),
        ]),
        "t",
        "x",
    )
    .expect("the catalog loads without the bad ids");
    let ids: Vec<&str> = c.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["good/model:free"]);
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(
        c.warnings[0].contains("control characters"),
        "{:?}",
        c.warnings
    );
    assert!(
        !c.warnings[0].contains('\u{1b}'),
        "the warning itself is clean"
    );
    for role in Role::ALL {
        assert_eq!(
            Scorer::new(&c).best_free(role, "q").model,
            "good/model:free"
        );
    }

    // End to end: the scan says so on stderr, and best-free never offers the bad id.
    let env = TestEnv::new();
    let file = env.nxr_home.path().join("catalog.json");
    std::fs::write(
        &file,
        body(vec![model("evil/x\u{7}y:free"), model("good/model:free")]),
    )
    .expect("write");
    let out = env.nxr(&["models", "scan", "--from", file.to_str().expect("path")]);
    out.assert_ok();
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("control characters"),
        "{out}"
    );
    let pick = env.json(&["models", "best-free", "--role", "engineer"]);
    assert_eq!(pick["pick"]["model"], "good/model:free");

    // A catalog of nothing but such ids is refused, not stored empty.
    let only_bad = Catalog::parse(&body(vec![model("a/\u{0}")]), "t", "x");
    assert!(only_bad.is_err());
}

#[test]
fn recency_does_not_overflow_and_absurd_created_timestamps_are_refused() {
    for created in [i64::MIN, -1, i64::MAX, 5_000_000_000] {
        let mut m = model("old/model:free");
        m["created"] = json!(created);
        let err = Catalog::parse(&body(vec![m, model("new/model:free")]), "src", "x")
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("old/model:free") && err.contains("created"),
            "{err}"
        );
    }
    // A missing created is tolerated (0: unknown, scored as old, never as new).
    let mut m = model("old/model:free");
    m.as_object_mut().expect("object").remove("created");
    let c = Catalog::parse(&body(vec![m, model("new/model:free")]), "t", "x").expect("parse");
    let s = Scorer::new(&c);
    assert_eq!(s.score(0, Role::Pm).sub.recency, 0.0);
    assert_eq!(s.score(1, Role::Pm).sub.recency, 1.0);

    // A catalog built in memory (a stored body, say) with i64::MIN still scores the ancient
    // model as ancient: the subtraction saturates instead of wrapping.
    let mut c = c;
    c.models[0].created = i64::MIN;
    let s = Scorer::new(&c);
    assert_eq!(s.score(0, Role::Pm).sub.recency, 0.0);
    assert_eq!(s.best_free(Role::Pm, "q").model, "new/model:free");
}

#[test]
fn pricing_given_as_a_list_is_refused_not_read_positionally() {
    for (pricing, needle) in [
        (json!([1, 2]), "expected an object, found an array"),
        (json!("0"), "expected an object, found a string"),
        (
            json!({"prompt": [1], "completion": "0"}),
            "a price must be a string or a number",
        ),
        (
            json!({"prompt": true}),
            "a price must be a string or a number",
        ),
    ] {
        let mut m = model("paid/model");
        m["pricing"] = pricing.clone();
        let err = Catalog::parse(&body(vec![m]), "src", "x")
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("paid/model") && err.contains(needle),
            "{pricing}: {err}"
        );
    }
    // The other nested objects are just as strict.
    let mut m = model("a/b");
    m["top_provider"] = json!([262_144, 65_536]);
    assert!(Catalog::parse(&body(vec![m]), "src", "x").is_err());
    // Null is still "not stated".
    let mut m = model("a/b");
    m["pricing"] = json!(null);
    assert!(
        Catalog::parse(&body(vec![m]), "src", "x")
            .expect("null pricing")
            .models[0]
            .is_free()
    );
}
