//! Which Hermes nxr talks to. nxr depends on facts about Hermes' files and processes; this
//! is the one place that names the hermes-agent version each fact was checked against, reads
//! the installed version, and words the warning for a Hermes outside the verified range.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::Core;
use super::error::Result;

/// The hermes-agent release every fact below was checked against (what the package
/// registries serve).
pub const CHECKED_AGAINST: &str = "0.19.0";

/// Releases with the same major and minor version as [`CHECKED_AGAINST`] are verified:
/// Hermes keeps file formats within a minor series.
pub const VERIFIED_SERIES: &str = "0.19.x";

/// A fact about Hermes that nxr relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fact {
    pub what: &'static str,
    pub detail: &'static str,
    pub checked_against: &'static str,
}

/// Every Hermes fact nxr depends on, with the version it was checked against. When a newer
/// Hermes changes one, this table and the code named in `detail` change together.
pub const FACTS: &[Fact] = &[
    Fact {
        what: "profile layout",
        detail: "the root ($HERMES_HOME) is the `default` profile; agents are profiles/<name>/ \
                 with config.yaml, .env, skills/, state.db (core/hermes.rs)",
        checked_against: CHECKED_AGAINST,
    },
    Fact {
        what: "config.yaml keys",
        detail: "model: {provider, default, base_url, api_mode}; auxiliary.<task>: {provider, \
                 model, base_url}; fallback_providers: [{provider, model, base_url}]; \
                 skills.disabled (core/hermes.rs, core/routing.rs)",
        checked_against: CHECKED_AGAINST,
    },
    Fact {
        what: ".env keys",
        detail: "OPENROUTER_API_KEY, TELEGRAM_BOT_TOKEN, TELEGRAM_HOME_CHANNEL (core/secrets.rs, \
                 core/doctor.rs)",
        checked_against: CHECKED_AGAINST,
    },
    Fact {
        what: "SKILL.md front matter",
        detail: "name, description (required), version, metadata.hermes.tags (core/skills.rs)",
        checked_against: CHECKED_AGAINST,
    },
    Fact {
        what: "gateway.pid format",
        detail: "JSON {pid, kind, argv, start_time}; gateway.lock held with flock while the \
                 gateway lives; `hermes gateway run` stays in the foreground",
        checked_against: CHECKED_AGAINST,
    },
    Fact {
        what: "state.db columns",
        detail: "session_model_usage(session_id, model, billing_provider, task, api_call_count, \
                 input_tokens, output_tokens, estimated_cost_usd, actual_cost_usd, first_seen, \
                 last_seen); sessions(started_at, api_call_count)",
        checked_against: CHECKED_AGAINST,
    },
    Fact {
        what: "plugin hooks",
        detail: "hermes_cli.plugins.VALID_HOOKS: pre_tool_call, post_tool_call, pre_llm_call, \
                 post_llm_call, on_session_start, on_session_end, pre_gateway_dispatch, ...",
        checked_against: CHECKED_AGAINST,
    },
];

/// Where an installed Hermes stands against the verified range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    Verified,
    Unverified,
    /// The version could not be read or parsed.
    Unknown,
}

/// The leading `major.minor.patch` numbers of a version string (`0.19.0`, `v0.22.1rc1`).
fn numbers(v: &str) -> Option<(u64, u64)> {
    let v = v.trim().trim_start_matches('v');
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Some((major, minor.parse().ok()?))
}

pub fn support(version: Option<&str>) -> Support {
    let Some(have) = version.and_then(numbers) else {
        return Support::Unknown;
    };
    if Some(have) == numbers(CHECKED_AGAINST) {
        Support::Verified
    } else {
        Support::Unverified
    }
}

/// The plain warning for a Hermes outside the verified range, or `None` when it is inside.
pub fn warning(version: &str) -> Option<String> {
    (support(Some(version)) == Support::Unverified).then(|| {
        format!(
            "hermes-agent {version} is not a version nxr was checked against ({VERIFIED_SERIES}); \
             nxr keeps working, but if an agent misbehaves run `nxr doctor` or install \
             hermes-agent=={CHECKED_AGAINST}"
        )
    })
}

/// One line for Tab 1 and `/hermes`: the version and whether it is verified.
pub fn describe(version: Option<&str>) -> String {
    match (version, support(version)) {
        (Some(v), Support::Verified) => format!("hermes-agent {v} (verified)"),
        (Some(v), Support::Unverified) => format!(
            "hermes-agent {v}: not verified (nxr is checked against {VERIFIED_SERIES}); nxr keeps working"
        ),
        (Some(v), Support::Unknown) => format!("hermes-agent {v}: version not understood"),
        (None, _) => "hermes-agent version not recorded (`nxr doctor` shows it)".into(),
    }
}

