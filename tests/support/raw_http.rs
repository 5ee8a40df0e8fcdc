//! A raw HTTP/1.1 GET on a kept-alive socket, shared by the hostile-client tests and the
//! `web_hostile` bench (which includes this file by path): both need to talk to the mirror
//! below any HTTP client, on connections they hold open themselves.

use std::io::{Read, Write};
use std::net::TcpStream;

/// One GET on a kept-alive connection; the status, or 0 when the answer did not come.
pub fn get_on(c: &mut TcpStream, addr: &str, path: &str) -> u16 {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    if c.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            }
        }
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return 0,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
