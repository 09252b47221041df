//! The real-PostgreSQL harness itself: a cluster starts on a unix socket,
//! keeps its data across an immediate stop and a start, and refuses
//! connections while it is down.

mod common;

use common::pg::TestPg;

#[test]
fn a_cluster_starts_restarts_and_keeps_its_data() {
    let pg = TestPg::start();
    pg.psql("CREATE TABLE t (n int); INSERT INTO t VALUES (41), (1)");
    assert_eq!(pg.psql("SELECT sum(n) FROM t"), "42");
    pg.stop();
    let down = std::process::Command::new(common::pg::pg_bin().join("psql"))
        .args(["-X", "-h"])
        .arg(pg.dir())
        .args(["-U", "postgres", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert!(
        !down.status.success(),
        "psql must fail while the cluster is down"
    );
    pg.up();
    assert_eq!(pg.psql("SELECT sum(n) FROM t"), "42");
}
