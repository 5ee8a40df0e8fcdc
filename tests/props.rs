//! Issue 13 item 10: property tests, on stable Rust and bounded in time (fixed case counts,
//! the whole file runs in seconds), for the three parsers that take outside input: the
//! OpenRouter catalog, the web form decoder and the `config.yaml` editor. Each gets arbitrary
//! and mutated input; the invariant is no panic, and either a clear refusal or a valid result.
//! For the config editor "valid" includes the real `hermes` reading back what nxr wrote, on
//! a sample of the outputs.

mod support;

use std::sync::Mutex;

use nxr::core::catalog::Catalog;
use nxr::core::hermes::{ConfigDoc, RouteSlot};
use nxr::webmirror::form;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Shrunk failures are printed; no regression files are written into the tree.
        failure_persistence: None,
        ..Config::default()
    }
}

/// CI (`CI` set) replays the same cases every run so a red build is reproducible; anywhere
/// else each run draws new ones, so running the tests keeps exploring.
fn runner(cases: u32) -> TestRunner {
    if std::env::var_os("CI").is_some() {
        TestRunner::new_with_rng(
            config(cases),
            proptest::test_runner::TestRng::deterministic_rng(
                proptest::test_runner::RngAlgorithm::ChaCha,
            ),
        )
    } else {
        TestRunner::new(config(cases))
    }
}

/// Text made of the characters that break parsers: quotes, YAML and JSON indicators,
/// escapes, control characters, non-ASCII and the odd emoji.
fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a", "Z", "0", "9", "-", "_", ":", "/", " ", "  ", "\t", "\n", "\r", "\0", "\u{7f}", "#",
        "'", "\"", "\\", "{", "}", "[", "]", ",", "&", "*", "!", "|", ">", "%", "@", "`", "?", "~",
        "=", "+", ";", "é", "中", "🦀", "\u{feff}", "\u{202e}", "null", "true", "0x1F", "1e400",
        "-1", ".inf", "<<", "---", "...", "%20", "%zz", "&amp;",
    ]);
    prop::collection::vec(pieces, 0..max).prop_map(|v| v.concat())
}

/// The largest char boundary at or below `i`.
fn boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

// ---------------------------------------------------------------- catalog

/// A few real models from a recorded OpenRouter response: the seed for mutations.
fn seed_models() -> Vec<serde_json::Value> {
    let body = support::fixture("models-2026-05-01.json");
    let v: serde_json::Value = serde_json::from_str(&body).expect("fixture");
    v["data"].as_array().expect("data")[..6].to_vec()
}

fn json_leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop::sample::select(vec![i64::MIN, i64::MAX, -1, 0, 1 << 53])
            .prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)),
        hostile_text(12).prop_map(serde_json::Value::from),
        prop::sample::select(vec!["0", "-1", "1e308", "NaN", "-0.5", "", "0.000001"])
            .prop_map(serde_json::Value::from),
        Just(serde_json::json!([1, 2])),
        Just(serde_json::json!({})),
    ]
}

/// One edit of a JSON tree: replace or delete the value at a path chosen by indices.
#[derive(Debug, Clone)]
enum Edit {
    Replace(Vec<usize>, serde_json::Value),
    Delete(Vec<usize>),
}

fn edit() -> impl Strategy<Value = Edit> {
    let path = prop::collection::vec(any::<usize>(), 1..4);
    prop_oneof![
        (path.clone(), json_leaf()).prop_map(|(p, v)| Edit::Replace(p, v)),
        path.prop_map(Edit::Delete),
    ]
}

