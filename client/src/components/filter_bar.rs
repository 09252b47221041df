//! The filter bar: the active filter as removable chips
//! (`data-testid="filter-chip"`), and the hook that owns the filter — read
//! from the address (`?var-NAME=value`), changed by a chip's × or a click
//! on a breakdown bar, written back with `history.replaceState` (a reload
//! or a copied link keeps it) and sent to the connection task, which sends
//! it on the open socket as a `filter` frame (the server computes the
//! filtered numbers and answers with a snapshot over them); the recent
//! orders that match the new filter stay on screen meanwhile.

use crate::filters::UrlFilter;
use crate::hooks::use_connection::Command;
use yew::prelude::*;

/// The filter in the address bar now.
fn from_location() -> UrlFilter {
    let search = web_sys::window().and_then(|w| w.location().search().ok());
    UrlFilter::from_search(&search.unwrap_or_default())
}

/// Put `f` into the address bar without a navigation.
fn write_location(f: &UrlFilter) {
    let Some(w) = web_sys::window() else {
        return;
    };
    let loc = w.location();
    let search = f.in_search(&loc.search().unwrap_or_default());
    let url = format!(
        "{}{search}{}",
        loc.pathname().unwrap_or_default(),
        loc.hash().unwrap_or_default()
    );
    if let Ok(h) = w.history() {
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// The page's filter and how to change it.
pub struct FilterHandle {
    /// The active filter.
    pub filter: UrlFilter,
    /// Set a new filter (address bar and connection follow).
    pub set: Callback<UrlFilter>,
}

/// The filter state, initialized from the address.
#[hook]
pub fn use_filter(
    commands: Callback<Command>,
    dispatch: UseReducerDispatcher<crate::state::DashState>,
) -> FilterHandle {
    let filter = use_state(from_location);
    let set = {
        let filter = filter.clone();
        Callback::from(move |f: UrlFilter| {
            write_location(&f);
            // The rows that match the new filter stay on screen.
            dispatch.dispatch(crate::state::Action::Refilter(f.filters()));
            commands.emit(Command::Filter(f.query()));
            filter.set(f);
        })
    };
    FilterHandle {
        filter: (*filter).clone(),
        set,
    }
}

#[derive(Properties, PartialEq)]
pub struct FilterBarProps {
    /// The active filter.
    pub filter: UrlFilter,
    /// A chip removed or the filter cleared.
    pub on_change: Callback<UrlFilter>,
}

/// Chips of the active filter; nothing without one.
#[function_component(FilterBar)]
pub fn filter_bar(p: &FilterBarProps) -> Html {
    if p.filter.is_empty() {
        return Html::default();
    }
    let chip = |(var, value): &(String, String)| {
        let remove = {
            let (f, cb, var, value) = (
                p.filter.clone(),
                p.on_change.clone(),
                var.clone(),
                value.clone(),
            );
            Callback::from(move |_: MouseEvent| cb.emit(f.without(&var, &value)))
        };
        html! {
            <span class="chip" data-testid="filter-chip" data-var={var.clone()} data-value={value.clone()}>
                <span class="muted small">{ format!("{} = ", var.replace('_', " ")) }</span>
                { value.clone() }
                <button class="btn mini" data-testid="filter-chip-remove" title="Remove this filter"
                        aria-label={format!("Remove filter {var} = {value}")} onclick={remove}>{ "×" }</button>
            </span>
        }
    };
    let clear = {
        let cb = p.on_change.clone();
        Callback::from(move |_: MouseEvent| cb.emit(UrlFilter::default()))
    };
    html! {
        <div class="filter-bar banner" role="region" aria-label="Filters" data-testid="filter-bar">
            <span class="muted small">{ "Filtered (computed on the server):" }</span>
            { for p.filter.pairs().iter().map(chip) }
            <button class="btn mini" data-testid="filter-clear" onclick={clear}>{ "Clear" }</button>
        </div>
    }
}
