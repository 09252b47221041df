//! Reusable hooks.

pub mod event_source;
pub mod use_connection;
