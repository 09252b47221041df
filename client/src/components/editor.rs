//! The dashboard bar: the picker (`?d=UID`), new / duplicate / delete,
//! the edit mode (add widgets, rename, save with `If-Match`, a conflict
//! shown with Reload and Overwrite), the admin token, and the stream
//! controls. Edits themselves are pure ([`crate::edit`]).

use crate::api::{self, WriteError};
use crate::components::import_export::ImportExport;
use crate::components::share_button::ShareButton;
use crate::edit::{self, Edit};
use crate::hooks::use_dashboard::Loaded;
use livedash_shared::dashboard::{DashboardSummary, WidgetKind};
use livedash_shared::{Dashboard, StreamState, Streams};
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct EditorProps {
    /// The dashboard shown, as stored.
    pub loaded: Loaded,
    /// The draft while editing.
    pub draft: Option<Rc<Dashboard>>,
    /// Start (`Some`) or end (`None`) editing.
    pub on_draft: Callback<Option<Dashboard>>,
    /// An edit of the draft (add a widget, rename).
    pub on_edit: Callback<Edit>,
    /// A save went through: the stored dashboard.
    pub on_saved: Callback<Dashboard>,
    /// The last refused edit, said next to the buttons.
    pub error: Option<AttrValue>,
    /// Each stream's status, for the stream controls.
    pub streams: Streams,
    /// The theme on screen, for share links.
    #[prop_or(AttrValue::Static("dark"))]
    pub theme: AttrValue,
}

/// What went wrong with the last write, if anything.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    /// 412: the stored dashboard moved on.
    Conflict(Rc<Dashboard>),
    /// Said in words.
    Text(String),
}

/// The address asks for the read-only view (`viewer=1`, share links).
fn read_only() -> bool {
    let search = web_sys::window().and_then(|w| w.location().search().ok());
    crate::share::is_viewer(&search.unwrap_or_default())
}

fn input_value(e: &Event) -> Option<String> {
    e.target()
        .and_then(|t| js_sys::Reflect::get(&t, &"value".into()).ok())
        .and_then(|v| v.as_string())
}

