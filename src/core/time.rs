//! Timestamps as nxr stores them: RFC 3339 in UTC with microseconds, so they sort as text.

use jiff::Timestamp;

pub fn now() -> String {
    format(Timestamp::now())
}

pub fn format(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn parse(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

/// "3m", "5h", "2d": how long ago `then` was, for status lines.
pub fn age(then: Timestamp, now: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(then.as_second()).max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_timestamps_sort_as_text() {
        let a = format(Timestamp::from_second(1_700_000_000).expect("ts"));
        let b = format(Timestamp::from_second(1_700_000_001).expect("ts"));
        assert!(a < b);
        assert_eq!(a, "2023-11-14T22:13:20.000000Z");
        assert_eq!(parse(&a), Timestamp::from_second(1_700_000_000).ok());
    }

    #[test]
    fn ages_read_like_a_person_would_say_them() {
        let t = Timestamp::from_second(1_000_000).expect("ts");
        let later = |s: i64| Timestamp::from_second(1_000_000 + s).expect("ts");
        assert_eq!(age(t, later(5)), "5s");
        assert_eq!(age(t, later(300)), "5m");
        assert_eq!(age(t, later(7200)), "2h");
        assert_eq!(age(t, later(3 * 86_400)), "3d");
    }
}
