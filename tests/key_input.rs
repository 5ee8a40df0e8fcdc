//! Issue 13 item 12: an OpenRouter key never has to sit on nxr's command line, where `ps`
//! shows it: `--key -` reads it from standard input, NXR_OPENROUTER_KEY from the
//! environment, and a key typed as an argument still works but earns a warning.

mod support;

use std::io::Write;
use std::process::Stdio;

use support::openrouter::KEY;
use support::{FakeOpenRouter, NXR_TIMEOUT, Output, TestEnv, VALID_KEY, wait};

const WARNING: &str = "visible to other users";

/// `nxr --no-tui ARGS...` with `input` on its standard input.
fn with_stdin(env: &TestEnv, args: &[&str], input: &str) -> Output {
    let mut cmd = env.command(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn nxr");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    wait(child, NXR_TIMEOUT).unwrap_or_else(|o| panic!("nxr ran over: {o}"))
}

fn secrets(env: &TestEnv) -> String {
    std::fs::read_to_string(env.nxr_home.path().join("secrets.env")).unwrap_or_default()
}

fn stored(env: &TestEnv) -> bool {
    secrets(env)
        .lines()
        .any(|l| l == format!("OPENROUTER_API_KEY={VALID_KEY}"))
}

#[track_caller]
fn assert_quiet_and_masked(out: &Output) {
    out.assert_ok();
    assert!(!out.stderr.contains(WARNING), "no warning expected: {out}");
    assert!(
        !out.stdout.contains(VALID_KEY) && !out.stderr.contains(VALID_KEY),
        "the key printed in full: {out}"
    );
}

#[test]
fn item_12_init_and_upgrade_read_the_key_from_standard_input_with_key_dash() {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    let out = with_stdin(
        &env,
        &["init", "--key", "-", "--json"],
        &format!("{VALID_KEY}\n"),
    );
    assert_quiet_and_masked(&out);
    assert!(stored(&env), "init stored the key read from stdin");
    assert_eq!(out.json()["tier"]["per_day"], 50);

    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    assert!(!stored(&env));
    let out = with_stdin(&env, &["upgrade", "--key", "-", "--json"], VALID_KEY);
    assert_quiet_and_masked(&out);
    assert!(stored(&env), "upgrade stored the key read from stdin");

    // Nothing on stdin: a usage error before any network call, nothing stored.
    let env = TestEnv::new().with_openrouter(&server);
    let hits = server.hits(KEY);
    let out = with_stdin(&env, &["init", "--key", "-"], "");
    out.assert_code(2);
    assert!(out.stderr.contains("standard input"), "{out}");
    let out = with_stdin(&env, &["upgrade", "--key", "-"], "\n");
    out.assert_code(2);
    assert_eq!(server.hits(KEY), hits, "no key check without a key");
    assert!(!stored(&env));

    // config set takes `-` too.
    let env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    let out = with_stdin(&env, &["config", "set", "openrouter-key", "-"], VALID_KEY);
    assert_quiet_and_masked(&out);
    assert!(stored(&env));
}

#[test]
fn item_12_init_and_upgrade_take_the_key_from_nxr_openrouter_key() {
    let server = FakeOpenRouter::start();
    let mut env = TestEnv::new().with_openrouter(&server);
    env.set("NXR_OPENROUTER_KEY", VALID_KEY);
    let out = env.nxr(&["init", "--json"]);
    assert_quiet_and_masked(&out);
    assert!(stored(&env), "init stored the key from the environment");

    let mut env = TestEnv::new().with_openrouter(&server);
    env.nxr(&["init", "--free"]).assert_ok();
    env.set("NXR_OPENROUTER_KEY", VALID_KEY);
    let out = env.nxr(&["upgrade", "--json"]);
    assert_quiet_and_masked(&out);
    assert!(stored(&env), "upgrade stored the key from the environment");

    // --free means no key, even with one in the environment.
    let mut env = TestEnv::new().with_openrouter(&server);
    env.set("NXR_OPENROUTER_KEY", VALID_KEY);
    env.nxr(&["init", "--free"]).assert_ok();
    assert!(!stored(&env), "--free stored a key");
}

#[test]
fn item_12_a_key_given_as_an_argument_still_works_but_warns() {
    let server = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&server);
    let out = env.nxr(&["init", "--key", VALID_KEY]);
    out.assert_ok();
    assert!(out.stderr.contains(WARNING), "{out}");
    assert!(
        out.stderr.contains("--key -"),
        "the warning says what to do: {out}"
    );
    assert!(out.stderr.contains("NXR_OPENROUTER_KEY"), "{out}");
    assert!(!out.stderr.contains(VALID_KEY), "{out}");
    assert!(stored(&env));

    let out = env.nxr(&["upgrade", "--key", VALID_KEY, "--json"]);
    out.assert_ok();
    assert!(out.stderr.contains(WARNING), "{out}");

    let out = env.nxr(&["config", "set", "openrouter-key", VALID_KEY]);
    out.assert_ok();
    assert!(out.stderr.contains(WARNING), "{out}");
}