#[function_component(Editor)]
pub fn editor(p: &EditorProps) -> Html {
    let list = use_state(Vec::<DashboardSummary>::new);
    let problem = use_state(|| None::<Problem>);
    let admin = use_state(api::admin_token);
    let asking_token = use_state(|| false);
    let add_kind = use_state(|| WidgetKind::Kpi);
    let api_base = p.loaded.api.clone();
    {
        let (list, api_base) = (list.clone(), api_base.clone());
        use_effect_with(p.loaded.dashboard.version, move |_| {
            spawn_local(async move {
                if let Ok(l) = api::list(&api_base).await {
                    list.set(l);
                }
            });
        });
    }
    // A failed write: a conflict is kept for its buttons, a 401 asks for
    // the admin token.
    let fail = {
        let (problem, asking_token) = (problem.clone(), asking_token.clone());
        move |e: WriteError| match e {
            WriteError::Conflict(d) => problem.set(Some(Problem::Conflict(Rc::new(*d)))),
            WriteError::Unauthorized => {
                asking_token.set(true);
                problem.set(Some(Problem::Text(
                    "This server needs the admin token to change dashboards.".into(),
                )));
            }
            WriteError::Other(s) => problem.set(Some(Problem::Text(s))),
        }
    };
    let current = p.loaded.dashboard.clone();
    let on_pick = Callback::from(|e: Event| {
        if let Some(uid) = input_value(&e) {
            api::go_to(&uid);
        }
    });
    let create = |make: Rc<dyn Fn() -> Dashboard>| {
        let (api_base, fail) = (api_base.clone(), fail.clone());
        Callback::from(move |_: MouseEvent| {
            let (api_base, fail, d) = (api_base.clone(), fail.clone(), make());
            spawn_local(async move {
                match api::create(&api_base, &d).await {
                    Ok(made) => api::go_to(&made.uid),
                    Err(e) => fail(e),
                }
            });
        })
    };
    let on_new = create(Rc::new(|| Dashboard::new("New dashboard")));
    let on_duplicate = {
        let current = current.clone();
        create(Rc::new(move || {
            edit::duplicate(&current, &format!("Copy of {}", current.title))
        }))
    };
    let on_delete = {
        let (api_base, fail, uid) = (api_base.clone(), fail.clone(), current.uid.clone());
        Callback::from(move |_: MouseEvent| {
            let (api_base, fail, uid) = (api_base.clone(), fail.clone(), uid.clone());
            spawn_local(async move {
                match api::delete(&api_base, &uid).await {
                    Ok(()) => api::go_to(livedash_shared::dashboard::DEFAULT_UID),
                    Err(e) => fail(e),
                }
            });
        })
    };
    let on_edit_toggle = {
        let (on_draft, editing, current, problem) = (
            p.on_draft.clone(),
            p.draft.is_some(),
            current.clone(),
            problem.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            problem.set(None);
            on_draft.emit((!editing).then(|| (*current).clone()));
        })
    };
    let save = |version: Option<u64>| {
        let (api_base, fail, draft, on_saved, problem) = (
            api_base.clone(),
            fail.clone(),
            p.draft.clone(),
            p.on_saved.clone(),
            problem.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let Some(d) = draft.clone() else {
                return;
            };
            let (api_base, fail, on_saved, problem) = (
                api_base.clone(),
                fail.clone(),
                on_saved.clone(),
                problem.clone(),
            );
            spawn_local(async move {
                match api::save(&api_base, &d, version).await {
                    Ok(stored) => {
                        problem.set(None);
                        on_saved.emit(stored);
                    }
                    Err(e) => fail(e),
                }
            });
        })
    };
    let on_save = save(Some(current.version));
    let on_overwrite = save(None);
    let on_reload = {
        let (problem, on_saved) = (problem.clone(), p.on_saved.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(Problem::Conflict(d)) = &*problem {
                on_saved.emit((**d).clone());
            }
            problem.set(None);
        })
    };
    let on_title = {
        let on_edit = p.on_edit.clone();
        Callback::from(move |e: Event| {
            if let Some(t) = input_value(&e) {
                on_edit.emit(Edit::Rename(t));
            }
        })
    };
    let on_add_kind = {
        let add_kind = add_kind.clone();
        Callback::from(move |e: Event| {
            if let Some(k) = input_value(&e) {
                add_kind.set(WidgetKind::parse(&k));
            }
        })
    };
    let on_add = {
        let (on_edit, add_kind) = (p.on_edit.clone(), add_kind.clone());
        Callback::from(move |_: MouseEvent| on_edit.emit(Edit::Add((*add_kind).clone())))
    };
    let on_token = {
        let (admin, asking_token, problem) = (admin.clone(), asking_token.clone(), problem.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let input = e
                .target()
                .and_then(|f| js_sys::Reflect::get(&f, &"admin".into()).ok())
                .and_then(|i| js_sys::Reflect::get(&i, &"value".into()).ok())
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            let t = input.trim();
            api::set_admin_token((!t.is_empty()).then_some(t));
            admin.set(api::admin_token());
            asking_token.set(false);
            problem.set(None);
        })
    };
    let on_ask = {
        let asking_token = asking_token.clone();
        Callback::from(move |_: MouseEvent| asking_token.set(!*asking_token))
    };
    let toggle = |name: &'static str, running: bool| {
        let (api_base, fail) = (api_base.clone(), fail.clone());
        Callback::from(move |_: MouseEvent| {
            let (api_base, fail) = (api_base.clone(), fail.clone());
            spawn_local(async move {
                if let Err(e) = api::stream(&api_base, name, !running).await {
                    fail(e);
                }
            });
        })
    };
    let stream_button = |name: &'static str, state: StreamState| {
        let running = state != StreamState::Stopped;
        html! {
            <button class={classes!("btn", "mini", (!running).then_some("active"))}
                    data-testid={format!("stream-toggle-{name}")} aria-pressed={(!running).to_string()}
                    data-running={running.to_string()} onclick={toggle(name, running)}>
                { if running { format!("Stop {name}") } else { format!("Start {name}") } }
            </button>
        }
    };
    let editing = p.draft.as_ref();
    let share = html! { <ShareButton dashboard={current.uid.clone()} theme={p.theme.clone()} /> };
    if read_only() {
        // A shared link (`viewer=1`): look, filter, switch dashboards;
        // nothing that writes.
        return html! {
            <div class="dash-bar">
                <label class="dash-pick">
                    <span class="muted small">{ "Dashboard" }</span>
                    <span data-testid="dashboard-name">{ &current.title }</span>
                </label>
                <span class="badge" data-testid="read-only">{ "Read-only" }</span>
                <span class="spacer"></span>
                { share }
            </div>
        };
    }
    html! {
        <div class="dash-bar">
            <label class="dash-pick">
                <span class="muted small">{ "Dashboard" }</span>
                <select data-testid="dashboard-picker" onchange={on_pick} aria-label="Dashboard">
                    // Worded like the list's own options, so the picker keeps
                    // its width when the list arrives (no layout shift).
                    if list.iter().all(|s| s.uid != current.uid) {
                        <option value={current.uid.clone()} selected=true>
                            { format!("{} ({} widgets)", current.title, current.widgets.len()) }
                        </option>
                    }
                    { for list.iter().map(|s| html! {
                        <option value={s.uid.clone()} selected={s.uid == current.uid}>
                            { format!("{} ({} widgets)", s.title, s.widgets) }
                        </option>
                    }) }
                </select>
            </label>
            if let Some(d) = editing {
                <input class="dash-title" data-testid="dashboard-title" aria-label="Dashboard title"
                       value={d.title.clone()} onchange={on_title} />
                <select data-testid="widget-kind" aria-label="Kind of widget to add" onchange={on_add_kind}>
                    { for edit::ADDABLE.iter().map(|k| html! {
                        <option value={k.as_str().to_string()} selected={*k == *add_kind}>{ k.as_str().to_string() }</option>
                    }) }
                </select>
                <button class="btn" data-testid="widget-add" onclick={on_add}>{ "+ Add widget" }</button>
                <button class="btn primary" data-testid="dashboard-save" onclick={on_save}>{ "Save" }</button>
                <button class="btn" data-testid="edit-toggle" onclick={on_edit_toggle}>{ "Cancel" }</button>
            } else {
                <button class="btn" data-testid="edit-toggle" onclick={on_edit_toggle}>{ "Edit" }</button>
                <button class="btn" data-testid="dashboard-new" onclick={on_new}>{ "New" }</button>
                <button class="btn" data-testid="dashboard-duplicate" onclick={on_duplicate}>{ "Duplicate" }</button>
                <ImportExport api={AttrValue::from(api_base.clone())} uid={current.uid.clone()} on_fail={Callback::from(fail.clone())} />
                <button class="btn" data-testid="dashboard-delete" onclick={on_delete}
                        title={if current.uid == livedash_shared::dashboard::DEFAULT_UID { "Reset the default to the v1 layout" } else { "Delete this dashboard" }}>
                    { if current.uid == livedash_shared::dashboard::DEFAULT_UID { "Reset" } else { "Delete" } }
                </button>
            }
            <span class="spacer"></span>
            { share }
            if admin.is_some() {
                { stream_button("orders", p.streams.orders.state) }
                { stream_button("system", p.streams.system.state) }
            }
            <button class="btn mini" data-testid="admin-open" onclick={on_ask}>
                { if admin.is_some() { "Admin ✓" } else { "Admin" } }
            </button>
            if *asking_token {
                <form class="admin-form" data-testid="admin-form" onsubmit={on_token}>
                    <input name="admin" type="password" autocomplete="off" data-testid="admin-token-input"
                           aria-label="Admin token" placeholder="admin token" />
                    <button type="submit" class="btn mini" data-testid="admin-token-submit">{ "Use" }</button>
                </form>
            }
            if let Some(e) = &p.error {
                <span class="badge warn" data-testid="edit-error" role="status">{ e }</span>
            }
            { match &*problem {
                Some(Problem::Conflict(d)) => html! {
                    <div class="banner alert" role="alert" data-testid="save-conflict">
                        <span>{ format!("Someone saved this dashboard meanwhile (now version {}). Reload theirs, or overwrite it with yours?", d.version) }</span>
                        <button class="btn" data-testid="conflict-reload" onclick={on_reload}>{ "Reload theirs" }</button>
                        <button class="btn" data-testid="conflict-overwrite" onclick={on_overwrite}>{ "Overwrite" }</button>
                    </div>
                },
                Some(Problem::Text(t)) => html! {
                    <span class="badge alert" data-testid="write-error" role="alert">{ t }</span>
                },
                None => Html::default(),
            } }
        </div>
    }
}
