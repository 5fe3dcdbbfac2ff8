//! Uniform(lower, upper).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, broadcast_len, check_each, finite, sample_lens_ok, ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Uniform";

/// The continuous uniform distribution on `[lower, upper]`.
///
/// ```
/// use vi_runtime::dist::{LogDensity, Uniform};
/// let d = Uniform::new(-1.0, 3.0)?;
/// // scipy.stats.uniform(loc=-1, scale=4).logpdf(0.0) = -1.3862943611198906
/// assert!((d.ln_density(0.0) + 1.386_294_361_119_890_6).abs() < 1e-12);
/// assert_eq!(d.ln_density(3.5), f64::NEG_INFINITY);
/// assert!(Uniform::new(2.0, 1.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uniform {
    lower: f64,
    upper: f64,
}

/// `Ok` when `lower < upper`, both finite.
fn interval(lower: f64, upper: f64) -> Result<(), DistError> {
    finite(NAME, "lower", lower)?;
    finite(NAME, "upper", upper)?;
    if lower < upper {
        Ok(())
    } else {
        Err(DistError::EmptyInterval {
            dist: NAME,
            lower,
            upper,
        })
    }
}

impl Uniform {
    /// A uniform distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite bound, [`DistError::EmptyInterval`] for
    /// `lower >= upper`.
    pub fn new(lower: f64, upper: f64) -> Result<Self, DistError> {
        interval(lower, upper)?;
        Ok(Uniform { lower, upper })
    }

    /// The lower bound.
    pub fn lower(&self) -> f64 {
        self.lower
    }

    /// The upper bound.
    pub fn upper(&self) -> f64 {
        self.upper
    }
}

impl LogDensity for Uniform {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.lower], &[self.upper], None, None, None)
    }

    fn support(&self) -> Support {
        Support::Interval(self.lower, self.upper)
    }
}

impl Cdf for Uniform {
    fn cdf(&self, x: f64) -> f64 {
        ((x - self.lower) / (self.upper - self.lower)).clamp(0.0, 1.0)
    }
}

impl rand::distr::Distribution<f64> for Uniform {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand::distr::Uniform::new(self.lower, self.upper) {
            Ok(d) => rng.sample(d),
            Err(_) => f64::NAN,
        }
    }
}

/// Sum over the broadcast elements of ln Uniform(y | lower, upper), adding partials into the
/// given buffers (the partial in `y` is 0 inside the interval). `-inf` when a `y` is outside
/// `[lower, upper]`; NaN when the lengths do not broadcast or `lower >= upper`.
pub fn lpdf(
    y: &[f64],
    lower: &[f64],
    upper: &[f64],
    dy: Option<&mut [f64]>,
    dlower: Option<&mut [f64]>,
    dupper: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, lower, upper], [dy, dlower, dupper])
}

/// Uniform's one-element kernel: keeps `1 / (upper - lower)` and its log while the bounds
/// repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 2>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, lower, upper]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(lower < upper) {
            return (f64::NAN, [0.0; 3]);
        }
        if !(y >= lower && y <= upper) {
            let lp = if y.is_nan() {
                f64::NAN
            } else {
                f64::NEG_INFINITY
            };
            return (lp, [0.0; 3]);
        }
        let &(inv, ln_width) = self
            .0
            .get([lower, upper], |[l, u]| (1.0 / (u - l), (u - l).ln()));
        (-ln_width, [0.0, inv, -inv])
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent); when both
/// bounds are data they must form a non-empty interval, and when the observation is data
/// too it must lie inside it.
///
/// # Errors
/// The first non-finite value, [`DistError::EmptyInterval`] for `lower >= upper` (reported
/// at `upper`, argument 2, unless only `lower` is a vector), or
/// [`DistError::OutsideSupport`] for an observation outside `[lower, upper]`.
pub fn check(
    y: Option<&[f64]>,
    lower: Option<&[f64]>,
    upper: Option<&[f64]>,
) -> Result<(), ArgError> {
    check_each(0, y, |v| finite(NAME, "y", v))?;
    check_each(1, lower, |v| finite(NAME, "lower", v))?;
    check_each(2, upper, |v| finite(NAME, "upper", v))?;
    let (Some(l), Some(u)) = (lower, upper) else {
        return Ok(());
    };
    let Some(n) = broadcast_len(&[l.len(), u.len()]) else {
        return Ok(()); // lengths are the caller's to check; the kernel returns NaN
    };
    for i in 0..n {
        interval(at(l, i), at(u, i)).map_err(|error| ArgError {
            arg: if u.len() == 1 && l.len() > 1 { 1 } else { 2 },
            index: i,
            error,
        })?;
    }
    if let Some(y) = y {
        if let Some(n) = broadcast_len(&[y.len(), l.len(), u.len()]) {
            for i in 0..n {
                let yi = at(y, i);
                if !(yi >= at(l, i) && yi <= at(u, i)) {
                    return Err(ArgError {
                        arg: 0,
                        index: if y.len() == 1 { 0 } else { i },
                        error: DistError::OutsideSupport {
                            dist: NAME,
                            value: yi,
                            support: "[lower, upper]",
                        },
                    });
                }
            }
        }
    }
    Ok(())
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// bounds are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, lower: &[f64], upper: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[lower.len(), upper.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(
            |i| match rand::distr::Uniform::new(at(lower, i), at(upper, i)) {
                Ok(d) => rng.sample(d),
                Err(_) => f64::NAN,
            },
        )
        .collect()
}
