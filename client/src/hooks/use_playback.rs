//! Playback I/O: the range of the page URL at start, `/api/history` for
//! it, the play timer, and the address bar kept in step (a link shares the
//! range). The logic is [`crate::playback`]'s pure reducer.

use crate::config::api_base;
use crate::hooks::use_connection::{resolve_url, viewer_token};
use crate::playback::{self, Model, Msg, Range, Series};
use gloo_net::http::Request;
use std::rc::Rc;
use yew::prelude::*;

/// How often the play timer moves the cursor, ms.
const TICK_MS: u32 = 200;

/// What the time bar sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Open `from`..`to` (texts as in the URL: `now-5m`, `now`, Unix ms).
    Open(String, String),
    /// Anything else the reducer takes (seek, play, speed, back to live).
    Do(Msg),
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

fn search() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// Put `search` in the address bar without a reload or a history entry.
fn replace_search(search: &str) {
    let Some(w) = web_sys::window() else {
        return;
    };
    let loc = w.location();
    let url = format!(
        "{}{}{}",
        loc.pathname().unwrap_or_default(),
        search,
        loc.hash().unwrap_or_default()
    );
    if let Ok(h) = w.history() {
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
    let resp = Request::get(url)
        .cache(web_sys::RequestCache::NoCache)
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    if !resp.ok() {
        let body: Option<serde_json::Value> = resp.json().await.ok();
        let why = body
            .as_ref()
            .and_then(|b| b["message"].as_str())
            .unwrap_or_default()
            .to_string();
        return Err(format!("HTTP {} {why}", resp.status()).trim().to_string());
    }
    resp.json().await.map_err(|e| e.to_string())
}

/// `/api/series`, then `/api/history` for the range (several requests
/// when there are many breakdown series).
async fn fetch(r: &Range) -> Result<Series, String> {
    let api = api_base(&resolve_url().await);
    let token = viewer_token();
    let tq = token
        .as_deref()
        .map(|t| format!("?token={}", js_sys::encode_uri_component(t)))
        .unwrap_or_default();
    let known: Vec<String> = get_json(&format!("{api}/api/series{tq}")).await?;
    let mut out = Series::new();
    for q in playback::history_queries(&known, r, token.as_deref()) {
        let body: serde_json::Value = get_json(&format!("{api}/api/history?{q}")).await?;
        for s in body["series"].as_array().into_iter().flatten() {
            let points = s["points"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| Some((p["ts"].as_u64()?, p["value"].as_f64()?)))
                .collect();
            out.insert(s["name"].as_str().unwrap_or_default().to_string(), points);
        }
    }
    Ok(out)
}

fn open(model: &UseReducerHandle<Model>, r: Range) {
    model.dispatch(Msg::Open(r.clone()));
    let model = model.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let msg = match fetch(&r).await {
            Ok(series) => Msg::Loaded {
                from: r.from,
                series: Rc::new(series),
            },
            Err(why) => Msg::Failed { from: r.from, why },
        };
        model.dispatch(msg);
    });
}

/// Playback state, and where the time bar sends its commands. `ready`:
/// the page may ask the server's REST API (its protocol is known).
#[hook]
pub fn use_playback(ready: bool) -> (Rc<Model>, Option<String>, Callback<Command>) {
    let model = use_reducer(Model::default);
    // A bad range in the URL, said in the bar instead of ignored.
    let url_error = use_state(|| None::<String>);
    {
        let (model, url_error) = (model.clone(), url_error.clone());
        let started = use_mut_ref(|| false);
        use_effect_with(ready, move |ready| {
            if *ready && !*started.borrow() {
                *started.borrow_mut() = true;
                match playback::range_of(&search(), now_ms()) {
                    Some(Ok(r)) => open(&model, r),
                    Some(Err(e)) => url_error.set(Some(e)),
                    None => {}
                }
            }
        });
    }
    let playing = model.session.as_ref().is_some_and(|s| s.playing);
    {
        let model = model.clone();
        use_effect_with(playing, move |playing| {
            let timer = playing.then(|| {
                let last = std::cell::Cell::new(now_ms());
                gloo_timers::callback::Interval::new(TICK_MS, move || {
                    let now = now_ms();
                    model.dispatch(Msg::Tick(now.saturating_sub(last.replace(now))));
                })
            });
            move || drop(timer)
        });
    }
    let on_command = {
        let (model, url_error) = (model.clone(), url_error.clone());
        Callback::from(move |c: Command| match c {
            Command::Open(from, to) => match playback::resolve(&from, &to, now_ms()) {
                Ok(r) => {
                    url_error.set(None);
                    replace_search(&playback::search_with(&search(), Some((&from, &to))));
                    open(&model, r);
                }
                Err(e) => url_error.set(Some(e)),
            },
            Command::Do(Msg::Close) => {
                url_error.set(None);
                replace_search(&playback::search_with(&search(), None));
                model.dispatch(Msg::Close);
            }
            Command::Do(m) => model.dispatch(m),
        })
    };
    let m: Rc<Model> = Rc::new((*model).clone());
    (m, (*url_error).clone(), on_command)
}
