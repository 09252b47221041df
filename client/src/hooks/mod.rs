//! Yew hooks (browser only).

pub mod event_source;
pub mod tab_share;
pub mod use_connection;
pub mod use_dashboard;
pub mod use_notify;
pub mod use_playback;
pub mod use_theme;
