//! A KPI card: label, value, and the change since the previous update.

use crate::format::Trend;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct KpiCardProps {
    pub label: AttrValue,
    /// `kpi-<name>` on the value element.
    pub testid: AttrValue,
    /// Formatted value, or a placeholder before data.
    pub value: AttrValue,
    /// Formatted signed change (`+3`, `-$4.00`).
    pub delta: AttrValue,
    pub trend: Trend,
    /// Drawn under the figure (the KPI's trend line).
    #[prop_or_default]
    pub children: Html,
}

#[function_component(KpiCard)]
pub fn kpi_card(p: &KpiCardProps) -> Html {
    let title = match p.trend {
        crate::format::Trend::Up => "up since the previous update",
        crate::format::Trend::Down => "down since the previous update",
        crate::format::Trend::Flat => "unchanged since the previous update",
    };
    html! {
        <section class="card kpi">
            <h2 class="kpi-label">{ &p.label }</h2>
            <div class="kpi-value" data-testid={p.testid.clone()}>{ &p.value }</div>
            <div class={classes!("kpi-delta", p.trend.class())} title={title}>
                <span class="arrow" aria-hidden="true">{ p.trend.arrow() }</span>
                <span class="delta-num">{ &p.delta }</span>
                <span class="delta-note">{ "since last update" }</span>
            </div>
            <div class="kpi-trend">{ p.children.clone() }</div>
        </section>
    }
}
