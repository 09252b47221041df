//! Every SQL text the PostgreSQL source runs, in one place: the tutorial's
//! tables (for tests and producers), what livedash installs in its own
//! schema `livedash`, and the tailer's queries.

/// The tutorial producer's tables, as pandas `to_sql` creates them: schema
/// `ecommerce`, no keys, no indexes, text ids, `timestamp without time
/// zone`. Idempotent. Tests (and `livedash produce`) create them with this.
pub const ECOMMERCE_DDL: &str = "
CREATE SCHEMA IF NOT EXISTS ecommerce;
CREATE TABLE IF NOT EXISTS ecommerce.users (
    id text, first_name text, last_name text, email text, age bigint,
    gender text, state text, street_address text, postal_code text,
    city text, country text, latitude double precision,
    longitude double precision, traffic_source text,
    created_at timestamp without time zone
);
CREATE TABLE IF NOT EXISTS ecommerce.orders (
    order_id text, user_id text, status text, gender text,
    created_at timestamp without time zone,
    returned_at timestamp without time zone,
    shipped_at timestamp without time zone,
    delivered_at timestamp without time zone, num_of_item bigint
);
CREATE TABLE IF NOT EXISTS ecommerce.order_items (
    id text, order_id text, user_id text, product_id text,
    inventory_item_id text, status text,
    created_at timestamp without time zone,
    shipped_at timestamp without time zone,
    delivered_at timestamp without time zone,
    returned_at timestamp without time zone, sale_price double precision
);
CREATE TABLE IF NOT EXISTS ecommerce.products (
    id text, cost double precision, category text, name text, brand text,
    retail_price double precision, department text, sku text,
    distribution_center_id bigint
);
";

/// Whether a table exists (`$1`: its qualified name).
pub const TABLE_EXISTS: &str = "SELECT to_regclass($1) IS NOT NULL";

/// The channel the wake-up trigger notifies and the tailer listens on.
pub const CHANNEL: &str = "livedash_orders";

/// The name of this livedash's row in `livedash.consumers`.
pub const CONSUMER: &str = "orders";

/// What livedash installs (idempotent; one simple query, so one implicit
/// transaction, under an
/// advisory lock so two livedash processes starting together do not race):
///
/// - `livedash.outbox`: one row per inserted order item — the inserting
///   transaction's id (`xid8`), a serial, the capture time and the item's
///   values as text. The tailer reads it in (xid, n) order below the
///   oldest running transaction, so rows of transactions that commit out
///   of order are neither skipped nor read twice.
/// - `livedash.consumers`: the persisted cursor (xid, n) per consumer.
/// - `livedash.capture_order_item()`: the row trigger's function. `SECURITY
///   DEFINER`, so a producer role needs no rights on schema `livedash`; it
///   copies fields with `to_jsonb(NEW) ->> 'col'` so it cannot fail an
///   insert whatever the column types are.
/// - `livedash.wake()`: a statement trigger's function: one `pg_notify`
///   per inserting statement, a wake-up only (the data path is the outbox).
/// - triggers `livedash_capture` (row) and `livedash_wake` (statement) on
///   `ecommerce.order_items`, created only when missing (no lock on the
///   table otherwise). The first install copies the rows already there
///   (the last day's, by `created_at`, which then stands for `seen_at`)
///   into the outbox under a lock that keeps inserts out until the trigger
///   exists, so the lookback fill is right even for a table filled before
///   livedash ever ran.
pub const INSTALL: &str = "
SELECT pg_advisory_xact_lock(hashtext('livedash.install'));
CREATE SCHEMA IF NOT EXISTS livedash;
CREATE TABLE IF NOT EXISTS livedash.outbox (
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    n bigserial NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    item_id text, order_id text, user_id text, product_id text,
    status text, sale_price text,
    PRIMARY KEY (xid, n)
);
CREATE INDEX IF NOT EXISTS outbox_seen_at ON livedash.outbox (seen_at);
CREATE TABLE IF NOT EXISTS livedash.consumers (
    name text PRIMARY KEY,
    xid xid8 NOT NULL,
    n bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION livedash.capture_order_item() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE r jsonb := to_jsonb(NEW);
BEGIN
    INSERT INTO livedash.outbox
        (item_id, order_id, user_id, product_id, status, sale_price)
    VALUES (r->>'id', r->>'order_id', r->>'user_id', r->>'product_id',
            r->>'status', r->>'sale_price');
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION livedash.wake() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    PERFORM pg_notify('livedash_orders', '');
    RETURN NULL;
END $$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'livedash_capture'
                   AND tgrelid = 'ecommerce.order_items'::regclass) THEN
        -- First install: no insert may commit between the copy of the rows
        -- already there and the trigger that captures the next ones.
        LOCK TABLE ecommerce.order_items IN SHARE ROW EXCLUSIVE MODE;
        BEGIN
            -- The rows of the last day, dated by their created_at (UTC when
            -- the column has no time zone, as the tutorial's), so the
            -- lookback fill finds the recent ones. They are history: the
            -- new consumer's cursor starts after them.
            SET LOCAL timezone = 'UTC';
            INSERT INTO livedash.outbox
                (seen_at, item_id, order_id, user_id, product_id, status, sale_price)
            SELECT at, r->>'id', r->>'order_id', r->>'user_id', r->>'product_id',
                   r->>'status', r->>'sale_price'
            FROM (SELECT (r->>'created_at')::timestamptz AS at, r
                  FROM (SELECT to_jsonb(t) AS r FROM ecommerce.order_items t) rows) dated
            WHERE at > now() - interval '1 day' AND at <= now() + interval '1 minute'
            ORDER BY at;
        EXCEPTION WHEN others THEN
            -- created_at missing or not a time: no history, new rows only.
            RAISE NOTICE 'livedash: existing order_items not copied: %', SQLERRM;
        END;
        CREATE TRIGGER livedash_capture AFTER INSERT ON ecommerce.order_items
            FOR EACH ROW EXECUTE FUNCTION livedash.capture_order_item();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'livedash_wake'
                   AND tgrelid = 'ecommerce.order_items'::regclass) THEN
        CREATE TRIGGER livedash_wake AFTER INSERT ON ecommerce.order_items
            FOR EACH STATEMENT EXECUTE FUNCTION livedash.wake();
    END IF;
