//! The names of the built-in history series: one list for the server that
//! records them (`server/src/history/names.rs`) and the page that reads
//! them back for playback (`client/src/playback`), so the two cannot drift.
//!
//! | series | value |
//! |---|---|
//! | [`KPIS`] | the KPIs over the lookback window, each `orders` tick |
//! | [`COUNTRY_REVENUE`]`NAME` | revenue of one country over the window |
//! | [`TRAFFIC_REVENUE`]`NAME` | revenue of one traffic source over the window |
//! | [`SYSTEM`] | host figures, each system sample |

/// The KPI series, in [`crate::dashboard::KPI_NAMES`] order (`orders.NAME`).
pub const KPIS: [&str; 3] = [
    "orders.num_orders",
    "orders.num_order_items",
    "orders.total_sales",
];

/// The host figure series, in [`crate::dashboard::SYSTEM_FIGURES`] order
/// (`system.NAME`).
pub const SYSTEM: [&str; 8] = [
    "system.cpu_percent",
    "system.memory_percent",
    "system.swap_percent",
    "system.net_rx_bps",
    "system.net_tx_bps",
    "system.load_1",
    "system.load_5",
    "system.load_15",
];

/// Prefix of the revenue-by-country series (`orders.revenue.country.China`).
pub const COUNTRY_REVENUE: &str = "orders.revenue.country.";

/// Prefix of the revenue-by-traffic-source series.
pub const TRAFFIC_REVENUE: &str = "orders.revenue.traffic_source.";

/// The revenue series of one name of a breakdown dimension
/// (`"country"` or `"traffic_source"`).
pub fn revenue(dim: &str, name: &str) -> String {
    format!("orders.revenue.{dim}.{name}")
}

/// Whether a series is one of the revenue breakdowns.
pub fn is_breakdown(name: &str) -> bool {
    name.starts_with(COUNTRY_REVENUE) || name.starts_with(TRAFFIC_REVENUE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::{KPI_NAMES, SYSTEM_FIGURES};

    #[test]
    fn series_are_the_query_names_prefixed() {
        let kpis: Vec<String> = KPI_NAMES.iter().map(|n| format!("orders.{n}")).collect();
        assert_eq!(kpis, KPIS);
        let sys: Vec<String> = SYSTEM_FIGURES
            .iter()
            .map(|n| format!("system.{n}"))
            .collect();
        assert_eq!(sys, SYSTEM);
        assert_eq!(revenue("country", "China"), "orders.revenue.country.China");
        assert!(is_breakdown(&revenue("traffic_source", "Email")));
        assert!(!is_breakdown(KPIS[0]));
    }
}
