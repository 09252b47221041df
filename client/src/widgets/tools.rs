//! A widget's controls while editing: move, resize, remove, its title and
//! its kind; the keyboard does the same on the focused widget (arrows move,
//! shift+arrows resize, Delete removes).

use crate::edit::Edit;
use livedash_shared::dashboard::{Widget, WidgetKind};
use yew::prelude::*;

/// The edit a key means, if any: arrows move by one, with shift they
/// resize, Delete and Backspace remove.
pub fn key_edit(id: &str, key: &str, shift: bool) -> Option<Edit> {
    let (dx, dy) = match key {
        "ArrowLeft" => (-1, 0),
        "ArrowRight" => (1, 0),
        "ArrowUp" => (0, -1),
        "ArrowDown" => (0, 1),
        "Delete" | "Backspace" => return Some(Edit::Remove(id.to_string())),
        _ => return None,
    };
    Some(if shift {
        Edit::Resize(id.to_string(), dx, dy)
    } else {
        Edit::Move(id.to_string(), dx, dy)
    })
}

pub fn on_key(id: &str, on_edit: &Callback<Edit>) -> Callback<KeyboardEvent> {
    let (id, on_edit) = (id.to_string(), on_edit.clone());
    Callback::from(move |e: KeyboardEvent| {
        // Only keys on the widget itself, not in its title field (Yew
        // delegates events: the current target is the app root).
        let on_self = e
            .target_dyn_into::<web_sys::Element>()
            .and_then(|t| t.get_attribute("data-widget-id"))
            .is_some_and(|w| w == id);
        if let Some(edit) = on_self
            .then(|| key_edit(&id, &e.key(), e.shift_key()))
            .flatten()
        {
            e.prevent_default();
            on_edit.emit(edit);
        }
    })
}

fn value(e: &Event) -> Option<String> {
    e.target()
        .and_then(|t| js_sys::Reflect::get(&t, &"value".into()).ok())
        .and_then(|v| v.as_string())
}

/// The tools row; `handle` is the pointer's move handle (first).
pub fn view(w: &Widget, on_edit: &Callback<Edit>, handle: Option<Html>) -> Html {
    let id = w.id.clone();
    let button = |name: &str, label: &str, title: &str, edit: Edit| {
        let on_edit = on_edit.clone();
        html! {
            <button class="btn mini" data-testid={format!("w-{name}-{id}")} title={title.to_string()}
                    onclick={Callback::from(move |_: MouseEvent| on_edit.emit(edit.clone()))}>
                { label.to_string() }
            </button>
        }
    };
    let on_title = {
        let (on_edit, id) = (on_edit.clone(), id.clone());
        Callback::from(move |e: Event| {
            if let Some(t) = value(&e) {
                on_edit.emit(Edit::Retitle(id.clone(), t));
            }
        })
    };
    let on_kind = {
        let (on_edit, id) = (on_edit.clone(), id.clone());
        Callback::from(move |e: Event| {
            if let Some(k) = value(&e) {
                on_edit.emit(Edit::Rekind(id.clone(), WidgetKind::parse(&k)));
            }
        })
    };
    html! {
        <div class="widget-tools">
            { for handle }
            <input class="w-title" data-testid={format!("w-title-{id}")} value={w.title.clone()}
                   aria-label="Widget title" onchange={on_title} />
            <select data-testid={format!("w-kind-{id}")} aria-label="Widget kind" onchange={on_kind}>
                { for crate::edit::ADDABLE.iter().map(|k| html! {
                    <option value={k.as_str().to_string()} selected={*k == w.kind}>{ k.as_str().to_string() }</option>
                }) }
            </select>
            if w.kind.is_known() {
                <super::settings::Settings widget={w.clone()} on_edit={on_edit.clone()} />
            }
            { button("left", "←", "Move left", Edit::Move(id.clone(), -1, 0)) }
            { button("right", "→", "Move right", Edit::Move(id.clone(), 1, 0)) }
            { button("up", "↑", "Move up", Edit::Move(id.clone(), 0, -1)) }
            { button("down", "↓", "Move down", Edit::Move(id.clone(), 0, 1)) }
            { button("narrower", "−w", "Narrower", Edit::Resize(id.clone(), -1, 0)) }
            { button("wider", "+w", "Wider", Edit::Resize(id.clone(), 1, 0)) }
            { button("shorter", "−h", "Shorter", Edit::Resize(id.clone(), 0, -1)) }
            { button("taller", "+h", "Taller", Edit::Resize(id.clone(), 0, 1)) }
            { button("remove", "✕", "Remove", Edit::Remove(id.clone())) }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_move_resize_and_remove() {
        assert_eq!(
            key_edit("a", "ArrowLeft", false),
            Some(Edit::Move("a".into(), -1, 0))
        );
        assert_eq!(
            key_edit("a", "ArrowDown", true),
            Some(Edit::Resize("a".into(), 0, 1))
        );
        assert_eq!(
            key_edit("a", "Delete", false),
            Some(Edit::Remove("a".into()))
        );
        assert_eq!(key_edit("a", "x", false), None);
    }
}
