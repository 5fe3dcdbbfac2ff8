//! Laplace(mu, b), the double exponential.

use super::scalar::{slices, Kernel, Memo};
use super::{at, check_each, finite, positive, sample_lens_ok, ArgError, Cdf, LogDensity, Support};
use crate::error::DistError;
use rand::Rng;
use std::f64::consts::LN_2;

const NAME: &str = "Laplace";

/// The Laplace (double exponential) distribution with location `mu` and scale `b`:
/// density `exp(-|y - mu| / b) / (2 b)`.
///
/// ```
/// use vi_runtime::dist::{Laplace, LogDensity};
/// let d = Laplace::new(1.0, 0.7)?;
/// // scipy.stats.laplace(loc=1, scale=0.7).logpdf(-2.0) = -4.6221865223354985
/// assert!((d.ln_density(-2.0) + 4.622_186_522_335_498_5).abs() < 1e-12);
/// assert!(Laplace::new(1.0, -0.7).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Laplace {
    mu: f64,
    b: f64,
}

impl Laplace {
    /// A Laplace distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `mu` or `b`, [`DistError::NotPositive`] for
    /// `b <= 0`.
    pub fn new(mu: f64, b: f64) -> Result<Self, DistError> {
        finite(NAME, "mu", mu)?;
        positive(NAME, "b", b)?;
        Ok(Laplace { mu, b })
    }

    /// The location (mean and median).
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// The scale.
    pub fn b(&self) -> f64 {
        self.b
    }
}

impl LogDensity for Laplace {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.mu], &[self.b], None, None, None)
    }

    fn support(&self) -> Support {
        Support::Real
    }
}

impl Cdf for Laplace {
    fn cdf(&self, x: f64) -> f64 {
        let z = (x - self.mu) / self.b;
        if z < 0.0 {
            0.5 * z.exp()
        } else {
            1.0 - 0.5 * (-z).exp()
        }
    }
}

/// `mu + b (E1 - E2)` for two standard exponentials: a Laplace draw (rand_distr has no
/// Laplace sampler).
fn draw<R: Rng + ?Sized>(rng: &mut R, mu: f64, b: f64) -> f64 {
    let e1: f64 = rng.sample(rand_distr::Exp1);
    let e2: f64 = rng.sample(rand_distr::Exp1);
    mu + b * (e1 - e2)
}

impl rand::distr::Distribution<f64> for Laplace {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw(rng, self.mu, self.b)
    }
}

/// Sum over the broadcast elements of ln Laplace(y | mu, b), adding partials into the given
/// buffers (at `y == mu`, where the density has a kink, the partials in `y` and `mu` are
/// 0). NaN when the lengths do not broadcast or a `b` is not positive.
pub fn lpdf(
    y: &[f64],
    mu: &[f64],
    b: &[f64],
    dy: Option<&mut [f64]>,
    dmu: Option<&mut [f64]>,
    db: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, mu, b], [dy, dmu, db])
}

/// Laplace's one-element kernel: keeps `1 / b` and `ln(b)` while `b` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 1>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, mu, b]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(b > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        let &(inv, ln_b) = self.0.get([b], |[s]| (1.0 / s, s.ln()));
        let d = y - mu;
        let a = d.abs() * inv;
        let sign = if d > 0.0 {
            1.0
        } else if d < 0.0 {
            -1.0
        } else {
            0.0
        };
        (-LN_2 - ln_b - a, [-sign * inv, sign * inv, (a - 1.0) * inv])
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite observation or location, or non-positive scale.
pub fn check(y: Option<&[f64]>, mu: Option<&[f64]>, b: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| finite(NAME, "y", v))?;
    check_each(1, mu, |v| finite(NAME, "mu", v))?;
    check_each(2, b, |v| positive(NAME, "b", v))
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, mu: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[mu.len(), b.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let s = at(b, i);
            if s > 0.0 {
                draw(rng, at(mu, i), s)
            } else {
                f64::NAN
            }
        })
        .collect()
}