fn apply_edit(root: &mut serde_json::Value, e: &Edit) {
    let (path, new) = match e {
        Edit::Replace(p, v) => (p, Some(v.clone())),
        Edit::Delete(p) => (p, None),
    };
    let mut node = root;
    for (depth, i) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        match node {
            serde_json::Value::Object(m) if !m.is_empty() => {
                let key = m.keys().nth(i % m.len()).cloned().expect("key");
                if last {
                    match &new {
                        Some(v) => {
                            m.insert(key, v.clone());
                        }
                        None => {
                            m.remove(&key);
                        }
                    }
                    return;
                }
                node = m.get_mut(&key).expect("child");
            }
            serde_json::Value::Array(a) if !a.is_empty() => {
                let k = i % a.len();
                if last {
                    match &new {
                        Some(v) => a[k] = v.clone(),
                        None => {
                            a.remove(k);
                        }
                    }
                    return;
                }
                node = &mut a[k];
            }
            _ => return,
        }
    }
}

/// The invariant for any body: a refusal that says what is wrong, or a catalog whose models
/// answer every question nxr asks of them and that survives its own storage round trip.
fn check_catalog(body: &str) -> Result<(), TestCaseError> {
    match Catalog::parse(body, "fuzz", "2026-12-01T00:00:00Z") {
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(msg.contains("fuzz"), "a refusal names its source: {msg}");
        }
        Ok(cat) => {
            prop_assert!(!cat.models.is_empty());
            for m in &cat.models {
                prop_assert!(!m.id.trim().is_empty());
                let _ = (m.is_free(), m.is_router(), m.context(), m.provider());
                let _ = (m.prompt_per_million(), m.completion_per_million());
                let _ = (m.outputs_text(), m.supports("tools"));
            }
            let again = Catalog::from_body(&cat.to_body(), "fuzz", "2026-12-01T00:00:00Z", 1)
                .map_err(|e| TestCaseError::fail(format!("stored catalog unreadable: {e}")))?;
            let ids = |c: &Catalog| c.models.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
            prop_assert_eq!(ids(&cat), ids(&again));
        }
    }
    Ok(())
}

