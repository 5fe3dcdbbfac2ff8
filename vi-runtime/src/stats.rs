//! Small statistics of samples, in one place: `Posterior`, the convergence diagnostics, the
//! summary, the plots and the examples all use these.
//!
//! - [`mean`], [`variance`] and [`sd`] (divisor n - 1), [`dot`];
//! - [`mean_and_se`] (a Monte Carlo estimate and its standard error), [`column_mean_var`]
//!   (the per-column moments of a row-major block of draws), [`inf_norm`];
//! - [`quantile`] (linear interpolation between order statistics, NumPy's default and
//!   Hyndman and Fan's type 7, as ArviZ and R's `quantile` use) and [`median`];
//! - [`kde`], a Gaussian kernel density estimate reflected at the bounds of a support;
//! - [`quantile_band`], the pointwise mean and central interval of draws over a grid (the
//!   band of a posterior predictive plot).
//!
//! None of them panics; an empty sample gives NaN, as NumPy does.
//!
//! ```
//! use vi_runtime::stats::{mean, median, quantile, sd};
//! let xs = [3.0, 1.0, 4.0, 1.0, 5.0];
//! assert_eq!(mean(&xs), 2.8);
//! assert_eq!(median(&mut xs.to_vec()), 3.0);
//! // numpy.quantile([3, 1, 4, 1, 5], 0.9) = 4.6
//! assert!((quantile(&mut xs.to_vec(), 0.9) - 4.6).abs() < 1e-12);
//! assert!((sd(&xs) - 1.788_854_381_999_831_7).abs() < 1e-12);
//! ```

use std::fmt;

/// `sum_i a_i b_i` over the common length of `a` and `b` (the AD kernels' own, re-exported
/// so that there is one).
#[doc(no_inline)]
pub use crate::ad::kernels::dot;

/// The arithmetic mean; NaN for an empty slice.
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The sample variance (divisor n - 1); NaN for fewer than two values.
pub fn variance(xs: &[f64]) -> f64 {
    let m = mean(xs);
    xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() as f64 - 1.0)
}

/// The sample standard deviation (divisor n - 1); NaN for fewer than two values.
pub fn sd(xs: &[f64]) -> f64 {
    variance(xs).sqrt()
}

/// The mean and its standard error `sqrt(s^2 / n)` (sample variance with divisor
/// `max(n - 1, 1)`, so one value has error 0); the mean and NaN when the mean is not finite
/// (a value is infinite). NaN for an empty slice.
pub fn mean_and_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if !mean.is_finite() {
        return (mean, f64::NAN);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (var / n).sqrt())
}

