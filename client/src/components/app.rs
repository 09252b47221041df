//! The page: header (connection, clients, connect, pause), the token form
//! and banners, then the dashboard's widgets on the grid, drawn by the
//! widget catalogue ([`crate::widgets`]).

use crate::charts::Palette;
use crate::components::filter_bar::{use_filter, FilterBar};
use crate::components::{editor::Editor, header::Header, token_form::TokenForm};
use crate::edit::{self, Edit};
use crate::hooks::use_connection::{use_connection, Command};
use crate::hooks::use_dashboard::{use_dashboard, Loaded, When};
use crate::hooks::use_playback::use_playback;
use crate::hooks::use_theme::use_theme;
use crate::state::ConnStatus;
use crate::state::{Action, DashState};
use crate::widgets::{self, Cx};
use livedash_shared::{Dashboard, Topic};
use std::rc::Rc;
use yew::prelude::*;

fn offset_min() -> i64 {
    // getTimezoneOffset is minutes *behind* UTC.
    -(js_sys::Date::new_0().get_timezone_offset() as i64)
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(DashState::default);
    let commands = use_connection(state.dispatcher());
    let when = match state.conn {
        ConnStatus::Connecting => When::Wait,
        ConnStatus::Incompatible => When::Local,
        _ => When::Fetch,
    };
    let (loaded, replace) = use_dashboard(when);
    // No REST calls to a server of another protocol.
    let compatible = state.conn != ConnStatus::Incompatible;
    let theme = use_theme();
    let filter = use_filter(commands.clone(), state.dispatcher());
    let on_filter = {
        let (f, set) = (filter.filter.clone(), filter.set.clone());
        Callback::from(move |(var, value): (String, String)| set.emit(f.with(&var, &value)))
    };
    // Playback of a past range; the live state keeps taking frames meanwhile.
    let (playback, playback_error, on_playback) =
        use_playback(compatible && state.conn != ConnStatus::Connecting);
    let replay = crate::playback::view::replay(&playback, &state);
    // One browser Notification per alert per browser, when allowed.
    crate::hooks::use_notify::use_notify(state.last_alert.clone());
    // The draft while editing, and why the last edit was refused.
    let draft = use_state(|| None::<Rc<Dashboard>>);
    let edit_error = use_state(|| None::<AttrValue>);
    // A pointer drag of a widget while editing (widgets/drag.rs).
    let drag = use_state(|| None::<widgets::drag::Drag>);
    let drag_live = use_mut_ref(widgets::drag::Live::default);
    let on_draft = {
        let (draft, edit_error) = (draft.clone(), edit_error.clone());
        Callback::from(move |d: Option<Dashboard>| {
            edit_error.set(None);
            draft.set(d.map(Rc::new));
        })
    };
    let on_edit = {
        let (draft, edit_error) = (draft.clone(), edit_error.clone());
        Callback::from(move |e: Edit| {
            let Some(d) = &*draft else {
                return;
            };
            match edit::apply(d, &e) {
                Ok(next) => {
                    edit_error.set(None);
                    draft.set(Some(Rc::new(next)));
                }
                Err(why) => edit_error.set(Some(why.into())),
            }
        })
    };
    let on_saved = {
        let (draft, replace) = (draft.clone(), replace.clone());
        Callback::from(move |d: Dashboard| {
            draft.set(None);
            replace.emit(d);
        })
    };
    {
        // A records table needs each tick's rows: ask for them.
        let commands = commands.clone();
        let records = draft.as_deref().is_some_and(widgets::needs_records)
            || loaded
                .as_ref()
                .is_some_and(|l| widgets::needs_records(&l.dashboard));
        use_effect_with(records, move |r| commands.emit(Command::Records(*r)));
    }
    // ECharts' script once the dashboard shows its first data (the KPI
    // cards are drawn without it; see echarts::load_script).
    use_effect_with(loaded.is_some() && state.snapshots > 0, |shown| {
        if *shown {
            crate::echarts::load_after_paint();
        }
    });
    // The toggle shows what the connection task holds (state.enabled).
    let on_connect = {
        let commands = commands.clone();
        Callback::from(move |on: bool| commands.emit(Command::Connect(on)))
    };
    let on_token = {
        let commands = commands.clone();
        Callback::from(move |t: Option<String>| commands.emit(Command::Token(t)))
    };
    let on_reload = Callback::from(|_: MouseEvent| {
        if let Some(w) = web_sys::window() {
            let _ = w.location().reload();
        }
    });
    let on_pause = {
        let commands = commands.clone();
        Callback::from(move |p: bool| commands.emit(Command::Pause(p)))
    };
    let on_series = {
        let dispatch = state.dispatcher();
        Callback::from(move |name: String| dispatch.dispatch(Action::SelectSeries(name)))
    };

    html! {
        <div class={classes!("app", state.stale().then_some("is-stale"), state.paused.then_some("is-paused"))}
             data-testid="app"
             data-state={state.conn.key()}
             data-stale={state.stale().to_string()}
             data-paused={state.paused.to_string()}
             data-undecodable={state.undecodable.to_string()}
             data-stream-orders={stream_key(&state.streams.orders)}
             data-stream-system={stream_key(&state.streams.system)}
             data-seq-orders={state.seq_of(Topic::Orders).to_string()}
             data-seq-system={state.seq_of(Topic::System).to_string()}
             data-seq-clients={state.seq_of(Topic::Clients).to_string()}
             data-seq-events={state.seq_of(Topic::Events).to_string()}
             data-seq-series={state.seq_of(Topic::Series).to_string()}
             data-snapshots={state.snapshots.to_string()}
             data-playback={replay.is_some().to_string()}
             data-dashboard={loaded.as_ref().map(|l| l.dashboard.uid.clone())}
             data-dashboard-version={loaded.as_ref().map(|l| l.dashboard.version.to_string())}>
            <Header conn={state.conn} stale={state.stale()} clients={state.clients}
                    connect={state.enabled} paused={state.paused} undecodable={state.undecodable}
                    streams={state.streams.clone()}
                    on_connect={on_connect} on_pause={on_pause}
                    theme={theme.pref} on_theme={theme.set.clone()} />
            <crate::components::time_bar::TimeBar model={playback} error={playback_error}
                    on_command={on_playback} offset_min={offset_min()} />
            if state.need_token {
                <TokenForm on_done={on_token} />
            }
            <FilterBar filter={filter.filter.clone()} on_change={filter.set.clone()} />
            if let Some(i) = &state.incompatible {
                <div class="banner alert" role="alert" data-testid="incompatible">
                    <span>{ i.message() }</span>
                    <button class="btn" data-testid="reload-page" onclick={on_reload}>{ "Reload" }</button>
                </div>
            }
            if let Some(l) = loaded.as_ref().filter(|_| compatible) {
                <Editor loaded={l.clone()} draft={(*draft).clone()} on_draft={on_draft}
                        on_edit={on_edit.clone()} on_saved={on_saved} error={(*edit_error).clone()}
                        streams={state.streams.clone()} theme={AttrValue::Static(theme.resolved)} />
            }
            if let Some(l) = loaded.as_ref().filter(|_| compatible) {
                <crate::components::alert_rules::AlertRules api={l.api.clone()} />
            }
            { dashboard(loaded.as_ref(), draft.as_deref(), replay.as_ref().unwrap_or(&state), theme.resolved, on_series, widgets::drag::DragCx { state: drag, on_edit, live: drag_live }, on_filter) }
            <crate::components::alert_toast::AlertToast alert={state.last_alert.clone()} />
            <footer class="footer muted small">
                { format!("seq orders {} · system {} · clients {} · events {}",
                    state.seq.orders, state.seq.system, state.seq.clients, state.seq.events) }
            </footer>
        </div>
    }
}

