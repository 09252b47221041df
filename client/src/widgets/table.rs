//! Table widgets: the recent orders (`records`, newest first, filtered
//! like the rest of the widget) or a breakdown (name and revenue). The
//! rows are plain data ([`rows`]) so they are tested natively.

use super::{select, Cx};
use crate::format;
use crate::state::DashState;
use livedash_shared::dashboard::{QuerySource, Widget};
use livedash_shared::Filters;
use yew::prelude::*;

/// A table's header and its rows of cells, as shown.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    /// Column titles.
    pub head: Vec<&'static str>,
    /// Cells per row.
    pub rows: Vec<Vec<String>>,
}

/// What a table widget lists.
pub fn rows(w: &Widget, s: &DashState, dashboard: &Filters, offset_min: i64) -> Rows {
    match w.query.source {
        QuerySource::Records => {
            let f = dashboard.overlay(&w.query.filters);
            Rows {
                head: vec![
                    "Time", "Order", "Country", "Source", "Category", "Status", "Price",
                ],
                rows: select::records(s, &f, w.options.limit)
                    .into_iter()
                    .map(|r| {
                        vec![
                            format::clock(r.created_at, offset_min),
                            r.order_id.to_string(),
                            r.country,
                            r.traffic_source,
                            r.category,
                            r.item_status,
                            format::money(r.sale_price),
                        ]
                    })
                    .collect(),
            }
        }
        QuerySource::Breakdown => Rows {
            head: vec!["Name", "Revenue"],
            rows: select::breakdown(s, w.query.by, &w.options)
                .into_iter()
                .map(|r| vec![r.name, format::money(r.revenue)])
                .collect(),
        },
        _ => Rows::default(),
    }
}

pub fn view(w: &Widget, cx: &Cx) -> Html {
    let t = rows(w, cx.state, cx.filters, cx.offset_min);
    let waiting = if w.query.source == QuerySource::Records {
        "No orders yet."
    } else {
        "Nothing yet."
    };
    html! {
        <section class="card table-card">
            <h2>{ &w.title }</h2>
            <div class="table-scroll">
                <table class="data-table" data-testid={w.id.clone()}>
                    <thead><tr>{ for t.head.iter().map(|h| html! { <th scope="col">{ *h }</th> }) }</tr></thead>
                    <tbody>
                        { for t.rows.iter().map(|r| html! {
                            <tr>{ for r.iter().map(|c| html! { <td>{ c.clone() }</td> }) }</tr>
                        }) }
                    </tbody>
                </table>
            </div>
            if t.rows.is_empty() { <p class="muted small">{ waiting }</p> }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Action;
    use livedash_shared::dashboard::{Dimension, GridPos, Query, WidgetKind};
    use livedash_shared::{OrderRecord, Orders, Revenue, ServerMessage};
    use std::rc::Rc;

    fn table(query: Query) -> Widget {
        Widget {
            id: "t".into(),
            kind: WidgetKind::Table,
            title: "T".into(),
            query,
            options: Default::default(),
            grid: GridPos {
                x: 0,
                y: 0,
                w: 12,
                h: 6,
            },
            extra: Default::default(),
        }
    }

    fn state() -> DashState {
        let rec = |id: u64, country: &str, price: f64| OrderRecord {
            user_id: 1,
            age: 40,
            gender: "M".into(),
            country: country.into(),
            traffic_source: "Email".into(),
            order_id: id,
            item_id: id,
            category: "Tops".into(),
            cost: 1.0,
            item_status: "Complete".into(),
            sale_price: price,
            created_at: 3_600_000 + id * 1000,
        };
        let mut s = DashState::default();
        s.apply(Action::Frame(Rc::new(ServerMessage::Orders(Orders {
            seq: 1,
            ts: 1,
            window_ms: 300_000,
            num_orders: 2,
            num_order_items: 2,
            total_sales: 3.0,
            delta: Default::default(),
            by_country: vec![Revenue {
                name: "China".into(),
                revenue: 1234.5,
            }],
            by_traffic_source: vec![],
            records: vec![rec(7, "China", 1.25), rec(8, "Japan", 19.999)],
            items_total: 2,
        }))));
        s
    }

    #[test]
    fn recent_orders_newest_first_with_the_widget_filter() {
        let s = state();
        let all = rows(
            &table(Query::new(QuerySource::Records, &[])),
            &s,
            &Filters::default(),
            0,
        );
        assert_eq!(all.head.len(), 7);
        assert_eq!(
            all.rows[0],
            ["01:00:08", "8", "Japan", "Email", "Tops", "Complete", "$20.00"]
        );
        assert_eq!(all.rows[1][1], "7");
        let mut q = Query::new(QuerySource::Records, &[]);
        q.filters.country = vec!["China".into()];
        let china = rows(&table(q), &s, &Filters::default(), 0);
        assert_eq!(china.rows.len(), 1);
        assert_eq!(china.rows[0][6], "$1.25");
        // The dashboard's filter applies when the widget has none.
        let dash = Filters {
            country: vec!["Japan".into()],
            ..Filters::default()
        };
        let japan = rows(&table(Query::new(QuerySource::Records, &[])), &s, &dash, 0);
        assert_eq!(japan.rows.len(), 1);
        assert_eq!(japan.rows[0][2], "Japan");
    }

    #[test]
    fn a_breakdown_table_lists_names_and_revenue() {
        let t = rows(
            &table(Query::breakdown(Dimension::Country)),
            &state(),
            &Filters::default(),
            0,
        );
        assert_eq!(t.head, ["Name", "Revenue"]);
        assert_eq!(t.rows, [["China", "$1,234.50"]]);
    }
}