/// The column means and variances (divisor n) of an `n x d` block stored row by row (`n`
/// draws of `d` parameters, as the samplers keep them). NaN columns when there are no rows;
/// empty vectors when `d` is 0.
pub fn column_mean_var(rows: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    if d == 0 {
        return (Vec::new(), Vec::new());
    }
    let n = (rows.len() / d) as f64;
    let mut mean = vec![0.0; d];
    for r in rows.chunks_exact(d) {
        for (m, x) in mean.iter_mut().zip(r) {
            *m += x;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0; d];
    for r in rows.chunks_exact(d) {
        for ((v, x), m) in var.iter_mut().zip(r).zip(&mean) {
            *v += (x - m) * (x - m);
        }
    }
    var.iter_mut().for_each(|v| *v /= n);
    (mean, var)
}

/// The largest absolute value (the infinity norm); 0 for an empty slice, NaN never (a NaN
/// element is passed over, as `f64::max` does).
pub fn inf_norm(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// The `q`-quantile (`q` clamped to [0, 1]) by linear interpolation between order statistics
/// (type 7, NumPy's default); sorts `xs` in place. NaN for an empty slice.
pub fn quantile(xs: &mut [f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let h = (xs.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    xs[lo] + (h - lo as f64) * (xs[hi] - xs[lo])
}

/// The median (the mean of the two middle values for an even count, as NumPy); sorts `xs`
/// in place. NaN for an empty slice.
pub fn median(xs: &mut [f64]) -> f64 {
    quantile(xs, 0.5)
}

/// Gaussian kernel density estimate of the sample `xs` at the points `grid`, with
/// Silverman's bandwidth `0.9 min(sd, IQR / 1.34) n^(-1/5)`, reflected at the finite ends of
/// `bounds` (so that a density near a bound, a probability near 0 or a scale near 0, is not
/// smeared across it). Zero outside `bounds`; NaN everywhere for an empty sample.
///
/// ```
/// use vi_runtime::stats::kde;
/// let xs: Vec<f64> = (0..1000).map(|i| (i as f64 + 0.5) / 1000.0).collect();
/// // A uniform sample on (0, 1), reflected at both ends: a density near 1 up to the edges.
/// let d = kde(&xs, &[0.0, 0.5, 1.0, 1.5], (0.0, 1.0));
/// assert!(d[..3].iter().all(|v| (v - 1.0).abs() < 0.1));
/// assert_eq!(d[3], 0.0);
/// ```
pub fn kde(xs: &[f64], grid: &[f64], bounds: (f64, f64)) -> Vec<f64> {
    let n = xs.len();
    if n == 0 {
        return vec![f64::NAN; grid.len()];
    }
    let nf = n as f64;
    let mean = mean(xs);
    let sd = if n > 1 { sd(xs) } else { 0.0 };
    let mut sorted = xs.to_vec();
    let iqr = quantile(&mut sorted, 0.75) - quantile(&mut sorted, 0.25);
    let spread = if iqr > 0.0 { sd.min(iqr / 1.34) } else { sd };
    let mut h = 0.9 * spread * nf.powf(-0.2);
    if h.is_nan() || h <= 0.0 {
        h = 1e-3 * (mean.abs() + 1.0);
    }
    let norm = 1.0 / (nf * h * (2.0 * std::f64::consts::PI).sqrt());
    let k = |u: f64| (-0.5 * u * u).exp();
    grid.iter()
        .map(|&g| {
            if g < bounds.0 || g > bounds.1 {
                return 0.0;
            }
            let mut s = 0.0;
            for &x in xs {
                s += k((g - x) / h);
                if bounds.0.is_finite() {
                    s += k((g - (2.0 * bounds.0 - x)) / h);
                }
                if bounds.1.is_finite() {
                    s += k((g - (2.0 * bounds.1 - x)) / h);
                }
            }
            s * norm
        })
        .collect()
}

/// The pointwise mean and central interval of draws over a grid: see [`quantile_band`].
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// The mean at each grid point.
    pub mean: Vec<f64>,
    /// The `(1 - level) / 2` quantile at each grid point.
    pub lower: Vec<f64>,
    /// The `(1 + level) / 2` quantile at each grid point.
    pub upper: Vec<f64>,
}

/// Why [`quantile_band`] could not summarise the draws.
#[derive(Debug, Clone, PartialEq)]
pub enum BandError {
    /// The level is not strictly between 0 and 1.
    Level(f64),
    /// There are no draws.
    NoDraws,
    /// A draw's length differs from the first draw's.
    Ragged {
        /// The index of the first draw of another length.
        draw: usize,
        /// The first draw's length.
        expected: usize,
        /// That draw's length.
        found: usize,
    },
}

impl fmt::Display for BandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BandError::Level(level) => write!(f, "band level {level} must lie in (0, 1)"),
            BandError::NoDraws => write!(f, "no draws to summarise"),
            BandError::Ragged {
                draw,
                expected,
                found,
            } => write!(
                f,
                "draw {draw} has {found} values where the first has {expected}"
            ),
        }
    }
}

impl std::error::Error for BandError {}

