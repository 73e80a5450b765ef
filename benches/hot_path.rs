//! Micro-benchmarks of the authentication hot path: parse + digest, the in-memory filter,
//! the cache, and the one indexed database read, at 1 000 and 100 000 stored tokens.
//! `cargo bench --bench hot_path`. Under `cargo test` each runs once on small data.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use sha2::{Digest, Sha256};
use tokend::config::Config;
use tokend::db;
use tokend::domain::token_value::{TokenDigest, TokenValue, ValueKind};
use tokend::params;
use tokend::startup::Bootstrap;
use tokend::state::index::AuthIndex;
use tokend::state::AppState;

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn parse_and_digest(c: &mut Criterion) {
    let v = TokenValue::generate(ValueKind::Api);
    let text = v.expose().to_string();
    c.bench_function("parse + sha256 digest", |b| {
        b.iter(|| TokenValue::parse(black_box(&text)).map(|v| v.digest()))
    });
    let bad = format!("{}x", &text[..39]);
    c.bench_function("reject bad checksum", |b| {
        b.iter(|| TokenValue::parse(black_box(&bad)).is_err())
    });
}

fn filter(c: &mut Criterion) {
    let n = if full_run() { 1_000_000 } else { 1_000 };
    let digests: Vec<TokenDigest> = (0..n)
        .map(|i: u64| TokenDigest(Sha256::digest(i.to_le_bytes()).into()))
        .collect();
    let index = AuthIndex::default();
    let Ok(()) = index.reload(|| Ok::<_, std::convert::Infallible>(digests.clone()));
    let unknown = TokenValue::generate(ValueKind::Api).digest();
    c.bench_function(&format!("filter miss, {n} digests"), |b| {
        b.iter(|| index.might_exist(black_box(&unknown)))
    });
    c.bench_function(&format!("filter hit, {n} digests"), |b| {
        b.iter(|| index.might_exist(black_box(&digests[n as usize / 2])))
    });
}

fn seed(state: &AppState, count: u64) {
    let conn = state.pool.get().expect("conn");
    conn.execute_batch("BEGIN").expect("begin");
    for i in 0..count {
        let name = format!("seed-{i}");
        let d = Sha256::digest(name.as_bytes()).to_vec();
        conn.execute(
            "INSERT INTO tokens (company_id, owner_id, kind, name, name_key, permissions, digest,
                 value_hint, enabled, created_at, updated_at)
             VALUES (1, 1, 'private', $1, $1, 'tokens:read', $2, 'tkd_seed', 1, 0, 0)",
            params![name, d],
        )
        .expect("insert");
    }
    conn.execute_batch("COMMIT").expect("commit");
}

fn lookup(c: &mut Criterion) {
    let sizes: &[u64] = if full_run() {
        &[1_000, 100_000]
    } else {
        &[100]
    };
    for &n in sizes {
        let dir = tempfile::tempdir().expect("tmp");
        let state: Arc<AppState> =
            AppState::open(Config::for_tests(dir.path().join("b.db")), false).expect("open");
        let token = TokenValue::generate(ValueKind::Api);
        Bootstrap {
            admin_token: Some(token.expose().to_string()),
            admin_password: Some("bench-password".into()),
            ..Bootstrap::default()
        }
        .apply(&state)
        .expect("bootstrap");
        seed(&state, n);
        let digest = token.digest();
        let conn = state.pool.get().expect("conn");
        c.bench_function(&format!("indexed auth lookup, {n} tokens"), |b| {
            b.iter(|| db::tokens::auth_lookup(&conn, black_box(&digest)).expect("lookup"))
        });
    }
}

criterion_group!(benches, parse_and_digest, filter, lookup);
criterion_main!(benches);
