//! The Euclidean metrics of the sampler (diagonal, dense, low-rank) and their estimators.
//!
//! A metric is the covariance `M^-1` of the Hamiltonian's kinetic energy `p' M^-1 p / 2`;
//! a good one is close to the posterior covariance. Each metric supplies what a leapfrog
//! step needs: the velocity `M^-1 p` (O(d) diagonal, O(d k) low-rank, O(d^2) dense), the
//! kinetic energy and a momentum draw `p ~ N(0, M)`.
//!
//! Estimators (`estimate_*`) take the warmup draws and, for nutpie's adaptation, their
//! gradients (Seyboldt et al. 2024, "nutpie"; nuts-rs's `use_grad_based_estimate`):
//! - diagonal: `M^-1_ii = sqrt(var(x_i) / var(g_i))`, the variance that makes draws and
//!   gradients equally spread once rescaled (exact for independent Gaussians);
//! - dense and low-rank: in the coordinates rescaled by that diagonal, the matrix `S` with
//!   `S Cov(g) S = Cov(x)`, the geometric mean of `Cov(x)` and `Cov(g)^-1` (the minimiser
//!   of the Fisher divergence among Gaussians, exact for any Gaussian). Dense shrinks it
//!   toward its diagonal pair by pair, with the Schäfer-Strimmer intensity of each pair's
//!   correlation in the draws (near 0 for a strong correlation, 1 when it is noise; see
//!   [`shrinkage_intensities`]); low-rank keeps, as nutpie does, only the eigenvectors whose eigenvalues are above 2
//!   or below 1/2 (at most `k` of them, those farthest from 1 in log).
//!
//! Without gradients (Stan's adaptation) the diagonal and dense estimates are Stan's
//! regularised sample variances and covariances (`var_adaptation.hpp`,
//! `covar_adaptation.hpp`).

use nalgebra::{Cholesky, DMatrix, DVector, SymmetricEigen};
use rand::Rng as _;
use rand_distr::StandardNormal;

use crate::infer::Rng;
use crate::stats::column_mean_var;

/// nuts-rs's bounds of a diagonal element of the inverse metric.
const DIAG_LIMITS: (f64, f64) = (1e-20, 1e20);
/// nutpie's regularisation of the rescaled covariances: `Cov + (GAMMA / n) I`.
const GAMMA: f64 = 1e-5;
/// Low-rank: eigenvalues of the rescaled metric kept when above this or below its inverse.
const EIGVAL_CUTOFF: f64 = 2.0;
/// Bounds of the eigenvalues of a dense estimate in the coordinates rescaled by the
/// diagonal estimate.
const RESCALED_LIMITS: (f64, f64) = (1e-10, 1e10);

/// The metric of one chain.
#[derive(Debug, Clone)]
pub(crate) enum MetricState {
    /// `M^-1 = diag(inv)`, and `sqrt = inv.sqrt()` for the momentum draws (built by
    /// [`MetricState::from_diag`]; whoever writes `inv` in place calls
    /// [`MetricState::refresh_sqrt`]).
    Diag { inv: Vec<f64>, sqrt: Vec<f64> },
    /// `M^-1 = inv` with lower Cholesky factor `chol`.
    Dense {
        inv: DMatrix<f64>,
        chol: DMatrix<f64>,
    },
    /// `M^-1 = S (I + U (L - 1) U') S`, `S = diag(scale)`, `U` orthonormal d x k.
    LowRank {
        scale: Vec<f64>,
        u: DMatrix<f64>,
        vals: Vec<f64>,
        /// `vals - 1` and `vals^-1/2 - 1`, precomputed for the leapfrog and momenta.
        vals_m1: Vec<f64>,
        inv_sqrt_m1: Vec<f64>,
        /// Scratch of length k.
        work: Vec<f64>,
    },
}

impl MetricState {
    /// The identity metric.
    pub(crate) fn identity(d: usize) -> Self {
        Self::from_diag(vec![1.0; d])
    }

    /// The diagonal metric `M^-1 = diag(inv)`.
    pub(crate) fn from_diag(inv: Vec<f64>) -> Self {
        let sqrt = inv.iter().map(|m| m.sqrt()).collect();
        MetricState::Diag { inv, sqrt }
    }

