//! The web mirror against clients that try to knock it over (issue 13, items 1 to 5): running
//! it out of descriptors, huge declared bodies, a thousand slow or idle connections, requests
//! that never finish, and cookie-less reads with URL state. The real `nxr serve`; threads,
//! descriptors and resident memory read from /proc/<pid>.

mod support;
mod web_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::TestEnv;
use support::raw_http::get_on;
use web_common::{Server, send_with};

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn threads(pid: u32) -> u64 {
    status_field(pid, "Threads")
}

fn rss_kb(pid: u32) -> u64 {
    status_field(pid, "VmRSS")
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .count()
}

/// Waits (up to `within`) for `f` to hold; whether it did.
fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn connect(s: &Server) -> TcpStream {
    let c = TcpStream::connect(&s.addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5))).ok();
    c
}

/// How long the server takes to close `c` (reading and dropping whatever it sends), or
/// `None` when it is still open after `within`.
fn closed_after(c: &mut TcpStream, within: Duration) -> Option<(Duration, Vec<u8>)> {
    let start = Instant::now();
    c.set_read_timeout(Some(Duration::from_millis(100))).ok();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while start.elapsed() < within {
        match c.read(&mut chunk) {
            Ok(0) => return Some((start.elapsed(), got)),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some((start.elapsed(), got)),
        }
    }
    None
}

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Item 1.
#[test]
fn server_answers_again_after_running_out_of_descriptors() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    let pid = s.pid();
    assert_eq!(s.get("/hermes").status, 200);
    let limit = fds(pid) + 100;
    let out = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--nofile={limit}:{limit}"),
        ])
        .output()
        .expect("prlimit runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Twice the descriptors it has left, each with half a request.
    let mut held: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut c = connect(&s);
            let _ = c.write_all(b"GET / HTTP/1.1\r\n");
            c
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(5), || fds(pid) + 2 >= limit),
        "the server should have run out of descriptors: {} of {limit}",
        fds(pid)
    );
    let starved = send_with(
        &s.addr,
        format!(
            "GET /hermes HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            s.addr
        )
        .as_bytes(),
        Duration::from_millis(300),
    );
    assert_eq!(starved.status, 0, "no descriptor, no answer");
    held.clear();
    let freed = Instant::now();
    let mut answered = None;
    while freed.elapsed() < Duration::from_secs(5) {
        let r = send_with(
            &s.addr,
            format!(
                "GET /hermes HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                s.addr
            )
            .as_bytes(),
            Duration::from_secs(2),
        );
        if r.status == 200 {
            answered = Some(freed.elapsed());
            break;
        }
    }
    let took = answered.expect("the server answers again once descriptors free up");
    assert!(
        took < Duration::from_secs(1),
        "answered again {took:?} after the connections closed"
    );
    assert!(threads(pid) <= 16, "threads: {}", threads(pid));
}

/// Item 2.
#[test]
fn body_over_a_mebibyte_leaks_no_thread() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    let pid = s.pid();
    assert_eq!(s.get("/hermes").status, 200);
    let (threads_before, fds_before) = (threads(pid), fds(pid));
    let head = format!(
        "POST /api/actions HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        s.addr,
        s.csrf,
        2 * 1024 * 1024
    );
    for _ in 0..100 {
        let mut raw = head.clone().into_bytes();
        raw.extend_from_slice(&[b'x'; 4096]);
        let r = send_with(&s.addr, &raw, Duration::from_secs(5));
        assert_eq!(r.status, 413, "{}", r.text());
    }
    assert!(
        eventually(Duration::from_secs(2), || fds(pid) <= fds_before),
        "descriptors {fds_before} → {}",
        fds(pid)
    );
    assert_eq!(threads(pid), threads_before, "threads");
    assert_eq!(s.get("/hermes").status, 200);
}

/// Item 2: nothing of a body is waited for before the request is known to be allowed.
#[test]
fn auth_and_origin_are_checked_before_any_body_is_read() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    let never_sent = |raw: String| {
        let start = Instant::now();
        let r = send_with(&s.addr, raw.as_bytes(), Duration::from_secs(5));
        (r.status, start.elapsed())
    };
    let (status, took) = never_sent(format!(
        "POST /api/actions HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000\r\n\r\n",
        s.addr
    ));
    assert_eq!(status, 403, "no API token");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let (status, took) = never_sent(format!(
        "POST /agents/manage HTTP/1.1\r\nHost: {}\r\nOrigin: http://evil.example\r\n\
         Content-Length: 1000\r\n\r\n",
        s.addr
    ));
    assert_eq!(status, 403, "another origin");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let (status, took) = never_sent(format!(
        "POST /agents/manage HTTP/1.1\r\nHost: {}\r\nContent-Length: 2000000\r\n\r\n",
        s.addr
    ));
    assert_eq!(status, 413, "declared too large");
    assert!(took < Duration::from_secs(1), "{took:?}");
    drop(s);
    let t = Server::start_with(&env, &["--token", "s3cret-token"]).expect("serve --token");
    let start = Instant::now();
    let r = send_with(
        &t.addr,
        format!(
            "POST /agents/manage HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000\r\n\r\n",
            t.addr
        )
        .as_bytes(),
        Duration::from_secs(5),
    );
    assert_eq!(r.status, 401, "no access token");
    assert!(start.elapsed() < Duration::from_secs(1));
}

