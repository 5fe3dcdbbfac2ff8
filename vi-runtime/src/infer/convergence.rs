//! Convergence diagnostics of MCMC draws: rank-normalised split R-hat, bulk and tail effective
//! sample size (ESS) and the Monte Carlo standard error (MCSE) of the mean.
//!
//! The definitions are those of Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021),
//! "Rank-normalization, folding, and localization: an improved R-hat for assessing convergence
//! of MCMC", computed step for step as ArviZ (`arviz/stats/diagnostics.py`) and the R
//! `posterior` package do, so the numbers agree with theirs to rounding:
//!
//! - chains are split in half (the middle draw of an odd-length chain is dropped);
//! - rank normalisation: average ranks `r` over all draws, `z = Phi^-1((r - 3/8) / (S + 1/4))`;
//! - R-hat is the larger of the split R-hat of the rank-normalised draws (bulk) and of the
//!   rank-normalised folded draws `|x - median|` (tails);
//! - ESS uses the biased autocovariance of each chain, Geyer's initial positive sequence and
//!   initial monotone sequence, and the lower bound `tau >= 1 / log10(S)`;
//! - bulk ESS is the ESS of the rank-normalised split chains; tail ESS is the smaller of the
//!   ESS of the indicators `x <= q_0.05` and `x <= q_0.95`;
//! - MCSE of the mean is `sd / sqrt(ESS_mean)`, ESS_mean the ESS of the raw split chains.
//!
//! Every function takes the draws of one quantity as one `Vec` per chain. Chains of unequal
//! length, fewer than four draws per chain, or any NaN give NaN, as in ArviZ; R-hat needs at
//! least two chains.
//!
//! ```
//! use vi_runtime::infer::convergence::{ess_bulk, rhat};
//! // Two chains stuck in different places: R-hat far above 1.
//! let a: Vec<f64> = (0..100).map(|i| (i as f64 * 0.7).sin()).collect();
//! let b: Vec<f64> = a.iter().map(|x| x + 5.0).collect();
//! assert!(rhat(&[a.clone(), b]) > 1.5);
//! assert!(ess_bulk(&[a]) > 0.0);
//! ```

use crate::stats::{mean, quantile, variance};

/// Whether the draws are usable: rectangular, at least `min_chains` chains of at least four
/// draws, and no NaN (ArviZ's `_not_valid` with `min_draws=4`).
fn valid(chains: &[Vec<f64>], min_chains: usize) -> bool {
    let Some(first) = chains.first() else {
        return false;
    };
    chains.len() >= min_chains
        && first.len() >= 4
        && chains.iter().all(|c| c.len() == first.len())
        && chains.iter().flatten().all(|x| !x.is_nan())
}

/// Splits every chain into its first and last halves (ArviZ's `_split_chains`).
fn split_chains(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = chains[0].len();
    let half = n / 2;
    let mut out = Vec::with_capacity(2 * chains.len());
    for c in chains {
        out.push(c[..half].to_vec());
    }
    for c in chains {
        out.push(c[n - half..].to_vec());
    }
    out
}