    /// Recomputes a diagonal metric's square roots after its `inv` was written in place.
    pub(crate) fn refresh_sqrt(&mut self) {
        if let MetricState::Diag { inv, sqrt } = self {
            for (s, m) in sqrt.iter_mut().zip(inv.iter()) {
                *s = m.sqrt();
            }
        }
    }

    /// A dense metric from `inv` (symmetric positive definite), or `None` if it is not.
    pub(crate) fn dense(inv: DMatrix<f64>) -> Option<Self> {
        if !inv.iter().all(|x| x.is_finite()) {
            return None;
        }
        let chol = Cholesky::new(inv.clone())?.l();
        Some(MetricState::Dense { inv, chol })
    }

    /// A low-rank metric `S (I + U (L - 1) U') S`.
    pub(crate) fn low_rank(scale: Vec<f64>, u: DMatrix<f64>, vals: Vec<f64>) -> Self {
        let vals_m1 = vals.iter().map(|l| l - 1.0).collect();
        let inv_sqrt_m1 = vals.iter().map(|l| l.sqrt().recip() - 1.0).collect();
        let work = vec![0.0; vals.len()];
        MetricState::LowRank {
            scale,
            u,
            vals,
            vals_m1,
            inv_sqrt_m1,
            work,
        }
    }

    /// The diagonal of `M^-1`.
    pub(crate) fn diag(&self) -> Vec<f64> {
        match self {
            MetricState::Diag { inv, .. } => inv.clone(),
            MetricState::Dense { inv, .. } => inv.diagonal().iter().copied().collect(),
            MetricState::LowRank {
                scale, u, vals_m1, ..
            } => (0..scale.len())
                .map(|i| {
                    let s: f64 = (0..vals_m1.len())
                        .map(|j| u[(i, j)] * u[(i, j)] * vals_m1[j])
                        .sum();
                    scale[i] * scale[i] * (1.0 + s)
                })
                .collect(),
        }
    }

    /// `M^-1` as a matrix, for dense and low-rank metrics.
    pub(crate) fn matrix(&self) -> Option<DMatrix<f64>> {
        match self {
            MetricState::Diag { .. } => None,
            MetricState::Dense { inv, .. } => Some(inv.clone()),
            MetricState::LowRank {
                scale, u, vals_m1, ..
            } => {
                let d = scale.len();
                let core = u
                    * DMatrix::from_diagonal(&DVector::from_column_slice(vals_m1))
                    * u.transpose()
                    + DMatrix::identity(d, d);
                let s = DMatrix::from_diagonal(&DVector::from_column_slice(scale));
                Some(&s * core * &s)
            }
        }
    }

    /// `v = M^-1 p`.
    #[inline]
    pub(crate) fn velocity(&mut self, p: &[f64], v: &mut [f64]) {
        match self {
            MetricState::Diag { inv, .. } => {
                for ((v, p), m) in v.iter_mut().zip(p).zip(inv.iter()) {
                    *v = p * m;
                }
            }
            MetricState::Dense { inv, .. } => {
                let d = p.len();
                v.iter_mut().for_each(|x| *x = 0.0);
                // Column-major: accumulate column j times p_j.
                for (j, pj) in p.iter().enumerate() {
                    let col = &inv.as_slice()[j * d..(j + 1) * d];
                    for (vi, a) in v.iter_mut().zip(col) {
                        *vi += a * pj;
                    }
                }
            }
            MetricState::LowRank {
                scale,
                u,
                vals_m1,
                work,
                ..
            } => {
                let d = p.len();
                // p' = S p; w = (L - 1) U' p'; v = S (p' + U w).
                for (j, w) in work.iter_mut().enumerate() {
                    let col = &u.as_slice()[j * d..(j + 1) * d];
                    let s: f64 = col
                        .iter()
                        .zip(p)
                        .zip(scale.iter())
                        .map(|((a, p), s)| a * p * s)
                        .sum();
                    *w = s * vals_m1[j];
                }
                for ((v, p), s) in v.iter_mut().zip(p).zip(scale.iter()) {
                    *v = p * s;
                }
                for (j, w) in work.iter().enumerate() {
                    let col = &u.as_slice()[j * d..(j + 1) * d];
                    for (vi, a) in v.iter_mut().zip(col) {
                        *vi += a * w;
                    }
                }
                for (v, s) in v.iter_mut().zip(scale.iter()) {
                    *v *= s;
                }
            }
        }
    }

