//! NegBinomial2Log(eta, phi).

use super::neg_binomial_2::{cdf_at, comb, draw};
use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, finite, in_support, is_count, outside, positive, sample_lens_ok, ArgError, Cdf,
    LogDensity, Support,
};
use crate::error::DistError;
use crate::math::{log_sigmoid, sigmoid};
use rand::Rng;

const NAME: &str = "NegBinomial2Log";

/// The negative binomial distribution with log mean `eta` and precision `phi`, as in Stan's
/// `neg_binomial_2_log`: NegBinomial2(e^eta, phi), computed on the log scale so a large or
/// very negative `eta` neither overflows nor loses precision.
///
/// ```
/// use vi_runtime::dist::{LogDensity, NegBinomial2Log};
/// let d = NegBinomial2Log::new(4.0f64.ln(), 2.5)?;
/// // scipy.stats.nbinom(n=2.5, p=2.5/6.5).logpmf(3) = -1.9639304319959507 (scipy 1.17.1)
/// assert!((d.ln_density(3.0) + 1.963_930_431_995_950_7).abs() < 1e-12);
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NegBinomial2Log {
    eta: f64,
    phi: f64,
}

impl NegBinomial2Log {
    /// A negative binomial distribution with log mean `eta` and precision `phi`.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite argument, [`DistError::NotPositive`] for
    /// `phi <= 0`.
    pub fn new(eta: f64, phi: f64) -> Result<Self, DistError> {
        finite(NAME, "eta", eta)?;
        positive(NAME, "phi", phi)?;
        Ok(NegBinomial2Log { eta, phi })
    }

    /// The log mean.
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// The precision.
    pub fn phi(&self) -> f64 {
        self.phi
    }
}

impl LogDensity for NegBinomial2Log {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.eta], &[self.phi], None, None, None)
    }

    fn support(&self) -> Support {
        Support::NonNegativeInteger
    }
}

impl Cdf for NegBinomial2Log {
    fn cdf(&self, x: f64) -> f64 {
        cdf_at(self.eta.exp(), self.phi, x)
    }
}

impl rand::distr::Distribution<f64> for NegBinomial2Log {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw(rng, self.eta.exp(), self.phi)
    }
}

/// Sum over the broadcast elements of ln NegBinomial2Log(y | eta, phi) (a log mass), adding
/// the partials in `eta` and `phi`; `dy` is accepted for uniformity and ignored. `-inf` for
/// a `y` that is not a count; NaN when the lengths do not broadcast, an `eta` is not finite
/// or a `phi` is not positive.
pub fn lpdf(
    y: &[f64],
    eta: &[f64],
    phi: &[f64],
    dy: Option<&mut [f64]>,
    deta: Option<&mut [f64]>,
    dphi: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, eta, phi], [dy, deta, dphi])
}

/// NegBinomial2Log's one-element kernel: keeps `ln phi` while `phi` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<f64, 1>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [k, eta, phi]: [f64; 3], want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(phi > 0.0 && phi.is_finite() && eta.is_finite()) {
            return (f64::NAN, [0.0; 3]);
        }
        if !is_count(k) {
            return (outside(k), [0.0; 3]);
        }
        let &ln_phi = self.0.get([phi], |[f]| f.ln());
        // t = eta - ln phi: mu / (mu + phi) = sigmoid(t), phi / (mu + phi) = sigmoid(-t).
        let t = eta - ln_phi;
        let (sp, sq) = (sigmoid(t), sigmoid(-t));
        let ln_q = log_sigmoid(-t);
        let (c, dc) = comb(k, phi, want[2]);
        (
            c + k * log_sigmoid(t) + phi * ln_q,
            // d/dphi: psi(k + phi) - psi(phi) + ln q + (mu - k) / (mu + phi), where
            // (mu - k) / (mu + phi) = sigmoid(t) - (k / phi) sigmoid(-t).
            [0.0, k - (k + phi) * sp, dc + ln_q + sp - k / phi * sq],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not a count, non-finite `eta`, or `phi` that is not
/// positive.
pub fn check(y: Option<&[f64]>, eta: Option<&[f64]>, phi: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| {
        in_support(NAME, Support::NonNegativeInteger, "{0, 1, 2, ...}", v)
    })?;
    check_each(1, eta, |v| finite(NAME, "eta", v))?;
    check_each(2, phi, |v| positive(NAME, "phi", v))
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, eta: &[f64], phi: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[eta.len(), phi.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let e = at(eta, i);
            if e.is_finite() {
                draw(rng, e.exp(), at(phi, i))
            } else {
                f64::NAN
            }
        })
        .collect()
}
