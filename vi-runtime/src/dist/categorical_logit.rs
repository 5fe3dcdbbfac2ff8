//! CategoricalLogit(eta), with 0-based categories.

use super::categorical::{category, check_categories, draw_index};
use super::{check_each, finite, outside, ArgError, Cdf, LogDensity, Support};
use crate::error::DistError;
use crate::math::log_sum_exp;
use rand::Rng;

const NAME: &str = "CategoricalLogit";

/// The categorical distribution over `0..K` with probabilities `softmax(eta)` (`eta` of
/// length K, unconstrained), as Stan's `categorical_logit` but with 0-based categories.
///
/// ```
/// use vi_runtime::dist::{CategoricalLogit, LogDensity};
/// let d = CategoricalLogit::new(vec![0.0, 1.0, -1.0])?;
/// let z = 1.0f64 + 1.0f64.exp() + (-1.0f64).exp();
/// assert!((d.ln_density(1.0) - (1.0 - z.ln())).abs() < 1e-15);
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalLogit {
    eta: Vec<f64>,
}

impl CategoricalLogit {
    /// A categorical distribution with log-odds `eta`.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite element, [`DistError::LengthMismatch`] for
    /// an empty `eta`.
    pub fn new(eta: Vec<f64>) -> Result<Self, DistError> {
        if eta.is_empty() {
            return Err(DistError::LengthMismatch {
                dist: NAME,
                lengths: vec![0],
            });
        }
        for &e in &eta {
            finite(NAME, "eta", e)?;
        }
        Ok(CategoricalLogit { eta })
    }

    /// The log-odds.
    pub fn eta(&self) -> &[f64] {
        &self.eta
    }

    fn probabilities(&self) -> Vec<f64> {
        let z = log_sum_exp(&self.eta);
        self.eta.iter().map(|e| (e - z).exp()).collect()
    }
}

impl LogDensity for CategoricalLogit {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &self.eta, None, None)
    }

    fn support(&self) -> Support {
        Support::IntegerInterval(0, self.eta.len() as u64 - 1)
    }
}

impl Cdf for CategoricalLogit {
    fn cdf(&self, x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        if x < 0.0 {
            return 0.0;
        }
        let p = self.probabilities();
        let top = (x.floor() as usize).min(p.len() - 1);
        p[..=top].iter().sum::<f64>().min(1.0)
    }
}

impl rand::distr::Distribution<f64> for CategoricalLogit {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw_index(rng, &self.probabilities())
    }
}

/// Sum over the observations `y` (categories in `0..K`) of `eta[y] - log_sum_exp(eta)`,
/// for one `eta` of length K shared by all of them, adding the partials into `deta`
/// (`count_j - N softmax(eta)_j`); `dy` is accepted for uniformity and ignored. `-inf` for
/// a `y` that is not a category; NaN for an empty or non-finite `eta`.
pub fn lpdf(y: &[f64], eta: &[f64], _dy: Option<&mut [f64]>, deta: Option<&mut [f64]>) -> f64 {
    let k = eta.len();
    if k == 0 || !eta.iter().all(|e| e.is_finite()) {
        return f64::NAN;
    }
    let z = log_sum_exp(eta);
    let mut lp = 0.0;
    for &yi in y {
        let Some(j) = category(yi, k) else {
            return outside(yi);
        };
        lp += eta[j] - z;
    }
    if let Some(g) = deta {
        if g.len() != k {
            return f64::NAN;
        }
        let n = y.len() as f64;
        for (gj, e) in g.iter_mut().zip(eta) {
            *gj -= n * (e - z).exp();
        }
        for &yi in y {
            if let Some(j) = category(yi, k) {
                g[j] += 1.0;
            }
        }
    }
    lp
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not a category in `0..K` (an outcome of K or more is
/// outside the support, with its index), or non-finite data `eta`.
pub fn check(y: Option<&[f64]>, eta: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(1, eta, |v| finite(NAME, "eta", v))?;
    check_categories(NAME, y, eta.map(<[f64]>::len))
}

/// `n` draws from CategoricalLogit(eta) (all NaN for an empty or non-finite `eta`).
pub fn sample<R: Rng + ?Sized>(rng: &mut R, eta: &[f64], n: usize) -> Vec<f64> {
    match CategoricalLogit::new(eta.to_vec()) {
        Ok(d) => {
            let p = d.probabilities();
            (0..n).map(|_| draw_index(rng, &p)).collect()
        }
        Err(_) => vec![f64::NAN; n],
    }
}