/// Item 3.
#[test]
fn a_thousand_slow_connections_do_not_stall_the_mirror() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    let pid = s.pid();
    let mut c = connect(&s);
    assert_eq!(get_on(&mut c, &s.addr, "/agents/manage"), 200);
    let threads_before = threads(pid);
    let rss_before = rss_kb(pid);
    let held: Vec<TcpStream> = (0..1000)
        .map(|i| {
            let mut h = connect(&s);
            let _ = match i % 4 {
                // Idle: connected, nothing sent.
                0 => Ok(()),
                // Slow loris: half a head.
                1 => h.write_all(
                    format!("GET /hermes HTTP/1.1\r\nHost: {}\r\nX-Slow: ", s.addr).as_bytes(),
                ),
                // A declared body that never comes.
                2 => h.write_all(
                    format!(
                        "POST /agents/manage HTTP/1.1\r\nHost: {}\r\nContent-Length: 100\r\n\r\n",
                        s.addr
                    )
                    .as_bytes(),
                ),
                // A kept-alive connection that asked once and went quiet.
                _ => {
                    get_on(&mut h, &s.addr, "/hermes");
                    Ok(())
                }
            };
            h
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(5), || fds(pid) >= 1000),
        "the server holds the connections: {} descriptors",
        fds(pid)
    );
    let times: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(get_on(&mut c, &s.addr, "/agents/manage"), 200);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let fresh = {
        let start = Instant::now();
        let r = s.get("/agents/manage");
        assert_eq!(r.status, 200);
        start.elapsed()
    };
    assert!(
        median_ms(times.clone()) < 50.0,
        "a page took {times:?} ms with 1,000 slow connections open"
    );
    assert!(
        fresh < Duration::from_millis(200),
        "a new connection: {fresh:?}"
    );
    assert_eq!(threads(pid), threads_before, "no thread per connection");
    let grown = rss_kb(pid).saturating_sub(rss_before);
    assert!(grown < 64 * 1024, "1,000 connections cost {grown} kB");
    drop(held);
}

/// Item 4.
#[test]
fn connections_time_out_and_lf_only_requests_get_an_answer() {
    let env = TestEnv::new();
    let s = Server::start_with(
        &env,
        &["--head-timeout-ms", "500", "--body-timeout-ms", "500"],
    )
    .expect("serve");
    let addr = s.addr.clone();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("idle, nothing sent", Vec::new()),
        (
            "half a head",
            format!("GET /hermes HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").into_bytes(),
        ),
        ("garbage", b"\x01\x02garbage without end".to_vec()),
        (
            "a declared body that never comes",
            format!("POST /agents/manage HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 50\r\n\r\nab")
                .into_bytes(),
        ),
    ];
    let mut open: Vec<(&str, TcpStream)> = cases
        .into_iter()
        .map(|(name, raw)| {
            let mut c = connect(&s);
            c.write_all(&raw).expect("write");
            (name, c)
        })
        .collect();
    let mut kept = connect(&s);
    assert_eq!(get_on(&mut kept, &addr, "/hermes"), 200);
    open.push(("kept alive after an answer", kept));
    for (name, c) in &mut open {
        let (took, got) = closed_after(c, Duration::from_secs(3))
            .unwrap_or_else(|| panic!("{name}: still open after 3 s"));
        assert!(
            took < Duration::from_millis(2000),
            "{name}: closed after {took:?}"
        );
        if *name == "a declared body that never comes" {
            assert!(
                got.starts_with(b"HTTP/1.1 408"),
                "{name}: {}",
                String::from_utf8_lossy(&got)
            );
        }
    }
    let start = Instant::now();
    let r = send_with(
        &addr,
        format!("GET /hermes HTTP/1.1\nHost: {addr}\nConnection: close\n\n").as_bytes(),
        Duration::from_secs(2),
    );
    assert!(
        r.status == 200 || r.status == 400,
        "an LF-only request gets an answer: {}",
        r.status
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(s.get("/hermes").status, 200);
}

/// Item 5.
#[test]
fn cookie_less_query_gets_build_no_session_and_leave_rss_flat() {
    let env = TestEnv::new();
    let s = Server::start(&env);
    let pid = s.pid();
    let run = |n: usize| {
        std::thread::scope(|scope| {
            for t in 0..4 {
                let s = &s;
                scope.spawn(move || {
                    let mut c = connect(s);
                    for i in 0..n / 4 {
                        let path = format!("/agents/manage?agent=pm&n={t}-{i}");
                        let mut status = get_on(&mut c, &s.addr, &path);
                        if status == 0 {
                            // The server may close a kept-alive connection: open another.
                            c = connect(s);
                            status = get_on(&mut c, &s.addr, &path);
                        }
                        assert_eq!(status, 200, "{path}");
                    }
                });
            }
        });
    };
    run(400);
    let warm = rss_kb(pid);
    let start = Instant::now();
    run(10_000);
    let took = start.elapsed();
    let grown = rss_kb(pid).saturating_sub(warm);
    assert!(
        grown < 8 * 1024,
        "10,000 cookie-less query GETs grew RSS by {grown} kB (from {warm} kB)"
    );
    assert!(
        took < Duration::from_secs(60),
        "10,000 cookie-less query GETs took {took:?}"
    );
}
