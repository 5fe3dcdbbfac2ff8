//! Data that is not `f64` (integer counts and covariates): converted to `f64`s once, when
//! the model is built (a data operand that depends only on the model's arguments), against
//! the same model on `f64` data (nothing to convert) and against the same model converting
//! on every gradient call (the data rebound locally, so it is not an argument any more: what
//! every call did before the conversions were kept with the model). N = 1000: Poisson
//! regression `ks ~ PoissonLog(xs * b + a)` on integer counts and covariate (the kernel's
//! `lgamma` dominates), and linear regression `y ~ Normal(xs * b + a, 1.0)` on an integer
//! covariate (a cheap kernel, where a conversion per call shows).
//!
//! `cargo bench --bench data -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use vi::prelude::*;

model! {
    fn pois_f64(ks: &[f64], xs: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        ks ~ PoissonLog(xs * b + a);
    }
}

model! {
    fn pois_int(ks: &[i64], xs: &[i32]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        ks ~ PoissonLog(xs * b + a);
    }
}

model! {
    fn pois_int_per_call(ks: &[i64], xs: &[i32]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        let kk = ks;
        let xx = xs;
        kk ~ PoissonLog(xx * b + a);
    }
}

model! {
    fn lin_f64(y: &[f64], xs: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        y ~ Normal(xs * b + a, 1.0);
    }
}

model! {
    fn lin_int(y: &[f64], xs: &[i32]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        y ~ Normal(xs * b + a, 1.0);
    }
}

model! {
    fn lin_int_per_call(y: &[f64], xs: &[i32]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        let xx = xs;
        y ~ Normal(xx * b + a, 1.0);
    }
}

/// Times the three models (after checking that they agree) in one group.
fn group(c: &mut Criterion, name: &str, models: [&dyn Model; 3]) {
    let theta = [0.2, 0.1];
    let mut g = [0.0; 2];
    let want = models[0].log_density_grad(&theta, &mut g);
    let g0 = g;
    for m in &models[1..] {
        let lp = m.log_density_grad(&theta, &mut g);
        assert!((lp - want).abs() < 1e-9 * want.abs());
        assert!(g
            .iter()
            .zip(&g0)
            .all(|(a, b)| (a - b).abs() < 1e-9 * (1.0 + b.abs())));
    }
    let mut group = c.benchmark_group(name);
    let labels = [
        "f64 data",
        "integer data, converted once",
        "integer data, converted per call",
    ];
    for (m, label) in models.into_iter().zip(labels) {
        group.bench_function(label, |b| {
            b.iter(|| m.log_density_grad(black_box(&theta), &mut g))
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    let n: usize = 1000;
    let xs: Vec<i32> = (0..n).map(|i| (i % 7) as i32 - 3).collect();
    let ks: Vec<i64> = (0..n).map(|i| ((i * 13) % 5) as i64).collect();
    let xf: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
    let kf: Vec<f64> = ks.iter().map(|&k| k as f64).collect();
    let y: Vec<f64> = (0..n).map(|i| 0.1 * (i % 11) as f64 - 0.4).collect();
    let pois = [
        &pois_f64(&kf, &xf).unwrap() as &dyn Model,
        &pois_int(&ks, &xs).unwrap(),
        &pois_int_per_call(&ks, &xs).unwrap(),
    ];
    group(c, "poisson N=1000", pois);
    let lin = [
        &lin_f64(&y, &xf).unwrap() as &dyn Model,
        &lin_int(&y, &xs).unwrap(),
        &lin_int_per_call(&y, &xs).unwrap(),
    ];
    group(c, "normal N=1000", lin);
}

criterion_group!(benches, bench);
criterion_main!(benches);