#[test]
fn item_10_the_catalog_parser_refuses_or_accepts_arbitrary_bytes_without_panicking() {
    let mut runner = runner(512);
    let bytes = prop::collection::vec(any::<u8>(), 0..200);
    runner
        .run(&bytes, |b| check_catalog(&String::from_utf8_lossy(&b)))
        .expect("catalog parser on arbitrary bytes");
    runner
        .run(&hostile_text(40), |t| {
            check_catalog(&format!(r#"{{"data":[{t}]}}"#))
        })
        .expect("catalog parser on hostile text in the data array");
}

#[test]
fn item_10_the_catalog_parser_refuses_or_accepts_mutated_real_catalogs_without_panicking() {
    let seed = serde_json::json!({ "data": seed_models() });
    check_catalog(&seed.to_string()).expect("the seed itself parses");
    let mut runner = runner(512);
    runner
        .run(&prop::collection::vec(edit(), 1..6), |edits| {
            let mut v = seed.clone();
            for e in &edits {
                apply_edit(&mut v, e);
            }
            check_catalog(&v.to_string())
        })
        .expect("catalog parser on mutated catalogs");
    // Byte-level damage: truncation and a flipped byte.
    let text = seed.to_string();
    let n = text.len();
    runner
        .run(&(0..n, 0..n, any::<u8>()), |(cut, at, byte)| {
            check_catalog(&text[..boundary(&text, cut)])?;
            let mut b = text.clone().into_bytes();
            b[at] = byte;
            check_catalog(&String::from_utf8_lossy(&b))
        })
        .expect("catalog parser on damaged bytes");
}

// ---------------------------------------------------------------- web forms

/// The invariant for any body: a refusal with a message, or a form whose actions survive the
/// same JSON round trip scripts use, and whose `back` is a path on this server.
fn check_form(body: &[u8]) -> Result<(), TestCaseError> {
    match form::decode(body) {
        Err(msg) => prop_assert!(!msg.is_empty()),
        Ok(f) => {
            prop_assert!(!f.actions.is_empty());
            for a in &f.actions {
                let json = serde_json::to_string(a).expect("an action serializes");
                let back: nxr::core::action::Action = serde_json::from_str(&json)
                    .map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
                prop_assert_eq!(&back, a);
            }
            if let Some(b) = &f.back {
                prop_assert!(form::is_local(b), "back {b:?} leaves the server");
                prop_assert!(!b.starts_with("//"));
            }
        }
    }
    Ok(())
}

const FIELDS: &[&str] = &[
    "action", "csrf", "agent", "skills", "desired", "model", "provider", "base_url", "role",
    "category", "name", "index", "delta", "id", "row", "then", "close", "back", "from", "tab",
    "slot", "query", "key", "",
];
const ACTIONS: &[&str] = &[
    "add_skills",
    "remove_skills",
    "set_skills",
    "switch_slot",
    "select_row",
    "rescore",
    "activate",
    "mark_read",
    "create_agent",
    "upgrade_agent",
    "open_upgrade",
    "revert_upgrade",
    "open_picker",
    "close_overlay",
    "move_selection",
    "tick",
    "scan_finished",
    "nonsense",
    "",
];

fn pair() -> impl Strategy<Value = (String, String)> {
    let key = prop_oneof![
        prop::sample::select(FIELDS).prop_map(str::to_string),
        hostile_text(6),
    ];
    let value = prop_oneof![
        prop::sample::select(ACTIONS).prop_map(str::to_string),
        hostile_text(10),
        prop::sample::select(vec![
            "/agents/manage",
            "//evil.example",
            "/\\evil",
            "https://evil.example",
            "/ok?x=1",
            "-1",
            "99999999999999999999",
            "0",
            " 3 ",
        ])
        .prop_map(str::to_string),
    ];
    (key, value)
}

#[test]
fn item_10_the_form_decoder_refuses_or_decodes_arbitrary_and_mutated_posts_without_panicking() {
    let mut runner = runner(1024);
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..200), |b| {
            check_form(&b)
        })
        .expect("form decoder on arbitrary bytes");
    // Well-formed pairs with hostile names and values, encoded as a browser would.
    runner
        .run(&prop::collection::vec(pair(), 0..8), |pairs| {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            check_form(body.as_bytes())
        })
        .expect("form decoder on hostile pairs");
    // Real forms the pages post, with a byte flipped or the body cut short.
    let real = [
        "csrf=t&action=add_skills&agent=eng&skills=git&skills=docs",
        "csrf=t&action=switch_slot&agent=pm&model=qwen%2Fqwen3-coder%3Afree&provider=openrouter&back=%2Fmodels%2Fswitch",
        "csrf=t&row=2&action=activate&then=close_overlay&close=1",
        "csrf=t&action=move_selection&delta=-1",
    ];
    runner
        .run(
            &(
                prop::sample::select(real.to_vec()),
                any::<usize>(),
                any::<u8>(),
                any::<usize>(),
            ),
            |(body, at, byte, cut)| {
                let mut b = body.as_bytes().to_vec();
                let i = at % b.len();
                b[i] = byte;
                check_form(&b)?;
                check_form(&body.as_bytes()[..cut % (body.len() + 1)])
            },
        )
        .expect("form decoder on damaged real forms");
}

// ---------------------------------------------------------------- config.yaml

/// Lines a hand-edited `config.yaml` may hold.
const YAML_LINES: &[&str] = &[
    "# a comment",
    "model: some/model",
    "model:\n  default: old/model # keep me\n  provider: openrouter",
    "model: {default: a, provider: b}",
    "model: [1, 2]",
    "model: null",
    "auxiliary:\n  vision:\n    provider: auto\n    model: ''",
    "auxiliary: {}",
    "fallback_providers:\n- provider: openrouter\n  model: openrouter/free",
    "fallback_providers: []",
    "skills:\n  disabled: [a, b]",
    "skills:\n  disabled:\n  - x",
    "terminal:\n  backend: local\n  cwd: .",
    "anchor: &a {x: 1}",
    "alias: *a",
    "tagged: !!str 123",
    "quoted: 'it''s'",
    "multi: |\n  line one\n  line two",
    "---",
    "...",
    "\tbad: tab",
    "key: value: other",
    "- a list item",
    "{broken",
    "\u{feff}bom: 1",
    "toolsets: [\"hermes-cli\"]",
    "",
];

