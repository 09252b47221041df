//! The whole dashboard.

use crate::charts;
use crate::components::{
    chart::Chart, feed::Feed, header::Header, kpi_card::KpiCard, live_counter::LiveCounter,
    series_chart::SeriesChart, system_panel::SystemPanel, token_form::TokenForm,
};
use crate::format::{self, Trend};
use crate::hooks::use_connection::{use_connection, Command};
use crate::state::{Action, DashState};
use livedash_shared::Topic;
use yew::prelude::*;

fn offset_min() -> i64 {
    // getTimezoneOffset is minutes *behind* UTC.
    -(js_sys::Date::new_0().get_timezone_offset() as i64)
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(DashState::default);
    let commands = use_connection(state.dispatcher());
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
    let tz = offset_min();
    let on_series = {
        let dispatch = state.dispatcher();
        Callback::from(move |name: String| dispatch.dispatch(Action::SelectSeries(name)))
    };
    let (series_shown, series_points) = match state.series_shown() {
        Some((name, points)) => (Some(AttrValue::from(name.to_string())), points),
        None => (None, Vec::new()),
    };

    let placeholder = || AttrValue::from("–");
    let kpis = state.orders.as_ref().map(|o| o.kpis());
    // Since what this tab displayed before (the reducer computes it).
    let delta = state.delta;
    let by_country = state
        .orders
        .as_ref()
        .map(|o| o.by_country.clone())
        .unwrap_or_default();
    let by_source = state
        .orders
        .as_ref()
        .map(|o| o.by_traffic_source.clone())
        .unwrap_or_default();
    let sys_points: Vec<_> = state.sys_points.iter().copied().collect();
    let sys_labels = sys_points.iter().map(|p| format::clock(p.ts, tz)).collect();
    let window_min = state
        .orders
        .as_ref()
        .map(|o| o.window_ms / 60_000)
        .unwrap_or(5);

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
             data-seq-series={state.seq_of(Topic::Series).to_string()}>
            <Header conn={state.conn} stale={state.stale()} clients={state.clients}
                    connect={state.enabled} paused={state.paused} undecodable={state.undecodable}
                    streams={state.streams.clone()}
                    on_connect={on_connect} on_pause={on_pause} />
            if state.need_token {
                <TokenForm on_done={on_token} />
            }
            if let Some(i) = &state.incompatible {
                <div class="banner alert" role="alert" data-testid="incompatible">
                    <span>{ i.message() }</span>
                    <button class="btn" data-testid="reload-page" onclick={on_reload}>{ "Reload" }</button>
                </div>
            }
            <crate::components::alert_toast::AlertToast alert={state.last_alert.clone()} />
            <main class="grid">
                <div class="kpis">
                    <KpiCard label="Number of Orders" testid="kpi-num_orders"
                        value={kpis.map(|k| AttrValue::from(format::int(k.num_orders))).unwrap_or_else(placeholder)}
                        delta={format::signed_int(delta.num_orders)} trend={Trend::of(delta.num_orders as f64)} />
                    <KpiCard label="Number of Order Items" testid="kpi-num_order_items"
                        value={kpis.map(|k| AttrValue::from(format::int(k.num_order_items))).unwrap_or_else(placeholder)}
                        delta={format::signed_int(delta.num_order_items)} trend={Trend::of(delta.num_order_items as f64)} />
                    <KpiCard label="Total Sales" testid="kpi-total_sales"
                        value={kpis.map(|k| AttrValue::from(format::money(k.total_sales))).unwrap_or_else(placeholder)}
                        delta={format::signed_money(delta.total_sales)} trend={Trend::of(delta.total_sales)} />
                </div>
                <crate::components::kpi_trends::KpiTrends points={state.kpis.iter().copied().collect::<Vec<_>>()} />
                <section class="card chart-card">
                    <h2>{ "Revenue by Country" }<span class="muted small">{ format!(" · last {window_min} min") }</span></h2>
                    <Chart id="chart-revenue-by-country" options={charts::revenue_bars(&by_country, charts::BLUE)} />
                </section>
                <section class="card chart-card">
                    <h2>{ "Revenue by Traffic Source" }<span class="muted small">{ format!(" · last {window_min} min") }</span></h2>
                    <Chart id="chart-revenue-by-traffic-source" options={charts::revenue_bars(&by_source, charts::AMBER)} />
                </section>
                <SystemPanel system={state.system.clone()} />
                <section class="card chart-card wide">
                    <h2>{ "CPU and memory" }<span class="muted small">{ " · last 50 samples" }</span></h2>
                    <Chart id="chart-system" options={charts::system_lines(&sys_points, sys_labels)} />
                </section>
                <LiveCounter value={state.items_total} frames={state.frames} />
                <Feed events={state.feed.iter().cloned().collect::<Vec<_>>()} offset_min={tz} />
                <SeriesChart names={state.series_names.clone()} shown={series_shown}
                             points={series_points} offset_min={tz} on_select={on_series} />
            </main>
            <footer class="footer muted small">
                { format!("seq orders {} · system {} · clients {} · events {}",
                    state.seq.orders, state.seq.system, state.seq.clients, state.seq.events) }
            </footer>
        </div>
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