    /// `p ~ N(0, M)` from the standard normals of `rng`, one per element.
    pub(crate) fn sample_momentum(&mut self, rng: &mut Rng, p: &mut [f64]) {
        match self {
            MetricState::Diag { sqrt, .. } => {
                for (p, m) in p.iter_mut().zip(sqrt.iter()) {
                    let n: f64 = rng.sample(StandardNormal);
                    *p = n / m;
                }
            }
            MetricState::Dense { chol, .. } => {
                // p = L'^-1 z has covariance (L L')^-1 = M (Stan's dense_e_metric).
                let z = DVector::from_iterator(
                    p.len(),
                    (0..p.len()).map(|_| rng.sample(StandardNormal)),
                );
                let sol = chol.tr_solve_lower_triangular(&z).unwrap_or(z);
                p.copy_from_slice(sol.as_slice());
            }
            MetricState::LowRank {
                scale,
                u,
                inv_sqrt_m1,
                work,
                ..
            } => {
                // p = S^-1 (z + U (L^-1/2 - 1) U' z).
                let d = p.len();
                for p in p.iter_mut() {
                    *p = rng.sample(StandardNormal);
                }
                for (j, w) in work.iter_mut().enumerate() {
                    let col = &u.as_slice()[j * d..(j + 1) * d];
                    let s: f64 = col.iter().zip(p.iter()).map(|(a, z)| a * z).sum();
                    *w = s * inv_sqrt_m1[j];
                }
                for (j, w) in work.iter().enumerate() {
                    let col = &u.as_slice()[j * d..(j + 1) * d];
                    for (pi, a) in p.iter_mut().zip(col) {
                        *pi += a * w;
                    }
                }
                for (p, s) in p.iter_mut().zip(scale.iter()) {
                    *p /= s;
                }
            }
        }
    }

    /// The number of low-rank directions (0 for the others).
    pub(crate) fn rank(&self) -> usize {
        match self {
            MetricState::LowRank { vals, .. } => vals.len(),
            _ => 0,
        }
    }
}

/// Draws (and gradients) collected during warmup, row-major, `d` per row.
#[derive(Debug, Clone, Default)]
pub(crate) struct Samples {
    pub(crate) d: usize,
    pub(crate) draws: Vec<f64>,
    pub(crate) grads: Vec<f64>,
}

impl Samples {
    pub(crate) fn n(&self) -> usize {
        self.draws.len().checked_div(self.d).unwrap_or(0)
    }
}

/// nutpie's diagonal: `sqrt(var_x / var_g)`, within nuts-rs's bounds; an element that is not
/// finite or zero (a parameter that did not move) keeps `fallback`.
pub(crate) fn grad_diag(var_x: &[f64], var_g: &[f64], fallback: &[f64]) -> Vec<f64> {
    var_x
        .iter()
        .zip(var_g)
        .zip(fallback)
        .map(|((x, g), f)| {
            let v = (x / g).sqrt();
            if v.is_finite() && v > 0.0 {
                v.clamp(DIAG_LIMITS.0, DIAG_LIMITS.1)
            } else {
                *f
            }
        })
        .collect()
}

/// nutpie's initial diagonal from the gradient at the initial point: `1 / |g_i|`.
pub(crate) fn init_diag(grad: &[f64]) -> Vec<f64> {
    grad.iter()
        .map(|g| {
            let v = g.abs().clamp(DIAG_LIMITS.0, DIAG_LIMITS.1).recip();
            if v.is_finite() {
                v
            } else {
                1.0
            }
        })
        .collect()
}

/// Stan's regularised variance `(n / (n + 5)) var + 1e-3 (5 / (n + 5))` (sample variance,
/// divisor n - 1).
pub(crate) fn stan_diag(s: &Samples) -> Vec<f64> {
    let n = s.n() as f64;
    let (_, var) = column_mean_var(&s.draws, s.d);
    var.iter()
        .map(|v| (n / (n + 5.0)) * (v * n / (n - 1.0)) + 1e-3 * (5.0 / (n + 5.0)))
        .collect()
}

