//! Tab 1, Hermes: one row per agent with its gateway process (state, PID, uptime, model,
//! platforms, tmux viewers, heartbeat, watchdog), the Ollama card, and the installed
//! hermes-agent version.

use super::super::action::{Intent, Op};
use super::super::gateway::{GatewayStatus, State as GwState};
use super::super::hermes_version;
use super::super::ollama::OllamaCard;
use super::super::text;
use super::super::view::{GatewayCell, HermesView, Meaning, OllamaCardView, ProfileRow};
use super::{Ctx, Effect, Effects, shorten_home, step};

#[derive(Debug, Default)]
pub struct State {
    pub selected: usize,
}

/// The router sends this tab's row intents here.
pub fn update(state: &mut State, ctx: &Ctx, intent: &Intent) -> Effects {
    let n = ctx.data.agents.len();
    let selected = ctx.data.agents.get(state.selected).map(|a| a.name.clone());
    match (intent, selected) {
        (Intent::MoveSelection { delta }, _) => state.selected = step(state.selected, n, *delta),
        (Intent::SelectRow { index }, _) => state.selected = super::pick(*index, n),
        (Intent::StartSelectedGateway, Some(agent)) => {
            return vec![Effect::Background(Op::StartGateway { agent })];
        }
        (Intent::StopSelectedGateway, Some(agent)) => {
            return vec![Effect::Background(Op::StopGateway { agent })];
        }
        (Intent::RestartSelectedGateway, Some(agent)) => {
            return vec![Effect::Background(Op::RestartGateway { agent })];
        }
        (Intent::ToggleSelectedWatch, Some(agent)) => {
            let on = !gateway_of(ctx, &agent).is_some_and(|g| g.watch);
            return vec![Effect::Apply(Op::WatchGateway { agent, on })];
        }
        (
            Intent::StartSelectedGateway
            | Intent::StopSelectedGateway
            | Intent::RestartSelectedGateway
            | Intent::ToggleSelectedWatch,
            None,
        ) => {
            return vec![Effect::Say(Meaning::Warning, super::NO_AGENTS.into())];
        }
        _ => {}
    }
    Vec::new()
}

fn gateway_of<'a>(ctx: &'a Ctx, agent: &str) -> Option<&'a GatewayStatus> {
    ctx.data.gateways.iter().find(|g| g.agent == agent)
}

/// "5s ago" from an RFC 3339 time.
fn ago(ctx: &Ctx, when: &str) -> Option<String> {
    let t = super::super::time::parse(when)?;
    Some(format!("{} ago", super::super::time::age(t, ctx.now)))
}

fn cell(ctx: &Ctx, g: Option<&GatewayStatus>) -> GatewayCell {
    let Some(g) = g else {
        return GatewayCell {
            state: "stopped".into(),
            label: "not probed".into(),
            meaning: Meaning::Muted,
            pid: None,
            uptime: None,
            platforms: Vec::new(),
            viewers: 0,
            heartbeat: None,
            watch: false,
            gave_up: false,
            detail: None,
            can_start: true,
        };
    };
    GatewayCell {
        state: g.state.as_str().into(),
        label: g.label(),
        meaning: match g.state {
            GwState::Running => Meaning::Success,
            GwState::Starting => Meaning::Accent,
            GwState::Stopped => Meaning::Muted,
            GwState::Crashed => Meaning::Error,
        },
        pid: g.pid,
        uptime: g.uptime.clone(),
        platforms: g.platforms.iter().map(|p| text::clean(p)).collect(),
        viewers: g.viewers,
        heartbeat: g.heartbeat.as_deref().and_then(|h| ago(ctx, h)),
        watch: g.watch,
        gave_up: g.gave_up,
        detail: g.detail.as_deref().map(text::clean),
        can_start: !g.state.alive(),
    }
}

fn ollama_view(card: Option<&OllamaCard>) -> OllamaCardView {
    let Some(c) = card else {
        return OllamaCardView {
            url: String::new(),
            summary: "not checked yet".into(),
            meaning: Meaning::Muted,
            models: Vec::new(),
            routes: Vec::new(),
        };
    };
    let (summary, meaning) = if c.reachable {
        (
            format!(
                "reachable, version {}, {} model{}",
                text::clean(c.version.as_deref().unwrap_or("?")),
                c.models.len(),
                if c.models.len() == 1 { "" } else { "s" }
            ),
            Meaning::Success,
        )
    } else {
        (
            "not reachable (install Ollama, or set NXR_OLLAMA_URL)".to_string(),
            if c.routes.is_empty() {
                Meaning::Muted
            } else {
                Meaning::Warning
            },
        )
    };
    OllamaCardView {
        url: text::clean(&c.url),
        summary,
        meaning,
        models: c.models.iter().map(|m| text::clean(m)).collect(),
        routes: c
            .routes
            .iter()
            .map(|r| {
                format!(
                    "{} {} → {}{}",
                    text::clean(&r.agent),
                    text::clean(&r.slot),
                    text::clean(&r.model),
                    if r.pulled { "" } else { " (not pulled)" }
                )
            })
            .collect(),
    }
}

