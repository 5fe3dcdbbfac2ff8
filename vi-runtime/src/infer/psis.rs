//! Pareto smoothed importance sampling (PSIS): the Pareto k-hat diagnostic of an
//! approximation and the smoothed importance weights.
//!
//! Follows Vehtari, Simpson, Gelman, Yao and Gabry (2024), "Pareto smoothed importance
//! sampling", JMLR 25(72), as implemented by the `loo` R package and ArviZ's `psislw` (with
//! relative efficiency 1): the largest `M = ceil(min(S / 5, 3 sqrt(S)))` of the `S` importance
//! ratios are fitted by a generalised Pareto distribution, estimated by the empirical Bayes
//! method of Zhang and Stephens (2009) with the weakly informative prior on `k` that loo and
//! ArviZ add; the tail is replaced by the fitted quantiles.

use std::fmt;

use crate::math::log_sum_exp;

/// How far a Pareto k-hat says importance ratios (and the approximation behind them) can be
/// trusted, with the thresholds of Vehtari et al. (2024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliability {
    /// `k < 0.5`: the approximation is close to the target.
    Reliable,
    /// `0.5 <= k < 0.7`: usable, but estimates of tail quantities may be off.
    UseWithCare,
    /// `k >= 0.7` (or not finite): the approximation is far from the target.
    Unreliable,
}

impl Reliability {
    /// The verdict for a Pareto k-hat.
    ///
    /// ```
    /// use vi_runtime::infer::psis::Reliability;
    /// assert_eq!(Reliability::from_khat(0.3), Reliability::Reliable);
    /// assert_eq!(Reliability::from_khat(0.6), Reliability::UseWithCare);
    /// assert_eq!(Reliability::from_khat(f64::NAN), Reliability::Unreliable);
    /// ```
    pub fn from_khat(k: f64) -> Self {
        if k < 0.5 {
            Reliability::Reliable
        } else if k < 0.7 {
            Reliability::UseWithCare
        } else {
            Reliability::Unreliable
        }
    }
}

impl fmt::Display for Reliability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reliability::Reliable => "reliable",
            Reliability::UseWithCare => "use with care",
            Reliability::Unreliable => "unreliable",
        })
    }
}

/// The result of Pareto smoothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Psis {
    /// The smoothed log weights, normalised to sum (in exp) to one, in the input's order.
    pub log_weights: Vec<f64>,
    /// The estimated generalised Pareto shape k-hat (infinite when the tail has fewer than
    /// five values).
    pub k: f64,
}

/// The Pareto k-hat of a set of log importance ratios `log p(theta_s) - log q(theta_s)`.
///
/// Non-finite ratios: `-inf` is a zero weight; NaN is treated as `-inf`; `+inf` makes the
/// estimate infinite. Fewer than five values in the tail (fewer than about 25 ratios) give
/// `f64::INFINITY`, as loo and ArviZ do.
///
/// ```
/// use vi_runtime::infer::psis::pareto_k;
/// // Equal ratios: q is p up to a constant, so the weights have no tail at all.
/// let k = pareto_k(&[0.0; 100]);
/// assert!(k.is_infinite());
/// let lr: Vec<f64> = (0..400).map(|i| 0.01 * ((i * 37 % 101) as f64 - 50.0)).collect();
/// assert!(pareto_k(&lr) < 0.5);
/// ```
pub fn pareto_k(log_ratios: &[f64]) -> f64 {
    psis(log_ratios).k
}

