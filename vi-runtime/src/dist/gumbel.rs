//! Gumbel(mu, beta).

use super::scalar::{slices, Kernel, Memo};
use super::{at, check_each, finite, positive, sample_lens_ok, ArgError, Cdf, LogDensity, Support};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Gumbel";

/// The Gumbel (type I extreme value) distribution with location `mu` and scale `beta`, as in
/// Stan: density `exp(-z - e^-z) / beta` with `z = (y - mu) / beta`.
///
/// ```
/// use vi_runtime::dist::{Gumbel, LogDensity};
/// let d = Gumbel::new(1.0, 2.0)?;
/// // scipy.stats.gumbel_r(loc=1, scale=2).logpdf(0.0) = -1.8418684512600736 (scipy 1.17.1)
/// assert!((d.ln_density(0.0) + 1.841_868_451_260_073_6).abs() < 1e-12);
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gumbel {
    mu: f64,
    beta: f64,
}

impl Gumbel {
    /// A Gumbel distribution with location `mu` and scale `beta`.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite argument, [`DistError::NotPositive`] for a
    /// scale or shape that is not positive.
    pub fn new(mu: f64, beta: f64) -> Result<Self, DistError> {
        finite(NAME, "mu", mu)?;
        positive(NAME, "beta", beta)?;
        Ok(Gumbel { mu, beta })
    }

    /// The parameter `mu`.
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// The parameter `beta`.
    pub fn beta(&self) -> f64 {
        self.beta
    }
}

impl LogDensity for Gumbel {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.mu], &[self.beta], None, None, None)
    }

    fn support(&self) -> Support {
        Support::Real
    }
}

impl Cdf for Gumbel {
    fn cdf(&self, x: f64) -> f64 {
        let (l, _) = super::cdf::gumbel::one([x, self.mu, self.beta], false);
        l.exp()
    }
}

/// One draw, NaN for invalid parameters.
fn draw<R: Rng + ?Sized>(rng: &mut R, mu: f64, beta: f64) -> f64 {
    if !(mu.is_finite() && super::is_positive(beta)) {
        return f64::NAN;
    }
    match rand_distr::Gumbel::new(mu, beta) {
        Ok(d) => rng.sample(d),
        Err(_) => f64::NAN,
    }
}

impl rand::distr::Distribution<f64> for Gumbel {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw(rng, self.mu, self.beta)
    }
}

/// Sum over the broadcast elements of ln Gumbel(y | mu, beta), adding partials into the given
/// buffers. NaN when the lengths do not broadcast or a `beta` is not positive.
pub fn lpdf(
    y: &[f64],
    mu: &[f64],
    beta: &[f64],
    dy: Option<&mut [f64]>,
    dmu: Option<&mut [f64]>,
    dbeta: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, mu, beta], [dy, dmu, dbeta])
}

/// Gumbel's one-element kernel, keeping the logs of its parameters while they repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 1>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, mu, beta]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(beta > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        let &(inv, ln_b) = self.0.get([beta], |[b]| (1.0 / b, b.ln()));
        let z = (y - mu) * inv;
        let e = (-z).exp();
        let dz = e - 1.0;
        (-ln_b - z - e, [dz * inv, -dz * inv, (-1.0 - z * dz) * inv])
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation outside the support, or invalid parameter.
pub fn check(y: Option<&[f64]>, mu: Option<&[f64]>, beta: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| finite(NAME, "y", v))?;
    check_each(1, mu, |v| finite(NAME, "mu", v))?;
    check_each(2, beta, |v| positive(NAME, "beta", v))?;
    Ok(())
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, mu: &[f64], beta: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[mu.len(), beta.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let mu = at(mu, i);
            let beta = at(beta, i);
            draw(rng, mu, beta)
        })
        .collect()
}
