//! The static `products` table: a theLook-like apparel catalogue, the same
//! on every run (a fixed seed), so `livedash produce` can load it once and
//! every later run finds the same ids.
//!
//! Each category is sold in the departments theLook sells it in (Men,
//! Women or both), [`PER_DEPARTMENT`] products per pair. Prices come from
//! the built-in generator's per-category distribution
//! ([`crate::generator::retail_price`]); cost is 40–60 % of the price.

use crate::generator::{category_names, retail_price};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Seed of the catalogue: fixed, so every run makes the same products.
const CATALOGUE_SEED: u64 = 0x007E_100C_CA7A;

/// Products per (category, department) pair.
pub const PER_DEPARTMENT: usize = 40;

/// Distribution centres products ship from (ids 1..=10, as in theLook).
pub const DISTRIBUTION_CENTERS: i64 = 10;

/// Categories theLook sells to men only.
const MEN_ONLY: &[&str] = &["Pants", "Socks", "Suits & Sport Coats", "Underwear"];

/// Categories theLook sells to women only.
const WOMEN_ONLY: &[&str] = &[
    "Blazers & Jackets",
    "Clothing Sets",
    "Dresses",
    "Intimates",
    "Jumpsuits & Rompers",
    "Leggings",
    "Maternity",
    "Pants & Capris",
    "Plus",
    "Skirts",
    "Socks & Hosiery",
    "Suits",
];

/// Made-up brands (no real trademarks).
const BRANDS: &[&str] = &[
    "Northwind",
    "Harbor & Pine",
    "Bluefield",
    "Merrow",
    "Calder",
    "Oakline",
    "Sunday Supply",
    "Fenwick",
    "Lumen Lane",
    "Tidewater",
    "Redstone",
    "Ashby",
    "Kestrel",
    "Maple Row",
    "Greyhaven",
    "Juniper",
];

/// Style words for product names.
const STYLES: &[&str] = &[
    "Classic",
    "Essential",
    "Relaxed",
    "Slim",
    "Vintage",
    "Everyday",
    "Premium",
    "Soft",
    "Urban",
    "Heritage",
    "Lightweight",
    "Tailored",
];

/// One row of `ecommerce.products` (the tutorial's columns).
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// `id` (bigint), from 1.
    pub id: i64,
    /// `cost`: what the shop paid, dollars.
    pub cost: f64,
    /// `category`: one of the 26 theLook categories.
    pub category: String,
    /// `name`: brand, style and category.
    pub name: String,
    /// `brand`.
    pub brand: String,
    /// `retail_price`: what an order item sells for, dollars.
    pub retail_price: f64,
    /// `department`: `Men` or `Women`.
    pub department: String,
    /// `sku`: 32 hex digits, unique.
    pub sku: String,
    /// `distribution_center_id`: 1..=10.
    pub distribution_center_id: i64,
}

/// The departments a category is sold in.
pub fn departments(category: &str) -> &'static [&'static str] {
    if MEN_ONLY.contains(&category) {
        &["Men"]
    } else if WOMEN_ONLY.contains(&category) {
        &["Women"]
    } else {
        &["Men", "Women"]
    }
}

/// The whole catalogue, ids 1..=N; the same on every call.
pub fn catalogue() -> Vec<Product> {
    let mut rng = StdRng::seed_from_u64(CATALOGUE_SEED);
    let mut out = Vec::new();
    for (ci, category) in category_names().enumerate() {
        for &department in departments(category) {
            for _ in 0..PER_DEPARTMENT {
                let retail = retail_price(&mut rng, ci);
                let cost = (retail * rng.gen_range(0.4..=0.6) * 100.0).round() / 100.0;
                let brand = BRANDS[rng.gen_range(0..BRANDS.len())];
                let style = STYLES[rng.gen_range(0..STYLES.len())];
                let sku = format!("{:032x}", rng.gen::<u128>());
                out.push(Product {
                    id: out.len() as i64 + 1,
                    cost,
                    category: category.to_string(),
                    name: format!("{brand} {style} {category} ({department})"),
                    brand: brand.to_string(),
                    retail_price: retail,
                    department: department.to_string(),
                    sku,
                    distribution_center_id: rng.gen_range(1..=DISTRIBUTION_CENTERS),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogue_is_stable_and_consistent() {
        let a = catalogue();
        assert_eq!(a, catalogue(), "the same products on every run");
        // 10 categories in both departments, 16 in one.
        assert_eq!(a.len(), (10 * 2 + 16) * PER_DEPARTMENT);
        let ids: HashSet<i64> = a.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), a.len());
        assert_eq!(*ids.iter().min().unwrap(), 1);
        let skus: HashSet<&str> = a.iter().map(|p| p.sku.as_str()).collect();
        assert_eq!(skus.len(), a.len());
        let cats: HashSet<&str> = a.iter().map(|p| p.category.as_str()).collect();
        assert_eq!(cats.len(), 26);
        for p in &a {
            assert!(p.cost >= p.retail_price * 0.4 - 0.01 && p.cost <= p.retail_price * 0.6 + 0.01);
            assert!(p.department == "Men" || p.department == "Women");
            assert!((1..=DISTRIBUTION_CENTERS).contains(&p.distribution_center_id));
            if p.category.starts_with("Socks") || p.category == "Accessories" {
                assert!(p.retail_price < 20.0, "{p:?}");
            }
            assert!(p.name.contains(&p.brand) && p.name.contains(&p.category));
        }
        assert!(a.iter().any(|p| p.retail_price > 300.0), "a long tail");
        assert!(a
            .iter()
            .all(|p| p.category != "Dresses" || p.department == "Women"));
    }
}