/// Pareto smoothed importance sampling of log importance ratios: the smoothed, normalised
/// log weights and k-hat (see [`pareto_k`]).
pub fn psis(log_ratios: &[f64]) -> Psis {
    let s = log_ratios.len();
    if s == 0 {
        return Psis {
            log_weights: Vec::new(),
            k: f64::INFINITY,
        };
    }
    let mut x: Vec<f64> = log_ratios
        .iter()
        .map(|&v| if v.is_nan() { f64::NEG_INFINITY } else { v })
        .collect();
    let max_x = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max_x == f64::INFINITY {
        // One draw takes all the weight.
        let log_weights = x
            .iter()
            .map(|&v| {
                if v == f64::INFINITY {
                    0.0
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        return Psis {
            log_weights,
            k: f64::INFINITY,
        };
    }
    if max_x == f64::NEG_INFINITY {
        return Psis {
            log_weights: vec![f64::NAN; s],
            k: f64::INFINITY,
        };
    }
    for v in x.iter_mut() {
        *v -= max_x;
    }
    // Tail length M = ceil(min(S / 5, 3 sqrt(S))); the cutoff is the (M + 1)-th largest value.
    let m = (s as f64 / 5.0).min(3.0 * (s as f64).sqrt()).ceil() as usize;
    let mut order: Vec<usize> = (0..s).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let cutoff_min = f64::MIN_POSITIVE.ln();
    let x_cutoff = if m < s {
        x[order[s - 1 - m]].max(cutoff_min)
    } else {
        cutoff_min
    };
    let exp_cutoff = x_cutoff.exp();
    // The tail, in increasing order.
    let tail: Vec<usize> = order.iter().copied().filter(|&i| x[i] > x_cutoff).collect();
    let k = if tail.len() <= 4 {
        f64::INFINITY
    } else {
        let excess: Vec<f64> = tail.iter().map(|&i| x[i].exp() - exp_cutoff).collect();
        let (k, sigma) = gpd_fit(&excess);
        if k.is_finite() && sigma > 0.0 {
            let n = tail.len() as f64;
            for (j, &i) in tail.iter().enumerate() {
                let p = (j as f64 + 0.5) / n;
                x[i] = (gpd_quantile(p, k, sigma) + exp_cutoff).ln().min(0.0);
            }
        }
        k
    };
    let total = log_sum_exp(&x);
    for v in x.iter_mut() {
        *v -= total;
    }
    Psis { log_weights: x, k }
}

/// Zhang and Stephens (2009) empirical Bayes estimate of the generalised Pareto parameters
/// `(k, sigma)` from sorted positive exceedances, with loo's weakly informative prior on `k`
/// (10 pseudo-observations at 0.5).
fn gpd_fit(sorted: &[f64]) -> (f64, f64) {
    const PRIOR_BS: f64 = 3.0;
    const PRIOR_K: f64 = 10.0;
    let n = sorted.len();
    let nf = n as f64;
    let m_est = 30 + (nf.sqrt() as usize);
    let quartile = sorted[((nf / 4.0 + 0.5) as usize).max(1) - 1];
    let last = sorted[n - 1];
    let b: Vec<f64> = (1..=m_est)
        .map(|j| {
            (1.0 - (m_est as f64 / (j as f64 - 0.5)).sqrt()) / (PRIOR_BS * quartile) + 1.0 / last
        })
        .collect();
    let mean_log1p = |bj: f64| sorted.iter().map(|&v| (-bj * v).ln_1p()).sum::<f64>() / nf;
    let len_scale: Vec<f64> = b
        .iter()
        .map(|&bj| {
            let kj = mean_log1p(bj);
            nf * ((-bj / kj).ln() - kj - 1.0)
        })
        .collect();
    // Posterior weights of the grid points, w_j = 1 / sum_i exp(l_i - l_j).
    let mut weights: Vec<f64> = len_scale
        .iter()
        .map(|&lj| 1.0 / len_scale.iter().map(|&li| (li - lj).exp()).sum::<f64>())
        .collect();
    let keep: Vec<bool> = weights.iter().map(|&w| w >= 10.0 * f64::EPSILON).collect();
    let mut b_post = 0.0;
    let mut w_sum = 0.0;
    for j in 0..m_est {
        if keep[j] {
            w_sum += weights[j];
        } else {
            weights[j] = 0.0;
        }
    }
    for j in 0..m_est {
        b_post += b[j] * weights[j] / w_sum;
    }
    let k_hat = mean_log1p(b_post);
    let sigma = -k_hat / b_post;
    let k_post = (nf * k_hat + PRIOR_K * 0.5) / (nf + PRIOR_K);
    (k_post, sigma)
}

/// The generalised Pareto quantile function at `0 < p < 1`.
fn gpd_quantile(p: f64, k: f64, sigma: f64) -> f64 {
    if k.abs() < f64::EPSILON {
        -sigma * (-p).ln_1p()
    } else {
        sigma * (-k * (-p).ln_1p()).exp_m1() / k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_thresholds() {
        assert_eq!(Reliability::from_khat(0.49), Reliability::Reliable);
        assert_eq!(Reliability::from_khat(0.5), Reliability::UseWithCare);
        assert_eq!(Reliability::from_khat(0.7), Reliability::Unreliable);
        assert_eq!(
            Reliability::from_khat(f64::INFINITY),
            Reliability::Unreliable
        );
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert!(pareto_k(&[]).is_infinite());
        assert!(pareto_k(&[1.0, 2.0]).is_infinite());
        let r = psis(&[0.0, f64::INFINITY, 1.0]);
        assert_eq!(
            r.log_weights,
            vec![f64::NEG_INFINITY, 0.0, f64::NEG_INFINITY]
        );
        let r = psis(&[f64::NAN; 30]);
        assert!(r.k.is_infinite());
    }
}
