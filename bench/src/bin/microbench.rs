//! `microbench`: per-tick costs on the server's hot path, timed in-process
//! (median and 99th percentile of 300 runs): aggregating a 500-record tick
//! on a full 5-minute window, serializing that frame once (it is then
//! shared by every client), and deflating it once for the clients that
//! negotiated permessage-deflate (the whole frame, and the page's frame
//! without records).

use livedash_server::aggregate::Aggregator;
use livedash_server::deflate::deflate;
use livedash_server::generator::Generator;
use livedash_shared::ServerMessage;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The 99th percentile (nearest rank).
fn p99(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * 0.99).round() as usize]
}

fn main() {
    let lookback = 300_000;
    let mut g = Generator::new(1, 2.0);
    let mut agg = Aggregator::new(lookback);
    // Fill the window: one tick a second for 5 minutes, ~500 records each.
    let mut now = 1_000_000u64;
    let mut seq = 0;
    for _ in 0..300 {
        now += 1000;
        seq += 1;
        let recs = g.generate_users(276, now);
        agg.tick(seq, now, recs);
    }
    let mut tick_us = Vec::new();
    let mut ser_us = Vec::new();
    let (mut deflate_us, mut deflate_page_us) = (Vec::new(), Vec::new());
    let (mut deflated_bytes, mut page_bytes, mut page_deflated_bytes) = (0, 0, 0);
    let mut records = 0;
    let mut frame_bytes = 0;
    for _ in 0..300 {
        now += 1000;
        seq += 1;
        let recs = g.generate_users(276, now);
        records += recs.len();
        let t = Instant::now();
        let o = agg.tick(seq, now, recs);
        tick_us.push(t.elapsed().as_secs_f64() * 1e6);
        let mut page = o.clone();
        page.records.clear();
        let msg = ServerMessage::Orders(o);
        let t = Instant::now();
        let text = msg.to_json();
        ser_us.push(t.elapsed().as_secs_f64() * 1e6);
        frame_bytes += text.len();
        let t = Instant::now();
        deflated_bytes += deflate(text.as_bytes()).len();
        deflate_us.push(t.elapsed().as_secs_f64() * 1e6);
        let page = ServerMessage::Orders(page).to_json();
        page_bytes += page.len();
        let t = Instant::now();
        page_deflated_bytes += deflate(page.as_bytes()).len();
        deflate_page_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let out = serde_json::json!({
        "records_per_tick": records as f64 / 300.0,
        "window_records": agg.kpis().num_order_items,
        "aggregate_tick_us_p99": p99(tick_us.clone()),
        "aggregate_tick_us_median": median(tick_us),
        "serialize_frame_us_median": median(ser_us),
        "frame_bytes_mean": frame_bytes as f64 / 300.0,
        "deflate_frame_us_median": median(deflate_us),
        "deflated_bytes_mean": deflated_bytes as f64 / 300.0,
        "deflate_page_frame_us_median": median(deflate_page_us),
        "page_frame_bytes_mean": page_bytes as f64 / 300.0,
        "page_deflated_bytes_mean": page_deflated_bytes as f64 / 300.0,
    });
    println!("{out}");
}
