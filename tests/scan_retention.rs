//! A scanner that runs for a year: the database stays bounded and consistent (issue 9's
//! first defect: from the tenth snapshot on, every scan failed on a foreign key).

mod support;

use nxr::core::Core;
use nxr::core::catalog::Catalog;
use nxr::core::models;
use nxr::core::paths::{Endpoints, Paths};
use support::{TestEnv, fixture, fixture_path};

async fn core_on(nxr_home: &std::path::Path, hermes_home: &std::path::Path) -> Core {
    let paths = Paths {
        nxr_home: nxr_home.to_path_buf(),
        hermes_home: hermes_home.to_path_buf(),
    };
    let endpoints = Endpoints::unreachable();
    Core::open(paths, endpoints).await.expect("open")
}

async fn scalar(core: &Core, sql: &str) -> i64 {
    let conn = core.db.conn().await.expect("conn");
    let mut rows = conn.query(sql, ()).await.expect(sql);
    let row = rows.next().await.expect("row").expect("one row");
    row.get::<i64>(0).expect("integer")
}

async fn texts(core: &Core, sql: &str) -> Vec<String> {
    let conn = core.db.conn().await.expect("conn");
    let mut rows = conn.query(sql, ()).await.expect(sql);
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.expect("row") {
        out.push(row.get::<String>(0).expect("text"));
    }
    out
}

/// Cuts a recorded catalog down to its first `n` models, so a thousand rescores run in
/// seconds; the retention rules do not depend on the catalog's size.
fn small(name: &str, n: usize) -> Catalog {
    let mut c = Catalog::parse(&fixture(name), name, "x").expect("fixture");
    c.models.truncate(n);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_scans_every_six_hours_keeps_the_database_bounded_and_consistent() {
    let nxr = tempfile::tempdir().expect("tmp");
    let hermes = tempfile::tempdir().expect("tmp");
    let core = core_on(nxr.path(), hermes.path()).await;
    // Two catalogs whose picks differ: most scans see the same one, and every 50th scan
    // switches, so some rescores change a pick and must be kept past 30 days.
    let a = small("models-2026-03-30.json", 40);
    let b = small("models-2026-03-31.json", 40);
    let pick = |c: &Catalog| {
        let s = nxr::core::scoring::Scorer::new(c);
        nxr::core::scoring::Role::ALL.map(|r| s.best_free(r, "q").model)
    };
    let (a, b) = if pick(&a) != pick(&b) {
        (a, b)
    } else {
        // Fall back to two clearly different catalogs: drop the first catalog's picks.
        let mut b = a.clone();
        let gone = pick(&a);
        b.models.retain(|m| !gone.contains(&m.id));
        (a, b)
    };
    assert_ne!(pick(&a), pick(&b), "the two catalogs must pick differently");

    let start = jiff::Timestamp::from_second(1_780_000_000).expect("ts");
    let scans = 1_000;
    let mut switches = 0;
    let mut sizes = Vec::new();
    for i in 0..scans {
        let now = nxr::core::time::format(start + jiff::SignedDuration::from_hours(6 * i as i64));
        let use_b = (i / 50) % 2 == 1;
        if i > 0 && i % 50 == 0 {
            switches += 1;
        }
        let catalog = if use_b { b.clone() } else { a.clone() };
        models::ingest(&core, catalog, &now, &now)
            .await
            .unwrap_or_else(|e| panic!("scan {i} failed: {e}"));
        if i % 100 == 99 {
            sizes.push(
                scalar(
                    &core,
                    "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
                )
                .await,
            );
        }
    }

    let scorings = scalar(&core, "SELECT COUNT(DISTINCT scored_at) FROM model_scores").await;
    let rows = scalar(&core, "SELECT COUNT(*) FROM model_scores").await;
    let snapshots = scalar(&core, "SELECT COUNT(*) FROM catalog_snapshots").await;
    let scan_rows = scalar(&core, "SELECT COUNT(*) FROM scans").await;
    // 30 days at 4 scans a day, plus one kept rescore per switch of catalog (and the oldest).
    let recent = 30 * 4 + 1;
    assert!(
        scorings <= recent + switches + 1,
        "{scorings} scorings kept for {switches} changes of pick"
    );
    assert!(scorings >= recent, "30 days of history kept: {scorings}");
    let sizes_per_scoring = texts(
        &core,
        "SELECT DISTINCT CAST(COUNT(*) AS TEXT) FROM model_scores GROUP BY scored_at",
    )
    .await;
    for n in &sizes_per_scoring {
        let n: usize = n.parse().expect("count");
        assert!(
            n == a.models.len() * 6 || n == b.models.len() * 6,
            "every kept scoring is whole: {sizes_per_scoring:?}"
        );
    }
    assert!(
        snapshots <= scorings + 10,
        "{snapshots} snapshots for {scorings} scorings"
    );
    assert!(scan_rows <= recent + 10, "{scan_rows} scans kept");
    let marks = scalar(&core, "SELECT COUNT(*) FROM changes").await;
    assert!(marks <= 1_001, "{marks} change marks kept");

    // Every rescore older than 30 days that is still there changed a pick.
    let cutoff = nxr::core::time::format(
        start + jiff::SignedDuration::from_hours(6 * (scans as i64 - 1) - 24 * 30),
    );
    let kept = texts(
        &core,
        "SELECT DISTINCT scored_at FROM model_scores ORDER BY scored_at",
    )
    .await;
    let conn = core.db.conn().await.expect("conn");
    let mut previous = None;
    for at in kept.iter().filter(|at| at.as_str() < cutoff.as_str()) {
        let picks = models::best_free_at(&conn, Some(at)).await.expect("picks");
        assert_ne!(previous.as_ref(), Some(&picks), "{at} changed nothing");
        previous = Some(picks);
    }

    let integrity = texts(&core, "PRAGMA integrity_check").await;
    assert_eq!(integrity, vec!["ok".to_string()]);
    let fk = scalar(&core, "SELECT COUNT(*) FROM pragma_foreign_key_check").await;
    assert_eq!(fk, 0, "no dangling references");

    // Bounded: the file stops growing once the 30-day window is full (freed pages are
    // reused); the last 400 scans grow it by less than a tenth.
    let (early, last) = (sizes[5], sizes[sizes.len() - 1]);
    assert!(
        last <= early + early / 10,
        "database grew from {early} to {last} bytes between scans 600 and 1000: {sizes:?}"
    );
    eprintln!(
        "after {scans} scans: {scorings} scorings, {rows} score rows, {snapshots} snapshots, \
         {scan_rows} scans, file sizes per 100 scans {sizes:?}"
    );
}

#[test]
fn scanning_the_same_catalog_a_dozen_times_from_the_cli_keeps_working() {
    let env = TestEnv::new();
    let path = fixture_path("models-2026-05-01.json");
    let path = path.to_str().expect("utf-8 path");
    for i in 0..12 {
        let out = env.nxr(&["models", "scan", "--from", path]);
        assert!(out.ok(), "scan {} failed: {out}", i + 1);
    }
    assert_eq!(
        env.db_i64("SELECT COUNT(*) FROM pragma_foreign_key_check"),
        0
    );
    assert_eq!(
        env.db_i64("SELECT COUNT(DISTINCT scored_at) FROM model_scores"),
        12,
        "all twelve rescores are within 30 days: all kept"
    );
}