/// The setting that remembers which version was warned about, so the warning fires once.
const WARNED_SETTING: &str = "hermes_version_warned";

/// The warning for `version` the first time this workspace meets it, `None` after that (or
/// for a verified version). Records that it warned.
pub async fn warn_once(core: &Core, version: &str) -> Result<Option<String>> {
    let Some(text) = warning(version) else {
        return Ok(None);
    };
    if core.setting(WARNED_SETTING).await?.as_deref() == Some(version) {
        return Ok(None);
    }
    core.set_setting(WARNED_SETTING, version).await?;
    Ok(Some(text))
}

/// The version the `onboarding` row recorded, if any.
pub async fn recorded(core: &Core) -> Result<Option<String>> {
    let conn = core.db.conn().await?;
    let mut rows = conn
        .query(
            "SELECT hermes_version FROM onboarding WHERE workspace_id = 'default'",
            (),
        )
        .await?;
    match rows.next().await? {
        Some(row) => super::db::opt_text(&row, 0),
        None => Ok(None),
    }
}

/// Reads the installed hermes-agent version behind the `hermes` script: first the package
/// metadata through the script's own Python (no network, nothing written), else
/// `hermes --version` (which also asks PyPI whether it is up to date, so it comes second).
pub async fn installed(script: &Path, timeout: Duration) -> Option<String> {
    if let Some(v) = from_metadata(script, timeout).await {
        return Some(v);
    }
    let run = tokio::process::Command::new(script)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(timeout, run).await.ok()?.ok()?;
    if !out.status.success() {
        return None;
    }
    parse_version_output(&String::from_utf8_lossy(&out.stdout))
}

async fn from_metadata(script: &Path, timeout: Duration) -> Option<String> {
    let head = std::fs::read(script).ok()?;
    let first = head.split(|b| *b == b'\n').next()?;
    let shebang = std::str::from_utf8(first).ok()?.strip_prefix("#!")?.trim();
    let python = shebang.split_whitespace().next()?;
    let run = tokio::process::Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('hermes-agent'))",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(timeout, run).await.ok()?.ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && numbers(&v).is_some()).then_some(v)
}

/// The version in `hermes --version`'s first line: `Hermes Agent v0.19.0 (2026.7.20)`.
pub fn parse_version_output(text: &str) -> Option<String> {
    text.lines().next()?.split_whitespace().find_map(|w| {
        let w = w.trim_start_matches('v');
        numbers(w).map(|_| w.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_019_series_is_verified_and_others_are_not() {
        assert_eq!(support(Some("0.19.0")), Support::Verified);
        assert_eq!(support(Some("0.19.3")), Support::Verified);
        assert_eq!(support(Some("0.22.0")), Support::Unverified);
        assert_eq!(support(Some("0.18.9")), Support::Unverified);
        assert_eq!(support(Some("1.19.0")), Support::Unverified);
        assert_eq!(support(Some("garbage")), Support::Unknown);
        assert_eq!(support(None), Support::Unknown);
        assert!(warning("0.19.0").is_none());
        assert!(
            warning("0.22.0").is_some_and(|w| w.contains("0.22.0") && w.contains("0.19.x")),
            "{:?}",
            warning("0.22.0")
        );
    }

    #[test]
    fn hermes_version_output_is_read_from_its_first_line() {
        assert_eq!(
            parse_version_output(
                "Hermes Agent v0.19.0 (2026.7.20)\nInstall directory: /x\nPython: 3.11.7\n"
            )
            .as_deref(),
            Some("0.19.0")
        );
        assert_eq!(
            parse_version_output("hermes 0.22.0\n").as_deref(),
            Some("0.22.0")
        );
        assert_eq!(parse_version_output("Hermes Agent\n"), None);
        assert_eq!(parse_version_output(""), None);
    }

    #[test]
    fn every_fact_names_the_version_it_was_checked_against() {
        let whats: Vec<&str> = FACTS.iter().map(|f| f.what).collect();
        for needed in [
            "config.yaml keys",
            "gateway.pid format",
            "state.db columns",
            "plugin hooks",
        ] {
            assert!(whats.contains(&needed), "{needed} missing from FACTS");
        }
        assert!(FACTS.iter().all(|f| f.checked_against == CHECKED_AGAINST));
    }
}
