//! The variational-inference lecture's tools: KL divergence between Gaussians in closed form
//! and by Monte Carlo, a Monte Carlo estimator of an expectation with its standard error,
//! and the two gradient estimators of d/dθ `E_q[f]` the lecture compares: the
//! reparameterisation trick and the score function (REINFORCE).
//!
//! Everything random takes `&mut impl Rng`; seed it (e.g. with
//! [`rng_for`](crate::infer::rng_for)) and the same seed gives the same estimate.

use crate::dist::{LogDensity, Normal};
use crate::error::DistError;
use crate::math::LN_SQRT_2PI;
use rand::distr::Distribution;
use rand::Rng;
use rand_distr::StandardNormal;
use std::fmt;

/// KL(q || p) between two univariate Gaussians, in closed form:
/// `ln(σp/σq) + (σq² + (μq − μp)²) / (2σp²) − 1/2`.
///
/// ```
/// use vi_runtime::dist::Normal;
/// use vi_runtime::lecture::kl_normal;
/// let q = Normal::new(0.0, 1.0)?;
/// let p = Normal::new(1.0, 2.0)?;
/// // ln 2 + (1 + 1) / 8 - 1/2
/// assert!((kl_normal(&q, &p) - (2f64.ln() - 0.25)).abs() < 1e-15);
/// assert_eq!(kl_normal(&q, &q), 0.0);
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
pub fn kl_normal(q: &Normal, p: &Normal) -> f64 {
    kl_normal_parts(q.mu(), q.sigma(), p.mu(), p.sigma())
}

/// The gradient of [`kl_normal`]`(q, p)` with respect to `(μq, σq, μp, σp)`, for
/// optimising a KL by gradient descent:
/// `((μq − μp)/σp², σq/σp² − 1/σq, −(μq − μp)/σp², 1/σp − (σq² + (μq − μp)²)/σp³)`.
///
/// ```
/// use vi_runtime::dist::Normal;
/// use vi_runtime::lecture::kl_normal_grad;
/// let p = Normal::new(1.0, 2.0)?;
/// // At q = p the KL is at its minimum: the gradient is zero.
/// assert_eq!(kl_normal_grad(&p, &p), [0.0; 4]);
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
pub fn kl_normal_grad(q: &Normal, p: &Normal) -> [f64; 4] {
    let (mq, sq, mp, sp) = (q.mu(), q.sigma(), p.mu(), p.sigma());
    let d = mq - mp;
    let vp = sp * sp;
    [
        d / vp,
        sq / vp - 1.0 / sq,
        -d / vp,
        1.0 / sp - (sq * sq + d * d) / (vp * sp),
    ]
}

#[inline]
fn kl_normal_parts(mu_q: f64, sigma_q: f64, mu_p: f64, sigma_p: f64) -> f64 {
    let r = sigma_q / sigma_p;
    let d = (mu_q - mu_p) / sigma_p;
    // ln(σp/σq) + (r² + d² − 1)/2 with r = σq/σp, d = (μq − μp)/σp.
    0.5 * (r * r - 1.0 - 2.0 * r.ln() + d * d)
}

/// A Gaussian with a diagonal covariance: independent coordinates `N(mu[i], sigma[i])`.
/// The mean-field variational family.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagNormal {
    mu: Vec<f64>,
    sigma: Vec<f64>,
}

const DIAG: &str = "DiagNormal";

impl DiagNormal {
    /// A diagonal Gaussian with means `mu` and standard deviations `sigma`.
    ///
    /// # Errors
    /// [`DistError::LengthMismatch`] when `mu` and `sigma` differ in length,
    /// [`DistError::NotFinite`] for a non-finite entry, [`DistError::NotPositive`] for a
    /// `sigma[i] <= 0`.
    pub fn new(mu: Vec<f64>, sigma: Vec<f64>) -> Result<Self, DistError> {
        if mu.len() != sigma.len() {
            return Err(DistError::LengthMismatch {
                dist: DIAG,
                lengths: vec![mu.len(), sigma.len()],
            });
        }
        for (&m, &s) in mu.iter().zip(&sigma) {
            Normal::new(m, s).map_err(|e| match e {
                DistError::NotFinite { param, value, .. } => DistError::NotFinite {
                    dist: DIAG,
                    param,
                    value,
                },
                DistError::NotPositive { param, value, .. } => DistError::NotPositive {
                    dist: DIAG,
                    param,
                    value,
                },
                other => other,
            })?;
        }
        Ok(DiagNormal { mu, sigma })
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.mu.len()
    }

    /// The means.
    pub fn mu(&self) -> &[f64] {
        &self.mu
    }

    /// The standard deviations.
    pub fn sigma(&self) -> &[f64] {
        &self.sigma
    }

