//! Reusable hooks.

pub mod use_connection;
