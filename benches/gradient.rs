//! The compiled gradient of `model!` against a hand-written analytic gradient of the same
//! density, in the same run: linear regression (N = 1000, D = 5) vectorised and as a scalar
//! loop; a Bayesian neural network (one hidden layer of 50 tanh units, N = 200, D = 5) in
//! matrix form and in per-observation loop form. Target: compiled within 1.3x of hand-written.
//!
//! `cargo bench --bench gradient -- --warm-up-time 1 --measurement-time 3`

// Hand-written code indexes like the formulas it implements.
#![allow(clippy::needless_range_loop)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nalgebra::{DMatrix, DVector};
use vi::prelude::*;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

model! {
    fn linreg_vec(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        y ~ Normal(x * w + b, sigma);
    }
}

model! {
    fn linreg_loop(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        for i in 0..x.nrows() {
            let mut mu = b;
            for j in 0..x.ncols() {
                mu += x[(i, j)] * w[j];
            }
            y[i] ~ Normal(mu, sigma);
        }
    }
}

model! {
    fn bnn_matrix(x: &DMatrix<f64>, y: &DVector<f64>, h: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), h));
        let b1 ~ Normal(0.0, 1.0).iid(h);
        let w2 ~ Normal(0.0, 1.0).iid(h);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        let hidden = (x * w1 + b1.transpose()).tanh();
        y ~ Normal(hidden * w2 + b2, sigma);
    }
}

model! {
    fn bnn_loop(x: &DMatrix<f64>, y: &DVector<f64>, h: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), h));
        let b1 ~ Normal(0.0, 1.0).iid(h);
        let w2 ~ Normal(0.0, 1.0).iid(h);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        for i in 0..x.nrows() {
            let xi = x.row(i).clone_owned();
            let hidden = tanh(xi * w1 + b1.transpose());
            y[i] ~ Normal(dot(hidden, w2) + b2, sigma);
        }
    }
}

/// Hand-written linear regression, vectorised with nalgebra.
fn linreg_hand(x: &DMatrix<f64>, y: &DVector<f64>, th: &[f64], g: &mut [f64]) -> f64 {
    let d = x.ncols();
    let n = x.nrows() as f64;
    let w = DVector::from_column_slice(&th[..d]);
    let b = th[d];
    let ls = th[d + 1];
    let sigma = ls.exp();
    let inv2 = 1.0 / (sigma * sigma);
    let mut r = x * &w;
    let mut ss = 0.0;
    for (ri, yi) in r.iter_mut().zip(y.iter()) {
        let e = yi - *ri - b;
        ss += e * e;
        *ri = e * inv2;
    }
    let gw = x.tr_mul(&r);
    let mut lp = -0.5 * w.norm_squared() - d as f64 * LN_SQRT_2PI;
    lp += -0.5 * (b / 10.0).powi(2) - 10f64.ln() - LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma * sigma - LN_SQRT_2PI + ls;
    lp += -0.5 * ss * inv2 - n * (ls + LN_SQRT_2PI);
    for j in 0..d {
        g[j] = gw[j] - w[j];
    }
    g[d] = r.sum() - b / 100.0;
    g[d + 1] = ss * inv2 - n - sigma * sigma + 1.0;
    lp
}

/// Hand-written linear regression as plain loops.
fn linreg_hand_loop(x: &DMatrix<f64>, y: &DVector<f64>, th: &[f64], g: &mut [f64]) -> f64 {
    let (nr, d) = x.shape();
    let (w, b, ls) = (&th[..d], th[d], th[d + 1]);
    let sigma = ls.exp();
    let inv2 = 1.0 / (sigma * sigma);
    g.iter_mut().for_each(|v| *v = 0.0);
    let mut ss = 0.0;
    let mut gb = 0.0;
    for i in 0..nr {
        let mut mu = b;
        for j in 0..d {
            mu += x[(i, j)] * w[j];
        }
        let e = y[i] - mu;
        ss += e * e;
        let r = e * inv2;
        gb += r;
        for j in 0..d {
            g[j] += r * x[(i, j)];
        }
    }
    let mut lp = 0.0;
    for j in 0..d {
        lp += -0.5 * w[j] * w[j] - LN_SQRT_2PI;
        g[j] -= w[j];
    }
    lp += -0.5 * (b / 10.0).powi(2) - 10f64.ln() - LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma * sigma - LN_SQRT_2PI + ls;
    lp += -0.5 * ss * inv2 - nr as f64 * (ls + LN_SQRT_2PI);
    g[d] = gb - b / 100.0;
    g[d + 1] = ss * inv2 - nr as f64 - sigma * sigma + 1.0;
    lp
}