/// The average rank (1-based, ties averaged) of every value, in input order: SciPy's
/// `rankdata(method="average")`.
fn average_ranks(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut ranks = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && xs[idx[j]] == xs[idx[i]] {
            j += 1;
        }
        // Positions i..j (0-based) share the average of the ranks i+1..=j.
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

/// Rank normalisation over all chains together: `Phi^-1((rank - 3/8) / (S - 3/4 + 1))`
/// (Blom's offset, as ArviZ's `_z_scale`).
fn z_scale(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let flat: Vec<f64> = chains.iter().flatten().copied().collect();
    let s = flat.len() as f64;
    let ranks = average_ranks(&flat);
    let c = 3.0 / 8.0;
    let z: Vec<f64> = ranks
        .iter()
        .map(|r| norm_ppf((r - c) / (s - 2.0 * c + 1.0)))
        .collect();
    z.chunks(chains[0].len()).map(<[f64]>::to_vec).collect()
}

/// The classic (Gelman-Rubin) potential scale reduction of already split chains:
/// `sqrt((B / W + n - 1) / n)`, ArviZ's `_rhat`.
fn rhat_basic(chains: &[Vec<f64>]) -> f64 {
    let n = chains[0].len() as f64;
    let chain_mean: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let between = n * variance(&chain_mean);
    let within = mean(&chains.iter().map(|c| variance(c)).collect::<Vec<_>>());
    ((between / within + n - 1.0) / n).sqrt()
}

/// The median of all values (NumPy's: the mean of the two middle values for an even count).
fn median(chains: &[Vec<f64>]) -> f64 {
    let mut flat: Vec<f64> = chains.iter().flatten().copied().collect();
    quantile(&mut flat, 0.5)
}

/// Rank-normalised split R-hat: the larger of the bulk (rank-normalised) and tail
/// (rank-normalised folded) split R-hat. NaN for fewer than two chains or four draws.
///
/// Equals ArviZ's `az.rhat(x)` (default `method="rank"`) and R `posterior::rhat(x)`.
pub fn rhat(chains: &[Vec<f64>]) -> f64 {
    if !valid(chains, 2) {
        return f64::NAN;
    }
    let split = split_chains(chains);
    let bulk = rhat_basic(&z_scale(&split));
    let med = median(&split);
    let folded: Vec<Vec<f64>> = split
        .iter()
        .map(|c| c.iter().map(|x| (x - med).abs()).collect())
        .collect();
    let tail = rhat_basic(&z_scale(&folded));
    bulk.max(tail)
}

/// The effective sample size of the chains as they are (not split, not normalised): ArviZ's
/// `_ess`, Geyer's initial monotone sequence estimator over the chains' mean autocorrelation.
///
/// Used by the other estimators; exposed for users who want the plain estimate
/// (`az.ess(x, method="identity")`).
pub fn ess(chains: &[Vec<f64>]) -> f64 {
    if !valid(chains, 1) {
        return f64::NAN;
    }
    ess_raw(chains)
}

/// ArviZ's `_ess` without the shape check (its callers pass split chains of >= 2 draws).
fn ess_raw(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len();
    let n = chains[0].len();
    let size = (m * n) as f64;
    let (lo, hi) = chains
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    // numpy.finfo(float).resolution
    if hi - lo < 1e-15 {
        return size;
    }
    let centred: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| {
            let mu = mean(c);
            c.iter().map(|x| x - mu).collect()
        })
        .collect();
    // Mean over chains of the biased autocovariance at lag t (divisor n), as ArviZ's FFT
    // `_autocov` computes it; lags are computed only as far as the sequence below needs them.
    let acov = |t: usize| -> f64 {
        centred
            .iter()
            .map(|c| {
                c[..n - t]
                    .iter()
                    .zip(&c[t..])
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    / n as f64
            })
            .sum::<f64>()
            / m as f64
    };
    let nf = n as f64;
    let mean_var = acov(0) * nf / (nf - 1.0);
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if m > 1 {
        let chain_mean: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
        var_plus += variance(&chain_mean);
    }
    let rho = |t: usize| 1.0 - (mean_var - acov(t)) / var_plus;

    let mut rho_hat = vec![0.0; n];
    let mut rho_even = 1.0;
    rho_hat[0] = rho_even;
    let mut rho_odd = if n > 1 { rho(1) } else { 0.0 };
    if n > 1 {
        rho_hat[1] = rho_odd;
    }
    // Geyer's initial positive sequence.
    let mut t = 1usize;
    while (t as i64) < n as i64 - 3 && rho_even + rho_odd > 0.0 {
        rho_even = rho(t + 1);
        rho_odd = rho(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho_hat[t + 1] = rho_even;
            rho_hat[t + 2] = rho_odd;
        }
        t += 2;
    }
    // max_t = t - 2 >= -1; work with max_t + 1 to stay unsigned.
    let max_t1 = t - 1;
    if rho_even > 0.0 {
        rho_hat[max_t1] = rho_even;
    }
    // Geyer's initial monotone sequence.
    let mut t = 1usize;
    while t + 3 <= max_t1 {
        if rho_hat[t + 1] + rho_hat[t + 2] > rho_hat[t - 1] + rho_hat[t] {
            rho_hat[t + 1] = (rho_hat[t - 1] + rho_hat[t]) / 2.0;
            rho_hat[t + 2] = rho_hat[t + 1];
        }
        t += 2;
    }
    let mut tau = -1.0 + 2.0 * rho_hat[..max_t1].iter().sum::<f64>();
    if max_t1 < n {
        tau += rho_hat[max_t1];
    }
    let tau = tau.max(1.0 / size.log10());
    if rho_hat.iter().any(|r| r.is_nan()) {
        return f64::NAN;
    }
    size / tau
}

/// Bulk effective sample size: the ESS of the rank-normalised split chains.
///
/// Equals ArviZ's `az.ess(x, method="bulk")` and R `posterior::ess_bulk(x)`.
pub fn ess_bulk(chains: &[Vec<f64>]) -> f64 {
    if !valid(chains, 1) {
        return f64::NAN;
    }
    ess_raw(&z_scale(&split_chains(chains)))
}