/// The centred, rescaled n x d matrices of draws and gradients and the scale `sigma`
/// (`sigma^2` the diagonal estimate): `x' = (x - mean) / sigma`, `g' = (g - mean) sigma`.
fn rescaled(s: &Samples, fallback: &[f64]) -> (DMatrix<f64>, DMatrix<f64>, Vec<f64>) {
    let d = s.d;
    let n = s.n();
    let (mx, vx) = column_mean_var(&s.draws, d);
    let (mg, vg) = column_mean_var(&s.grads, d);
    let sigma: Vec<f64> = grad_diag(&vx, &vg, fallback)
        .iter()
        .map(|v| v.sqrt())
        .collect();
    let x = DMatrix::from_fn(n, d, |k, i| (s.draws[k * d + i] - mx[i]) / sigma[i]);
    let g = DMatrix::from_fn(n, d, |k, i| (s.grads[k * d + i] - mg[i]) * sigma[i]);
    (x, g, sigma)
}

/// Symmetric `a^t` for a symmetric positive semi-definite `a` (negative eigenvalues from
/// rounding are clamped to a tiny positive value).
fn spd_pow(eig: &SymmetricEigen<f64, nalgebra::Dyn>, t: f64) -> DMatrix<f64> {
    let top = eig.eigenvalues.iter().copied().fold(0.0, f64::max);
    let floor = (top * 1e-300).max(f64::MIN_POSITIVE);
    let vals = eig.eigenvalues.map(|l| l.max(floor).powf(t));
    &eig.eigenvectors * DMatrix::from_diagonal(&vals) * eig.eigenvectors.transpose()
}

/// The geometric mean of `a` and `b^-1`: the `S` with `S b S = a`,
/// `b^-1/2 (b^1/2 a b^1/2)^1/2 b^-1/2`.
fn spd_mean(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let eb = SymmetricEigen::new(b.clone());
    let b_half = spd_pow(&eb, 0.5);
    let b_inv_half = spd_pow(&eb, -0.5);
    let mut m = &b_half * a * &b_half;
    symmetrise(&mut m);
    let c_half = spd_pow(&SymmetricEigen::new(m), 0.5);
    let mut out = &b_inv_half * c_half * &b_inv_half;
    symmetrise(&mut out);
    out
}

fn symmetrise(m: &mut DMatrix<f64>) {
    let d = m.nrows();
    for i in 0..d {
        for j in 0..i {
            let a = 0.5 * (m[(i, j)] + m[(j, i)]);
            m[(i, j)] = a;
            m[(j, i)] = a;
        }
    }
}

/// nutpie's rescaled metric: the geometric mean of the rescaled covariances of draws and
/// gradients, each regularised by `(GAMMA / n) I`.
fn grad_metric(x: &DMatrix<f64>, g: &DMatrix<f64>) -> DMatrix<f64> {
    let n = x.nrows() as f64;
    let d = x.ncols();
    let ridge = DMatrix::identity(d, d) * (GAMMA / n);
    let cx = x.transpose() * x / n + &ridge;
    let cg = g.transpose() * g / n + &ridge;
    spd_mean(&cx, &cg)
}

/// Per-pair shrinkage intensities of the correlations of the centred n x d matrix `x`
/// toward 0: `lambda_ij = Var(r_ij) / r_ij^2` clamped to [0, 1], the MSE-optimal intensity
/// of Schäfer and Strimmer (2005, target "D") applied to each pair alone, with the
/// normal-theory sampling variance `Var(r) = (1 - r^2)^2 / n` (Fisher 1915). A pair whose
/// correlation is far larger than its sampling error keeps it (one intensity for all
/// pairs, or Schäfer-Strimmer's variance estimate, which ignores that |r| <= 1, would be
/// driven by the noise and spoil a correlation of -0.99999, which a sampler must keep);
/// a pair whose correlation is noise is set to 0.
pub(crate) fn shrinkage_intensities(x: &DMatrix<f64>) -> DMatrix<f64> {
    let (n, d) = (x.nrows(), x.ncols());
    let mut out = DMatrix::from_element(d, d, 1.0);
    out.fill_diagonal(0.0);
    if n < 3 {
        return out;
    }
    let c = x.transpose() * x;
    for i in 0..d {
        for j in 0..i {
            let r = c[(i, j)] / (c[(i, i)] * c[(j, j)]).sqrt();
            let var = (1.0 - r * r).powi(2) / n as f64;
            let l = if r.is_finite() && r != 0.0 {
                (var / (r * r)).clamp(0.0, 1.0)
            } else {
                1.0
            };
            out[(i, j)] = l;
            out[(j, i)] = l;
        }
    }
    out
}