    /// ln q(x); NaN when `x` has the wrong length.
    pub fn ln_density(&self, x: &[f64]) -> f64 {
        if x.len() != self.dim() {
            return f64::NAN;
        }
        x.iter()
            .zip(&self.mu)
            .zip(&self.sigma)
            .map(|((x, m), s)| {
                let z = (x - m) / s;
                -0.5 * z * z - s.ln() - LN_SQRT_2PI
            })
            .sum()
    }
}

impl Distribution<Vec<f64>> for DiagNormal {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        self.mu
            .iter()
            .zip(&self.sigma)
            .map(|(m, s)| m + s * rng.sample::<f64, _>(StandardNormal))
            .collect()
    }
}

/// KL(q || p) between two diagonal Gaussians of one dimension, in closed form: the sum of
/// the coordinates' univariate KLs.
///
/// # Errors
/// [`DistError::LengthMismatch`] when the dimensions differ.
///
/// ```
/// use vi_runtime::lecture::{kl_diag_normal, DiagNormal};
/// let q = DiagNormal::new(vec![0.0, 1.0], vec![1.0, 0.5])?;
/// let p = DiagNormal::new(vec![0.0, 0.0], vec![1.0, 1.0])?;
/// // 0 + (ln 2 + (0.25 + 1) / 2 - 1/2)
/// assert!((kl_diag_normal(&q, &p)? - (2f64.ln() + 0.125)).abs() < 1e-15);
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
pub fn kl_diag_normal(q: &DiagNormal, p: &DiagNormal) -> Result<f64, DistError> {
    if q.dim() != p.dim() {
        return Err(DistError::LengthMismatch {
            dist: DIAG,
            lengths: vec![q.dim(), p.dim()],
        });
    }
    Ok((0..q.dim())
        .map(|i| kl_normal_parts(q.mu[i], q.sigma[i], p.mu[i], p.sigma[i]))
        .sum())
}

/// A log density at a point of type `T`: univariate distributions at `f64`,
/// [`DiagNormal`] at `Vec<f64>`.
pub trait Density<T> {
    /// ln p(x).
    fn ln_pdf(&self, x: &T) -> f64;
}

impl<D: LogDensity> Density<f64> for D {
    fn ln_pdf(&self, x: &f64) -> f64 {
        self.ln_density(*x)
    }
}

impl Density<Vec<f64>> for DiagNormal {
    fn ln_pdf(&self, x: &Vec<f64>) -> f64 {
        self.ln_density(x)
    }
}

/// A Monte Carlo estimate: the sample mean of `n` draws and their sample variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The sample mean.
    pub mean: f64,
    /// The per-draw sample variance (divisor `n - 1`).
    pub variance: f64,
    /// The number of draws.
    pub n: usize,
}

impl Estimate {
    /// The standard error of the mean, `sqrt(variance / n)`.
    pub fn std_error(&self) -> f64 {
        (self.variance / self.n as f64).sqrt()
    }
}

/// Fewer than two draws asked of a Monte Carlo estimator (no variance, no standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooFewDraws {
    /// The number of draws asked for.
    pub n: usize,
}

impl fmt::Display for TooFewDraws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a Monte Carlo estimate needs at least 2 draws, got {}",
            self.n
        )
    }
}

impl std::error::Error for TooFewDraws {}

/// Running mean and variance (Welford), numerically stable in one pass.
#[derive(Default)]
struct Welford {
    n: usize,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }
    fn estimate(&self) -> Estimate {
        Estimate {
            mean: self.mean,
            variance: self.m2 / (self.n - 1) as f64,
            n: self.n,
        }
    }
}

fn enough(n: usize) -> Result<(), TooFewDraws> {
    if n < 2 {
        Err(TooFewDraws { n })
    } else {
        Ok(())
    }
}

/// The Monte Carlo estimate of `E_q[f(x)]` from `n` draws of `q`, with its standard error.
///
/// # Errors
/// [`TooFewDraws`] for `n < 2`.
///
/// ```
/// use vi_runtime::dist::Normal;
/// use vi_runtime::infer::rng_for;
/// use vi_runtime::lecture::monte_carlo;
/// let q = Normal::new(1.0, 2.0)?;
/// // E[x^2] = mu^2 + sigma^2 = 5
/// let e = monte_carlo(&q, |x: &f64| x * x, 20_000, &mut rng_for(7, 0))?;
/// assert!((e.mean - 5.0).abs() < 4.0 * e.std_error());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn monte_carlo<T, Q, R>(
    q: &Q,
    mut f: impl FnMut(&T) -> f64,
    n: usize,
    rng: &mut R,
) -> Result<Estimate, TooFewDraws>
where
    Q: Distribution<T>,
    R: Rng + ?Sized,
{
    enough(n)?;
    let mut w = Welford::default();
    for _ in 0..n {
        let x = q.sample(rng);
        w.push(f(&x));
    }
    Ok(w.estimate())
}

