//! The alert rule editor (`data-testid="alert-rules"`): the rules the
//! server keeps, a form to create or edit one (series picked from
//! `/api/series`), delete, and the server's refusal shown as it said it.
//! Writes use the admin token kept for this tab (the editor's Admin form).
//! The form's logic is [`crate::rule_form`].

use crate::alerts_api;
use crate::rule_form::{self, RuleForm, LEVELS, OPS};
use livedash_shared::AlertRule;
use std::rc::Rc;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct AlertRulesProps {
    /// The REST API's origin.
    pub api: Rc<str>,
}

/// The value of the input or select an event came from.
fn value_of(e: &Event) -> String {
    e.target()
        .and_then(|t| js_sys::Reflect::get(&t.into(), &"value".into()).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// Everything the editor holds between renders.
#[derive(Debug, Clone, PartialEq, Default)]
struct Held {
    /// The rules as the server last listed them.
    rules: Vec<AlertRule>,
    /// Series names for the picker.
    series: Vec<String>,
    /// What the last request said went wrong.
    error: Option<String>,
}

/// Load rules and series names into `held`.
fn reload(api: Rc<str>, held: UseStateHandle<Held>) {
    wasm_bindgen_futures::spawn_local(async move {
        let (rules, series) = (
            alerts_api::rules(&api).await,
            alerts_api::series(&api).await,
        );
        let mut next = (*held).clone();
        next.error = None;
        match rules {
            Ok(r) => next.rules = r,
            Err(e) => next.error = Some(format!("could not list the rules: {e}")),
        }
        if let Ok(s) = series {
            next.series = s;
        }
        held.set(next);
    });
}

fn field(form: &UseStateHandle<RuleForm>, set: fn(&mut RuleForm, String)) -> Callback<Event> {
    let form = form.clone();
    Callback::from(move |e: Event| {
        let mut f = (*form).clone();
        set(&mut f, value_of(&e));
        form.set(f);
    })
}

fn options(all: &[&'static str], current: &str) -> Html {
    all.iter()
        .map(|o| html! { <option value={*o} selected={*o == current}>{ *o }</option> })
        .collect()
}

#[function_component(AlertRules)]
pub fn alert_rules(p: &AlertRulesProps) -> Html {
    let open = use_state(|| false);
    let held = use_state(Held::default);
    let form = use_state(RuleForm::default);
    let on_toggle = {
        let (open, held, api) = (open.clone(), held.clone(), p.api.clone());
        Callback::from(move |_: MouseEvent| {
            if !*open {
                reload(api.clone(), held.clone());
            }
            open.set(!*open);
        })
    };
    let toggle = html! {
        <>
            <crate::components::notify_button::NotifyButton />
            <button class="btn mini" data-testid="alert-rules-open" aria-expanded={open.to_string()}
                    onclick={on_toggle}>{ "Alert rules" }</button>
        </>
    };
    if !*open {
        return html! { <div class="alert-rules-bar">{ toggle }</div> };
    }
    let on_save = {
        let (form, held, api) = (form.clone(), held.clone(), p.api.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let rule = match form.rule() {
                Ok(r) => r,
                Err(why) => {
                    held.set(Held {
                        error: Some(why),
                        ..(*held).clone()
                    });
                    return;
                }
            };
            let (form, held, api, id) = (form.clone(), held.clone(), api.clone(), form.id);
            wasm_bindgen_futures::spawn_local(async move {
                match alerts_api::save(&api, &rule, id).await {
                    Ok(_) => {
                        form.set(RuleForm::default());
                        reload(api, held);
                    }
                    Err(e) => held.set(Held {
                        error: Some(format!("not saved: {e}")),
                        ..(*held).clone()
                    }),
                }
            });
        })
    };
    let row = |r: &AlertRule| {
        let on_edit = {
            let (form, r) = (form.clone(), r.clone());
            Callback::from(move |_: MouseEvent| form.set(RuleForm::of(&r)))
        };
        let on_delete = {
            let (held, api, id) = (held.clone(), p.api.clone(), r.id);
            Callback::from(move |_: MouseEvent| {
                let (held, api) = (held.clone(), api.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    match alerts_api::delete(&api, id).await {
                        Ok(()) => reload(api, held),
                        Err(e) => held.set(Held {
                            error: Some(format!("not deleted: {e}")),
                            ..(*held).clone()
                        }),
                    }
                });
            })
        };
        html! {
            <li data-testid="alert-rule" data-rule-id={r.id.to_string()}>
                <span class={classes!("badge", format!("{:?}", r.level).to_lowercase())}>{ format!("{:?}", r.level) }</span>
                <span class="rule-text">{ rule_form::describe(r) }</span>
                <button class="btn mini" data-testid="rule-edit" onclick={on_edit}>{ "Edit" }</button>
                <button class="btn mini" data-testid="rule-delete" onclick={on_delete}>{ "Delete" }</button>
            </li>
        }
    };
    let f = &*form;
    let on_new = {
        let form = form.clone();
        Callback::from(move |_: MouseEvent| form.set(RuleForm::default()))
    };
    html! {
        <section class="card alert-rules" data-testid="alert-rules" aria-label="Alert rules">
            <div class="card-head"><h2>{ "Alert rules" }</h2>{ toggle }</div>
            if let Some(e) = &held.error {
                <div class="banner alert" role="alert" data-testid="alert-rules-error">{ e }</div>
            }
            <ul class="rule-list">{ for held.rules.iter().map(row) }</ul>
            <form class="rule-form" data-testid="alert-rule-form" onsubmit={on_save}>
                <label>{ "Series " }
                    <select data-testid="rule-series" onchange={field(&form, |f, v| f.series = v)}>
                        <option value="" selected={f.series.is_empty()}>{ "pick a series" }</option>
                        { for held.series.iter().map(|s| html! { <option value={s.clone()} selected={*s == f.series}>{ s }</option> }) }
                    </select>
                </label>
                <select data-testid="rule-op" aria-label="Comparison" onchange={field(&form, |f, v| f.op = v)}>{ options(&OPS, &f.op) }</select>
                <label>{ "Threshold " }<input data-testid="rule-threshold" inputmode="decimal" value={f.threshold.clone()} onchange={field(&form, |f, v| f.threshold = v)} /></label>
                <label>{ "Clear at " }<input data-testid="rule-clear" inputmode="decimal" placeholder="threshold" value={f.clear_threshold.clone()} onchange={field(&form, |f, v| f.clear_threshold = v)} /></label>
                <label>{ "For (s) " }<input data-testid="rule-for" inputmode="numeric" value={f.for_s.clone()} onchange={field(&form, |f, v| f.for_s = v)} /></label>
                <label>{ "Repeat (s) " }<input data-testid="rule-repeat" inputmode="numeric" value={f.repeat_s.clone()} onchange={field(&form, |f, v| f.repeat_s = v)} /></label>
                <select data-testid="rule-level" aria-label="Level" onchange={field(&form, |f, v| f.level = v)}>{ options(&LEVELS, &f.level) }</select>
                <label>{ "Name " }<input data-testid="rule-name" placeholder="the condition" value={f.name.clone()} onchange={field(&form, |f, v| f.name = v)} /></label>
                <button class="btn" type="submit" data-testid="rule-save">{ if f.id.is_some() { "Save rule" } else { "Add rule" } }</button>
                if f.id.is_some() {
                    <button class="btn" type="button" onclick={on_new}>{ "New rule" }</button>
                }
            </form>
        </section>
    }
}
