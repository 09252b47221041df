//! One file per widget.

pub mod alert_rules;
pub mod alert_toast;
pub mod app;
pub mod chart;
pub mod chart_queue;
pub mod editor;
pub mod feed;
pub mod filter_bar;
pub mod header;
pub mod import_export;
pub mod kpi_card;
pub mod kpi_trends;
pub mod live_counter;
pub mod notify_button;
pub mod series_chart;
pub mod share_button;
pub mod system_panel;
pub mod time_bar;
pub mod token_form;
