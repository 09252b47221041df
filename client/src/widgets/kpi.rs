//! KPI widgets: one figure with its change since the previous update. The
//! value element's `data-testid` is the widget id (`kpi-num_orders` on the
//! default dashboard, as v1).

use super::{select, Cx};
use crate::components::chart::Chart;
use crate::components::kpi_card::KpiCard;
use crate::components::kpi_trends;
use crate::format::{self, Trend};
use crate::state::DashState;
use livedash_shared::dashboard::{QuerySource, Widget, KPI_NAMES};
use yew::prelude::*;

/// The value and its signed change as shown, and the trend; placeholders
/// before data. KPIs show their change since this tab's previous update;
/// other figures have no change to show.
pub fn figures(w: &Widget, s: &DashState) -> (String, String, Trend) {
    let q = &w.query;
    let name = q.names.first().map(String::as_str).unwrap_or("");
    let money = w.options.unit.as_deref() == Some("$") || name == "total_sales";
    let Some((_, v)) = select::latest(s, q).into_iter().next() else {
        return ("–".into(), String::new(), Trend::Flat);
    };
    let value = if money {
        format::money(v)
    } else if q.source == QuerySource::Kpi {
        format::int(v as u64)
    } else {
        let digits = w.options.decimals.unwrap_or(1) as usize;
        let unit = w
            .options
            .unit
            .as_deref()
            .map(|u| format!(" {u}"))
            .unwrap_or_default();
        format!("{v:.digits$}{unit}")
    };
    if q.source != QuerySource::Kpi {
        return (value, String::new(), Trend::Flat);
    }
    let d = s.delta;
    let (delta, change) = match name {
        "num_orders" => (format::signed_int(d.num_orders), d.num_orders as f64),
        "num_order_items" => (
            format::signed_int(d.num_order_items),
            d.num_order_items as f64,
        ),
        _ => (format::signed_money(d.total_sales), d.total_sales),
    };
    (value, delta, Trend::of(change))
}

pub fn view(w: &Widget, cx: &Cx) -> Html {
    let (value, delta, trend) = figures(w, cx.state);
    html! {
        <KpiCard label={w.title.clone()} testid={w.id.clone()} value={value}
                 delta={delta} trend={trend}>
            { trend_line(w, cx) }
        </KpiCard>
    }
}

/// The KPI's history as a sparkline under the figure
/// (`kpi-trend-NAME`), for KPI queries of one known name.
fn trend_line(w: &Widget, cx: &Cx) -> Html {
    let name = w.query.names.first().map(String::as_str).unwrap_or("");
    if w.query.source != QuerySource::Kpi || !KPI_NAMES.contains(&name) {
        return Html::default();
    }
    let t = kpi_trends::trend(cx.state, name);
    let options =
        crate::echarts::json(&kpi_trends::sparkline(&w.title, t, kpi_trends::color(name)));
    html! {
        <Chart id={format!("widget-{}-trend", w.id)} testid={AttrValue::from(format!("kpi-trend-{name}"))}
               options={options} theme={AttrValue::Static(cx.theme)} />
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Action;
    use livedash_shared::{Dashboard, Orders, ServerMessage};
    use std::rc::Rc;

    #[test]
    fn the_default_kpis_format_as_v1() {
        let d = Dashboard::default_v1();
        let mut s = DashState::default();
        let sales = d.widget("kpi-total_sales").unwrap();
        assert_eq!(figures(sales, &s).0, "–");
        for (seq, n) in [(1u64, 1000u64), (2, 1003)] {
            s.apply(Action::Frame(Rc::new(ServerMessage::Orders(Orders {
                seq,
                ts: seq,
                window_ms: 300_000,
                num_orders: n,
                num_order_items: n * 2,
                total_sales: n as f64 * 1.5,
                delta: Default::default(),
                by_country: vec![],
                by_traffic_source: vec![],
                records: vec![],
                items_total: 0,
            }))));
        }
        let orders = d.widget("kpi-num_orders").unwrap();
        let (v, delta, trend) = figures(orders, &s);
        assert_eq!((v.as_str(), delta.as_str()), ("1,003", "+3"));
        assert_eq!(trend, Trend::Up);
        let (v, delta, _) = figures(sales, &s);
        assert_eq!((v.as_str(), delta.as_str()), ("$1,504.50", "+$4.50"));
    }
}
