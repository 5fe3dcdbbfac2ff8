//! Vector state written element by element in a loop: a non-centred random walk,
//! `z[t] = z[t - 1] + sigma * eps[t]`, observed with noise, at T = 100, 1000 and 10000. The
//! gradient compiled by `model!` against a hand-written analytic gradient of the same density,
//! in the same run (the bench first checks that both give the same value and gradient).
//!
//! `model!` writes `z` in place and keeps one undo-log entry per write, so the compiled
//! gradient's cost is linear in T. `compiled, copying` is the same density with, after the
//! loop, an `if` on data (never taken) that assigns `z` as a whole: `z` after the `if` is
//! then either a new value or the one written in place, so it cannot live in one vector, and
//! the macro falls back to a new vector per write and a copy of `z` saved per iteration for
//! the reverse sweep, quadratic in T: the cost of every element write before in-place writes
//! (run at T <= 1000 only: at T = 10000 the copies saved would take 800 MB).
//!
//! `cargo bench --bench state -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use vi::prelude::*;

mod common;
use common::{check, theta};

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

model! {
    fn random_walk(y: &[f64]) {
        let sigma ~ HalfNormal(1.0);
        let s ~ HalfNormal(1.0);
        let eps ~ Normal(0.0, 1.0).iid(y.len());
        let mut z = DVector::zeros(y.len());
        z[0] = sigma * eps[0];
        for t in 1..y.len() {
            z[t] = z[t - 1] + sigma * eps[t];
        }
        y ~ Normal(z, s);
    }
}

model! {
    fn random_walk_copying(y: &[f64]) {
        let sigma ~ HalfNormal(1.0);
        let s ~ HalfNormal(1.0);
        let eps ~ Normal(0.0, 1.0).iid(y.len());
        let mut z = DVector::zeros(y.len());
        z[0] = sigma * eps[0];
        for t in 1..y.len() {
            z[t] = z[t - 1] + sigma * eps[t];
        }
        if y.is_empty() {
            z = z * 1.0;
        }
        y ~ Normal(z, s);
    }
}

/// The random walk's log density (with the log-Jacobians of `sigma` and `s`) and gradient on
/// the unconstrained scale: `theta = (ln sigma, ln s, eps)`.
fn random_walk_hand(y: &[f64], th: &[f64], g: &mut [f64]) -> f64 {
    let n = y.len();
    let (lsig, ls) = (th[0], th[1]);
    let (sigma, s) = (lsig.exp(), ls.exp());
    let eps = &th[2..];
    let inv2 = 1.0 / (s * s);
    // Forward: z_t = sigma * c_t with c_t the running sum of eps; r_t = (y_t - z_t) / s^2.
    let (mut c, mut ss, mut rc, mut ee) = (0.0, 0.0, 0.0, 0.0);
    for t in 0..n {
        c += eps[t];
        ee += eps[t] * eps[t];
        let e = y[t] - sigma * c;
        ss += e * e;
        let r = e * inv2;
        g[2 + t] = r;
        rc += r * c;
    }
    // d/d eps_k = -eps_k + sigma * sum_{t >= k} r_t.
    let mut acc = 0.0;
    for t in (0..n).rev() {
        acc += g[2 + t];
        g[2 + t] = sigma * acc - eps[t];
    }
    let nf = n as f64;
    let mut lp = 2.0 * (std::f64::consts::LN_2 - LN_SQRT_2PI) - 0.5 * (sigma * sigma + s * s);
    lp += lsig + ls;
    lp += -0.5 * ee - nf * LN_SQRT_2PI;
    lp += -0.5 * ss * inv2 - nf * (ls + LN_SQRT_2PI);
    g[0] = (rc - sigma) * sigma + 1.0;
    g[1] = ss * inv2 - nf - s * s + 1.0;
    lp
}

fn data(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 13) % 29) as f64 / 10.0 - 1.4 + (i as f64).sqrt() * 0.1)
        .collect()
}

fn bench(c: &mut Criterion) {
    for n in [100, 1000, 10000] {
        let y = data(n);
        let m = random_walk(&y).expect("valid data");
        check("random_walk", &m, |t, g| random_walk_hand(&y, t, g));
        let copying = (n <= 1000).then(|| random_walk_copying(&y).expect("valid data"));
        if let Some(mc) = &copying {
            check("random_walk_copying", mc, |t, g| random_walk_hand(&y, t, g));
        }
        let th = theta(m.dim());
        let mut g = vec![0.0; th.len()];
        let mut grp = c.benchmark_group(format!("random walk T={n}"));
        grp.bench_function("hand-written", |b| {
            b.iter(|| random_walk_hand(&y, black_box(&th), &mut g))
        });
        grp.bench_function("compiled", |b| {
            b.iter(|| m.log_density_grad(black_box(&th), &mut g))
        });
        if let Some(mc) = &copying {
            grp.bench_function("compiled, copying", |b| {
                b.iter(|| mc.log_density_grad(black_box(&th), &mut g))
            });
        }
        grp.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
