//! One core [`Session`] per browser (a random id in a cookie), made on first use and dropped
//! least-recently-used first when there are too many. Requests without a cookie never make
//! one: without URL state they share one read-only session per server, with URL state (a
//! query) they use their worker thread's scratch session. So a script, a load test or a
//! cross-site page reading pages costs no session per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::core::session::Session;

/// The key of the shared session for cookie-less reads.
pub const SHARED: &str = "";

/// The key of worker `n`'s scratch session for cookie-less reads with URL state.
pub fn scratch(n: usize) -> String {
    format!("~{n}")
}

pub fn is_scratch(key: &str) -> bool {
    key.starts_with('~')
}

/// The shared and scratch sessions: few, and never evicted for a browser's.
fn anonymous(key: &str) -> bool {
    key == SHARED || is_scratch(key)
}

pub struct Entry {
    pub session: Option<Session>,
    /// The change mark the session last polled at.
    pub seen: i64,
}

/// A session and when it was last used.
type Slot = (Arc<Mutex<Entry>>, Instant);

pub struct Sessions {
    map: Mutex<HashMap<String, Slot>>,
    cap: usize,
}

/// Locks, recovering from a panic in another request (the server keeps serving).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sessions {
    pub fn new(cap: usize) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            cap: cap.max(2),
        }
    }

    pub fn get(&self, key: &str) -> Arc<Mutex<Entry>> {
        let mut map = lock(&self.map);
        let now = Instant::now();
        if let Some((e, used)) = map.get_mut(key) {
            *used = now;
            return e.clone();
        }
        if map.len() >= self.cap {
            let oldest = map
                .iter()
                .filter(|(k, _)| !anonymous(k))
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        let e = Arc::new(Mutex::new(Entry {
            session: None,
            seen: i64::MIN,
        }));
        map.insert(key.to_string(), (e.clone(), now));
        e
    }

    /// Forgets a session (after a panic left it in an unknown state).
    pub fn drop_session(&self, key: &str) {
        lock(&self.map).remove(key);
    }

    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A new random session id (32 hex digits).
pub fn new_id() -> String {
    random_hex(16)
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        // No OS randomness: mix the clock and addresses (still unguessable enough for ids,
        // and the tokens are checked against the server's own copy).
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            ^ (&buf as *const _ as usize as u128)
            ^ u128::from(std::process::id());
        let mut x = seed | 1;
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A session id a client may send back: exactly 32 lowercase hex digits.
pub fn valid_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_checked() {
        let a = new_id();
        assert!(valid_id(&a));
        assert_ne!(a, new_id());
        assert!(!valid_id("x"));
        assert!(!valid_id(&"G".repeat(32)));
    }

    #[test]
    fn the_shared_and_scratch_sessions_are_never_evicted_for_a_browser() {
        let s = Sessions::new(3);
        let _shared = s.get(SHARED);
        let _scratch = s.get(&scratch(0));
        for i in 0..10 {
            let _ = s.get(&format!("browser-{i}"));
        }
        assert_eq!(s.len(), 3, "the cap holds");
        let map = lock(&s.map);
        assert!(map.contains_key(SHARED) && map.contains_key(&scratch(0)));
        assert!(map.contains_key("browser-9"));
    }

    #[test]
    fn the_least_recently_used_session_goes_first() {
        let s = Sessions::new(2);
        let _a = s.get("a");
        let _b = s.get("b");
        let _a2 = s.get("a");
        let _c = s.get("c");
        assert_eq!(s.len(), 2);
        let map = lock(&s.map);
        assert!(map.contains_key("a") && map.contains_key("c"));
    }
}