/// Stein's identity as a test of equilibrium: `-E[(x - E x) . grad log p(x)] / d`, which is 1
/// for draws from the target (any density whose tails vanish: integrate by parts), here
/// estimated from the window's draws and gradients. The sum over coordinates is the
/// coordinate-free `(x - mean)' (g - mean)`, so its sampling error is small (for a
/// Gaussian target `(x - mu)' P (x - mu)` is chi-squared with d degrees of freedom: the
/// relative sd is `sqrt(2 / (d n_eff))`) however correlated the posterior. Draws still in
/// their transient (climbing from a poor initial point) give values far from 1.
pub(crate) fn stein_ratio(s: &Samples) -> f64 {
    let (d, n) = (s.d, s.n());
    if n < 2 {
        return f64::NAN;
    }
    let (mx, _) = column_mean_var(&s.draws, d);
    let (mg, _) = column_mean_var(&s.grads, d);
    let mut acc = 0.0;
    for (x, g) in s.draws.chunks_exact(d).zip(s.grads.chunks_exact(d)) {
        for i in 0..d {
            acc += (x[i] - mx[i]) * (g[i] - mg[i]);
        }
    }
    -acc / (n as f64 * d as f64)
}

/// The condition number of the correlation matrix of `m` (symmetric positive definite).
pub(crate) fn correlation_condition(m: &DMatrix<f64>) -> f64 {
    let d = m.nrows();
    let s: Vec<f64> = (0..d).map(|i| m[(i, i)].sqrt().recip()).collect();
    let r = DMatrix::from_fn(d, d, |i, j| m[(i, j)] * s[i] * s[j]);
    let e = SymmetricEigen::new(r).eigenvalues;
    let (lo, hi) = e.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &l| {
        (lo.min(l), hi.max(l))
    });
    if lo > 0.0 {
        hi / lo
    } else {
        f64::INFINITY
    }
}

/// The dense inverse metric from draws and gradients (nutpie's estimate, shrunk toward its
/// diagonal), or Stan's regularised covariance without gradients; `None` when nutpie's
/// estimate is not a plausible metric (see `RESCALED_LIMITS`).
pub(crate) fn estimate_dense(s: &Samples, grads: bool, fallback: &[f64]) -> Option<DMatrix<f64>> {
    let d = s.d;
    let n = s.n() as f64;
    if !grads {
        // Stan: (n / (n + 5)) Cov + 1e-3 (5 / (n + 5)) I, Cov with divisor n - 1.
        let (mx, _) = column_mean_var(&s.draws, d);
        let x = DMatrix::from_fn(s.n(), d, |k, i| s.draws[k * d + i] - mx[i]);
        let cov = x.transpose() * &x / (n - 1.0);
        return Some(cov * (n / (n + 5.0)) + DMatrix::identity(d, d) * (1e-3 * 5.0 / (n + 5.0)));
    }
    let (x, g, sigma) = rescaled(s, fallback);
    let mut m = grad_metric(&x, &g);
    let lambda = shrinkage_intensities(&x);
    let shrunk = m.component_mul(&lambda.map(|l| 1.0 - l));
    // Shrinking entries one by one may lose positive definiteness: then keep the estimate.
    if Cholesky::new(shrunk.clone()).is_some() {
        m = shrunk;
    }
    // In the coordinates rescaled by the diagonal estimate the metric is close to a
    // correlation matrix (a -0.99999 correlation gives eigenvalues near 2 and 1e-5); an
    // eigenvalue outside `RESCALED_LIMITS` means the window is no sample of a posterior
    // (ARMA(1,1) far out in its explosive region gave 1e223): no dense estimate then.
    let e = SymmetricEigen::new(m.clone()).eigenvalues;
    if !e
        .iter()
        .all(|l| l.is_finite() && *l > RESCALED_LIMITS.0 && *l < RESCALED_LIMITS.1)
    {
        return None;
    }
    Some(DMatrix::from_fn(d, d, |i, j| {
        sigma[i] * m[(i, j)] * sigma[j]
    }))
}

