//! NegBinomial2(mu, phi).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, in_support, is_count, is_positive, outside, positive, sample_lens_ok, ArgError,
    Cdf, LogDensity, Support,
};
use crate::error::DistError;
use crate::math::special::{digamma, lbeta};
use rand::Rng;

const NAME: &str = "NegBinomial2";

/// The negative binomial distribution with mean `mu` and precision (inverse overdispersion)
/// `phi`, as in Stan's `neg_binomial_2`: variance `mu + mu^2 / phi`, mass
/// `(k + phi - 1 choose k) (mu / (mu + phi))^k (phi / (mu + phi))^phi`.
///
/// ```
/// use vi_runtime::dist::{LogDensity, NegBinomial2};
/// let d = NegBinomial2::new(4.0, 2.5)?;
/// // scipy.stats.nbinom(n=2.5, p=2.5/6.5).logpmf(3) = -1.9639304319959507 (scipy 1.17.1)
/// assert!((d.ln_density(3.0) + 1.963_930_431_995_950_7).abs() < 1e-12);
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NegBinomial2 {
    mu: f64,
    phi: f64,
}

impl NegBinomial2 {
    /// A negative binomial distribution with mean `mu` and precision `phi`.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] or [`DistError::NotPositive`] for a parameter that is not a
    /// positive number.
    pub fn new(mu: f64, phi: f64) -> Result<Self, DistError> {
        positive(NAME, "mu", mu)?;
        positive(NAME, "phi", phi)?;
        Ok(NegBinomial2 { mu, phi })
    }

    /// The mean.
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// The precision.
    pub fn phi(&self) -> f64 {
        self.phi
    }
}

impl LogDensity for NegBinomial2 {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.mu], &[self.phi], None, None, None)
    }

    fn support(&self) -> Support {
        Support::NonNegativeInteger
    }
}

/// P(Y <= x) = I_p(phi, floor(x) + 1) with p = phi / (mu + phi), the regularised incomplete
/// beta function.
pub(crate) fn cdf_at(mu: f64, phi: f64, x: f64) -> f64 {
    if x.is_nan() || mu.is_nan() || phi.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 0.0;
    }
    if x.is_infinite() {
        return 1.0;
    }
    let p = phi / (mu + phi);
    statrs::function::beta::checked_beta_reg(phi, x.floor() + 1.0, p).unwrap_or(f64::NAN)
}

impl Cdf for NegBinomial2 {
    fn cdf(&self, x: f64) -> f64 {
        cdf_at(self.mu, self.phi, x)
    }
}

/// One draw as a gamma-Poisson mixture: `lambda ~ Gamma(phi, scale mu / phi)`, then
/// `Poisson(lambda)`; NaN for invalid parameters.
pub(crate) fn draw<R: Rng + ?Sized>(rng: &mut R, mu: f64, phi: f64) -> f64 {
    if !(is_positive(mu) && is_positive(phi)) {
        return f64::NAN;
    }
    match rand_distr::Gamma::new(phi, mu / phi) {
        Ok(d) => {
            let lambda: f64 = rng.sample(d);
            super::poisson::draw(rng, lambda)
        }
        Err(_) => f64::NAN,
    }
}

impl rand::distr::Distribution<f64> for NegBinomial2 {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw(rng, self.mu, self.phi)
    }
}

/// `ln (k + phi - 1 choose k) = -ln k - lbeta(k, phi)` (0 at `k = 0`), accurate for large
/// `phi`, and `psi(k + phi) - psi(phi)` when `want`.
#[inline]
pub(crate) fn comb(k: f64, phi: f64, want: bool) -> (f64, f64) {
    if k == 0.0 {
        return (0.0, 0.0);
    }
    let c = -k.ln() - lbeta(k, phi);
    let d = if want {
        digamma(k + phi) - digamma(phi)
    } else {
        0.0
    };
    (c, d)
}

/// Sum over the broadcast elements of ln NegBinomial2(y | mu, phi) (a log mass), adding the
/// partials in `mu` and `phi`; `dy` is accepted for uniformity and ignored. `-inf` for a `y`
/// that is not a count; NaN when the lengths do not broadcast or a parameter is not
/// positive.
pub fn lpdf(
    y: &[f64],
    mu: &[f64],
    phi: &[f64],
    dy: Option<&mut [f64]>,
    dmu: Option<&mut [f64]>,
    dphi: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, mu, phi], [dy, dmu, dphi])
}

/// NegBinomial2's one-element kernel: keeps `ln(mu / (mu + phi))` and
/// `phi ln(phi / (mu + phi))` while the parameters repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 2>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [k, mu, phi]: [f64; 3], want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(mu > 0.0 && phi > 0.0 && mu.is_finite() && phi.is_finite()) {
            return (f64::NAN, [0.0; 3]);
        }
        if !is_count(k) {
            return (outside(k), [0.0; 3]);
        }
        let &(ln_p, ln_q) = self.0.get([mu, phi], |[m, f]| {
            // ln(mu / (mu + phi)) and ln(phi / (mu + phi)), each without cancellation.
            (-(f / m).ln_1p(), -(m / f).ln_1p())
        });
        let (c, dc) = comb(k, phi, want[2]);
        let s = mu + phi;
        (
            c + k * ln_p + phi * ln_q,
            [0.0, k / mu - (k + phi) / s, dc + ln_q + (mu - k) / s],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not a count, or parameter that is not positive.
pub fn check(y: Option<&[f64]>, mu: Option<&[f64]>, phi: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| {
        in_support(NAME, Support::NonNegativeInteger, "{0, 1, 2, ...}", v)
    })?;
    check_each(1, mu, |v| positive(NAME, "mu", v))?;
    check_each(2, phi, |v| positive(NAME, "phi", v))
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, mu: &[f64], phi: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[mu.len(), phi.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n).map(|i| draw(rng, at(mu, i), at(phi, i))).collect()
}
