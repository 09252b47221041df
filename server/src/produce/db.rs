//! The producer's SQL: the tutorial's schema (created when missing), the
//! static products (loaded once), and one batch per transaction.

use super::catalogue::catalogue;
use super::rows::{Batch, Picker, ProductRef};
use tokio_postgres::Client;

/// The tutorial's tables as pandas `to_sql(if_exists="append")` creates
/// them in schema `ecommerce`: no keys, no indexes, text uuid ids, `bigint`
/// / `double precision` numbers, `timestamp without time zone` times (UTC).
/// Idempotent; the PostgreSQL source may run it too.
pub const DDL: &str = "\
CREATE SCHEMA IF NOT EXISTS ecommerce;
CREATE TABLE IF NOT EXISTS ecommerce.users (
    id text, first_name text, last_name text, email text, age bigint, gender text,
    state text, street_address text, postal_code text, city text, country text,
    latitude double precision, longitude double precision, traffic_source text,
    created_at timestamp without time zone);
CREATE TABLE IF NOT EXISTS ecommerce.orders (
    order_id text, user_id text, status text, gender text,
    created_at timestamp without time zone, returned_at timestamp without time zone,
    shipped_at timestamp without time zone, delivered_at timestamp without time zone,
    num_of_item bigint);
CREATE TABLE IF NOT EXISTS ecommerce.order_items (
    id text, order_id text, user_id text, product_id bigint, inventory_item_id bigint,
    status text, created_at timestamp without time zone,
    shipped_at timestamp without time zone, delivered_at timestamp without time zone,
    returned_at timestamp without time zone, sale_price double precision);
CREATE TABLE IF NOT EXISTS ecommerce.products (
    id bigint, cost double precision, category text, name text, brand text,
    retail_price double precision, department text, sku text,
    distribution_center_id bigint);
";

/// Advisory lock key held while the schema is created and the products
/// loaded, so two producers starting at once do not race on either.
const SCHEMA_LOCK: i64 = 0x6c69_7665_6461_7368; // "livedash"

const INSERT_PRODUCTS: &str = "\
INSERT INTO ecommerce.products (id, cost, category, name, brand, retail_price, department, sku,
    distribution_center_id)
SELECT * FROM unnest($1::bigint[], $2::float8[], $3::text[], $4::text[], $5::text[],
    $6::float8[], $7::text[], $8::text[], $9::bigint[])
WHERE NOT EXISTS (SELECT 1 FROM ecommerce.products)";

const INSERT_USERS: &str = "\
INSERT INTO ecommerce.users (id, first_name, last_name, email, age, gender, state,
    street_address, postal_code, city, country, latitude, longitude, traffic_source, created_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::float8[], $13::float8[],
    $14::text[], $15::timestamp[])";

const INSERT_ORDERS: &str = "\
INSERT INTO ecommerce.orders (order_id, user_id, status, gender, created_at, returned_at,
    shipped_at, delivered_at, num_of_item)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamp[],
    $6::timestamp[], $7::timestamp[], $8::timestamp[], $9::bigint[])";

const INSERT_ITEMS: &str = "\
INSERT INTO ecommerce.order_items (id, order_id, user_id, product_id, inventory_item_id,
    status, created_at, shipped_at, delivered_at, returned_at, sale_price)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
    $6::text[], $7::timestamp[], $8::timestamp[], $9::timestamp[], $10::timestamp[],
    $11::float8[])";

/// Create what is missing and load the catalogue into an empty `products`
/// table; returns the products to pick from (ours, or those already
/// there, e.g. the tutorial's CSV) and how many rows were loaded now.
pub async fn prepare(client: &mut Client) -> Result<(Picker, u64), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await?;
    tx.batch_execute(DDL).await?;
    let c = catalogue();
    let col = |f: fn(&super::catalogue::Product) -> String| c.iter().map(f).collect::<Vec<_>>();
    let loaded = tx
        .execute(
            INSERT_PRODUCTS,
            &[
                &c.iter().map(|p| p.id).collect::<Vec<_>>(),
                &c.iter().map(|p| p.cost).collect::<Vec<_>>(),
                &col(|p| p.category.clone()),
                &col(|p| p.name.clone()),
                &col(|p| p.brand.clone()),
                &c.iter().map(|p| p.retail_price).collect::<Vec<_>>(),
                &col(|p| p.department.clone()),
                &col(|p| p.sku.clone()),
                &c.iter()
                    .map(|p| p.distribution_center_id)
                    .collect::<Vec<_>>(),
            ],
        )
        .await?;
    let rows = tx
        .query(
            "SELECT id::bigint, coalesce(category, '')::text, coalesce(department, '')::text,
                    coalesce(retail_price, 0)::float8
             FROM ecommerce.products WHERE id IS NOT NULL",
            &[],
        )
        .await?;
    tx.commit().await?;
    let products = rows
        .iter()
        .map(|r| ProductRef {
            id: r.get(0),
            category: r.get(1),
            department: r.get(2),
            retail_price: r.get(3),
        })
        .collect();
    Ok((Picker::new(products), loaded))
}

/// Write one batch in one transaction.
pub async fn insert(client: &mut Client, b: &Batch) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let u = &b.users;
    tx.execute(
        INSERT_USERS,
        &[
            &u.id,
            &u.first_name,
            &u.last_name,
            &u.email,
            &u.age,
            &u.gender,
            &u.state,
            &u.street_address,
            &u.postal_code,
            &u.city,
            &u.country,
            &u.latitude,
            &u.longitude,
            &u.traffic_source,
            &u.created_at,
        ],
    )
    .await?;
    let o = &b.orders;
    tx.execute(
        INSERT_ORDERS,
        &[
            &o.order_id,
            &o.user_id,
            &o.status,
            &o.gender,
            &o.created_at,
            &o.returned_at,
            &o.shipped_at,
            &o.delivered_at,
            &o.num_of_item,
        ],
    )
    .await?;
    let i = &b.items;
    tx.execute(
        INSERT_ITEMS,
        &[
            &i.id,
            &i.order_id,
            &i.user_id,
            &i.product_id,
            &i.inventory_item_id,
            &i.status,
            &i.created_at,
            &i.shipped_at,
            &i.delivered_at,
            &i.returned_at,
            &i.sale_price,
        ],
    )
    .await?;
    tx.commit().await
}

/// Whether a batch whose commit was not confirmed (the connection broke
/// during it) is in the database after all: its first user is.
pub async fn committed(client: &Client, b: &Batch) -> Result<bool, tokio_postgres::Error> {
    let Some(first) = b.users.id.first() else {
        return Ok(true);
    };
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM ecommerce.users WHERE id = $1)",
            &[first],
        )
        .await?;
    Ok(row.get(0))
}