pub fn view(state: &State, ctx: &Ctx) -> HermesView {
    let data = ctx.data;
    let rows: Vec<ProfileRow> = data
        .agents
        .iter()
        .map(|a| {
            let p = ctx.profile_of(a);
            let g = gateway_of(ctx, &a.name);
            ProfileRow {
                agent: a.name.clone(),
                profile: a.profile.clone(),
                dir: shorten_home(&p.dir.display().to_string()),
                role: a.role,
                // The model the gateway's config routes main work to, else the database's.
                model: text::clean(g.map(|g| g.model.as_str()).unwrap_or(&a.model)),
                config_present: p.exists(),
                skills: a.skillset.len(),
                gateway: cell(ctx, g),
            }
        })
        .collect();
    HermesView {
        hermes_home: shorten_home(&ctx.hermes_home.display().to_string()),
        empty: rows.is_empty().then(|| "No agents yet: create one on the Create tab, or run `nxr --no-tui agents create --role pm --name pm`.".to_string()),
        rows,
        selected: state.selected,
        hermes_version: hermes_version::describe(data.hermes_version.as_deref()),
        hermes_version_meaning: match data.hermes_version.as_deref() {
            Some(v) if hermes_version::warning(v).is_some() => Meaning::Warning,
            _ => Meaning::Muted,
        },
        processes_note: "Watch a gateway: `tmux attach -t nxr-<agent>`.".into(),
        ollama: ollama_view(data.ollama_card.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent, ctx, data};
    use super::*;
    use crate::core::scoring::Role;

    #[test]
    fn moving_down_stops_at_the_last_agent_and_selecting_past_the_end_picks_the_last() {
        let d = data(vec![agent("pm", Role::Pm), agent("eng", Role::Engineer)]);
        let c = ctx(&d);
        let mut s = State::default();
        update(&mut s, &c, &Intent::MoveSelection { delta: 5 });
        assert_eq!(s.selected, 1);
        update(&mut s, &c, &Intent::MoveSelection { delta: -9 });
        assert_eq!(s.selected, 0);
        update(&mut s, &c, &Intent::SelectRow { index: 99 });
        assert_eq!(s.selected, 1);
        assert_eq!(view(&s, &c).rows.len(), 2);
    }

    fn status(agent: &str, state: GwState) -> GatewayStatus {
        GatewayStatus {
            agent: agent.into(),
            profile: agent.into(),
            state,
            backoff: false,
            pid: state.alive().then_some(4242),
            uptime_seconds: state.alive().then_some(75),
            uptime: state.alive().then(|| "1m 15s".into()),
            model: "qwen/qwen3-coder:free".into(),
            platforms: vec!["telegram".into()],
            tmux_session: Some(format!("nxr-{agent}")),
            viewers: 2,
            heartbeat: Some("2026-12-01T23:59:55.000000Z".into()),
            detail: (state == GwState::Crashed).then(|| "killed by signal 9".into()),
            watch: true,
            gave_up: false,
        }
    }

    #[test]
    fn each_row_shows_its_gateway_and_a_crash_is_an_error_that_offers_start() {
        let mut d = data(vec![agent("pm", Role::Pm), agent("eng", Role::Engineer)]);
        d.gateways = vec![
            status("pm", GwState::Running),
            status("eng", GwState::Crashed),
        ];
        let mut c = ctx(&d);
        c.now = "2026-12-02T00:00:00Z".parse().expect("time");
        let v = view(&State::default(), &c);
        let pm = &v.rows[0].gateway;
        assert_eq!(
            (pm.label.as_str(), pm.meaning, pm.pid, pm.can_start),
            ("running", Meaning::Success, Some(4242), false)
        );
        assert_eq!(pm.uptime.as_deref(), Some("1m 15s"));
        assert_eq!(pm.heartbeat.as_deref(), Some("5s ago"));
        assert_eq!((pm.viewers, pm.watch), (2, true));
        assert_eq!(v.rows[0].model, "qwen/qwen3-coder:free");
        let eng = &v.rows[1].gateway;
        assert_eq!(
            (eng.meaning, eng.can_start, eng.detail.as_deref()),
            (Meaning::Error, true, Some("killed by signal 9"))
        );
    }

    #[test]
    fn the_ollama_card_says_reachable_with_its_models_or_warns_when_slots_route_to_a_missing_one() {
        use crate::core::ollama::OllamaRoute;
        let route = OllamaRoute {
            agent: "pm".into(),
            slot: "aux:vision".into(),
            model: "qwen3:8b".into(),
            pulled: false,
        };
        let up = ollama_view(Some(&OllamaCard {
            url: "http://127.0.0.1:11434".into(),
            reachable: true,
            version: Some("0.12.6".into()),
            models: vec!["llama3.2:3b".into()],
            routes: vec![route.clone()],
        }));
        assert_eq!(up.summary, "reachable, version 0.12.6, 1 model");
        assert_eq!(up.routes, ["pm aux:vision → qwen3:8b (not pulled)"]);
        let down = ollama_view(Some(&OllamaCard {
            url: "http://127.0.0.1:11434".into(),
            reachable: false,
            version: None,
            models: Vec::new(),
            routes: vec![route],
        }));
        assert_eq!(down.meaning, Meaning::Warning);
        assert_eq!(ollama_view(None).summary, "not checked yet");
    }

    #[test]
    fn gateway_keys_act_on_the_selected_agent_off_the_input_loop() {
        let d = data(vec![agent("pm", Role::Pm), agent("eng", Role::Engineer)]);
        let c = ctx(&d);
        let mut s = State { selected: 1 };
        let op = |fx: Effects| match fx.as_slice() {
            [Effect::Background(op)] | [Effect::Apply(op)] => op.clone(),
            _ => panic!("not one op"),
        };
        assert_eq!(
            op(update(&mut s, &c, &Intent::StartSelectedGateway)),
            Op::StartGateway {
                agent: "eng".into()
            }
        );
        assert!(matches!(
            update(&mut s, &c, &Intent::StopSelectedGateway).as_slice(),
            [Effect::Background(Op::StopGateway { agent })] if agent == "eng"
        ));
        assert_eq!(
            op(update(&mut s, &c, &Intent::ToggleSelectedWatch)),
            Op::WatchGateway {
                agent: "eng".into(),
                on: true
            }
        );
    }
}
