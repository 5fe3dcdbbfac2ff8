//! Hand-written models with exact posteriors, shared by the engines' tests.
#![allow(dead_code)]

use nalgebra::{DMatrix, DVector};
use vi_runtime::{Model, ParamLayout, Transform};

fn layout(params: &[(&str, usize, Transform)]) -> ParamLayout {
    let mut l = ParamLayout::new();
    for (name, n, t) in params {
        l.push(*name, if *n == 0 { vec![] } else { vec![*n] }, *t);
    }
    l
}

/// ln Beta(a, b) by the gamma function (small integer-ish arguments only in these tests).
fn ln_beta(a: f64, b: f64) -> f64 {
    libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b)
}

/// Coin toss: p ~ Beta(a, b); `heads` of `n` tosses ~ Bernoulli(p).
/// Exact posterior: Beta(a + heads, b + n - heads).
pub struct CoinToss {
    pub a: f64,
    pub b: f64,
    pub heads: f64,
    pub n: f64,
    layout: ParamLayout,
}

impl CoinToss {
    pub fn new(a: f64, b: f64, heads: u32, n: u32) -> Self {
        CoinToss {
            a,
            b,
            heads: heads as f64,
            n: n as f64,
            layout: layout(&[("p", 0, Transform::UNIT)]),
        }
    }
    /// Posterior (alpha, beta).
    pub fn posterior(&self) -> (f64, f64) {
        (self.a + self.heads, self.b + self.n - self.heads)
    }
    /// Exact log evidence: ln B(a + h, b + n - h) - ln B(a, b).
    pub fn log_evidence(&self) -> f64 {
        let (pa, pb) = self.posterior();
        ln_beta(pa, pb) - ln_beta(self.a, self.b)
    }
}

impl Model for CoinToss {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], jacobian: bool) -> f64 {
        let y = theta[0];
        let p = 1.0 / (1.0 + (-y).exp());
        let (ln_p, ln_q) = (-(-y).exp().ln_1p(), -y.exp().ln_1p());
        let (pa, pb) = self.posterior();
        // Beta prior (normalised) times the Bernoulli likelihood.
        let mut lp = (pa - 1.0) * ln_p + (pb - 1.0) * ln_q - ln_beta(self.a, self.b);
        // d/dy: ln p' = 1 - p, ln(1-p)' = -p.
        let mut g = (pa - 1.0) * (1.0 - p) - (pb - 1.0) * p;
        if jacobian {
            lp += ln_p + ln_q;
            g += 1.0 - 2.0 * p;
        }
        grad[0] = g;
        lp
    }
}

/// Gamma-Poisson: lambda ~ Gamma(alpha, beta) (rate), counts ~ Poisson(lambda).
/// Exact posterior: Gamma(alpha + sum, beta + n).
pub struct GammaPoisson {
    pub alpha: f64,
    pub beta: f64,
    pub counts: Vec<u32>,
    layout: ParamLayout,
}

impl GammaPoisson {
    pub fn new(alpha: f64, beta: f64, counts: Vec<u32>) -> Self {
        GammaPoisson {
            alpha,
            beta,
            counts,
            layout: layout(&[("lambda", 0, Transform::POSITIVE)]),
        }
    }
    /// Posterior (shape, rate).
    pub fn posterior(&self) -> (f64, f64) {
        let s: u32 = self.counts.iter().sum();
        (self.alpha + s as f64, self.beta + self.counts.len() as f64)
    }
}

impl Model for GammaPoisson {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], jacobian: bool) -> f64 {
        let y = theta[0];
        let lambda = y.exp();
        let (shape, rate) = self.posterior();
        // Unnormalised: (shape - 1) ln lambda - rate lambda; d/dy via dlambda/dy = lambda.
        let mut lp = (shape - 1.0) * y - rate * lambda;
        let mut g = (shape - 1.0) - rate * lambda;
        if jacobian {
            lp += y;
            g += 1.0;
        }
        grad[0] = g;
        lp
    }
}

/// Normal mean with known sigma: mu ~ Normal(mu0, tau0), y ~ Normal(mu, sigma).
/// Exact posterior: Normal with precision 1/tau0^2 + n/sigma^2.
pub struct NormalMean {
    pub y: Vec<f64>,
    pub sigma: f64,
    pub mu0: f64,
    pub tau0: f64,
    layout: ParamLayout,
}

impl NormalMean {
    pub fn new(y: Vec<f64>, sigma: f64, mu0: f64, tau0: f64) -> Self {
        NormalMean {
            y,
            sigma,
            mu0,
            tau0,
            layout: layout(&[("mu", 0, Transform::Identity)]),
        }
    }
    /// Posterior (mean, sd).
    pub fn posterior(&self) -> (f64, f64) {
        let prec = 1.0 / (self.tau0 * self.tau0) + self.y.len() as f64 / (self.sigma * self.sigma);
        let s: f64 = self.y.iter().sum();
        let mean = (self.mu0 / (self.tau0 * self.tau0) + s / (self.sigma * self.sigma)) / prec;
        (mean, prec.sqrt().recip())
    }
}

impl Model for NormalMean {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
        let mu = theta[0];
        let zp = (mu - self.mu0) / self.tau0;
        let mut lp = -0.5 * zp * zp;
        let mut g = -zp / self.tau0;
        for &yi in &self.y {
            let z = (yi - mu) / self.sigma;
            lp -= 0.5 * z * z;
            g += z / self.sigma;
        }
        grad[0] = g;
        lp
    }
}

