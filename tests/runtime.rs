//! The runtime across processes: catalog scans run as jobs off the input loop, readable by id
//! from any process, at most one at a time on one database (a lease row), and a killed
//! holder's lease runs out so the next process can scan. Counted at the fake OpenRouter: two
//! servers with a daemon, or with a TUI (tmux), asked at the same moment make one request.

mod support;
mod web_common;

use std::process::Stdio;
use std::time::Duration;

use support::openrouter::{FakeOpenRouter, Fault, MODELS};
use support::tmux::Tmux;
use support::{TestEnv, until};
use web_common::Server;

#[test]
fn a_scan_started_over_the_api_is_a_job_that_reads_running_then_failed_while_pages_answer() {
    let or = FakeOpenRouter::start();
    or.fail(MODELS, Fault::Hang(Duration::from_secs(30)));
    let mut env = TestEnv::new().with_openrouter(&or);
    env.set("NXR_SCAN_TIMEOUT_SECONDS", "2");
    let s = Server::start(&env);

    let r = s.post_json("/api/models/scan", "");
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json()["job"].as_i64().expect("job id");
    assert_eq!(r.json()["url"], format!("/api/jobs/{job}"));

    let r = s.get(&format!("/api/jobs/{job}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["state"], "running", "{}", r.text());

    // A second scan while this one runs is refused and says why.
    let again = s.post_json("/api/models/scan", "");
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(again.text().contains("already running"), "{}", again.text());

    // Pages answer while the scan hangs (their latency is in the bench).
    for path in ["/models/switch", "/agents/manage", "/hermes"] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path} while a scan hangs: {}", r.text());
    }

    let failed = until("the job to fail", Duration::from_secs(20), || {
        let j = s.get(&format!("/api/jobs/{job}")).json();
        (j["state"] == "failed").then_some(j)
    });
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.contains("catalog scan failed"), "{failed}");
    assert!(error.contains("last good catalog stays"), "{failed}");
    assert!(failed["finished_at"].is_string(), "{failed}");
    // Nothing was stored: the bundled catalog is still what nxr reads.
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM catalog_snapshots"), 0);
    assert_eq!(s.get("/api/jobs/999999").status, 404);
    assert_eq!(s.get("/api/jobs/x").status, 400);
}

#[test]
fn a_scan_button_on_the_models_page_starts_a_job_and_its_end_reaches_the_banner() {
    let or = FakeOpenRouter::start();
    let env = TestEnv::new().with_openrouter(&or);
    env.nxr(&["agents", "create", "--role", "engineer", "--name", "eng"])
        .assert_ok();
    let s = Server::start(&env);
    let page = s.get("/models/switch").text();
    assert!(
        page.contains("scan catalog"),
        "no scan button on /models/switch"
    );
    let r = s.post_form("/models/switch", None, &[("action", "scan_models")]);
    assert_eq!(r.status, 303, "{}", r.text());
    let sid = r.sid().expect("a session cookie");
    let cookie = format!("nxr_sid={sid}");
    until(
        "the scan's result in the banner",
        Duration::from_secs(20),
        || {
            let html = s
                .get_with("/models/switch", &[("Cookie", cookie.as_str())])
                .text();
            html.contains("catalog stored:").then_some(())
        },
    );
    assert_eq!(or.hits(MODELS), 1);
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM catalog_snapshots"), 1);
}

#[test]
fn two_servers_and_a_daemon_asked_to_scan_at_the_same_moment_make_one_scan() {
    let or = FakeOpenRouter::start();
    // The scan that wins holds its lease while OpenRouter takes its time.
    or.fail_times(MODELS, Fault::Hang(Duration::from_secs(2)), 1);
    let env = TestEnv::new().with_openrouter(&or);
    let a = Server::start(&env);
    let b = Server::start(&env);

    let mut daemon = env.command(&["daemon", "--scan", "--once"]);
    daemon.stdout(Stdio::piped()).stderr(Stdio::piped());
    let (ra, rb, d) = std::thread::scope(|sc| {
        let ta = sc.spawn(|| a.post_json("/api/models/scan", ""));
        let tb = sc.spawn(|| b.post_json("/api/models/scan", ""));
        let td = sc.spawn(|| {
            support::wait(daemon.spawn().expect("daemon"), Duration::from_secs(60))
                .unwrap_or_else(|o| o)
        });
        (
            ta.join().expect("a"),
            tb.join().expect("b"),
            td.join().expect("daemon"),
        )
    });
    let started = [ra.status == 202, rb.status == 202, d.ok()]
        .iter()
        .filter(|x| **x)
        .count();
    assert_eq!(
        started,
        1,
        "a: {} {}; b: {} {}; daemon: {}",
        ra.status,
        ra.text(),
        rb.status,
        rb.text(),
        d.stderr
    );
    for r in [&ra, &rb] {
        if r.status != 202 {
            assert_eq!(r.status, 409, "{}", r.text());
            assert!(
                r.text()
                    .contains("a catalog scan is already running in another nxr process"),
                "{}",
                r.text()
            );
        }
    }
    if !d.ok() {
        assert!(
            d.stderr
                .contains("a catalog scan is already running in another nxr process"),
            "{}",
            d.stderr
        );
    }
    until("the one scan to end", Duration::from_secs(20), || {
        (env.db_i64("SELECT COUNT(*) FROM jobs WHERE state = 'finished'") == 1).then_some(())
    });
    assert_eq!(or.hits(MODELS), 1, "OpenRouter was asked more than once");
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM jobs"), 1);
}

