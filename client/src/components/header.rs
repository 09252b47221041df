//! The top bar: status, connected clients, Connect toggle, Pause / Resume.

use crate::state::ConnStatus;
use crate::theme::ThemePref;
use livedash_shared::{StreamState, StreamStatus, Streams};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    pub conn: ConnStatus,
    pub stale: bool,
    pub clients: Option<u64>,
    pub connect: bool,
    pub paused: bool,
    /// Frames this page could not decode.
    pub undecodable: u64,
    /// Each stream's status: a stopped or failed stream is shown as such,
    /// so it is not mistaken for a lost connection.
    pub streams: Streams,
    pub on_connect: Callback<bool>,
    pub on_pause: Callback<bool>,
    /// The theme picked (light / dark / system).
    pub theme: ThemePref,
    /// Another theme was picked.
    pub on_theme: Callback<ThemePref>,
}

#[function_component(Header)]
pub fn header(p: &HeaderProps) -> Html {
    let on_toggle = {
        // The toggle mirrors the connection task: a click asks for the
        // opposite of what it shows.
        let (cb, on) = (p.on_connect.clone(), p.connect);
        Callback::from(move |_: Event| cb.emit(!on))
    };
    let on_pause = {
        let cb = p.on_pause.clone();
        let paused = p.paused;
        Callback::from(move |_| cb.emit(!paused))
    };
    let on_theme = {
        let cb = p.on_theme.clone();
        Callback::from(move |e: Event| {
            let value = e
                .target()
                .and_then(|t| js_sys::Reflect::get(&t, &"value".into()).ok())
                .and_then(|v| v.as_string());
            if let Some(t) = value.as_deref().and_then(ThemePref::parse) {
                cb.emit(t);
            }
        })
    };
    html! {
        <header class="topbar">
            <div class="brand">
                <span class="logo" aria-hidden="true"></span>
                <h1>{ "livedash" }</h1>
                <span class="subtitle">{ "theLook eCommerce · live" }</span>
            </div>
            <div class="controls">
                <span class={classes!("status", p.conn.key())} data-testid="connection-status" role="status">
                    <span class="dot" aria-hidden="true"></span>{ p.conn.label() }
                </span>
                if p.stale { <span class="badge stale">{ "stale" }</span> }
                { stream_badge("orders", &p.streams.orders) }
                { stream_badge("system", &p.streams.system) }
                if let Some(b) = crate::state::source_badge(&p.streams.source) {
                    <span class="badge alert" data-testid="source-status" title={b.title} role="status">
                        { b.text }
                    </span>
                }
                if p.undecodable > 0 {
                    <span class="badge warn" data-testid="undecodable-frames"
                          title="frames from the server this page could not read (another version?)">
                        { format!("{} unreadable frame{}", p.undecodable, if p.undecodable == 1 { "" } else { "s" }) }
                    </span>
                }
                <span class="clients" title="connected clients">
                    <span class="muted">{ "Clients" }</span>
                    <strong data-testid="client-count">{ p.clients.map(|c| c.to_string()).unwrap_or_else(|| "–".into()) }</strong>
                </span>
                <label class="toggle">
                    <input type="checkbox" data-testid="connect-toggle" checked={p.connect} onchange={on_toggle} />
                    <span class="track"><span class="thumb"></span></span>
                    { "Connect to WS Server" }
                </label>
                <label class="theme-pick">
                    <span class="muted small">{ "Theme" }</span>
                    <select data-testid="theme-picker" onchange={on_theme} aria-label="Theme">
                        { for ThemePref::ALL.iter().map(|t| html! {
                            <option value={t.as_str()} selected={*t == p.theme}>{ t.label() }</option>
                        }) }
                    </select>
                </label>
                <button class={classes!("btn", p.paused.then_some("active"))} data-testid="pause-toggle"
                        onclick={on_pause} disabled={!p.connect}>
                    { if p.paused { "▶ Resume" } else { "❚❚ Pause" } }
                </button>
            </div>
        </header>
    }
}

/// "orders stream stopped" / "system stream failed" (with why, on hover);
/// nothing while the stream runs.
fn stream_badge(name: &'static str, s: &StreamStatus) -> Html {
    let (class, text) = match s.state {
        StreamState::Running => return Html::default(),
        StreamState::Stopped => ("warn", format!("{name} stream stopped")),
        StreamState::Failed => ("alert", format!("{name} stream failed, restarting")),
    };
    let title = s
        .error
        .clone()
        .unwrap_or_else(|| "stopped by an admin".into());
    html! {
        <span class={classes!("badge", class)} data-testid={format!("stream-status-{name}")} title={title}>
            { text }
        </span>
    }
}