fn yaml_doc() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(YAML_LINES), 0..6),
        prop::option::of((any::<usize>(), hostile_text(4))),
    )
        .prop_map(|(lines, damage)| {
            let mut text = lines.join("\n");
            if let Some((at, junk)) = damage {
                let at = boundary(&text, at % (text.len() + 1));
                text.insert_str(at, &junk);
            }
            text
        })
}

fn slot_text() -> impl Strategy<Value = String> {
    prop_oneof![
        hostile_text(10),
        prop::sample::select(vec![
            "qwen/qwen3-coder:free",
            "openrouter/free",
            "a: b",
            "- x",
            "#not-a-comment",
            "'quoted'",
            "\"dq\"",
            "null",
            "~",
            "yes",
            "0o17",
            "@at",
            "*star",
            "&amp",
            "!tag",
            "{x}",
            "[y]",
            "|",
            ">",
            "%percent",
            "`tick`",
            "x #y",
            " lead",
            "trail ",
        ])
        .prop_map(str::to_string),
    ]
}

/// Accepted edits (the input, nxr's output, the model it set), kept for PyYAML and the real
/// `hermes` to read back afterwards.
static ACCEPTED: Mutex<Vec<(String, String, String)>> = Mutex::new(Vec::new());

fn check_config(
    text: &str,
    model: &str,
    provider: &str,
    aux: &str,
    skills: &[String],
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = &dir.path().join("config.yaml");
    let mut doc = match ConfigDoc::parse(path, text) {
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(
                msg.contains("config.yaml"),
                "a refusal names the file: {msg}"
            );
            return Ok(());
        }
        Ok(d) => d,
    };
    let slot = RouteSlot {
        provider: provider.to_string(),
        model: model.to_string(),
        base_url: None,
    };
    let edits = (|| -> nxr::core::Result<()> {
        doc.set_main(&slot)?;
        doc.set_aux(aux, &slot)?;
        doc.set_fallback_providers(std::slice::from_ref(&slot))?;
        doc.set_disabled_skills(skills)
    })();
    if let Err(e) = edits {
        prop_assert!(!e.to_string().is_empty());
        return Ok(());
    }
    // The real write path: save() refuses what it could not read back, and writes nothing.
    if let Err(e) = doc.save() {
        prop_assert!(e.to_string().contains("config.yaml"), "{}", e);
        prop_assert!(!path.exists(), "a refused save wrote the file");
        return Ok(());
    }
    let out = std::fs::read_to_string(path).expect("saved");
    let back = ConfigDoc::parse(path, &out)
        .map_err(|e| TestCaseError::fail(format!("nxr wrote YAML it cannot read: {e}\n{out}")))?;
    prop_assert_eq!(back.main_slot().model, model.to_string(), "{}", out);
    prop_assert_eq!(back.main_slot().provider, provider.to_string(), "{}", out);
    prop_assert_eq!(back.aux_slot(aux).map(|s| s.model), Some(model.to_string()));
    prop_assert_eq!(back.fallback_providers(), vec![slot]);
    prop_assert_eq!(back.disabled_skills(), skills.to_vec());
    if let Ok(mut a) = ACCEPTED.lock() {
        a.push((text.to_string(), out, model.to_string()));
    }
    Ok(())
}