/// The pointwise mean and central `level` interval (e.g. 0.95: the 2.5% and 97.5%
/// quantiles, by [`quantile`]) of draws over a grid: `draws[d][g]` is draw `d` at grid point
/// `g`. Non-finite values are left out of a grid point's statistics; a grid point with no
/// finite value gets NaN.
///
/// ```
/// use vi_runtime::stats::quantile_band;
/// // Draw d at both grid points is d: numpy.quantile(range(101), [0.25, 0.75]) = [25, 75].
/// let draws: Vec<Vec<f64>> = (0..=100).map(|d| vec![d as f64; 2]).collect();
/// let band = quantile_band(&draws, 0.5).unwrap();
/// assert_eq!((band.mean[0], band.lower[1], band.upper[1]), (50.0, 25.0, 75.0));
/// ```
///
/// # Errors
/// [`BandError::Level`] unless `0 < level < 1`, [`BandError::NoDraws`] without draws,
/// [`BandError::Ragged`] if the draws differ in length.
pub fn quantile_band(draws: &[Vec<f64>], level: f64) -> Result<Band, BandError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(BandError::Level(level));
    }
    let first = draws.first().ok_or(BandError::NoDraws)?;
    let g = first.len();
    if let Some((draw, bad)) = draws.iter().enumerate().find(|(_, d)| d.len() != g) {
        return Err(BandError::Ragged {
            draw,
            expected: g,
            found: bad.len(),
        });
    }
    let mut band = Band {
        mean: vec![f64::NAN; g],
        lower: vec![f64::NAN; g],
        upper: vec![f64::NAN; g],
    };
    let mut col = Vec::with_capacity(draws.len());
    for j in 0..g {
        col.clear();
        col.extend(draws.iter().map(|d| d[j]).filter(|v| v.is_finite()));
        if col.is_empty() {
            continue;
        }
        band.mean[j] = mean(&col);
        band.lower[j] = quantile(&mut col, 0.5 - level / 2.0);
        band.upper[j] = quantile(&mut col, 0.5 + level / 2.0);
    }
    Ok(band)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::convergence::norm_ppf;

    fn normal_pdf(x: f64, sd: f64) -> f64 {
        (-0.5 * (x / sd).powi(2)).exp() / (sd * (2.0 * std::f64::consts::PI).sqrt())
    }

    #[test]
    fn quantile_matches_numpy() {
        // numpy.quantile([3, 1, 4, 1, 5], [0.05, 0.5, 0.9]) = [1.0, 3.0, 4.6]
        let xs = [3.0, 1.0, 4.0, 1.0, 5.0];
        assert!((quantile(&mut xs.to_vec(), 0.05) - 1.0).abs() < 1e-12);
        assert!((quantile(&mut xs.to_vec(), 0.5) - 3.0).abs() < 1e-12);
        assert!((quantile(&mut xs.to_vec(), 0.9) - 4.6).abs() < 1e-12);
        // numpy.std([3, 1, 4, 1, 5], ddof=1) = 1.7888543819998317
        assert!((sd(&xs) - 1.788_854_381_999_831_7).abs() < 1e-12);
    }

    #[test]
    fn quantiles_are_the_exact_order_statistics() {
        // 0, 1, ..., 1000 in a scrambled order: the k/1000 quantile is the order statistic k,
        // and between order statistics the interpolation is linear.
        let mut xs: Vec<f64> = (0..=1000).map(|i| ((i * 617) % 1001) as f64).collect();
        for k in [0, 1, 17, 250, 500, 999, 1000] {
            assert_eq!(quantile(&mut xs, k as f64 / 1000.0), k as f64);
        }
        assert!((quantile(&mut xs, 0.1234) - 123.4).abs() < 1e-9);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert!(quantile(&mut [], 0.5).is_nan() && mean(&[]).is_nan());
        assert!(variance(&[1.0]).is_nan());
        // Var of 1..=n is n(n + 1) / 12.
        let ys: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((variance(&ys) - 100.0 * 101.0 / 12.0).abs() < 1e-9);
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
    }

    #[test]
    fn standard_errors_column_moments_and_norms_match_closed_forms() {
        // 1..=100: mean 50.5, variance n(n + 1) / 12, so the standard error is
        // sqrt(101 / 12).
        let ys: Vec<f64> = (1..=100).map(f64::from).collect();
        let (m, se) = mean_and_se(&ys);
        assert_eq!(m, 50.5);
        assert!((se - (101.0f64 / 12.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_and_se(&[2.0]), (2.0, 0.0));
        let (m, se) = mean_and_se(&[1.0, f64::NEG_INFINITY]);
        assert!(m == f64::NEG_INFINITY && se.is_nan());
        // Rows (1, 10), (2, 20), (3, 30), (4, 40): means 2.5 and 25, variances (divisor n)
        // 1.25 and 125.
        let rows = [1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
        let (mean, var) = column_mean_var(&rows, 2);
        assert_eq!(mean, vec![2.5, 25.0]);
        assert!((var[0] - 1.25).abs() < 1e-12 && (var[1] - 125.0).abs() < 1e-12);
        assert_eq!(column_mean_var(&[], 0), (vec![], vec![]));
        assert_eq!(inf_norm(&[1.0, -3.5, 2.0]), 3.5);
        assert_eq!(inf_norm(&[]), 0.0);
    }

    #[test]
    fn kde_of_a_normal_sample_is_the_smoothed_normal_density() {
        // The n quantiles Phi^-1((i + 1/2) / n) are a sample whose empirical distribution is
        // N(0, 1) up to O(1/n). A Gaussian kernel of width h smooths N(0, 1) into exactly
        // N(0, 1 + h^2); Silverman's h here is 0.9 n^(-1/5) (sd 1 < IQR / 1.34 = 1.0067).
        let n = 4000;
        let xs: Vec<f64> = (0..n)
            .map(|i| norm_ppf((i as f64 + 0.5) / n as f64))
            .collect();
        let h = 0.9 * sd(&xs) * (n as f64).powf(-0.2);
        let smoothed = (1.0 + h * h).sqrt();
        let grid: Vec<f64> = (-30..=30).map(|i| i as f64 / 10.0).collect();
        let dens = kde(&xs, &grid, (f64::NEG_INFINITY, f64::INFINITY));
        for (x, d) in grid.iter().zip(&dens) {
            let want = normal_pdf(*x, smoothed);
            assert!((d - want).abs() < 2e-3, "kde({x}) = {d}, want {want}");
        }
        // And it is within the smoothing bias, 0.5 h^2 |phi''(x)| <= 0.2 h^2, of N(0, 1).
        for (x, d) in grid.iter().zip(&dens) {
            assert!((d - normal_pdf(*x, 1.0)).abs() < 0.2 * h * h + 2e-3);
        }
    }

    #[test]
    fn kde_integrates_to_one_and_reflects_at_bounds() {
        let xs: Vec<f64> = (0..400).map(|i| (i as f64 + 0.5) / 400.0).collect();
        let grid: Vec<f64> = (0..2001).map(|i| i as f64 / 2000.0).collect();
        let dens = kde(&xs, &grid, (0.0, 1.0));
        let dx = grid[1] - grid[0];
        let mass: f64 = dens.windows(2).map(|w| 0.5 * (w[0] + w[1]) * dx).sum();
        assert!((mass - 1.0).abs() < 1e-3, "mass {mass}");
        // Uniform draws on (0, 1): with reflection the density at the edge stays near 1.
        assert!((dens[0] - 1.0).abs() < 0.1, "edge density {}", dens[0]);
        // Exponential(1) quantiles, reflected at 0: the density e^-x away from the edge.
        let n = 4000;
        let ex: Vec<f64> = (0..n)
            .map(|i| -(1.0 - (i as f64 + 0.5) / n as f64).ln())
            .collect();
        let at = [0.5, 1.0, 2.0, 3.0];
        for (x, d) in at.iter().zip(kde(&ex, &at, (0.0, f64::INFINITY))) {
            assert!((d - (-x).exp()).abs() < 0.02, "kde({x}) = {d}");
        }
        assert!(kde(&[], &[0.0], (0.0, 1.0))[0].is_nan());
    }

    #[test]
    fn bands_are_pointwise_means_and_quantiles() {
        // Draw d at grid point g is g + (d - 49.5) / 10: the mean is g, and the 95% interval
        // (numpy.quantile(range(100), [0.025, 0.975]) = [2.475, 96.525]) is g -/+ 4.7025.
        let grid = [0.0, 1.0, 2.0, 3.0, 4.0];
        let mut draws: Vec<Vec<f64>> = (0..100)
            .map(|d| grid.iter().map(|g| g + (d as f64 - 49.5) / 10.0).collect())
            .collect();
        let b = quantile_band(&draws, 0.95).unwrap();
        for (j, g) in grid.iter().enumerate() {
            assert!((b.mean[j] - g).abs() < 1e-12);
            assert!((b.lower[j] - (g - 4.7025)).abs() < 1e-12);
            assert!((b.upper[j] - (g + 4.7025)).abs() < 1e-12);
        }
        // A non-finite value is left out; a column of them gives NaN.
        for d in &mut draws {
            d[4] = f64::NAN;
        }
        draws[0][0] = f64::INFINITY;
        let b = quantile_band(&draws, 0.95).unwrap();
        assert!(b.mean[4].is_nan() && b.lower[4].is_nan());
        assert!((b.mean[0] - 0.05).abs() < 1e-12, "{}", b.mean[0]);
        assert_eq!(quantile_band(&draws, 1.5), Err(BandError::Level(1.5)));
        assert_eq!(quantile_band(&[], 0.5), Err(BandError::NoDraws));
        assert_eq!(
            quantile_band(&[vec![1.0, 2.0], vec![1.0]], 0.9),
            Err(BandError::Ragged {
                draw: 1,
                expected: 2,
                found: 1
            })
        );
    }
}