END $$;
";

/// A new consumer starts after the last row already final (committed
/// below the horizon), so what was inserted before it existed counts as
/// history (the lookback fill), not as new rows. `$1` = name.
pub const CONSUMER_CREATE: &str = "
INSERT INTO livedash.consumers (name, xid, n)
SELECT $1, coalesce(last.xid, '0'::xid8), coalesce(last.n, 0)
FROM (SELECT 1) one LEFT JOIN LATERAL (
    SELECT xid, n FROM livedash.outbox
    WHERE xid < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
    ORDER BY xid DESC, n DESC LIMIT 1) last ON true
ON CONFLICT (name) DO NOTHING";

/// The persisted cursor. `$1` = name.
pub const CONSUMER_LOAD: &str = "SELECT xid::text::int8, n FROM livedash.consumers WHERE name = $1";

/// Move the persisted cursor. `$1` = name, `$2` = xid (text), `$3` = n.
pub const CONSUMER_SAVE: &str = "
UPDATE livedash.consumers SET xid = $2::text::xid8, n = $3, updated_at = now()
WHERE name = $1";

/// The outbox columns every read returns, in [`super::tailer`]'s order.
const OUTBOX_COLUMNS: &str = "xid::text::int8, n, (extract(epoch FROM seen_at) * 1000)::int8,
    item_id, order_id, user_id, product_id, status, sale_price";

/// New rows: after the cursor (`$1` xid as text, `$2` n) and below the
/// oldest transaction still running (every transaction before it has
/// committed or aborted, so no row can appear there any more), at most
/// `$3`. The last column is the database's clock (ms) for the lag.
pub fn poll_query() -> String {
    format!(
        "SELECT {OUTBOX_COLUMNS}, (extract(epoch FROM clock_timestamp()) * 1000)::int8
         FROM livedash.outbox
         WHERE (xid, n) > ($1::text::xid8, $2)
           AND xid < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
         ORDER BY xid, n LIMIT $3"
    )
}

/// The lookback fill: rows after `($1, $2)` up to the persisted cursor
/// `($3, $4)` captured in the last `$5` milliseconds, at most `$6`.
pub fn fill_query() -> String {
    format!(
        "SELECT {OUTBOX_COLUMNS}, (extract(epoch FROM clock_timestamp()) * 1000)::int8
         FROM livedash.outbox
         WHERE (xid, n) > ($1::text::xid8, $2) AND (xid, n) <= ($3::text::xid8, $4)
           AND seen_at > now() - $5::int8 * interval '1 millisecond'
         ORDER BY xid, n LIMIT $6"
    )
}

/// The users of a batch (`$1`: their ids as text). `id::text` so any id
/// type joins; an index on `ecommerce.users (id)` (text ids) or
/// `((id::text))` makes it a lookup instead of a scan.
pub const USERS: &str = "SELECT id::text, age::text, gender::text, country::text,
    traffic_source::text FROM ecommerce.users WHERE id::text = ANY($1)";

/// The products of a batch (`$1`: their ids as text).
pub const PRODUCTS: &str = "SELECT id::text, category::text, cost::text
    FROM ecommerce.products WHERE id::text = ANY($1)";

/// Drop outbox rows the cursor has passed and the lookback no longer
/// needs: at or before `($1, $2)` and captured more than `$3` ms ago.
pub const PRUNE: &str = "DELETE FROM livedash.outbox
    WHERE (xid, n) <= ($1::text::xid8, $2)
      AND seen_at < now() - $3::int8 * interval '1 millisecond'";
