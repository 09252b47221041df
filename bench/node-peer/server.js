// The Node `ws` peer of `cargo xtask bench`: a broadcast server with the
// shape of livedash's stream, written the careful way, so livedash is
// measured against a good peer rather than a naive one:
//   - an `orders` frame every --tick-ms, padded to --orders-bytes;
//   - a `system` frame every --system-ms (a realistic metrics object);
//   - a `clients` frame when the count changed, coalesced to once a second
//     (a server that broadcasts on every connect sends N^2 frames);
//   - each frame serialized once to a Buffer and that Buffer sent to every
//     client (ws frames it without copying the payload per client);
//   - a client whose socket buffer already holds > 1 MiB is skipped for that
//     frame (a frozen tab never grows the server's memory).
// Frames start `{"type":"T","seq":N,"ts":MS` like livedash's, so the same
// load generator reads both. Prints `listening http://127.0.0.1:PORT` first.
//
// --deflate: permessage-deflate on (ws's `perMessageDeflate`) with a
// threshold of 0, as livedash compresses every topic frame whatever its
// size; a client's server_no_context_takeover offer is accepted (ws's
// default); everything else is ws's defaults, so each frame is compressed
// once per client (livedash compresses it once for all of them).
// --orders-file PATH: the `orders` body (a livedash `orders` frame after its
// `"ts":MS,` and without the closing brace) instead of padding, so
// compressed frames cost and weigh what livedash's do.
'use strict';
const { WebSocketServer } = require('ws');

function flag(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const port = flag('--port', 0);
const tickMs = flag('--tick-ms', 1000);
const systemMs = flag('--system-ms', 1000);
const ordersBytes = flag('--orders-bytes', 700);
const deflate = process.argv.includes('--deflate');
const ordersFileAt = process.argv.indexOf('--orders-file');
const ordersFile = ordersFileAt > 0 ? process.argv[ordersFileAt + 1] : null;
const MAX_BUFFERED = 1 << 20;

const perMessageDeflate = deflate ? { threshold: 0 } : false;
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate, clientTracking: true });
const seq = { orders: 0, system: 0, clients: 0 };

function broadcast(type, body) {
  seq[type] += 1;
  const head = `{"type":"${type}","seq":${seq[type]},"ts":${Date.now()}`;
  const buf = Buffer.from(body ? `${head},${body}}` : `${head}}`);
  for (const ws of wss.clients) {
    if (ws.readyState === 1 && ws.bufferedAmount <= MAX_BUFFERED) ws.send(buf, { binary: false });
  }
}

function ordersBody(size) {
  const start = `"num_orders":120,"num_order_items":180,"total_sales":12345.67,"pad":"`;
  const pad = Math.max(0, size - 40 - start.length - 2);
  return start + 'x'.repeat(pad) + '"';
}
const orders = ordersFile
  ? require('fs').readFileSync(ordersFile, 'utf8').trim()
  : ordersBody(ordersBytes);

setInterval(() => broadcast('orders', orders), tickMs);
setInterval(() => {
  const cores = Array.from({ length: 2 }, () => +(Math.random() * 100).toFixed(1));
  broadcast('system', JSON.stringify({
    cpu_percent: cores.reduce((a, b) => a + b, 0) / cores.length, cpu_per_core: cores,
    memory_used: 1234567890, memory_total: 25769803776, swap_used: 0, swap_total: 0,
    net_rx_bytes_per_sec: 1234.5, net_tx_bytes_per_sec: 678.9, load_avg: [0.5, 0.4, 0.3],
  }).slice(1, -1));
}, systemMs);

let shown = -1;
setInterval(() => {
  if (wss.clients.size !== shown) {
    shown = wss.clients.size;
    broadcast('clients', `"count":${shown}`);
  }
}, 1000);

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', () => {}); // clients' frames are read and ignored
});
wss.on('listening', () => {
  console.log(`listening http://127.0.0.1:${wss.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
