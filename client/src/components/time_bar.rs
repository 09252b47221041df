//! The time bar: while a range is open (`data-testid="playback"`), a
//! scrubber (a range input: arrows, Page Up/Down, Home/End move it), play /
//! pause, the speed (1×–60×), the time drawn and "Back to live"; while
//! live, a small "Replay" picker that opens the last 5 min to 1 day.

use crate::format;
use crate::hooks::use_playback::Command;
use crate::playback::{Data, Model, Msg, SPEEDS};
use std::rc::Rc;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct TimeBarProps {
    /// Playback as it stands.
    pub model: Rc<Model>,
    /// Why the range asked for could not be opened.
    pub error: Option<String>,
    /// Where the controls send their commands.
    pub on_command: Callback<Command>,
    /// Local time zone, minutes east of UTC.
    pub offset_min: i64,
}

/// The ranges the Replay picker offers: (`from`, label).
const RANGES: [(&str, &str); 5] = [
    ("now-5m", "last 5 min"),
    ("now-15m", "last 15 min"),
    ("now-1h", "last hour"),
    ("now-6h", "last 6 hours"),
    ("now-1d", "last day"),
];

/// The value of the input or select an event came from.
fn value_of(e: &Event) -> Option<String> {
    // Read as a plain property (no web-sys feature per element kind).
    let t: wasm_bindgen::JsValue = e.target()?.into();
    js_sys::Reflect::get(&t, &"value".into()).ok()?.as_string()
}

#[derive(Properties, PartialEq)]
struct OpenerProps {
    /// Why the range asked for could not be opened.
    error: Option<String>,
    /// Where Replay sends the range.
    on_command: Callback<Command>,
}

#[function_component(Opener)]
fn opener(p: &OpenerProps) -> Html {
    let choice = use_state(|| RANGES[0].0.to_string());
    let on_pick = {
        let choice = choice.clone();
        Callback::from(move |e: Event| {
            if let Some(v) = value_of(&e) {
                choice.set(v);
            }
        })
    };
    let on_open = {
        let (cb, choice) = (p.on_command.clone(), choice.clone());
        Callback::from(move |_: MouseEvent| cb.emit(Command::Open((*choice).clone(), "now".into())))
    };
    html! {
        <div class="replay-open" data-testid="playback-opener">
            <label class="muted small">{ "Replay " }
                <select data-testid="playback-range" onchange={on_pick} aria-label="Range to replay">
                    { for RANGES.iter().map(|(v, l)| html! { <option value={*v} selected={*choice == *v}>{ *l }</option> }) }
                </select>
            </label>
            <button class="btn mini" data-testid="playback-open" onclick={on_open}>{ "Replay" }</button>
            if let Some(e) = &p.error {
                <span class="muted small" role="alert" data-testid="playback-error">{ e }</span>
            }
        </div>
    }
}

#[function_component(TimeBar)]
pub fn time_bar(p: &TimeBarProps) -> Html {
    let Some(s) = p.model.session.as_ref() else {
        return html! { <Opener error={p.error.clone()} on_command={p.on_command.clone()} /> };
    };
    let r = &s.range;
    let send = |m: Msg| {
        let cb = p.on_command.clone();
        Callback::from(move |_: MouseEvent| cb.emit(Command::Do(m.clone())))
    };
    let on_scrub = {
        let cb = p.on_command.clone();
        Callback::from(move |e: InputEvent| {
            let v = e
                .target_dyn_into::<web_sys::HtmlInputElement>()
                .and_then(|i| crate::number::parse_f64(&i.value()));
            if let Some(v) = v {
                cb.emit(Command::Do(Msg::Seek(v.max(0.0) as u64)));
            }
        })
    };
    let on_speed = {
        let cb = p.on_command.clone();
        Callback::from(move |e: Event| {
            if let Some(v) = value_of(&e).and_then(|v| v.parse().ok()) {
                cb.emit(Command::Do(Msg::Speed(v)));
            }
        })
    };
    let (state, note) = match &s.data {
        Data::Loading => ("loading", "loading…".to_string()),
        Data::Ready(series) => ("ready", format!("{} series", series.len())),
        Data::Failed(why) => ("failed", format!("history unavailable: {why}")),
    };
    let step = ((r.to - r.from) / 1000).max(1);
    let clock = |t: u64| format::clock(t, p.offset_min);
    html! {
        <div class="playback card" data-testid="playback" role="group" aria-label="Playback"
             data-from={r.from.to_string()} data-to={r.to.to_string()} data-cursor={s.cursor.to_string()}
             data-state={state} data-playing={s.playing.to_string()} data-speed={s.speed.to_string()}>
            <button class="btn" data-testid="playback-play" onclick={send(Msg::Toggle)}
                    aria-label={if s.playing { "Pause" } else { "Play" }}>
                { if s.playing { "❚❚ Pause" } else { "▶ Play" } }
            </button>
            <select data-testid="playback-speed" aria-label="Speed" onchange={on_speed}>
                { for SPEEDS.iter().map(|v| html! { <option value={v.to_string()} selected={*v == s.speed}>{ format!("{v}×") }</option> }) }
            </select>
            <span class="muted small">{ clock(r.from) }</span>
            <input type="range" class="scrubber" data-testid="playback-scrubber" aria-label="Time shown"
                   min={r.from.to_string()} max={r.to.to_string()} step={step.to_string()}
                   value={s.cursor.to_string()} aria-valuetext={clock(s.cursor)} oninput={on_scrub} />
            <span class="muted small">{ clock(r.to) }</span>
            <span class="playback-time" data-testid="playback-time">{ clock(s.cursor) }</span>
            <span class={classes!("small", if state == "failed" { "badge alert" } else { "muted" })}
                  role={(state == "failed").then_some("alert")}>{ note }</span>
            <button class="btn" data-testid="playback-live" onclick={send(Msg::Close)}>{ "Back to live" }</button>
        </div>
    }
}