#[test]
fn two_servers_and_a_tui_asked_to_scan_at_the_same_moment_make_one_scan() {
    // Set up offline first, so the fake counts the scans only.
    let env = TestEnv::new();
    env.nxr(&["init", "--free", "--fetch-timeout", "1"])
        .assert_ok();
    let or = FakeOpenRouter::start();
    // The scan that wins holds its lease while OpenRouter takes its time.
    or.fail_times(MODELS, Fault::Hang(Duration::from_secs(2)), 1);
    let env = env.with_openrouter(&or);
    let a = Server::start(&env);
    let b = Server::start(&env);
    let t = Tmux::start(&env, 120, 40);
    t.start_nxr("");
    t.keys(&["2"]);
    t.wait_text("Routing slots");

    let (ra, rb) = std::thread::scope(|sc| {
        let ta = sc.spawn(|| a.post_json("/api/models/scan", ""));
        let tb = sc.spawn(|| b.post_json("/api/models/scan", ""));
        t.keys(&["S"]);
        (ta.join().expect("a"), tb.join().expect("b"))
    });
    const BUSY: &str = "a catalog scan is already running in another nxr process";
    let screen = t.wait_for("the TUI's answer to S", |s| {
        s.contains("scanning the catalog") || s.contains("catalog stored:") || s.contains(BUSY)
    });
    let tui_scanned = !screen.contains(BUSY);
    let started = [ra.status == 202, rb.status == 202, tui_scanned]
        .iter()
        .filter(|x| **x)
        .count();
    assert_eq!(
        started,
        1,
        "a: {} {}; b: {} {}; the TUI:\n{screen}",
        ra.status,
        ra.text(),
        rb.status,
        rb.text()
    );
    for r in [&ra, &rb] {
        if r.status != 202 {
            assert_eq!(r.status, 409, "{}", r.text());
            assert!(r.text().contains(BUSY), "{}", r.text());
        }
    }
    until("the one scan to end", Duration::from_secs(30), || {
        (env.db_i64("SELECT COUNT(*) FROM jobs WHERE state = 'finished'") == 1).then_some(())
    });
    assert_eq!(or.hits(MODELS), 1, "OpenRouter was asked more than once");
    assert_eq!(env.db_i64("SELECT COUNT(*) FROM jobs"), 1);
    t.keys(&["q"]);
    t.wait_text("nxr-exit=0");
}

#[test]
fn a_lease_held_by_a_killed_process_runs_out_and_the_next_scan_runs() {
    let or = FakeOpenRouter::start();
    or.fail(MODELS, Fault::Hang(Duration::from_secs(60)));
    let mut env = TestEnv::new().with_openrouter(&or);
    env.set("NXR_LEASE_SECONDS", "1");
    let mut holder = env
        .command(&["daemon", "--scan"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("daemon");
    until("the daemon's scan to run", Duration::from_secs(20), || {
        (or.hits(MODELS) == 1).then_some(())
    });
    // While it lives, its lease is renewed past its 1 s: nobody else scans.
    std::thread::sleep(Duration::from_millis(1500));
    let refused = env.nxr(&["daemon", "--scan", "--once"]);
    refused.assert_code(1);
    assert!(
        refused
            .stderr
            .contains("a catalog scan is already running in another nxr process"),
        "{}",
        refused.stderr
    );
    holder.kill().expect("SIGKILL");
    holder.wait().expect("reaped");
    or.clear_faults();
    let next = until("the lease to run out", Duration::from_secs(10), || {
        let o = env.nxr(&["daemon", "--scan", "--once", "--json"]);
        o.ok().then_some(o)
    });
    assert_eq!(next.json()["state"], "finished", "{}", next.stdout);
    assert_eq!(or.hits(MODELS), 2);
    let dead = env.db_rows("SELECT state, error FROM jobs ORDER BY id LIMIT 1");
    assert_eq!(dead[0][0], "failed");
    assert!(dead[0][1].contains("lease ran out"), "{:?}", dead);
}
