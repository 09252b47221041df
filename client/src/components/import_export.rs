//! Export and import of a dashboard file in the dashboard bar. Export is
//! the server's `GET /api/dashboards/{uid}?download=1` (the stored JSON,
//! pretty, as an attachment). Import reads a chosen file, checks it
//! ([`crate::import::parse`]: JSON, schema upgrade, validation; a bad file
//! is refused with the reason and nothing is written), then `POST`s it;
//! when a dashboard with the file's uid exists, it asks: replace it
//! (`?overwrite=1`) or import a copy (a new uid). On success the page
//! opens the imported dashboard.

use crate::api::{self, Imported, WriteError};
use crate::import;
use livedash_shared::Dashboard;
use std::rc::Rc;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ImportExportProps {
    /// Where the REST API is (`""`: this origin).
    pub api: AttrValue,
    /// The dashboard shown (what Export downloads).
    pub uid: AttrValue,
    /// A refused write (401 asks for the admin token in the bar).
    pub on_fail: Callback<WriteError>,
}

/// Post `d`; a taken uid parks it in `pending` for the user's answer.
fn post(
    api: AttrValue,
    d: Rc<Dashboard>,
    overwrite: bool,
    pending: UseStateHandle<Option<Rc<Dashboard>>>,
    on_fail: Callback<WriteError>,
) {
    spawn_local(async move {
        match api::import(&api, &d, overwrite).await {
            Ok(Imported::Stored(stored)) => {
                pending.set(None);
                api::go_to(&stored.uid);
            }
            Ok(Imported::Exists(_)) => pending.set(Some(d)),
            Err(e) => {
                pending.set(None);
                on_fail.emit(e);
            }
        }
    });
}

/// The text of the file chosen in a file input (and the input cleared, so
/// the same file can be chosen again).
async fn chosen_text(input: web_sys::HtmlInputElement) -> Option<(String, Result<String, String>)> {
    let file = input.files()?.get(0)?;
    input.set_value("");
    let text = JsFuture::from(file.text())
        .await
        .map_err(|e| format!("cannot read it: {e:?}"))
        .map(|v| v.as_string().unwrap_or_default());
    Some((file.name(), text))
}

#[function_component(ImportExport)]
pub fn import_export(p: &ImportExportProps) -> Html {
    let pending = use_state(|| None::<Rc<Dashboard>>);
    let error = use_state(|| None::<String>);
    let on_file = {
        let (api, pending, error, on_fail) = (
            p.api.clone(),
            pending.clone(),
            error.clone(),
            p.on_fail.clone(),
        );
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let (api, pending, error, on_fail) =
                (api.clone(), pending.clone(), error.clone(), on_fail.clone());
            spawn_local(async move {
                let Some((name, text)) = chosen_text(input).await else {
                    return;
                };
                match text.and_then(|t| import::parse(&t)) {
                    Ok(d) => {
                        error.set(None);
                        post(api, Rc::new(d), false, pending, on_fail);
                    }
                    Err(why) => error.set(Some(format!("{name} was not imported: {why}"))),
                }
            });
        })
    };
    let answer = |replace: bool| {
        let (api, pending, on_fail) = (p.api.clone(), pending.clone(), p.on_fail.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(d) = (*pending).clone() else {
                return;
            };
            let d = if replace {
                d
            } else {
                Rc::new(import::as_copy(&d))
            };
            post(api.clone(), d, replace, pending.clone(), on_fail.clone());
        })
    };
    let on_cancel = {
        let pending = pending.clone();
        Callback::from(move |_: MouseEvent| pending.set(None))
    };
    let href = format!("{}/api/dashboards/{}?download=1", p.api, p.uid);
    html! {
        <>
            <a class="btn" data-testid="dashboard-export" href={href} download="">{ "Export" }</a>
            <label class="btn file-btn" title="Import a dashboard file (JSON)">
                { "Import" }
                <input type="file" accept=".json,application/json" data-testid="dashboard-import"
                       aria-label="Import a dashboard file" onchange={on_file} />
            </label>
            if let Some(d) = &*pending {
                <div class="banner warn" role="alert" data-testid="import-exists">
                    <span>{ format!("A dashboard \"{}\" exists already. Replace it with the file's \"{}\", or import the file as a new dashboard?", d.uid, d.title) }</span>
                    <button class="btn" data-testid="import-replace" onclick={answer(true)}>{ "Replace" }</button>
                    <button class="btn" data-testid="import-copy" onclick={answer(false)}>{ "Import as new" }</button>
                    <button class="btn" data-testid="import-cancel" onclick={on_cancel}>{ "Cancel" }</button>
                </div>
            }
            if let Some(e) = &*error {
                <span class="badge alert" data-testid="import-error" role="alert">{ e }</span>
            }
        </>
    }
}
