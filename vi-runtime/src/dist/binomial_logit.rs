//! BinomialLogit(n, logit): a binomial parameterised by the log-odds.

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, binomial, check_each, finite, is_count, lchoose, outside, sample_lens_ok, ArgError, Cdf,
    LogDensity, Support,
};
use crate::error::DistError;
use crate::math::{log_sigmoid, sigmoid};
use rand::Rng;

const NAME: &str = "BinomialLogit";

/// The binomial distribution with `n` trials of success probability `sigmoid(logit)`,
/// computed in log space.
///
/// ```
/// use vi_runtime::dist::{BinomialLogit, LogDensity};
/// let d = BinomialLogit::new(20, -0.5)?;
/// // scipy.stats.binom(n=20, p=scipy.special.expit(-0.5)).logpmf(3) = -3.942756142213594
/// assert!((d.ln_density(3.0) + 3.942_756_142_213_594).abs() < 1e-12);
/// assert!(BinomialLogit::new(20, f64::INFINITY).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinomialLogit {
    n: u64,
    logit: f64,
}

impl BinomialLogit {
    /// A binomial distribution on the logit scale.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `logit`.
    pub fn new(n: u64, logit: f64) -> Result<Self, DistError> {
        finite(NAME, "logit", logit)?;
        Ok(BinomialLogit { n, logit })
    }

    /// The number of trials.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The log-odds of a success.
    pub fn logit(&self) -> f64 {
        self.logit
    }
}

impl LogDensity for BinomialLogit {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.n as f64], &[self.logit], None, None, None)
    }

    fn support(&self) -> Support {
        Support::IntegerInterval(0, self.n)
    }
}

impl Cdf for BinomialLogit {
    fn cdf(&self, x: f64) -> f64 {
        binomial::cdf_at(self.n, sigmoid(-self.logit), x)
    }
}

impl rand::distr::Distribution<f64> for BinomialLogit {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        binomial::draw(rng, self.n as f64, sigmoid(self.logit))
    }
}

/// Sum over the broadcast elements of ln BinomialLogit(y | n, logit) (a log mass), adding
/// the partial in `logit` into `dlogit`. `dy` and `dn` are accepted for uniformity and
/// ignored (`y` and `n` are integers). `-inf` when a `y` is not an integer in `[0, n]`; NaN
/// when the lengths do not broadcast, an `n` is not a non-negative integer, or a `logit` is
/// NaN.
pub fn lpdf(
    y: &[f64],
    n: &[f64],
    logit: &[f64],
    dy: Option<&mut [f64]>,
    dn: Option<&mut [f64]>,
    dlogit: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, n, logit], [dy, dn, dlogit])
}

/// BinomialLogit's one-element kernel: keeps `ln sigmoid(logit)`, `ln sigmoid(-logit)` and
/// `sigmoid(logit)` while `logit` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64, f64), 1>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [k, n, logit]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !is_count(n) || logit.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        if !(is_count(k) && k <= n) {
            return (outside(k), [0.0; 3]);
        }
        let &(ln_p, ln_q, p) = self
            .0
            .get([logit], |[a]| (log_sigmoid(a), log_sigmoid(-a), sigmoid(a)));
        let mut lp = lchoose(n, k);
        if k > 0.0 {
            lp += k * ln_p;
        }
        if k < n {
            lp += (n - k) * ln_q;
        }
        (lp, [0.0, 0.0, k - n * p])
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent); when both
/// `y` and `n` are data, each `y` must be at most its `n`.
///
/// # Errors
/// The first observation or `n` that is not a non-negative integer, observation above its
/// `n`, or non-finite logit.
pub fn check(y: Option<&[f64]>, n: Option<&[f64]>, logit: Option<&[f64]>) -> Result<(), ArgError> {
    binomial::check_counts(NAME, y, n)?;
    check_each(2, logit, |v| finite(NAME, "logit", v))
}

/// `n_draws` draws with broadcast parameters (each of length 1 or `n_draws`); NaN for a draw
/// whose parameters are invalid, all NaN when the lengths do not broadcast to `n_draws`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, n: &[f64], logit: &[f64], n_draws: usize) -> Vec<f64> {
    if !sample_lens_ok(n_draws, &[n.len(), logit.len()]) {
        return vec![f64::NAN; n_draws];
    }
    (0..n_draws)
        .map(|i| binomial::draw(rng, at(n, i), sigmoid(at(logit, i))))
        .collect()
}