/// The low-rank metric: nutpie's from draws and gradients, or without gradients the
/// leading eigenvectors of the draws' correlation-scaled covariance around Stan's
/// regularised variances. At most `k` directions.
pub(crate) fn estimate_low_rank(
    s: &Samples,
    grads: bool,
    k: usize,
    fallback: &[f64],
) -> MetricState {
    let d = s.d;
    let (m, scale) = if grads {
        let (x, g, sigma) = rescaled(s, fallback);
        (grad_metric(&x, &g), sigma)
    } else {
        let diag = stan_diag(s);
        let scale: Vec<f64> = diag.iter().map(|v| v.sqrt()).collect();
        let n = s.n() as f64;
        let (mx, _) = column_mean_var(&s.draws, d);
        let x = DMatrix::from_fn(s.n(), d, |kk, i| (s.draws[kk * d + i] - mx[i]) / scale[i]);
        let cov = x.transpose() * &x / (n - 1.0);
        (
            cov * (n / (n + 5.0)) + DMatrix::identity(d, d) * (5.0 / (n + 5.0)),
            scale,
        )
    };
    let eig = SymmetricEigen::new(m);
    let mut keep: Vec<(f64, usize)> = eig
        .eigenvalues
        .iter()
        .enumerate()
        .filter(|(_, &l)| {
            l.is_finite() && l > 0.0 && (l > EIGVAL_CUTOFF || l < EIGVAL_CUTOFF.recip())
        })
        .map(|(j, &l)| (l.ln().abs(), j))
        .collect();
    keep.sort_by(|a, b| b.0.total_cmp(&a.0));
    keep.truncate(k);
    let u = DMatrix::from_fn(d, keep.len(), |i, c| eig.eigenvectors[(i, keep[c].1)]);
    let vals = keep.iter().map(|&(_, j)| eig.eigenvalues[j]).collect();
    MetricState::low_rank(scale, u, vals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Draws from N(0, cov) and their gradients -cov^-1 x: the gradient-based dense
    /// estimate recovers cov (exact for Gaussians up to sampling error).
    #[test]
    fn dense_estimate_recovers_a_gaussian_covariance() {
        let cov = DMatrix::from_row_slice(3, 3, &[4.0, 1.9, 0.0, 1.9, 1.0, 0.0, 0.0, 0.0, 0.01]);
        let prec = cov.clone().try_inverse().unwrap();
        let l = Cholesky::new(cov.clone()).unwrap().l();
        let mut rng = Rng::seed_from_u64(1);
        let mut s = Samples {
            d: 3,
            ..Samples::default()
        };
        for _ in 0..4000 {
            let z = DVector::from_iterator(3, (0..3).map(|_| rng.sample::<f64, _>(StandardNormal)));
            let x = &l * z;
            let g = -&prec * &x;
            s.draws.extend(x.iter());
            s.grads.extend(g.iter());
        }
        let m = estimate_dense(&s, true, &[1.0; 3]).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let tol = 0.05 * (cov[(i, i)] * cov[(j, j)]).sqrt();
                assert!(
                    (m[(i, j)] - cov[(i, j)]).abs() < tol,
                    "{i},{j}: {m} vs {cov}"
                );
            }
        }
        // The same matrix from the low-rank estimate (two directions away from 1, the
        // third is the identity in rescaled coordinates) and from the metric's matrix.
        let lr = estimate_low_rank(&s, true, 3, &[1.0; 3]);
        let ml = lr.matrix().unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let tol = 0.05 * (cov[(i, i)] * cov[(j, j)]).sqrt();
                assert!(
                    (ml[(i, j)] - cov[(i, j)]).abs() < tol,
                    "{i},{j}: {ml} vs {cov}"
                );
            }
        }
        let diag = lr.diag();
        for i in 0..3 {
            assert!((diag[i] - ml[(i, i)]).abs() < 1e-12 * ml[(i, i)]);
        }
    }

    /// Velocity and momenta agree with the matrix: `v = M^-1 p`, and `p ~ N(0, M)` has
    /// sample covariance near `M = (M^-1)^-1`.
    #[test]
    fn velocity_and_momenta_follow_the_matrix() {
        let d = 4;
        let scale = vec![2.0, 0.5, 1.0, 3.0];
        let u = DMatrix::from_fn(d, 2, |i, j| {
            // Two orthonormal columns: (1, 1, 1, 1) / 2 and (1, -1, 1, -1) / 2.
            if j == 0 || i % 2 == 0 {
                0.5
            } else {
                -0.5
            }
        });
        let lr = MetricState::low_rank(scale, u, vec![9.0, 0.25]);
        let inv = lr.matrix().unwrap();
        let dense = MetricState::dense(inv.clone()).unwrap();
        let p = [0.3, -1.2, 0.7, 2.0];
        let want = &inv * DVector::from_column_slice(&p);
        for mut m in [lr, dense] {
            let mut v = vec![0.0; d];
            m.velocity(&p, &mut v);
            for i in 0..d {
                assert!((v[i] - want[i]).abs() < 1e-12, "{v:?} vs {want}");
            }
            let mut rng = Rng::seed_from_u64(3);
            let n = 40000;
            let mut acc = DMatrix::zeros(d, d);
            let mut q = vec![0.0; d];
            for _ in 0..n {
                m.sample_momentum(&mut rng, &mut q);
                let q = DVector::from_column_slice(&q);
                acc += &q * q.transpose();
            }
            acc /= n as f64;
            let mass = inv.clone().try_inverse().unwrap();
            for i in 0..d {
                for j in 0..d {
                    let tol = 0.05 * (mass[(i, i)] * mass[(j, j)]).sqrt();
                    assert!((acc[(i, j)] - mass[(i, j)]).abs() < tol, "{acc} vs {mass}");
                }
            }
        }
    }

    /// Stein's ratio is 1 for draws from the target whatever its correlation (here a
    /// Gaussian with correlation 0.999 and scales 1 and 100: a per-coordinate ratio would
    /// be noisy), and far from 1 for draws climbing toward the mode.
    #[test]
    fn stein_ratio_is_one_in_equilibrium_only() {
        // Sds 1 and 100, correlation 99.9 / 100 = 0.999.
        let cov = DMatrix::from_row_slice(2, 2, &[1.0, 99.9, 99.9, 10000.0]);
        let prec = cov.clone().try_inverse().unwrap();
        let l = Cholesky::new(cov).unwrap().l();
        let mut rng = Rng::seed_from_u64(9);
        let mut s = Samples {
            d: 2,
            ..Samples::default()
        };
        for _ in 0..400 {
            let z = DVector::from_iterator(2, (0..2).map(|_| rng.sample::<f64, _>(StandardNormal)));
            let x = &l * z;
            s.draws.extend(x.iter());
            s.grads.extend((-&prec * &x).iter());
        }
        // chi-squared with 2 degrees of freedom over 400 draws / 2: sd 0.05.
        let r = stein_ratio(&s);
        assert!((r - 1.0).abs() < 0.2, "{r}");
        // A chain climbing along a steep ridge toward the mode: x_k = 10 - k / 10 in both
        // coordinates, gradients of the same Gaussian at those points.
        let mut t = Samples {
            d: 2,
            ..Samples::default()
        };
        for k in 0..50 {
            let x = DVector::from_element(2, 10.0 - k as f64 / 10.0);
            t.draws.extend(x.iter());
            t.grads.extend((-&prec * &x).iter());
        }
        let r = stein_ratio(&t);
        assert!(!(0.5..=2.0).contains(&r), "{r}");
    }

    #[test]
    fn shrinkage_keeps_strong_and_drops_noise_correlations() {
        let mut rng = Rng::seed_from_u64(5);
        let n = 200;
        let z: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        // Columns 0 and 1 nearly equal (corr 0.9988); column 2 independent of both.
        let x = DMatrix::from_fn(n, 3, |k, j| match j {
            2 => rng.sample::<f64, _>(StandardNormal),
            _ => z[k] + 0.05 * rng.sample::<f64, _>(StandardNormal),
        });
        let l = shrinkage_intensities(&x);
        // (1 - 0.9988^2)^2 / (200 0.9988^2) = 2.9e-8.
        assert!(l[(0, 1)] < 1e-6, "{l}");
        assert!(l[(0, 2)] > 0.3 && l[(1, 2)] > 0.3, "{l}");
        assert_eq!(l[(1, 0)], l[(0, 1)]);
        assert_eq!(l[(0, 0)], 0.0);
    }
}