/// The Monte Carlo estimate of KL(q || p) = `E_q[ln q(x) − ln p(x)]` from `n` draws of `q`.
/// Works for any pair with log densities: univariate distributions, or [`DiagNormal`]s.
///
/// # Errors
/// [`TooFewDraws`] for `n < 2`.
///
/// ```
/// use vi_runtime::dist::Normal;
/// use vi_runtime::infer::rng_for;
/// use vi_runtime::lecture::{kl_monte_carlo, kl_normal};
/// let (q, p) = (Normal::new(0.0, 1.0)?, Normal::new(1.0, 2.0)?);
/// let est = kl_monte_carlo(&q, &p, 20_000, &mut rng_for(1, 0))?;
/// assert!((est.mean - kl_normal(&q, &p)).abs() < 4.0 * est.std_error());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn kl_monte_carlo<T, Q, P, R>(
    q: &Q,
    p: &P,
    n: usize,
    rng: &mut R,
) -> Result<Estimate, TooFewDraws>
where
    Q: Distribution<T> + Density<T>,
    P: Density<T>,
    R: Rng + ?Sized,
{
    monte_carlo(q, |x| q.ln_pdf(x) - p.ln_pdf(x), n, rng)
}

/// An estimate of the gradient (d/dμ, d/dσ) of `E_{N(μ, σ)}[f(x)]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientEstimate {
    /// The estimate of d/dμ.
    pub mu: Estimate,
    /// The estimate of d/dσ.
    pub sigma: Estimate,
}

/// The reparameterised (pathwise) estimator of d/d(μ, σ) `E_{N(μ, σ)}[f(x)]`: with
/// x = μ + σε, ε ~ N(0, 1), the per-draw gradient is (f'(x), f'(x) ε). Needs the
/// derivative `df` of `f`.
///
/// # Errors
/// [`TooFewDraws`] for `n < 2`.
///
/// ```
/// use vi_runtime::dist::Normal;
/// use vi_runtime::infer::rng_for;
/// use vi_runtime::lecture::reparam_gradient;
/// // f(x) = x^2: E f = mu^2 + sigma^2, gradient (2 mu, 2 sigma) = (2, 4).
/// let q = Normal::new(1.0, 2.0)?;
/// let g = reparam_gradient(&q, |x| 2.0 * x, 10_000, &mut rng_for(3, 0))?;
/// assert!((g.mu.mean - 2.0).abs() < 4.0 * g.mu.std_error());
/// assert!((g.sigma.mean - 4.0).abs() < 4.0 * g.sigma.std_error());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn reparam_gradient<R: Rng + ?Sized>(
    q: &Normal,
    mut df: impl FnMut(f64) -> f64,
    n: usize,
    rng: &mut R,
) -> Result<GradientEstimate, TooFewDraws> {
    enough(n)?;
    let (mut gm, mut gs) = (Welford::default(), Welford::default());
    for _ in 0..n {
        let eps: f64 = rng.sample(StandardNormal);
        let d = df(q.mu() + q.sigma() * eps);
        gm.push(d);
        gs.push(d * eps);
    }
    Ok(GradientEstimate {
        mu: gm.estimate(),
        sigma: gs.estimate(),
    })
}

/// The score-function (REINFORCE, likelihood-ratio) estimator of
/// d/d(μ, σ) `E_{N(μ, σ)}[f(x)]`: the per-draw gradient is f(x) ∇ ln q(x), with
/// ∂/∂μ ln q = (x − μ)/σ² and ∂/∂σ ln q = ((x − μ)² − σ²)/σ³. Needs only values of `f`,
/// and pays for it in variance.
///
/// # Errors
/// [`TooFewDraws`] for `n < 2`.
///
/// ```
/// use vi_runtime::dist::Normal;
/// use vi_runtime::infer::rng_for;
/// use vi_runtime::lecture::{reparam_gradient, score_gradient};
/// let q = Normal::new(1.0, 2.0)?;
/// let s = score_gradient(&q, |x| x * x, 10_000, &mut rng_for(3, 0))?;
/// let r = reparam_gradient(&q, |x| 2.0 * x, 10_000, &mut rng_for(3, 0))?;
/// assert!((s.mu.mean - 2.0).abs() < 4.0 * s.mu.std_error());
/// assert!(s.mu.variance > r.mu.variance);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn score_gradient<R: Rng + ?Sized>(
    q: &Normal,
    mut f: impl FnMut(f64) -> f64,
    n: usize,
    rng: &mut R,
) -> Result<GradientEstimate, TooFewDraws> {
    enough(n)?;
    let (mu, sigma) = (q.mu(), q.sigma());
    let (mut gm, mut gs) = (Welford::default(), Welford::default());
    for _ in 0..n {
        let eps: f64 = rng.sample(StandardNormal);
        let fx = f(mu + sigma * eps);
        // (x − μ)/σ² = ε/σ; ((x − μ)² − σ²)/σ³ = (ε² − 1)/σ.
        gm.push(fx * eps / sigma);
        gs.push(fx * (eps * eps - 1.0) / sigma);
    }
    Ok(GradientEstimate {
        mu: gm.estimate(),
        sigma: gs.estimate(),
    })
}
