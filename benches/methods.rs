//! Wall time of each method (VI, Laplace, NUTS) on models written with `model!`: coin toss,
//! linear regression (N=1000, D=5) and a one-hidden-layer network (50 tanh units, N=200),
//! and NUTS effective samples per second.
//!
//! `cargo bench --bench methods -- --warm-up-time 1 --measurement-time 5`
//!
//! Before criterion's timings, one fit of each (model, method) prints what it did
//! (iterations, step size, k-hat, ESS/s), so the figures can be read per step. NUTS on the
//! network are only timed once (a fit takes seconds); NUTS there runs 4 chains of 300 + 300
//! iterations with tree depth at most 8.

use criterion::{criterion_group, criterion_main, Criterion};
use rand::Rng as _;
use rand_distr::StandardNormal;
use std::time::Instant;
use vi::infer::rng_for;
use vi::prelude::*;

model! {
    /// Beta-Bernoulli coin toss.
    fn coin_toss(y: &[bool]) {
        let p ~ Beta(1.0, 1.0);
        y ~ Bernoulli(p);
    }
}

model! {
    /// Bayesian linear regression, vectorised.
    fn linear_regression(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        y ~ Normal(x * w + b, sigma);
    }
}

model! {
    /// One hidden layer of tanh units.
    fn bnn(x: &DMatrix<f64>, y: &DVector<f64>, hidden: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), hidden));
        let b1 ~ Normal(0.0, 1.0).iid(hidden);
        let w2 ~ Normal(0.0, 1.0).iid(hidden);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(0.5);
        let h = (x * w1 + b1.transpose()).tanh();
        y ~ Normal(h * w2 + b2, sigma);
    }
}

fn normal(rng: &mut vi::infer::Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// 100 tosses, 30 heads.
fn coin_data() -> Vec<bool> {
    (0..100).map(|i| i % 10 < 3).collect()
}

/// N x D standard normal covariates, weights 1, -1, 0.5, 2, -0.3, intercept 0.5, noise 0.5.
fn linreg_data(n: usize, d: usize) -> (DMatrix<f64>, DVector<f64>) {
    let mut rng = rng_for(1, 0);
    let x = DMatrix::from_fn(n, d, |_, _| normal(&mut rng));
    let w = DVector::from_fn(d, |j, _| [1.0, -1.0, 0.5, 2.0, -0.3][j % 5]);
    let noise = DVector::from_fn(n, |_, _| 0.5 * normal(&mut rng));
    let y = &x * w + noise.add_scalar(0.5);
    (x, y)
}

/// N inputs in [-3, 3], y = sin(x) + noise 0.1.
fn bnn_data(n: usize) -> (DMatrix<f64>, DVector<f64>) {
    let mut rng = rng_for(2, 0);
    let x = DMatrix::from_fn(n, 1, |i, _| -3.0 + 6.0 * i as f64 / (n - 1) as f64);
    let y = DVector::from_fn(n, |i, _| x[(i, 0)].sin() + 0.1 * normal(&mut rng));
    (x, y)
}

/// One fit, timed, and a line on what it did.
fn report(name: &str, fit: impl FnOnce() -> Result<Posterior, FitError>) {
    let t = Instant::now();
    let post = fit();
    let secs = t.elapsed().as_secs_f64();
    let post = match post {
        Ok(p) => p,
        Err(e) => {
            println!("{name}: {secs:.4} s, failed: {e}");
            return;
        }
    };
    match post.diagnostics() {
        Diagnostics::Vi(d) => println!(
            "{name}: {secs:.4} s, {} iterations after the eta search (eta = {}), converged {}, \
             k-hat {:.2} ({})",
            d.iterations, d.eta.unwrap_or(f64::NAN), d.converged, d.khat, d.reliability
        ),
        Diagnostics::Laplace(d) => println!(
            "{name}: {secs:.4} s, {} L-BFGS iterations, log evidence {:.3}, k-hat {:.2} ({})",
            d.iterations, d.log_evidence, d.khat, d.reliability
        ),
        Diagnostics::Nuts(d) => {
            let min = |f: fn(&vi::ParamDiagnostics) -> f64| {
                d.params.iter().map(f).fold(f64::INFINITY, f64::min)
            };
            let (bulk, tail) = (min(|p| p.ess_bulk), min(|p| p.ess_tail));
            println!(
                "{name}: {secs:.3} s, min bulk ESS {bulk:.0} ({:.0}/s), min tail ESS {tail:.0} \
                 ({:.0}/s), divergences {}, max R-hat {:.3}",
                bulk / secs,
                tail / secs,
                d.total_divergences(),
                d.params.iter().map(|p| p.rhat).fold(0.0, f64::max)
            );
        }
    }
}

fn bench(c: &mut Criterion) {
    let y_coin = coin_data();
    let coin = coin_toss(&y_coin).expect("valid data");
    let (x, y) = linreg_data(1000, 5);
    let linreg = linear_regression(&x, &y).expect("valid data");
    let (xb, yb) = bnn_data(200);
    let net = bnn(&xb, &yb, 50).expect("valid data");

    let vi = Vi::default().seed(1).progress(false);
    let laplace = Laplace::default().seed(1);
    let nuts = Nuts::default().seed(1).progress(false);
    let nuts_net = nuts.clone().warmup(300).draws(300).max_depth(8);

    report("coin toss / VI", || vi.fit(&coin));
    report("coin toss / Laplace", || laplace.fit(&coin));
    report("coin toss / NUTS 4x1000", || nuts.fit(&coin));
    report("linreg N=1000 D=5 / VI", || vi.fit(&linreg));
    report("linreg N=1000 D=5 / Laplace", || laplace.fit(&linreg));
    report("linreg N=1000 D=5 / NUTS 4x1000", || nuts.fit(&linreg));
    report("BNN H=50 N=200 / VI", || vi.fit(&net));
    report("BNN H=50 N=200 / Laplace", || laplace.fit(&net));
    report("BNN H=50 N=200 / NUTS 4x300, depth 8", || {
        nuts_net.fit(&net)
    });

    let mut g = c.benchmark_group("fit");
    g.sample_size(10);
    g.bench_function("coin_toss/vi", |b| b.iter(|| vi.fit(&coin)));
    g.bench_function("coin_toss/laplace", |b| b.iter(|| laplace.fit(&coin)));
    g.bench_function("coin_toss/nuts_4x1000", |b| b.iter(|| nuts.fit(&coin)));
    g.bench_function("linreg_n1000_d5/vi", |b| b.iter(|| vi.fit(&linreg)));
    g.bench_function("linreg_n1000_d5/laplace", |b| {
        b.iter(|| laplace.fit(&linreg))
    });
    g.bench_function("linreg_n1000_d5/nuts_4x1000", |b| {
        b.iter(|| nuts.fit(&linreg))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