/// Bayesian linear regression with known noise: w ~ Normal(0, tau) iid, y ~ Normal(X w, sigma).
/// Exact posterior: Normal(m, S), S = (X'X / sigma^2 + I / tau^2)^-1, m = S X'y / sigma^2.
pub struct LinRegKnownNoise {
    pub x: DMatrix<f64>,
    pub y: DVector<f64>,
    pub sigma: f64,
    pub tau: f64,
    layout: ParamLayout,
}

impl LinRegKnownNoise {
    pub fn new(x: DMatrix<f64>, y: DVector<f64>, sigma: f64, tau: f64) -> Self {
        let d = x.ncols();
        LinRegKnownNoise {
            x,
            y,
            sigma,
            tau,
            layout: layout(&[("w", d, Transform::Identity)]),
        }
    }
    /// The posterior precision matrix X'X / sigma^2 + I / tau^2.
    pub fn precision(&self) -> DMatrix<f64> {
        let d = self.x.ncols();
        self.x.transpose() * &self.x / (self.sigma * self.sigma)
            + DMatrix::identity(d, d) / (self.tau * self.tau)
    }
    /// Posterior (mean, covariance).
    pub fn posterior(&self) -> (DVector<f64>, DMatrix<f64>) {
        let cov = self
            .precision()
            .try_inverse()
            .expect("precision is positive definite");
        let mean = &cov * self.x.transpose() * &self.y / (self.sigma * self.sigma);
        (mean, cov)
    }
    /// A seeded synthetic data set: N rows, D columns, true weights 1, -1, 0.5, ...
    pub fn synthetic(n: usize, d: usize, sigma: f64, seed: u64) -> Self {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let x = DMatrix::from_fn(n, d, |_, _| {
            rng.sample::<f64, _>(rand_distr::StandardNormal)
        });
        let w = DVector::from_fn(d, |i, _| [1.0, -1.0, 0.5, 2.0, -0.3][i % 5]);
        let noise = DVector::from_fn(n, |_, _| {
            sigma * rng.sample::<f64, _>(rand_distr::StandardNormal)
        });
        let y = &x * w + noise;
        Self::new(x, y, sigma, 1.0)
    }
}

impl Model for LinRegKnownNoise {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
        let w = DVector::from_column_slice(theta);
        let r = &self.y - &self.x * &w;
        let s2 = self.sigma * self.sigma;
        let t2 = self.tau * self.tau;
        let lp = -0.5 * r.norm_squared() / s2 - 0.5 * w.norm_squared() / t2;
        let g = self.x.transpose() * r / s2 - w / t2;
        grad.copy_from_slice(g.as_slice());
        lp
    }
}

/// A bivariate normal with unit variances and correlation `rho`: hard for mean-field VI.
pub struct Correlated {
    pub rho: f64,
    layout: ParamLayout,
}

impl Correlated {
    pub fn new(rho: f64) -> Self {
        Correlated {
            rho,
            layout: layout(&[("z", 2, Transform::Identity)]),
        }
    }
}

impl Model for Correlated {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
        let (a, b) = (theta[0], theta[1]);
        let k = 1.0 / (1.0 - self.rho * self.rho);
        grad[0] = -k * (a - self.rho * b);
        grad[1] = -k * (b - self.rho * a);
        -0.5 * k * (a * a - 2.0 * self.rho * a * b + b * b)
    }
}

/// Neal's funnel: v ~ Normal(0, 3), x_i ~ Normal(0, exp(v / 2)), i = 1..n.
pub struct Funnel {
    pub n: usize,
    layout: ParamLayout,
}

impl Funnel {
    pub fn new(n: usize) -> Self {
        Funnel {
            n,
            layout: layout(&[("v", 0, Transform::Identity), ("x", n, Transform::Identity)]),
        }
    }
}

impl Model for Funnel {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
        let v = theta[0];
        let mut lp = -v * v / 18.0;
        grad[0] = -v / 9.0;
        let inv_var = (-v).exp();
        for i in 0..self.n {
            let x = theta[1 + i];
            // ln Normal(x | 0, e^{v/2}) = -v/2 - x^2 e^{-v} / 2 + const
            lp += -0.5 * v - 0.5 * x * x * inv_var;
            grad[0] += -0.5 + 0.5 * x * x * inv_var;
            grad[1 + i] = -x * inv_var;
        }
        lp
    }
}

#[test]
fn hand_written_gradients_match_finite_differences() {
    use vi_runtime::check::gradient_mismatch;
    let models: Vec<Box<dyn Model>> = vec![
        Box::new(CoinToss::new(2.0, 3.0, 7, 10)),
        Box::new(GammaPoisson::new(2.0, 1.0, vec![3, 1, 4, 1, 5])),
        Box::new(NormalMean::new(vec![0.5, 1.5, -0.2], 1.3, 0.0, 2.0)),
        Box::new(LinRegKnownNoise::synthetic(20, 3, 0.5, 1)),
        Box::new(Correlated::new(0.9)),
        Box::new(Funnel::new(3)),
    ];
    for (k, m) in models.iter().enumerate() {
        for jac in [true, false] {
            let theta: Vec<f64> = (0..m.dim()).map(|i| 0.3 * i as f64 - 0.4).collect();
            let mut g = vec![0.0; m.dim()];
            m.log_density_grad_jac(&theta, &mut g, jac);
            let f = |t: &[f64]| m.log_density_grad_jac(t, &mut vec![0.0; t.len()], jac);
            assert_eq!(gradient_mismatch(f, &g, &theta, 1e-6), None, "model {k}");
        }
    }
}
