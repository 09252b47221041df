//! `filterbench`: what the server's filter sets cost per orders tick,
//! timed in-process. For the default rate (2 orders/s, 1 s ticks) and a
//! high ingest rate (~500 records a tick, as `microbench`), on a full
//! 5-minute window: the part every server pays (the tick's records into
//! the registry's window, no set active) and the whole tick with 1, 10 and
//! 100 distinct filter sets active (each set aggregates its matching
//! records and serializes its frame once). Median and 99th percentile of
//! 120 ticks; one JSON object on stdout.

use livedash_server::filters::registry::FilterSets;
use livedash_server::filters::FilterSet;
use livedash_server::generator::Generator;
use livedash_shared::OrderRecord;
use std::collections::BTreeSet;
use std::time::Instant;

const LOOKBACK: u64 = 300_000;
const TICKS: usize = 120;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn p99(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * 0.99).round() as usize]
}

/// One tick's records: the generator's Poisson arrivals at `rate`, or
/// exactly 276 users (~500 records) for the high rate.
fn records(g: &mut Generator, high: bool, now: u64) -> Vec<OrderRecord> {
    match high {
        true => g.generate_users(276, now),
        false => g.generate(now),
    }
}

/// A kind of filter: the pairs it takes from a record.
type Kind = dyn Fn(&OrderRecord) -> Vec<(&'static str, String)>;

/// `n` distinct filters of the kinds a page makes: one country, a
/// country and a traffic source, a country and a gender, a category.
fn filters(seen: &[OrderRecord], n: usize) -> Vec<FilterSet> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    if n == 0 {
        return Vec::new();
    }
    let kinds: [&Kind; 4] = [
        &|r| vec![("country", r.country.clone())],
        &|r| {
            vec![
                ("country", r.country.clone()),
                ("traffic_source", r.traffic_source.clone()),
            ]
        },
        &|r| vec![("country", r.country.clone()), ("gender", r.gender.clone())],
        &|r| vec![("category", r.category.clone())],
    ];
    'all: for kind in kinds {
        for r in seen {
            let pairs = kind(r);
            let f = FilterSet::from_vars(pairs.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
            out.insert(f.key());
            if out.len() == n {
                break 'all;
            }
        }
    }
    assert_eq!(out.len(), n, "enough distinct filters");
    out.iter()
        .map(|k| FilterSet::from_query_string(k).unwrap())
        .collect()
}

/// µs per tick (median, p99) with `n` sets, and the window's size.
fn run(high: bool, n: usize) -> (f64, f64, usize) {
    let mut g = Generator::new(1, 2.0);
    let sets = FilterSets::new(1000, 3600, LOOKBACK);
    let mut now = 1_000_000u64;
    let _ = g.generate(now);
    let mut seen = Vec::new();
    for _ in 0..300 {
        now += 1000;
        let recs = records(&mut g, high, now);
        sets.tick(now, &[], &recs);
        if seen.len() < 20_000 {
            seen.extend(recs);
        }
    }
    let subs: Vec<_> = filters(&seen, n)
        .iter()
        .map(|f| sets.acquire(f, now).unwrap())
        .collect();
    let mut us = Vec::new();
    for _ in 0..TICKS {
        now += 1000;
        let recs = records(&mut g, high, now);
        let t = Instant::now();
        sets.tick(now, &[], &recs);
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    assert_eq!(sets.count(), n);
    drop(subs);
    (median(us.clone()), p99(us), sets.window_len())
}

fn main() {
    let mut out = serde_json::Map::new();
    for (rate, high) in [("default", false), ("high", true)] {
        for n in [0, 1, 10, 100] {
            let (med, p, window) = run(high, n);
            out.insert(format!("{rate}_{n}_us_median"), med.into());
            out.insert(format!("{rate}_{n}_us_p99"), p.into());
            out.insert(format!("{rate}_window_records"), window.into());
        }
    }
    println!("{}", serde_json::Value::Object(out));
}