/// Hand-written network, matrix form with nalgebra.
fn bnn_hand(x: &DMatrix<f64>, y: &DVector<f64>, h: usize, th: &[f64], g: &mut [f64]) -> f64 {
    let (n, d) = x.shape();
    let nw1 = d * h;
    let w1 = DMatrix::from_row_slice(d, h, &th[..nw1]);
    let b1 = &th[nw1..nw1 + h];
    let w2 = DVector::from_column_slice(&th[nw1 + h..nw1 + 2 * h]);
    let b2 = th[nw1 + 2 * h];
    let ls = th[nw1 + 2 * h + 1];
    let sigma = ls.exp();
    let inv2 = 1.0 / (sigma * sigma);
    let mut hid = x * &w1;
    for j in 0..h {
        for v in hid.column_mut(j).iter_mut() {
            *v = (*v + b1[j]).tanh();
        }
    }
    let mut r = &hid * &w2;
    let mut ss = 0.0;
    for (ri, yi) in r.iter_mut().zip(y.iter()) {
        let e = yi - *ri - b2;
        ss += e * e;
        *ri = e * inv2;
    }
    let gw2 = hid.tr_mul(&r);
    // d/dA = (r w2^T) .* (1 - hid^2)
    let mut ga = &r * w2.transpose();
    ga.zip_apply(&hid, |a, t| *a *= 1.0 - t * t);
    let gw1 = x.tr_mul(&ga);
    let mut lp = -0.5
        * (w1.norm_squared() + w2.norm_squared() + b1.iter().map(|v| v * v).sum::<f64>() + b2 * b2)
        - (nw1 + 2 * h + 1) as f64 * LN_SQRT_2PI;
    lp += std::f64::consts::LN_2 - 0.5 * sigma * sigma - LN_SQRT_2PI + ls;
    lp += -0.5 * ss * inv2 - n as f64 * (ls + LN_SQRT_2PI);
    for i in 0..d {
        for j in 0..h {
            g[i * h + j] = gw1[(i, j)] - w1[(i, j)];
        }
    }
    for j in 0..h {
        g[nw1 + j] = ga.column(j).sum() - b1[j];
        g[nw1 + h + j] = gw2[j] - w2[j];
    }
    g[nw1 + 2 * h] = r.sum() - b2;
    g[nw1 + 2 * h + 1] = ss * inv2 - n as f64 - sigma * sigma + 1.0;
    lp
}

fn data(n: usize, d: usize) -> (DMatrix<f64>, DVector<f64>) {
    let x = DMatrix::from_fn(n, d, |i, j| ((i * 31 + j * 17) % 97) as f64 / 48.0 - 1.0);
    let y = DVector::from_fn(n, |i, _| ((i * 13) % 29) as f64 / 10.0 - 1.4);
    (x, y)
}

fn theta(dim: usize) -> Vec<f64> {
    (0..dim)
        .map(|i| ((i * 7) % 11) as f64 / 20.0 - 0.25)
        .collect()
}

fn check(name: &str, model: &impl Model, hand: impl Fn(&[f64], &mut [f64]) -> f64) {
    let th = theta(model.dim());
    let (mut g1, mut g2) = (vec![0.0; th.len()], vec![0.0; th.len()]);
    let a = model.log_density_grad(&th, &mut g1);
    let b = hand(&th, &mut g2);
    assert!((a - b).abs() < 1e-8 * (1.0 + b.abs()), "{name}: {a} vs {b}");
    for (x, y) in g1.iter().zip(&g2) {
        assert!(
            (x - y).abs() < 1e-8 * (1.0 + y.abs()),
            "{name}: gradient {x} vs {y}"
        );
    }
}

fn bench(c: &mut Criterion) {
    let (x, y) = data(1000, 5);
    let lv = linreg_vec(&x, &y).expect("valid data");
    let ll = linreg_loop(&x, &y).expect("valid data");
    check("linreg_vec", &lv, |t, g| linreg_hand(&x, &y, t, g));
    check("linreg_loop", &ll, |t, g| linreg_hand_loop(&x, &y, t, g));
    let th = theta(lv.dim());
    let mut g = vec![0.0; th.len()];
    let mut grp = c.benchmark_group("linreg N=1000 D=5");
    grp.bench_function("hand-written vectorised", |b| {
        b.iter(|| linreg_hand(&x, &y, black_box(&th), &mut g))
    });
    grp.bench_function("compiled vectorised", |b| {
        b.iter(|| lv.log_density_grad(black_box(&th), &mut g))
    });
    grp.bench_function("hand-written loop", |b| {
        b.iter(|| linreg_hand_loop(&x, &y, black_box(&th), &mut g))
    });
    grp.bench_function("compiled loop", |b| {
        b.iter(|| ll.log_density_grad(black_box(&th), &mut g))
    });
    grp.finish();

    let (x, y) = data(200, 5);
    let h = 50;
    let bm = bnn_matrix(&x, &y, h).expect("valid data");
    let bl = bnn_loop(&x, &y, h).expect("valid data");
    check("bnn_matrix", &bm, |t, g| bnn_hand(&x, &y, h, t, g));
    check("bnn_loop", &bl, |t, g| bnn_hand(&x, &y, h, t, g));
    let th = theta(bm.dim());
    let mut g = vec![0.0; th.len()];
    let mut grp = c.benchmark_group("bnn N=200 D=5 H=50");
    grp.bench_function("hand-written", |b| {
        b.iter(|| bnn_hand(&x, &y, h, black_box(&th), &mut g))
    });
    grp.bench_function("compiled matrix form", |b| {
        b.iter(|| bm.log_density_grad(black_box(&th), &mut g))
    });
    grp.bench_function("compiled loop form", |b| {
        b.iter(|| bl.log_density_grad(black_box(&th), &mut g))
    });
    grp.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
