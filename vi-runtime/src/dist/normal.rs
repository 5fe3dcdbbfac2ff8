//! Normal(mu, sigma).

use super::scalar::{Kernel, Memo};
use super::{
    acc, at, broadcast_len, check_each, finite, positive, sample_lens_ok, ArgError, Cdf, Hoisted,
    LogDensity, Support,
};
use crate::ad::kernels::{combine, lanes, LANES};
use crate::error::DistError;
use crate::math::LN_SQRT_2PI;
use rand::Rng;

const NAME: &str = "Normal";

/// The normal distribution with mean `mu` and standard deviation `sigma`.
///
/// ```
/// use vi_runtime::dist::{LogDensity, Normal};
/// let n = Normal::new(1.0, 2.0)?;
/// // scipy.stats.norm(1, 2).logpdf(0) = -1.737085713764618
/// assert!((n.ln_density(0.0) + 1.737_085_713_764_618).abs() < 1e-12);
/// assert!(Normal::new(0.0, -1.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normal {
    mu: f64,
    sigma: f64,
}

impl Normal {
    /// A normal distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `mu` or `sigma`, [`DistError::NotPositive`]
    /// for `sigma <= 0`.
    pub fn new(mu: f64, sigma: f64) -> Result<Self, DistError> {
        finite(NAME, "mu", mu)?;
        positive(NAME, "sigma", sigma)?;
        Ok(Normal { mu, sigma })
    }

    /// The mean.
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// The standard deviation.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl LogDensity for Normal {
    fn ln_density(&self, x: f64) -> f64 {
        let z = (x - self.mu) / self.sigma;
        -0.5 * z * z - self.sigma.ln() - LN_SQRT_2PI
    }

    fn support(&self) -> Support {
        Support::Real
    }
}

impl Cdf for Normal {
    fn cdf(&self, x: f64) -> f64 {
        0.5 * libm::erfc(-(x - self.mu) / (self.sigma * std::f64::consts::SQRT_2))
    }
}

impl rand::distr::Distribution<f64> for Normal {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        self.mu + self.sigma * z
    }
}

/// Sum over the broadcast elements of ln Normal(y | mu, sigma), adding partials into the
/// given buffers. Returns NaN when the lengths do not broadcast or a `sigma` is not positive.
/// Above [`threads::MIN_ROWS`](crate::threads::MIN_ROWS) elements, runs in chunks of rows on
/// several threads, with the same result on any number of threads. Runs at the [`simd::level`](crate::simd::level) chosen at start-up.
pub fn lpdf(
    y: &[f64],
    mu: &[f64],
    sigma: &[f64],
    dy: Option<&mut [f64]>,
    dmu: Option<&mut [f64]>,
    dsigma: Option<&mut [f64]>,
) -> f64 {
    // Above `threads::MIN_ROWS` elements, in fixed chunks of rows on up to
    // `threads::budget()` threads.
    match crate::threads::observe(
        [y, mu, sigma],
        [dy, dmu, dsigma],
        |[y, mu, sigma], [dy, dmu, dsigma]| lpdf_seq(y, mu, sigma, dy, dmu, dsigma),
    ) {
        Ok(lp) => lp,
        Err([dy, dmu, dsigma]) => lpdf_seq(y, mu, sigma, dy, dmu, dsigma),
    }
}

/// [`lpdf`] in one piece, in this thread.
fn lpdf_seq(
    y: &[f64],
    mu: &[f64],
    sigma: &[f64],
    dy: Option<&mut [f64]>,
    dmu: Option<&mut [f64]>,
    dsigma: Option<&mut [f64]>,
) -> f64 {
    crate::simd::dispatch!([] [] (
        y: &[f64],
        mu: &[f64],
        sigma: &[f64],
        dy: Option<&mut [f64]>,
        dmu: Option<&mut [f64]>,
        dsigma: Option<&mut [f64]>,
    ) -> f64 { lpdf_impl(y, mu, sigma, dy, dmu, dsigma) })
}

/// The body of [`lpdf`], inlined into each compiled copy.
#[inline(always)]
fn lpdf_impl(
    y: &[f64],
    mu: &[f64],
    sigma: &[f64],
    mut dy: Option<&mut [f64]>,
    mut dmu: Option<&mut [f64]>,
    mut dsigma: Option<&mut [f64]>,
) -> f64 {
    let Some(n) = broadcast_len(&[y.len(), mu.len(), sigma.len()]) else {
        return f64::NAN;
    };
    let mut lp = 0.0;
    if sigma.len() == 1 {
        // One scale (the common case, latent or not): ln(sigma) and 1/sigma once, and the
        // scale's partial from the sum of squares at the end.
        let s = sigma[0];
        if !(s > 0.0) {
            return f64::NAN;
        }
        let inv = 1.0 / s;
        let mut ss = 0.0;
        // A latent vector's prior with one location (`z ~ Normal(0.0, 1.0).iid(j)`).
        let prior = dmu.is_none()
            && mu.len() == 1
            && y.len() == n
            && dy.as_deref().is_some_and(|g| g.len() == n);
        match dmu.as_deref_mut() {
            // Observed data against a vector of locations (`y ~ Normal(x * w + b, sigma)`):
            // straight slices, so the loop vectorises.
            Some(g) if dy.is_none() && y.len() == n && mu.len() == n && g.len() == n => {
                ss = residual_pass(y, mu, g, inv);
            }
            None if prior => {
                if let Some(g) = dy.as_deref_mut() {
                    ss = prior_pass(y, mu[0], g, inv);
                }
            }
            _ => {
                for i in 0..n {
                    let z = (at(y, i) - at(mu, i)) * inv;
                    ss += z * z;
                    acc(&mut dy, i, -z * inv);
                    acc(&mut dmu, i, z * inv);
                }
            }
        }
        if let Some(g) = dsigma.as_deref_mut() {
            g[0] += (ss - n as f64) * inv;
        }
        return -0.5 * ss - n as f64 * (s.ln() + LN_SQRT_2PI);
    }
    let ln_sigma = Hoisted::new(sigma, f64::ln);
    for i in 0..n {
        let s = at(sigma, i);
        if !(s > 0.0) {
            return f64::NAN;
        }
        let inv = 1.0 / s;
        let z = (at(y, i) - at(mu, i)) * inv;
        lp += -0.5 * z * z - ln_sigma.get(s) - LN_SQRT_2PI;
        acc(&mut dy, i, -z * inv);
        acc(&mut dmu, i, z * inv);
        acc(&mut dsigma, i, (z * z - 1.0) * inv);
    }
    lp
}

