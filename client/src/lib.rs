//! The livedash page: a Yew app. Pure modules (`state`, `backoff`, `format`,
//! `charts`, `config`, `connection`, and `widgets::{select, options}`)
//! are tested natively; `hooks`, `components` and the widget views run in
//! the browser.

pub mod alerts_api;
pub mod api;
pub mod backoff;
pub mod chart_option;
pub mod charts;
pub mod components;
pub mod config;
pub mod connection;
pub mod download;
pub mod echarts;
pub mod edit;
pub mod export;
pub mod filters;
pub mod format;
pub mod hooks;
pub mod import;
pub mod layout;
pub mod notify;
pub mod number;
pub mod playback;
pub mod rule_form;
pub mod share;
pub mod state;
pub mod tabs;
pub mod theme;
pub mod widget_config;
pub mod widgets;
