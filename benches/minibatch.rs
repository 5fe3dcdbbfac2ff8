//! Data-subsampled VI at N = 10^6 (issue 16, item 4): the wall time of
//! `Vi::stochastic().minibatch(1000)` on a linear regression with a million rows, against
//! the cost of one full-data gradient and (with `VI_BENCH_DADVI=1`) the default
//! deterministic VI on all the rows, measured in the same run.
//!
//! `cargo bench --bench minibatch`
//!
//! Prints the best of 3 fits (each from a different seed), their iterations and full passes,
//! and the means' distance from the exact (least-squares) posterior in posterior sds.

use std::time::Instant;
use vi::prelude::*;

model! {
    fn mb_linreg(x: &DVector<f64>, y: &DVector<f64>) {
        let alpha ~ Normal(0.0, 100.0);
        let beta ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(10.0);
        y ~ Normal(alpha + beta * x, sigma);
    }
}

/// Standard normals: xorshift and Box-Muller.
fn normals(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut u = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (a, b) = (u(), u());
            (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
        })
        .collect()
}

fn main() {
    let n = 1_000_000;
    let z = normals(2 * n, 11);
    let x = DVector::from_fn(n, |i, _| 100.0 + 20.0 * z[i]);
    let y = DVector::from_fn(n, |i, _| 3.0 + 0.5 * x[i] + 2.0 * z[n + i]);
    let m = mb_linreg(&x, &y).unwrap();

    // The exact posterior means and sds of alpha and beta (least squares; see
    // tests/it/minibatch.rs).
    let nf = n as f64;
    let (xm, ym) = (x.sum() / nf, y.sum() / nf);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for i in 0..n {
        sxx += (x[i] - xm) * (x[i] - xm);
        sxy += (x[i] - xm) * (y[i] - ym);
    }
    let beta = sxy / sxx;
    let alpha = ym - beta * xm;
    let rss: f64 = (0..n).map(|i| (y[i] - alpha - beta * x[i]).powi(2)).sum();
    let s2 = rss / (nf - 3.0);
    let exact = [
        (alpha, (s2 * (1.0 / nf + xm * xm / sxx)).sqrt()),
        (beta, (s2 / sxx).sqrt()),
    ];

    // Baseline: one full-data gradient (best of 20).
    let th = [alpha, beta, 0.5 * s2.ln()];
    let mut g = [0.0; 3];
    let mut best_grad = f64::INFINITY;
    for _ in 0..20 {
        let t = Instant::now();
        std::hint::black_box(m.log_density_grad(&th, &mut g));
        best_grad = best_grad.min(t.elapsed().as_secs_f64());
    }
    println!("full-data gradient, N = {n}: {:.2} ms", best_grad * 1e3);

    let mut best = f64::INFINITY;
    for seed in 1..=3 {
        let t = Instant::now();
        let fit = Vi::stochastic()
            .minibatch(1000)
            .seed(seed)
            .draws(100)
            .progress(false)
            .fit(&m)
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        best = best.min(secs);
        let Diagnostics::Vi(d) = fit.diagnostics() else {
            unreachable!()
        };
        let mb = d.minibatch.as_ref().unwrap();
        let off: Vec<String> = exact
            .iter()
            .enumerate()
            .map(|(k, (m, s))| format!("{:+.3}", (d.mean[k] - m) / s))
            .collect();
        println!(
            "minibatch(1000), seed {seed}: {secs:.2} s, {} iterations, {} full passes, \
             converged {}, means off by [{}] posterior sds",
            d.iterations,
            mb.full_passes,
            d.converged,
            off.join(", ")
        );
    }
    println!(
        "minibatch VI fit at N = {n}: best {best:.2} s = {:.0} full-data gradients",
        best / best_grad
    );
    if std::env::var("VI_BENCH_DADVI").is_ok() {
        let t = Instant::now();
        let fit = Vi::default().seed(1).draws(100).fit(&m).unwrap();
        let Diagnostics::Vi(d) = fit.diagnostics() else {
            unreachable!()
        };
        println!(
            "deterministic VI (DADVI) on all rows: {:.2} s, {} gradients",
            t.elapsed().as_secs_f64(),
            d.gradient_evaluations
        );
    }
}
