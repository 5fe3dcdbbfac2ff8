//! OrderedLogistic(eta, c), with 0-based categories.

use super::categorical::{check_categories, draw_index};
use super::{at, broadcast_len, check_each, finite, outside, sample_lens_ok, ArgError};
use super::{Cdf, LogDensity, Support};
use crate::error::DistError;
use crate::math::special::log1m_exp;
use crate::math::{log_sigmoid, sigmoid};
use rand::Rng;

const NAME: &str = "OrderedLogistic";

/// The ordered logistic distribution over `0..K` with linear predictor `eta` and `K - 1`
/// increasing cutpoints `c`, as Stan's `ordered_logistic` but with 0-based categories:
/// `P(Y <= k) = sigmoid(c[k] - eta)` for `k < K - 1`.
///
/// ```
/// use vi_runtime::dist::{LogDensity, OrderedLogistic};
/// let d = OrderedLogistic::new(0.5, vec![-1.0, 0.0, 2.0])?;
/// let s = |x: f64| 1.0 / (1.0 + (-x).exp());
/// assert!((d.ln_density(1.0) - (s(0.5 + 1.0) - s(0.5)).ln()).abs() < 1e-14);
/// assert_eq!(d.ln_density(4.0), f64::NEG_INFINITY); // only 0..4
/// assert!(OrderedLogistic::new(0.0, vec![1.0, 0.5]).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedLogistic {
    eta: f64,
    c: Vec<f64>,
}

/// `Ok` when the cutpoints are finite and strictly increasing.
fn cutpoints(c: &[f64]) -> Result<(), ArgError> {
    check_each(2, Some(c), |v| finite(NAME, "c", v))?;
    for i in 1..c.len() {
        if !(c[i] > c[i - 1]) {
            return Err(ArgError {
                arg: 2,
                index: i,
                error: DistError::OutOfRange {
                    dist: NAME,
                    param: "c",
                    value: c[i],
                    range: "(c[i - 1], inf) (cutpoints must increase)",
                },
            });
        }
    }
    Ok(())
}

impl OrderedLogistic {
    /// An ordered logistic distribution with `c.len() + 1` categories.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite argument, [`DistError::OutOfRange`] for
    /// cutpoints that do not increase.
    pub fn new(eta: f64, c: Vec<f64>) -> Result<Self, DistError> {
        finite(NAME, "eta", eta)?;
        cutpoints(&c).map_err(|e| e.error)?;
        Ok(OrderedLogistic { eta, c })
    }

    /// The linear predictor.
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// The cutpoints.
    pub fn c(&self) -> &[f64] {
        &self.c
    }

    fn probabilities(&self) -> Vec<f64> {
        (0..=self.c.len())
            .map(|k| one(k, self.eta, &self.c, None, None).exp())
            .collect()
    }
}

impl LogDensity for OrderedLogistic {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.eta], &self.c, None, None, None)
    }

    fn support(&self) -> Support {
        Support::IntegerInterval(0, self.c.len() as u64)
    }
}

impl Cdf for OrderedLogistic {
    fn cdf(&self, x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        if x < 0.0 {
            return 0.0;
        }
        let k = x.floor() as usize;
        if k >= self.c.len() {
            1.0
        } else {
            sigmoid(self.c[k] - self.eta)
        }
    }
}

impl rand::distr::Distribution<f64> for OrderedLogistic {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw_index(rng, &self.probabilities())
    }
}

