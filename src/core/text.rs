//! Turning data into words and numbers people read, shared by every renderer so the TUI,
//! the browser and the CLI say the same thing.

use super::catalog::clip;

/// Text from the network or a profile, made safe for a terminal and a web page: control
/// characters (escape sequences included) become '?', bidirectional overrides are dropped,
/// and very long strings are cut. Every renderer shows catalog text through this.
pub fn clean(s: &str) -> String {
    clean_max(s, 200)
}

pub fn clean_max(s: &str, max: usize) -> String {
    let s: String = s
        .chars()
        .filter(|c| !is_bidi_control(*c))
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    clip(&s, max)
}

/// The embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they reorder the
/// text around them, so a model's name could pass for another's.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// 262144 → "262k", 1048576 → "1M".
pub fn tokens(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// USD per million tokens: "free", "$0.15", "varies" (routers).
pub fn per_million(p: Option<f64>) -> String {
    match p {
        None => "varies".to_string(),
        Some(0.0) => "free".to_string(),
        Some(v) if v < 0.01 => format!("${v:.4}"),
        Some(v) => format!("${v:.2}"),
    }
}

pub fn score(s: Option<f64>) -> String {
    s.map(|v| format!("{v:.1}"))
        .unwrap_or_else(|| "-".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_a_terminal() {
        assert_eq!(clean("a\u{1b}[2Jb\nc\u{7}"), "a?[2Jb?c?");
        assert!(clean(&"x".repeat(500)).len() <= 203);
    }

    #[test]
    fn bidirectional_overrides_never_reach_a_renderer() {
        let spoof = "openai/gpt\u{202E}eerf:\u{202C} \u{2066}x\u{2069}\u{202A}\u{202B}\u{202D}\u{2067}\u{2068}";
        let out = clean(spoof);
        assert!(!out.chars().any(is_bidi_control), "{out:?}");
        assert_eq!(out, "openai/gpteerf: x");
        // Neighbours that are not overrides stay (the left-to-right mark, Arabic text).
        assert_eq!(clean("a\u{200E}b \u{0645}"), "a\u{200E}b \u{0645}");
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(tokens(262_144), "262k");
        assert_eq!(tokens(1_000_000), "1M");
        assert_eq!(tokens(1_048_576), "1.0M");
        assert_eq!(per_million(Some(0.0)), "free");
        assert_eq!(per_million(Some(3.0)), "$3.00");
        assert_eq!(per_million(None), "varies");
    }
}
