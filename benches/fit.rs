//! Wall time of VI and Laplace fits on hand-written models.
//!
//! `cargo bench --bench fit -- --warm-up-time 1 --measurement-time 5`
//!
//! Criterion times whole fits with default settings (VI: Stan's ADVI defaults, 1000 draws;
//! Laplace: L-BFGS, finite-difference Hessian, 1000 draws). Before timing, one fit per model
//! prints what the fit did (iterations, step size, k-hat), so the figures can be read per step.

use criterion::{criterion_group, criterion_main, Criterion};
use rand::Rng as _;
use rand_distr::StandardNormal;
use vi::infer::rng_for;
use vi::{Diagnostics, Laplace, Model, ParamLayout, Posterior, Transform, Vi};

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

/// Coin toss: p ~ Beta(2, 3), 7 heads in 10 tosses; on the logit scale, with its Jacobian
/// when asked.
struct CoinToss(ParamLayout);

impl Model for CoinToss {
    fn layout(&self) -> &ParamLayout {
        &self.0
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], jacobian: bool) -> f64 {
        // Beta(9, 6) kernel p^8 (1 - p)^5, times the Jacobian p (1 - p).
        let y = theta[0];
        let p = 1.0 / (1.0 + (-y).exp());
        let (ln_p, ln_q) = (-(-y).exp().ln_1p(), -y.exp().ln_1p());
        let (a, b) = if jacobian { (9.0, 6.0) } else { (8.0, 5.0) };
        grad[0] = a * (1.0 - p) - b * p;
        a * ln_p + b * ln_q
    }
}

fn report(name: &str, post: &Posterior, secs: f64) {
    match post.diagnostics() {
        Diagnostics::Vi(d) => println!(
            "{name}: {secs:.4} s, {} iterations after the eta search (eta = {}), converged {}, \
             ELBO {:.3}, k-hat {:.2} ({})",
            d.iterations, d.eta, d.converged, d.elbo, d.khat, d.reliability
        ),
        Diagnostics::Laplace(d) => println!(
            "{name}: {secs:.4} s, {} L-BFGS iterations, gradient norm {:.1e}, \
             log evidence {:.3}, k-hat {:.2} ({})",
            d.iterations, d.grad_norm, d.log_evidence, d.khat, d.reliability
        ),
        Diagnostics::Nuts(_) => unreachable!("VI or Laplace"),
    }
}

fn timed(name: &str, fit: impl Fn() -> Posterior) {
    let t = std::time::Instant::now();
    let post = fit();
    report(name, &post, t.elapsed().as_secs_f64());
}

fn bench(c: &mut Criterion) {
    let linreg = LinReg::synthetic(1000, 5, 1);
    let mut coin_layout = ParamLayout::new();
    coin_layout.push("p", vec![], Transform::UNIT);
    let coin = CoinToss(coin_layout);
    let vi = Vi::default().seed(1);
    let laplace = Laplace::default().seed(1);
    let vi_10k = Vi::default()
        .seed(1)
        .tolerance(1e-12)
        .max_iterations(10_000)
        .draws(100);

    timed("VI linreg N=1000 D=5", || vi.fit(&linreg).unwrap());
    timed("VI linreg N=1000 D=5, 10,000 steps", || {
        vi_10k.fit(&linreg).unwrap()
    });
    timed("Laplace linreg N=1000 D=5", || {
        laplace.fit(&linreg).unwrap()
    });
    timed("VI coin toss", || vi.fit(&coin).unwrap());
    timed("Laplace coin toss", || laplace.fit(&coin).unwrap());

    let mut g = c.benchmark_group("fit");
    g.bench_function("vi/linreg_n1000_d5", |b| {
        b.iter(|| vi.fit(&linreg).unwrap())
    });
    g.bench_function("vi/linreg_n1000_d5_10k_steps", |b| {
        b.iter(|| vi_10k.fit(&linreg).unwrap())
    });
    g.bench_function("laplace/linreg_n1000_d5", |b| {
        b.iter(|| laplace.fit(&linreg).unwrap())
    });
    g.bench_function("vi/coin_toss", |b| b.iter(|| vi.fit(&coin).unwrap()));
    g.bench_function("laplace/coin_toss", |b| {
        b.iter(|| laplace.fit(&coin).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