#[test]
fn item_10_the_config_editor_refuses_or_writes_yaml_that_reads_back_and_that_hermes_reads() {
    let mut runner = runner(384);
    let skills = prop::collection::vec(slot_text(), 0..3);
    let aux = prop::sample::select(vec!["vision", "compression", "web_extract", "a-b_c"]);
    runner
        .run(
            &(yaml_doc(), slot_text(), slot_text(), aux, skills),
            |(text, model, provider, aux, skills)| {
                check_config(&text, &model, &provider, aux, &skills)
            },
        )
        .expect("config editor on hostile documents and values");
    // Arbitrary bytes as a config file.
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..120), |b| {
            check_config(
                &String::from_utf8_lossy(&b),
                "m/x:free",
                "openrouter",
                "vision",
                &[],
            )
        })
        .expect("config editor on arbitrary bytes");

    // Hermes reads config.yaml with PyYAML (YAML 1.1, stricter than nxr's parser): every
    // output whose input Hermes could read must read back with the model nxr set, checked
    // with the loader of the hermes installation (PyYAML on libyaml) in one batch.
    let accepted = ACCEPTED.lock().expect("accepted").clone();
    assert!(
        accepted.len() > 50,
        "too few accepted cases: {}",
        accepted.len()
    );
    let verdicts = pyyaml_models(&accepted);
    let mut readable = Vec::new();
    for ((input, out, model), (input_ok, got)) in accepted.iter().zip(&verdicts) {
        if !input_ok {
            continue;
        }
        assert_eq!(
            got.as_deref(),
            Some(model.as_str()),
            "PyYAML reads another model.default from nxr's output\n--- input\n{input}\n--- output\n{out}"
        );
        readable.push((out, model));
    }
    assert!(
        readable.len() > 20,
        "too few inputs PyYAML reads: {}",
        readable.len()
    );

    // And the real hermes CLI on a sample, the most hostile model ids first (each call costs
    // about a second, so not all of them).
    let hostility = |m: &str| m.chars().filter(|c| !c.is_ascii_alphanumeric()).count();
    readable.sort_by_key(|(_, m)| std::cmp::Reverse(hostility(m)));
    readable.dedup_by(|a, b| a.1 == b.1);
    let env = support::TestEnv::new();
    for (i, (text, model)) in readable.iter().take(4).enumerate() {
        let name = format!("prop{i}");
        let dir = env.profile_dir(&name);
        std::fs::create_dir_all(&dir).expect("profile dir");
        std::fs::write(dir.join("config.yaml"), text).expect("write config");
        let out = support::hermes(&env, &["-p", &name, "config", "get", "model.default"]);
        assert!(out.ok(), "hermes cannot read nxr's output ({out}):\n{text}");
        assert_eq!(
            out.stdout.trim(),
            model.trim(),
            "hermes reads a different model from:\n{text}"
        );
    }
}

/// For each (input, output, model): whether PyYAML reads the input as a mapping (or an empty
/// file), and the `model.default` it reads from the output (as a string, if it is one).
fn pyyaml_models(cases: &[(String, String, String)]) -> Vec<(bool, Option<String>)> {
    // The Python that runs hermes: its script's `#!` line.
    let hermes = support::hermes_path();
    let script = std::fs::read_to_string(&hermes).expect("read the hermes script");
    let python = script
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#!"))
        .map(|p| p.trim().to_string())
        .expect("hermes is a Python script with a #! line");
    const CHECK: &str = r#"
import io, json, sys, yaml
try:
    from utils import fast_safe_load as load  # what hermes reads config.yaml with (libyaml)
except ImportError:
    load = lambda f: yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
out = []
for text, written, _ in json.load(sys.stdin):
    try:
        doc = load(io.StringIO(text))
        ok = doc is None or isinstance(doc, dict)
    except Exception:
        ok = False
    try:
        m = (load(io.StringIO(written)) or {}).get("model")
        got = m.get("default") if isinstance(m, dict) else None
        got = got if isinstance(got, str) else None
    except Exception:
        got = None
    out.append([ok, got])
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new(&python)
        .args(["-c", CHECK])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(serde_json::to_string(cases).expect("json").as_bytes())
            .expect("write");
    }
    let out = support::wait(child, std::time::Duration::from_secs(120))
        .unwrap_or_else(|o| panic!("PyYAML check ran over: {o}"));
    out.assert_ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"))
}
