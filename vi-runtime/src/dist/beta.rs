//! Beta(a, b).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, digamma, is_positive, lgamma, observed, positive, sample_lens_ok, ArgError,
    Cdf, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Beta";

/// The beta distribution with shapes `a` and `b`: density
/// `y^(a - 1) (1 - y)^(b - 1) / B(a, b)` on `0 < y < 1`.
///
/// ```
/// use vi_runtime::dist::{Beta, LogDensity};
/// let d = Beta::new(2.5, 0.7)?;
/// // scipy.stats.beta(a=2.5, b=0.7).logpdf(0.3) = -1.3591020131569618
/// assert!((d.ln_density(0.3) + 1.359_102_013_156_961_8).abs() < 1e-12);
/// assert!(Beta::new(0.0, 1.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beta {
    a: f64,
    b: f64,
}

impl Beta {
    /// A beta distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite shape, [`DistError::NotPositive`] for
    /// `a <= 0` or `b <= 0`.
    pub fn new(a: f64, b: f64) -> Result<Self, DistError> {
        positive(NAME, "a", a)?;
        positive(NAME, "b", b)?;
        Ok(Beta { a, b })
    }

    /// The first shape (the prior count of successes, loosely).
    pub fn a(&self) -> f64 {
        self.a
    }

    /// The second shape.
    pub fn b(&self) -> f64 {
        self.b
    }
}

impl LogDensity for Beta {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.a], &[self.b], None, None, None)
    }

    fn support(&self) -> Support {
        Support::Interval(0.0, 1.0)
    }
}

impl Cdf for Beta {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else if x >= 1.0 {
            1.0
        } else {
            statrs::function::beta::checked_beta_reg(self.a, self.b, x).unwrap_or(f64::NAN)
        }
    }
}

impl rand::distr::Distribution<f64> for Beta {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand_distr::Beta::new(self.a, self.b) {
            Ok(d) => rng.sample(d),
            Err(_) => f64::NAN,
        }
    }
}

/// ln B(a, b) = ln Gamma(a) + ln Gamma(b) - ln Gamma(a + b).
#[inline]
fn ln_beta(a: f64, b: f64) -> f64 {
    lgamma(a) + lgamma(b) - lgamma(a + b)
}

/// Sum over the broadcast elements of ln Beta(y | a, b), adding partials into the given
/// buffers. `-inf` when a `y` is outside `(0, 1)`; NaN when the lengths do not broadcast or
/// a shape is not positive.
pub fn lpdf(
    y: &[f64],
    a: &[f64],
    b: &[f64],
    dy: Option<&mut [f64]>,
    da: Option<&mut [f64]>,
    db: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, a, b], [dy, da, db])
}

/// Beta's one-element kernel: keeps `ln B(a, b)` and, when a shape's partial is wanted,
/// `digamma(a)`, `digamma(b)`, `digamma(a + b)` while `a` and `b` repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64, f64, f64), 3>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, a, b]: [f64; 3], want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(a > 0.0 && b > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        if !(y > 0.0 && y < 1.0) {
            let lp = if y.is_nan() {
                f64::NAN
            } else {
                f64::NEG_INFINITY
            };
            return (lp, [0.0; 3]);
        }
        let key = [a, b, f64::from(u8::from(want[1] || want[2]))];
        let &(lb, psi_a, psi_b, psi_ab) = self.0.get(key, |[a, b, w]| {
            if w > 0.0 {
                (ln_beta(a, b), digamma(a), digamma(b), digamma(a + b))
            } else {
                (ln_beta(a, b), 0.0, 0.0, 0.0)
            }
        });
        let (ln_y, ln_1my) = (y.ln(), (-y).ln_1p());
        (
            (a - 1.0) * ln_y + (b - 1.0) * ln_1my - lb,
            [
                (a - 1.0) / y - (b - 1.0) / (1.0 - y),
                ln_y - psi_a + psi_ab,
                ln_1my - psi_b + psi_ab,
            ],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite observation or one outside `(0, 1)`, or non-positive shape.
pub fn check(y: Option<&[f64]>, a: Option<&[f64]>, b: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| {
        observed(NAME, "(0, 1)", v, |v| v > 0.0 && v < 1.0)
    })?;
    check_each(1, a, |v| positive(NAME, "a", v))?;
    check_each(2, b, |v| positive(NAME, "b", v))
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[a.len(), b.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let (ai, bi) = (at(a, i), at(b, i));
            match rand_distr::Beta::new(ai, bi) {
                Ok(d) if is_positive(ai) && is_positive(bi) => rng.sample(d),
                _ => f64::NAN,
            }
        })
        .collect()
}
