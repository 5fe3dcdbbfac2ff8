//! NUTS wall time and effective samples per second on hand-written models.
//!
//! `cargo bench --bench nuts -- --warm-up-time 1 --measurement-time 5`
//!
//! Criterion times whole fits (CmdStan's defaults: 4 chains of 1000 warmup + 1000 draws, in
//! parallel threads). Before timing, one fit per model prints its bulk and tail ESS (the
//! minimum over parameters) and ESS per second of wall time, the figure to compare with
//! other samplers.

use criterion::{criterion_group, criterion_main, Criterion};
use rand::Rng as _;
use rand_distr::StandardNormal;
use vi::infer::rng_for;
use vi::{Diagnostics, Model, Nuts, ParamLayout, Posterior, Transform};

/// Bayesian linear regression with known noise, written by hand as a user would:
/// w ~ Normal(0, 1) iid, y ~ Normal(X w, sigma); X is N x D, row-major.
struct LinReg {
    x: Vec<f64>,
    y: Vec<f64>,
    n: usize,
    d: usize,
    sigma: f64,
    layout: ParamLayout,
}

impl LinReg {
    /// N rows, D standard normal covariates, weights 1, -1, 0.5, 2, -0.3, noise sd 0.5.
    fn synthetic(n: usize, d: usize, seed: u64) -> Self {
        let mut rng = rng_for(seed, 0);
        let x: Vec<f64> = (0..n * d).map(|_| rng.sample(StandardNormal)).collect();
        let w: Vec<f64> = (0..d).map(|j| [1.0, -1.0, 0.5, 2.0, -0.3][j % 5]).collect();
        let sigma = 0.5;
        let y = (0..n)
            .map(|i| {
                let mu: f64 = (0..d).map(|j| x[i * d + j] * w[j]).sum();
                mu + sigma * rng.sample::<f64, _>(StandardNormal)
            })
            .collect();
        let mut layout = ParamLayout::new();
        layout.push("w", vec![d], Transform::Identity);
        LinReg {
            x,
            y,
            n,
            d,
            sigma,
            layout,
        }
    }
}

impl Model for LinReg {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
        let inv_s2 = 1.0 / (self.sigma * self.sigma);
        let mut lp = 0.0;
        for (g, w) in grad.iter_mut().zip(theta) {
            *g = -w;
            lp -= 0.5 * w * w;
        }
        for i in 0..self.n {
            let row = &self.x[i * self.d..(i + 1) * self.d];
            let r = self.y[i] - row.iter().zip(theta).map(|(a, b)| a * b).sum::<f64>();
            lp -= 0.5 * r * r * inv_s2;
            for (g, a) in grad.iter_mut().zip(row) {
                *g += a * r * inv_s2;
            }
        }
        lp
    }
}

/// Coin toss: p ~ Beta(2, 3), 7 heads in 10 tosses; on the logit scale with its Jacobian.
struct CoinToss(ParamLayout);

impl Model for CoinToss {
    fn layout(&self) -> &ParamLayout {
        &self.0
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
        // Posterior Beta(9, 6) times the Jacobian p (1 - p): p^9 (1 - p)^6 in y = logit p.
        let y = theta[0];
        let p = 1.0 / (1.0 + (-y).exp());
        let (ln_p, ln_q) = (-(-y).exp().ln_1p(), -y.exp().ln_1p());
        grad[0] = 9.0 * (1.0 - p) - 6.0 * p;
        9.0 * ln_p + 6.0 * ln_q
    }
}

fn report(name: &str, post: &Posterior) {
    let Diagnostics::Nuts(d) = post.diagnostics() else {
        unreachable!("a NUTS fit")
    };
    let secs = d.elapsed.as_secs_f64();
    let bulk = d
        .params
        .iter()
        .map(|p| p.ess_bulk)
        .fold(f64::INFINITY, f64::min);
    let tail = d
        .params
        .iter()
        .map(|p| p.ess_tail)
        .fold(f64::INFINITY, f64::min);
    let grads: usize = d
        .chains
        .iter()
        .flat_map(|c| c.sampler.iter().map(|s| s.n_leapfrog))
        .sum();
    println!(
        "{name}: {secs:.3} s, min bulk ESS {bulk:.0} ({:.0}/s), min tail ESS {tail:.0} ({:.0}/s), \
         {grads} gradients after warmup, step sizes {:?}, divergences {}",
        bulk / secs,
        tail / secs,
        d.step_sizes()
            .iter()
            .map(|e| (e * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        d.total_divergences()
    );
}

fn bench(c: &mut Criterion) {
    let linreg = LinReg::synthetic(1000, 5, 1);
    let mut coin_layout = ParamLayout::new();
    coin_layout.push("p", vec![], Transform::UNIT);
    let coin = CoinToss(coin_layout);

    let nuts = Nuts::default().seed(1);
    report(
        "linreg N=1000 D=5, 4 chains",
        &nuts.clone().fit(&linreg).unwrap(),
    );
    report(
        "linreg N=1000 D=5, 4 chains, 1 thread",
        &nuts.clone().threads(1).fit(&linreg).unwrap(),
    );
    report("coin toss, 4 chains", &nuts.clone().fit(&coin).unwrap());

    let mut g = c.benchmark_group("nuts");
    g.sample_size(10);
    g.bench_function("linreg_n1000_d5_4x1000", |b| {
        b.iter(|| nuts.clone().fit(&linreg).unwrap())
    });
    g.bench_function("coin_toss_4x1000", |b| {
        b.iter(|| nuts.clone().fit(&coin).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
