//! Shared by the web mirror's tests (`mod web_common;`): the real `nxr serve` on port 0 in a
//! temporary world, and a tiny HTTP/1.1 client over a plain socket (so tests can also send
//! what no well-behaved client would).
#![allow(dead_code)]

pub mod browser;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::support::TestEnv;

pub struct Server {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    pub addr: String,
    pub csrf: String,
    child: Child,
}

impl Server {
    /// `nxr serve --addr 127.0.0.1:0` in `env`; waits for the URL it prints.
    pub fn start(env: &TestEnv) -> Server {
        Server::start_with(env, &[]).expect("nxr serve starts")
    }

    pub fn start_with(env: &TestEnv, extra: &[&str]) -> Result<Server, String> {
        let mut args = vec!["serve", "--addr", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut cmd = env.command(&args);
        cmd.env_remove("NXR_WEB_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let _ = child.wait();
            return Err(err);
        }
        let url = line.trim().trim_end_matches('/').to_string();
        let addr = url.trim_start_matches("http://").to_string();
        let mut s = Server {
            url,
            addr,
            csrf: String::new(),
            child,
        };
        if !extra.contains(&"--token") {
            let r = s.get("/api/session");
            assert_eq!(r.status, 200, "{}", r.text());
            s.csrf = r.json()["csrf"].as_str().unwrap_or_default().to_string();
        }
        Ok(s)
    }

    pub fn request(&self, raw: &[u8]) -> Resp {
        send(&self.addr, raw)
    }

    pub fn get(&self, path: &str) -> Resp {
        self.get_with(path, &[])
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.call("GET", path, headers, b"")
    }

    /// A form post carrying this run's token.
    pub fn post_form(&self, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Resp {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let body = encode(&all);
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        let c;
        if let Some(cookie) = cookie {
            c = format!("nxr_sid={cookie}");
            headers.push(("Cookie", c.as_str()));
        }
        self.call("POST", path, &headers, body.as_bytes())
    }

    /// A JSON API post with this run's bearer token.
    pub fn post_json(&self, path: &str, body: &str) -> Resp {
        let auth = format!("Bearer {}", self.csrf);
        self.call(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    }

    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body);
        self.request(&bytes)
    }

    /// The server process's id (for counting its threads and descriptors in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn encode(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `nxr_sid` cookie the server set, if any.
    pub fn sid(&self) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.strip_prefix("nxr_sid="))
            .map(|v| v.split(';').next().unwrap_or("").to_string())
            .next()
    }
}

/// Sends raw bytes, reads until the server closes or the response is complete.
pub fn send(addr: &str, raw: &[u8]) -> Resp {
    send_with(addr, raw, Duration::from_secs(30))
}

/// Like [`send`], giving up reading after `timeout` (for requests the server must not answer).
pub fn send_with(addr: &str, raw: &[u8], timeout: Duration) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(timeout)).ok();
    let _ = s.write_all(raw);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(r) = parse(&buf)
                    && complete(&r, &buf)
                {
                    return r;
                }
            }
            Err(_) => break,
        }
    }
    parse(&buf).unwrap_or(Resp {
        status: 0,
        headers: Vec::new(),
        body: buf,
    })
}

fn complete(r: &Resp, _buf: &[u8]) -> bool {
    match r
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(n) => r.body.len() >= n,
        None => false,
    }
}

fn parse(buf: &[u8]) -> Option<Resp> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Resp {
        status,
        headers,
        body: buf[end + 4..].to_vec(),
    })
}

/// Values of `name="..."` hidden inputs inside the form whose button is labelled `label`
/// and whose action field is `action` (first match).
pub fn form_fields(html: &str, action: &str, must_contain: &str) -> Option<Vec<(String, String)>> {
    for form in html.split("<form").skip(1) {
        let form = form.split("</form>").next().unwrap_or("");
        if !form.contains(&format!("name=\"action\" value=\"{action}\""))
            || !form.contains(must_contain)
        {
            continue;
        }
        let mut out = Vec::new();
        for input in form.split("<input").skip(1) {
            let attr = |n: &str| {
                let key = format!("{n}=\"");
                input
                    .find(&key)
                    .map(|i| &input[i + key.len()..])
                    .and_then(|rest| rest.split('"').next())
                    .map(unescape)
            };
            if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
                out.push((n, v));
            }
        }
        return Some(out);
    }
    None
}

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
