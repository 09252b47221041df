//! Where chart instances are created: once ECharts' `async` script has
//! run, in slices of at most [`SLICE_MS`] of main-thread time per task (the
//! rest in the next task). A dashboard mounting many charts then neither
//! waits for ECharts to draw its KPI cards nor makes one long task on a
//! slow device (what a browser audit counts as blocking time), and pays
//! nothing extra on a fast one: while the current task's slice lasts (and
//! ECharts is there) a chart is created at once, in the task that mounted
//! it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use wasm_bindgen::JsValue;

/// Main-thread time one task spends creating charts before it yields, ms:
/// under 12.5, so that on a phone 4× slower (Lighthouse's mobile profile) a
/// slice stays under the 50 ms that makes a task long.
pub const SLICE_MS: f64 = 12.0;
/// How often to look again for ECharts while its script has not run, ms.
const POLL_MS: u32 = 10;

/// Creates one chart instance (or nothing, when its component is gone).
pub type Job = Box<dyn FnOnce()>;

thread_local! {
    /// Creations waiting, oldest first.
    static JOBS: RefCell<VecDeque<Job>> = RefCell::new(VecDeque::new());
    /// Whether a task that runs them is already scheduled.
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
    /// When the current task's first creation began (reset after the task).
    static SLICE_START: Cell<Option<f64>> = const { Cell::new(None) };
}

/// Create a chart now, when the current task's slice has time left and
/// nothing waits before it; else queue it for a later task.
pub fn push(job: Job) {
    let idle = !SCHEDULED.with(Cell::get) && JOBS.with(|j| j.borrow().is_empty());
    if idle && echarts_loaded() {
        let now = now();
        let start = SLICE_START.with(|s| match s.get() {
            Some(t) => t,
            None => {
                s.set(Some(now));
                // A microtask: runs once the current task's code is done.
                wasm_bindgen_futures::spawn_local(async { SLICE_START.with(|s| s.set(None)) });
                now
            }
        });
        if now - start < SLICE_MS {
            return job();
        }
    }
    JOBS.with(|j| j.borrow_mut().push_back(job));
    schedule(0);
}

fn schedule(delay_ms: u32) {
    if SCHEDULED.with(|s| s.replace(true)) {
        return;
    }
    gloo_timers::callback::Timeout::new(delay_ms, run).forget();
}

/// Whether ECharts' script has run (the global `echarts` exists).
fn echarts_loaded() -> bool {
    web_sys::window()
        .is_some_and(|w| js_sys::Reflect::has(&w, &JsValue::from_str("echarts")).unwrap_or(false))
}

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn run() {
    SCHEDULED.with(|s| s.set(false));
    if !echarts_loaded() {
        return schedule(POLL_MS);
    }
    let next = || JOBS.with(|j| j.borrow_mut().pop_front());
    if run_slice(next, now, SLICE_MS) {
        schedule(0);
    }
}

/// Run jobs from `next` until none is left or `clock` says `budget_ms`
/// have passed since the first began; whether jobs may be left. At least
/// one job runs.
pub fn run_slice(
    mut next: impl FnMut() -> Option<Job>,
    mut clock: impl FnMut() -> f64,
    budget_ms: f64,
) -> bool {
    let start = clock();
    while let Some(job) = next() {
        job();
        if clock() - start >= budget_ms {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// Five jobs of 3 ms each on a fake clock.
    fn jobs(ran: &Rc<RefCell<Vec<usize>>>, clock: &Rc<Cell<f64>>) -> VecDeque<Job> {
        (0..5)
            .map(|i| {
                let (ran, clock) = (ran.clone(), clock.clone());
                Box::new(move || {
                    ran.borrow_mut().push(i);
                    clock.set(clock.get() + 3.0);
                }) as Job
            })
            .collect()
    }

    #[test]
    fn a_slice_stops_at_the_budget_and_the_next_one_goes_on() {
        let ran = Rc::new(RefCell::new(Vec::new()));
        let clock = Rc::new(Cell::new(100.0));
        let mut q = jobs(&ran, &clock);
        let c = clock.clone();
        // 3 + 3 + 3 = 9 ms ≥ 8 after the third: yield with two left.
        assert!(run_slice(|| q.pop_front(), || c.get(), 8.0));
        assert_eq!(*ran.borrow(), vec![0, 1, 2]);
        assert!(!run_slice(|| q.pop_front(), || c.get(), 8.0));
        assert_eq!(*ran.borrow(), vec![0, 1, 2, 3, 4]);
        // Nothing left: nothing runs, nothing left.
        assert!(!run_slice(|| q.pop_front(), || c.get(), 8.0));
    }

    #[test]
    fn one_job_runs_even_over_the_budget() {
        let ran = Rc::new(RefCell::new(Vec::new()));
        let clock = Rc::new(Cell::new(0.0));
        let mut q = jobs(&ran, &clock);
        let c = clock.clone();
        assert!(run_slice(|| q.pop_front(), || c.get(), 1.0));
        assert_eq!(*ran.borrow(), vec![0]);
    }
}