/// The widgets of the loaded dashboard (nothing while it loads), with a
/// note when the server's could not be had.
fn dashboard(
    loaded: Option<&Loaded>,
    draft: Option<&Dashboard>,
    state: &DashState,
    theme: &'static str,
    on_series: Callback<String>,
    drag: widgets::drag::DragCx,
    on_filter: Callback<(String, String)>,
) -> Html {
    let Some(l) = loaded else {
        return html! { <main class="grid dash-grid" aria-busy="true"></main> };
    };
    let d = draft.unwrap_or(&l.dashboard);
    let cx = Cx {
        state,
        filters: &d.filters,
        offset_min: offset_min(),
        palette: Palette::of(theme),
        theme,
        on_series,
        on_edit: draft.is_some().then(|| drag.on_edit.clone()),
        drag: draft.is_some().then_some(drag),
        on_filter: Some(on_filter),
    };
    html! {
        <>
            if let Some(note) = &l.note {
                <div class="banner warn" role="status" data-testid="dashboard-note">{ note }</div>
            }
            <main class={classes!("grid", "dash-grid", draft.is_some().then_some("is-editing"))}
                  data-testid="dashboard" aria-label={d.title.clone()}>
                { for widgets::reading_order(d).into_iter().map(|w| widgets::view(w, &cx))
                    .chain(cx.drag.as_ref().and_then(widgets::drag::ghost)) }
            </main>
        </>
    }
}

/// `running`, `stopped` or `failed`, for the app root's data attributes.
fn stream_key(s: &livedash_shared::StreamStatus) -> &'static str {
    match s.state {
        livedash_shared::StreamState::Running => "running",
        livedash_shared::StreamState::Stopped => "stopped",
        livedash_shared::StreamState::Failed => "failed",
    }
}
