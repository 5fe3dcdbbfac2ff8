//! BetaBinomial(n, a, b).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, count, is_count, is_positive, lchoose, outside, positive, sample_lens_ok,
    ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use crate::math::special::{digamma, lbeta};
use rand::Rng;

const NAME: &str = "BetaBinomial";

/// The beta-binomial distribution: the number of successes in `n` trials whose success
/// probability is Beta(a, b), as in Stan: mass
/// `(n choose k) B(k + a, n - k + b) / B(a, b)` on `{0, ..., n}`.
///
/// ```
/// use vi_runtime::dist::{BetaBinomial, LogDensity};
/// let d = BetaBinomial::new(10, 2.0, 3.0)?;
/// // scipy.stats.betabinom(n=10, a=2, b=3).logpmf(4) = -1.967112356705917 (scipy 1.17.1)
/// assert!((d.ln_density(4.0) + 1.967_112_356_705_917).abs() < 1e-12);
/// assert_eq!(d.ln_density(11.0), f64::NEG_INFINITY);
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaBinomial {
    n: u64,
    a: f64,
    b: f64,
}

impl BetaBinomial {
    /// A beta-binomial distribution with `n` trials and prior shapes `a`, `b`.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] or [`DistError::NotPositive`] for a shape that is not a
    /// positive number.
    pub fn new(n: u64, a: f64, b: f64) -> Result<Self, DistError> {
        positive(NAME, "a", a)?;
        positive(NAME, "b", b)?;
        Ok(BetaBinomial { n, a, b })
    }

    /// The number of trials.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The first shape.
    pub fn a(&self) -> f64 {
        self.a
    }

    /// The second shape.
    pub fn b(&self) -> f64 {
        self.b
    }
}

impl LogDensity for BetaBinomial {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(
            &[x],
            &[self.n as f64],
            &[self.a],
            &[self.b],
            None,
            None,
            None,
            None,
        )
    }

    fn support(&self) -> Support {
        Support::IntegerInterval(0, self.n)
    }
}

impl Cdf for BetaBinomial {
    /// The sum of the masses up to `floor(x)` (a finite sum over at most `n + 1` terms).
    fn cdf(&self, x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        if x < 0.0 {
            return 0.0;
        }
        let top = x.floor().min(self.n as f64) as u64;
        let s: f64 = (0..=top).map(|k| self.ln_density(k as f64).exp()).sum();
        s.min(1.0)
    }
}

/// One draw: `p ~ Beta(a, b)`, then `Binomial(n, p)`; NaN for invalid parameters.
fn draw<R: Rng + ?Sized>(rng: &mut R, n: f64, a: f64, b: f64) -> f64 {
    if !(is_count(n) && is_positive(a) && is_positive(b)) {
        return f64::NAN;
    }
    let p = match rand_distr::Beta::new(a, b) {
        Ok(d) => rng.sample(d),
        Err(_) => return f64::NAN,
    };
    match rand_distr::Binomial::new(n as u64, p.clamp(0.0, 1.0)) {
        Ok(d) => rng.sample(d) as f64,
        Err(_) => f64::NAN,
    }
}

impl rand::distr::Distribution<f64> for BetaBinomial {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw(rng, self.n as f64, self.a, self.b)
    }
}

/// Sum over the broadcast elements of ln BetaBinomial(y | n, a, b) (a log mass), adding
/// the partials in `a` and `b` into `da`, `db`; `dy` and `dn` are accepted for uniformity
/// and ignored (counts). `-inf` for a `y` outside `{0, ..., n}`; NaN when the lengths do
/// not broadcast, a shape is not positive or an `n` is not a count.
#[allow(clippy::too_many_arguments)]
pub fn lpdf(
    y: &[f64],
    n: &[f64],
    a: &[f64],
    b: &[f64],
    dy: Option<&mut [f64]>,
    dn: Option<&mut [f64]>,
    da: Option<&mut [f64]>,
    db: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 4>([y, n, a, b], [dy, dn, da, db])
}

/// BetaBinomial's one-element kernel: keeps `lbeta(a, b)` and the digammas of the shapes
/// while they repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64, f64), 3>);

impl Kernel<4> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [k, n, a, b]: [f64; 4], want: [bool; 4]) -> (f64, [f64; 4]) {
        if !(a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() && is_count(n)) {
            return (f64::NAN, [0.0; 4]);
        }
        if !(is_count(k) && k <= n) {
            return (outside(k), [0.0; 4]);
        }
        let lp_ab = self
            .0
            .get([a, b, 0.0], |[a, b, _]| (lbeta(a, b), 0.0, 0.0))
            .0;
        let lp = lchoose(n, k) + lbeta(k + a, n - k + b) - lp_ab;
        let mut g = [0.0; 4];
        if want[2] || want[3] {
            let s = digamma(a + b) - digamma(n + a + b);
            g[2] = digamma(k + a) - digamma(a) + s;
            g[3] = digamma(n - k + b) - digamma(b) + s;
        }
        (lp, g)
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not a count up to its `n`, `n` that is not a count, or
/// shape that is not positive.
pub fn check(
    y: Option<&[f64]>,
    n: Option<&[f64]>,
    a: Option<&[f64]>,
    b: Option<&[f64]>,
) -> Result<(), ArgError> {
    super::binomial::check_counts(NAME, y, n)?;
    check_each(2, a, |v| positive(NAME, "a", v))?;
    check_each(3, b, |v| positive(NAME, "b", v))?;
    check_each(1, n, |v| count(NAME, "n", v))
}

/// `n_draws` draws with broadcast parameters (each of length 1 or `n_draws`); NaN for a
/// draw whose parameters are invalid, all NaN when the lengths do not broadcast.
pub fn sample<R: Rng + ?Sized>(
    rng: &mut R,
    n: &[f64],
    a: &[f64],
    b: &[f64],
    n_draws: usize,
) -> Vec<f64> {
    if !sample_lens_ok(n_draws, &[n.len(), a.len(), b.len()]) {
        return vec![f64::NAN; n_draws];
    }
    (0..n_draws)
        .map(|i| draw(rng, at(n, i), at(a, i), at(b, i)))
        .collect()
}
