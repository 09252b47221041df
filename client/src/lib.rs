//! The livedash page: a Yew app. Pure modules (`state`, `backoff`, `format`,
//! `charts`, `config`, `connection`) are tested natively; `hooks` and `components` run in
//! the browser.

pub mod backoff;
pub mod charts;
pub mod components;
pub mod config;
pub mod connection;
pub mod format;
pub mod hooks;
pub mod state;
