//! Bernoulli(p).

use super::{
    acc, as_bool, at, broadcast_len, check_each, in_support, outside, probability, sample_lens_ok,
    ArgError, Cdf, Hoisted, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Bernoulli";

/// The Bernoulli distribution: 1 with probability `p`, 0 otherwise.
///
/// ```
/// use vi_runtime::dist::{Bernoulli, LogDensity};
/// let d = Bernoulli::new(0.3)?;
/// // scipy.stats.bernoulli(p=0.3).logpmf(1) = -1.2039728043259361
/// assert!((d.ln_density(1.0) + 1.203_972_804_325_936_1).abs() < 1e-12);
/// assert_eq!(d.ln_density(2.0), f64::NEG_INFINITY);
/// assert!(Bernoulli::new(1.5).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bernoulli {
    p: f64,
}

impl Bernoulli {
    /// A Bernoulli distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for NaN, [`DistError::OutOfRange`] for `p` outside `[0, 1]`.
    pub fn new(p: f64) -> Result<Self, DistError> {
        probability(NAME, "p", p)?;
        Ok(Bernoulli { p })
    }

    /// The probability of a 1.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl LogDensity for Bernoulli {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.p], None, None)
    }

    fn support(&self) -> Support {
        Support::Boolean
    }
}

impl Cdf for Bernoulli {
    fn cdf(&self, x: f64) -> f64 {
        if x.is_nan() {
            f64::NAN
        } else if x < 0.0 {
            0.0
        } else if x < 1.0 {
            1.0 - self.p
        } else {
            1.0
        }
    }
}

impl rand::distr::Distribution<f64> for Bernoulli {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand::distr::Bernoulli::new(self.p) {
            Ok(d) => f64::from(u8::from(rng.sample(d))),
            Err(_) => f64::NAN,
        }
    }
}

/// Sum over the broadcast elements of ln Bernoulli(y | p) (a log mass), adding the partial
/// in `p` into `dp`. `dy` is accepted for uniformity and ignored (`y` is discrete). `-inf`
/// when a `y` is not 0 or 1; NaN when the lengths do not broadcast or a `p` is outside
/// `[0, 1]`.
pub fn lpdf(y: &[f64], p: &[f64], _dy: Option<&mut [f64]>, mut dp: Option<&mut [f64]>) -> f64 {
    let Some(n) = broadcast_len(&[y.len(), p.len()]) else {
        return f64::NAN;
    };
    let ln_p = Hoisted::new(p, f64::ln);
    let ln_q = Hoisted::new(p, |p: f64| (-p).ln_1p());
    let mut lp = 0.0;
    for i in 0..n {
        let (yi, pi) = (at(y, i), at(p, i));
        if !(0.0..=1.0).contains(&pi) {
            return f64::NAN;
        }
        match as_bool(yi) {
            Some(true) => {
                lp += ln_p.get(pi);
                acc(&mut dp, i, 1.0 / pi);
            }
            Some(false) => {
                lp += ln_q.get(pi);
                acc(&mut dp, i, -1.0 / (1.0 - pi));
            }
            None => return outside(yi),
        }
    }
    lp
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not 0 or 1, or probability outside `[0, 1]`.
pub fn check(y: Option<&[f64]>, p: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| in_support(NAME, Support::Boolean, "{0, 1}", v))?;
    check_each(1, p, |v| probability(NAME, "p", v))
}

/// `n` draws (0.0 or 1.0) with a broadcast probability (length 1 or `n`); NaN for a draw
/// whose probability is invalid, all NaN when the length does not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, p: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[p.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| match rand::distr::Bernoulli::new(at(p, i)) {
            Ok(d) => f64::from(u8::from(rng.sample(d))),
            Err(_) => f64::NAN,
        })
        .collect()
}