/// ln P(Y = k | eta, c) for a category `k` in `0..=c.len()`, adding `g` times its partials
/// into `deta` and `dc[k - 1]`, `dc[k]`. Written so that every regime keeps its precision:
/// the middle categories as `ln sigmoid(a) + ln sigmoid(-b) + ln(1 - e^(b - a))` with
/// `a = eta - c[k - 1] > b = eta - c[k]`.
fn one(k: usize, eta: f64, c: &[f64], deta: Option<&mut f64>, dc: Option<&mut [f64]>) -> f64 {
    let last = c.len();
    let (lp, de, dlo, dhi) = if last == 0 {
        (0.0, 0.0, 0.0, 0.0)
    } else if k == 0 {
        // ln(1 - sigmoid(eta - c0)) = ln sigmoid(c0 - eta).
        let s = sigmoid(eta - c[0]);
        (log_sigmoid(c[0] - eta), -s, 0.0, s)
    } else if k == last {
        let s = sigmoid(c[last - 1] - eta);
        (log_sigmoid(eta - c[last - 1]), s, -s, 0.0)
    } else {
        let (a, b) = (eta - c[k - 1], eta - c[k]);
        let lp = log_sigmoid(a) + log_sigmoid(-b) + log1m_exp(b - a);
        // d/da ln(1 - e^(b - a)) = 1 / expm1(a - b).
        let w = 1.0 / (a - b).exp_m1();
        let da = sigmoid(-a) + w;
        let db = -sigmoid(b) - w;
        (lp, da + db, -da, -db)
    };
    if let Some(d) = deta {
        *d += de;
    }
    if let Some(dc) = dc {
        if k >= 1 && last > 0 {
            dc[k - 1] += dlo;
        }
        if k < last {
            dc[k] += dhi;
        }
    }
    lp
}

/// Sum over the broadcast elements (`y` and `eta` each of length 1 or N) of
/// ln OrderedLogistic(y | eta, c), for one vector of `K - 1` cutpoints `c` shared by all
/// of them, adding the partials into `deta` and `dc`; `dy` is accepted for uniformity and
/// ignored. `-inf` for a `y` that is not a category in `0..K`; NaN when the lengths do not
/// broadcast, an `eta` is not finite or the cutpoints do not increase.
pub fn lpdf(
    y: &[f64],
    eta: &[f64],
    c: &[f64],
    _dy: Option<&mut [f64]>,
    mut deta: Option<&mut [f64]>,
    mut dc: Option<&mut [f64]>,
) -> f64 {
    let Some(n) = broadcast_len(&[y.len(), eta.len()]) else {
        return f64::NAN;
    };
    if !c.iter().all(|v| v.is_finite()) || c.windows(2).any(|w| !(w[1] > w[0])) {
        return f64::NAN;
    }
    if dc.as_deref().is_some_and(|g| g.len() != c.len()) {
        return f64::NAN;
    }
    let k_cats = c.len() + 1;
    let mut lp = 0.0;
    for i in 0..n {
        let (yi, e) = (at(y, i), at(eta, i));
        if !e.is_finite() {
            return f64::NAN;
        }
        let Some(k) = super::categorical::category(yi, k_cats) else {
            return outside(yi);
        };
        let mut de = 0.0;
        lp += one(k, e, c, Some(&mut de), dc.as_deref_mut());
        super::acc(&mut deta, i, de);
    }
    lp
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not a category in `0..K` (an outcome of K or more is
/// outside the support, with its index), non-finite `eta`, or cutpoints that are not finite
/// and strictly increasing.
pub fn check(y: Option<&[f64]>, eta: Option<&[f64]>, c: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(1, eta, |v| finite(NAME, "eta", v))?;
    if let Some(c) = c {
        cutpoints(c)?;
    }
    check_categories(NAME, y, c.map(|c| c.len() + 1))
}

/// `n` draws with a broadcast `eta` (length 1 or `n`) and shared cutpoints; NaN for a draw
/// whose `eta` is not finite, all NaN when the length does not broadcast or the cutpoints
/// do not increase.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, eta: &[f64], c: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[eta.len()]) || cutpoints(c).is_err() {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| match OrderedLogistic::new(at(eta, i), c.to_vec()) {
            Ok(d) => draw_index(rng, &d.probabilities()),
            Err(_) => f64::NAN,
        })
        .collect()
}