/// The effective sample size of the `prob`-quantile: the ESS of the split indicator chains
/// `x <= q_prob`, `q_prob` the type-7 quantile of all draws (ArviZ's `_ess_quantile`).
pub fn ess_quantile(chains: &[Vec<f64>], prob: f64) -> f64 {
    if !valid(chains, 1) {
        return f64::NAN;
    }
    let mut flat: Vec<f64> = chains.iter().flatten().copied().collect();
    let q = quantile(&mut flat, prob);
    let ind: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| c.iter().map(|&x| if x <= q { 1.0 } else { 0.0 }).collect())
        .collect();
    ess_raw(&split_chains(&ind))
}

/// Tail effective sample size: the smaller of the ESS of the 5% and the 95% quantiles.
///
/// Equals ArviZ's `az.ess(x, method="tail")` and R `posterior::ess_tail(x)`.
pub fn ess_tail(chains: &[Vec<f64>]) -> f64 {
    if !valid(chains, 1) {
        return f64::NAN;
    }
    ess_quantile(chains, 0.05).min(ess_quantile(chains, 0.95))
}

/// The effective sample size for the mean: the ESS of the raw split chains
/// (`az.ess(x, method="mean")`, R `posterior::ess_mean(x)`).
pub fn ess_mean(chains: &[Vec<f64>]) -> f64 {
    if !valid(chains, 1) {
        return f64::NAN;
    }
    ess_raw(&split_chains(chains))
}

/// Monte Carlo standard error of the mean: the sd of all draws over the square root of
/// [`ess_mean`].
///
/// Equals ArviZ's `az.mcse(x)` (default `method="mean"`) and R `posterior::mcse_mean(x)`.
pub fn mcse_mean(chains: &[Vec<f64>]) -> f64 {
    if !valid(chains, 1) {
        return f64::NAN;
    }
    let flat: Vec<f64> = chains.iter().flatten().copied().collect();
    variance(&flat).sqrt() / ess_mean(chains).sqrt()
}

/// The standard normal quantile function, to full double precision: a rational start
/// (Abramowitz and Stegun 26.2.23, error < 4.5e-4) refined by three Halley steps on
/// `Phi(x) - p` with `Phi` from `erfc` (cubic convergence: 4.5e-4, 1e-10, machine precision).
pub(crate) fn norm_ppf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p > 0.5 {
        return -norm_ppf(1.0 - p);
    }
    if p == 0.5 {
        return 0.0;
    }
    let t = (-2.0 * p.ln()).sqrt();
    let (c0, c1, c2) = (2.515517, 0.802853, 0.010328);
    let (d1, d2, d3) = (1.432788, 0.189269, 0.001308);
    let mut x = -(t - (c0 + c1 * t + c2 * t * t) / (1.0 + d1 * t + d2 * t * t + d3 * t * t * t));
    let sqrt_2pi = (2.0 * std::f64::consts::PI).sqrt();
    for _ in 0..3 {
        let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
        let u = e * sqrt_2pi * (0.5 * x * x).exp();
        x -= u / (1.0 + 0.5 * x * u);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_ppf_matches_scipy() {
        // scipy.stats.norm.ppf([1e-10, 0.001, 0.025, 0.3, 0.5, 0.9, 0.999999])
        let cases = [
            (1e-10, -6.361340902404056),
            (0.001, -3.090232306167813),
            (0.025, -1.9599639845400545),
            (0.3, -0.5244005127080409),
            (0.5, 0.0),
            (0.9, 1.2815515655446004),
            (0.999999, 4.753424308817087),
        ];
        for (p, want) in cases {
            let got = norm_ppf(p);
            assert!(
                (got - want).abs() <= 1e-13 * want.abs().max(1.0),
                "ppf({p}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn average_ranks_match_scipy() {
        // scipy.stats.rankdata([3, 1, 4, 1, 5, 9, 2, 6, 5], method="average")
        let r = average_ranks(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0]);
        assert_eq!(r, [4.0, 1.5, 5.0, 1.5, 6.5, 9.0, 3.0, 8.0, 6.5]);
    }

    #[test]
    fn invalid_input_gives_nan() {
        let c = vec![1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(rhat(std::slice::from_ref(&c)).is_nan(), "one chain");
        assert!(rhat(&[c.clone(), vec![1.0, 2.0]]).is_nan(), "ragged");
        assert!(ess_bulk(&[vec![1.0, 2.0, 3.0]]).is_nan(), "three draws");
        assert!(ess_bulk(&[vec![1.0, f64::NAN, 3.0, 4.0]]).is_nan(), "NaN");
        assert!(mcse_mean(&[]).is_nan(), "no chains");
        // A constant chain: ArviZ returns the number of draws.
        assert_eq!(ess_mean(&[vec![2.0; 10], vec![2.0; 10]]), 20.0);
    }
}
