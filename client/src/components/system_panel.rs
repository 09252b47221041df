//! Host metrics with progress bars.

use crate::format;
use livedash_shared::System;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct SystemPanelProps {
    /// The card's heading.
    #[prop_or(AttrValue::Static("System"))]
    pub title: AttrValue,
    pub system: Option<System>,
}

fn bar(label: &str, pct: f64, detail: String, class: &'static str) -> Html {
    let pct = pct.clamp(0.0, 100.0);
    let level = if pct >= 90.0 {
        "hot"
    } else if pct >= 70.0 {
        "warm"
    } else {
        "ok"
    };
    html! {
        <div class="metric">
            <div class="metric-head">
                <span>{ label }</span>
                <span class="metric-val">{ format::percent(pct) }</span>
            </div>
            <div class={classes!("progress", class, level)} role="progressbar"
                 aria-label={format!("{label} usage")}
                 aria-valuetext={format::percent(pct)}
                 aria-valuenow={format!("{pct:.0}")} aria-valuemin="0" aria-valuemax="100">
                <div class="fill" style={format!("width:{pct:.1}%")}></div>
            </div>
            <div class="metric-detail muted">{ detail }</div>
        </div>
    }
}

#[function_component(SystemPanel)]
pub fn system_panel(p: &SystemPanelProps) -> Html {
    let Some(s) = &p.system else {
        return html! { <section class="card system"><h2>{ &p.title }</h2><p class="muted">{ "Waiting for the first sample…" }</p></section> };
    };
    let mem = format::share(s.mem_used_bytes, s.mem_total_bytes);
    let swap = format::share(s.swap_used_bytes, s.swap_total_bytes);
    html! {
        <section class="card system">
            <h2>{ &p.title }</h2>
            { bar("CPU", s.cpu_percent as f64, format!("{} cores", s.per_core.len()), "cpu") }
            <div class="cores">
                { for s.per_core.iter().enumerate().map(|(i, c)| html! {
                    <div class="core" title={format!("core {i}: {:.0} %", c)}>
                        <div class="core-fill" style={format!("height:{:.0}%", c.clamp(0.0, 100.0))}></div>
                    </div>
                }) }
            </div>
            { bar("Memory", mem, format!("{} of {}", format::bytes(s.mem_used_bytes as f64), format::bytes(s.mem_total_bytes as f64)), "mem") }
            { bar("Swap", swap, if s.swap_total_bytes == 0 { "no swap".to_string() } else {
                format!("{} of {}", format::bytes(s.swap_used_bytes as f64), format::bytes(s.swap_total_bytes as f64)) }, "swap") }
            <div class="net">
                <div><span class="muted">{ "↓ Receive" }</span><strong>{ format::rate(s.net_rx_bps) }</strong></div>
                <div><span class="muted">{ "↑ Transmit" }</span><strong>{ format::rate(s.net_tx_bps) }</strong></div>
                <div><span class="muted">{ "Load" }</span><strong>{ format!("{:.2} · {:.2} · {:.2}", s.load_avg.one, s.load_avg.five, s.load_avg.fifteen) }</strong></div>
            </div>
        </section>
    }
}