/// The vectorised likelihood pass `y ~ Normal(mu, sigma)` with data `y`, a location per
/// element and one scale: returns `sum z_i^2` and adds `z_i / sigma` into `dmu`, where
/// `z_i = (y_i - mu_i) / sigma`. The sum is kept in [`LANES`] partial sums so the loop
/// vectorises (one running sum would make every element wait for the previous one).
#[inline(always)]
fn residual_pass(y: &[f64], mu: &[f64], dmu: &mut [f64], inv: f64) -> f64 {
    let n = dmu.len();
    let (y, mu) = (&y[..n], &mu[..n]);
    let whole = n - n % LANES;
    let mut acc = [0.0; LANES];
    // Plain index loops over fixed-size blocks (no iterator adaptors, which the inliner
    // may leave as calls and so stop the vectoriser).
    let mut i = 0;
    while i < whole {
        let (yy, mm) = (lanes(&y[i..i + LANES]), lanes(&mu[i..i + LANES]));
        let gg = &mut dmu[i..i + LANES];
        for l in 0..LANES {
            let z = (yy[l] - mm[l]) * inv;
            acc[l] += z * z;
            gg[l] += z * inv;
        }
        i += LANES;
    }
    let mut tail = 0.0;
    for j in whole..n {
        let z = (y[j] - mu[j]) * inv;
        tail += z * z;
        dmu[j] += z * inv;
    }
    combine(acc) + tail
}

/// [`residual_pass`] for a value's own adjoint at one location `mu`: `dy_i -= z_i / sigma`.
#[inline(always)]
fn prior_pass(y: &[f64], mu: f64, dy: &mut [f64], inv: f64) -> f64 {
    let n = dy.len();
    let y = &y[..n];
    let whole = n - n % LANES;
    let mut acc = [0.0; LANES];
    let mut i = 0;
    while i < whole {
        let yy = lanes(&y[i..i + LANES]);
        let gg = &mut dy[i..i + LANES];
        for l in 0..LANES {
            let z = (yy[l] - mu) * inv;
            acc[l] += z * z;
            gg[l] -= z * inv;
        }
        i += LANES;
    }
    let mut tail = 0.0;
    for j in whole..n {
        let z = (y[j] - mu) * inv;
        tail += z * z;
        dy[j] -= z * inv;
    }
    combine(acc) + tail
}

/// Normal's one-element kernel: keeps `1 / sigma` and `ln(sigma)` while `sigma` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 1>);

impl Kernel<3> for Scalar {
    fn lpdf_stats(
        cell: &super::stats::StatsCell,
        x: [&[f64]; 3],
        g: [Option<&mut [f64]>; 3],
    ) -> f64 {
        super::stats::or_lpdf::<Self, 3>(cell, x, g, super::stats::normal)
    }

    #[inline(always)]
    fn elem(&mut self, [y, mu, sigma]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(sigma > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        // ln(sigma) with the constant, one subtraction per element.
        let &(inv, ln_norm) = self.0.get([sigma], |[s]| (1.0 / s, s.ln() + LN_SQRT_2PI));
        let z = (y - mu) * inv;
        let dmu = z * inv;
        (-0.5 * z * z - ln_norm, [-dmu, dmu, (z * z - 1.0) * inv])
    }

    fn lpdf([y, mu, sigma]: [&[f64]; 3], [dy, dmu, dsigma]: [Option<&mut [f64]>; 3]) -> f64 {
        lpdf(y, mu, sigma, dy, dmu, dsigma)
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite observation or location, or non-positive scale.
pub fn check(y: Option<&[f64]>, mu: Option<&[f64]>, sigma: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| finite(NAME, "y", v))?;
    check_each(1, mu, |v| finite(NAME, "mu", v))?;
    check_each(2, sigma, |v| positive(NAME, "sigma", v))
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, mu: &[f64], sigma: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[mu.len(), sigma.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let z: f64 = rng.sample(rand_distr::StandardNormal);
            let s = at(sigma, i);
            if s > 0.0 {
                at(mu, i) + s * z
            } else {
                f64::NAN
            }
        })
        .collect()
}
