//! The objective `F` in the whitened coordinates `xi = (u, omega)`, `mu = shift + L u`: its
//! value and exact gradient over the fixed draws (on several threads when an evaluation is
//! slow), its Hessian by central differences of that gradient, and each antithetic pair's
//! gradient (measured, and as its second-order Taylor expansion predicts it) for the
//! sandwich estimate of the fit's Monte Carlo error.

use nalgebra::{DMatrix, DVector};

use super::draws::FixedDraws;
use crate::math::LN_2PI;
use crate::model::Model;

/// Step of the central differences of `F`'s gradient, in the whitened coordinates (where a
/// unit is about one posterior sd, or a factor `e` in a sd).
const HESSIAN_STEP: f64 = 1e-4;

/// The whitening `mu = shift + L u`.
pub(super) enum Whitening {
    Dense { shift: Vec<f64>, l: DMatrix<f64> },
    None { shift: Vec<f64> },
}

impl Whitening {
    pub(super) fn mu(&self, u: &[f64], out: &mut [f64]) {
        match self {
            Whitening::Dense { shift, l } => {
                let v = l * DVector::from_column_slice(u);
                for i in 0..out.len() {
                    out[i] = shift[i] + v[i];
                }
            }
            Whitening::None { shift } => {
                for i in 0..out.len() {
                    out[i] = shift[i] + u[i];
                }
            }
        }
    }

    /// `L' g` in place.
    pub(super) fn pull_back(&self, g: &mut [f64]) {
        if let Whitening::Dense { l, .. } = self {
            let v = l.tr_mul(&DVector::from_column_slice(g));
            g.copy_from_slice(v.as_slice());
        }
    }

    /// `L C L'`, the covariance of `mu` from that of `u`.
    pub(super) fn push_cov(&self, c: &DMatrix<f64>) -> DMatrix<f64> {
        match self {
            Whitening::Dense { l, .. } => l * c * l.transpose(),
            Whitening::None { .. } => c.clone(),
        }
    }
}

/// `F` in the whitened coordinates `xi = (u, omega)`.
pub(super) struct Objective<'a, M: ?Sized> {
    pub(super) model: &'a M,
    pub(super) d: usize,
    pub(super) draws: FixedDraws,
    pub(super) white: Whitening,
    pub(super) gradients: usize,
    pub(super) trace: Vec<f64>,
    pub(super) trace_gradients: Vec<usize>,
    pub(super) best: f64,
    /// Threads for the draws of one evaluation (1: none spawned).
    pub(super) threads: usize,
    /// The draws' log densities and gradients, `M x (d + 1)`.
    pub(super) buf: Vec<f64>,
}

impl<M: Model + ?Sized> Objective<'_, M> {
    /// `F(xi)` with its gradient into `grad`; with `pairs`, also each antithetic pair's
    /// gradient (`K x 2d` row-major). `-inf` if the log density is not finite at a draw.
    pub(super) fn eval(
        &mut self,
        xi: &[f64],
        grad: &mut [f64],
        mut pairs: Option<&mut Vec<f64>>,
    ) -> f64 {
        let d = self.d;
        let (u, omega) = xi.split_at(d);
        let mut mu = vec![0.0; d];
        self.white.mu(u, &mut mu);
        let sigma: Vec<f64> = omega.iter().map(|w| w.exp()).collect();
        let m = self.draws.m;
        // Each draw's log density and gradient into its own row of the buffer (in parallel
        // when that pays), then summed in draw order: the same result on any thread count.
        let per = d + 1;
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(m * per, 0.0);
        let (model, z) = (self.model, &self.draws.z);
        let rows = |first: usize, out: &mut [f64]| {
            let mut theta = vec![0.0; d];
            for (k, row) in out.chunks_exact_mut(per).enumerate() {
                let zr = &z[(first + k) * d..(first + k + 1) * d];
                for i in 0..d {
                    theta[i] = mu[i] + sigma[i] * zr[i];
                }
                let (lp, g) = row.split_at_mut(1);
                lp[0] = model.log_density_grad(&theta, g);
            }
        };
        if self.threads > 1 {
            let chunk = m.div_ceil(self.threads);
            // The draws' threads share the kernels' bound (`vi::threads`).
            let share = (crate::threads::budget() / self.threads).max(1);
            std::thread::scope(|s| {
                for (c, out) in buf.chunks_mut(chunk * per).enumerate() {
                    let rows = &rows;
                    s.spawn(move || crate::threads::with_budget(share, || rows(c * chunk, out)));
                }
            });
        } else {
            rows(0, &mut buf);
        }
        self.gradients += m;

        let mut sum_lp = 0.0;
        let (g_mu, g_omega) = grad.split_at_mut(d);
        g_mu.fill(0.0);
        g_omega.fill(0.0);
        if let Some(p) = pairs.as_deref_mut() {
            p.clear();
        }
        let mut finite = true;
        for r in 0..m {
            let row = &buf[r * per..(r + 1) * per];
            let (lp, g) = (row[0], &row[1..]);
            if !lp.is_finite() || g.iter().any(|v| !v.is_finite()) {
                finite = false;
                break;
            }
            let z = &self.draws.z[r * d..(r + 1) * d];
            sum_lp += lp;
            for i in 0..d {
                g_mu[i] += g[i];
                g_omega[i] += g[i] * z[i];
            }
            if let Some(p) = pairs.as_deref_mut() {
                if r % 2 == 1 {
                    // The pair's own objective gradient: the mean of its two draws' terms.
                    let g_first = &buf[(r - 1) * per + 1..r * per];
                    let mut gm: Vec<f64> = (0..d).map(|i| 0.5 * (g_first[i] + g[i])).collect();
                    self.white.pull_back(&mut gm);
                    p.extend_from_slice(&gm);
                    let zp = &self.draws.z[(r - 1) * d..r * d];
                    p.extend((0..d).map(|i| 0.5 * (g_first[i] - g[i]) * zp[i] * sigma[i] + 1.0));
                }
            }
        }
        self.buf = buf;
        if !finite {
            grad.fill(0.0);
            return f64::NEG_INFINITY;
        }
        let mf = m as f64;
        for v in g_mu.iter_mut() {
            *v /= mf;
        }
        self.white.pull_back(g_mu);
        for i in 0..d {
            g_omega[i] = g_omega[i] / mf * sigma[i] + 1.0;
        }
        let f = sum_lp / mf + omega.iter().sum::<f64>() + 0.5 * d as f64 * (1.0 + LN_2PI);
        if f > self.best {
            self.best = f;
        }
        if self.best.is_finite() {
            self.trace.push(self.best);
            self.trace_gradients.push(self.gradients);
        }
        f
    }

    /// The Hessian of `F` at `xi` by central differences of its exact gradient, symmetrised.
    pub(super) fn hessian(&mut self, xi: &[f64]) -> Option<DMatrix<f64>> {
        let n = xi.len();
        let mut h = DMatrix::zeros(n, n);
        let mut x = xi.to_vec();
        let mut gp = vec![0.0; n];
        let mut gm = vec![0.0; n];
        for j in 0..n {
            x[j] = xi[j] + HESSIAN_STEP;
            let fp = self.eval_quiet(&x, &mut gp);
            x[j] = xi[j] - HESSIAN_STEP;
            let fm = self.eval_quiet(&x, &mut gm);
            x[j] = xi[j];
            if !(fp.is_finite() && fm.is_finite()) {
                return None;
            }
            for i in 0..n {
                h[(i, j)] = (gp[i] - gm[i]) / (2.0 * HESSIAN_STEP);
            }
        }
        Some((&h + h.transpose()) * 0.5)
    }

    /// `eval` without touching the trace.
    pub(super) fn eval_quiet(&mut self, xi: &[f64], grad: &mut [f64]) -> f64 {
        let (len, best) = (self.trace.len(), self.best);
        let f = self.eval(xi, grad, None);
        self.trace.truncate(len);
        self.trace_gradients.truncate(len);
        self.best = best;
        f
    }
}

impl<M: Model + ?Sized> Objective<'_, M> {
    /// Each antithetic pair's gradient (`K x 2d`, as the pairs' rows of `eval`) as its
    /// second-order Taylor expansion at `mu` predicts it: with `v = sigma z`, the pair's
    /// mean gradient `g(mu) + T[v, v] / 2` and its half difference `H v`, the directional
    /// derivatives from `g(mu +- h v)`. `2K + 1` model gradients; `None` if one is not
    /// finite.
    pub(super) fn quadratic_pairs(&mut self, xi: &[f64]) -> Option<Vec<f64>> {
        const H: f64 = 1e-3;
        let d = self.d;
        let (u, omega) = xi.split_at(d);
        let mut mu = vec![0.0; d];
        self.white.mu(u, &mut mu);
        let sigma: Vec<f64> = omega.iter().map(|w| w.exp()).collect();
        let mut g0 = vec![0.0; d];
        let (mut gp, mut gm) = (vec![0.0; d], vec![0.0; d]);
        let mut theta = vec![0.0; d];
        let finite = |lp: f64, g: &[f64]| lp.is_finite() && g.iter().all(|v| v.is_finite());
        if !finite(self.model.log_density_grad(&mu, &mut g0), &g0) {
            return None;
        }
        let k = self.draws.m / 2;
        let mut out = Vec::with_capacity(k * 2 * d);
        for r in 0..k {
            let z = &self.draws.z[2 * r * d..(2 * r + 1) * d];
            for (sign, g) in [(1.0, &mut gp), (-1.0, &mut gm)] {
                for i in 0..d {
                    theta[i] = mu[i] + sign * H * sigma[i] * z[i];
                }
                if !finite(self.model.log_density_grad(&theta, g), g) {
                    return None;
                }
            }
            let mut mean: Vec<f64> = (0..d)
                .map(|i| g0[i] + (gp[i] - 2.0 * g0[i] + gm[i]) / (2.0 * H * H))
                .collect();
            self.white.pull_back(&mut mean);
            out.extend_from_slice(&mean);
            out.extend((0..d).map(|i| sigma[i] * z[i] * (gp[i] - gm[i]) / (2.0 * H) + 1.0));
        }
        self.gradients += 2 * k + 1;
        Some(out)
    }

    /// `eval` with the pairs' gradients, without touching the trace.
    pub(super) fn eval_quiet_pairs(
        &mut self,
        xi: &[f64],
        grad: &mut [f64],
        pairs: &mut Vec<f64>,
    ) -> f64 {
        let (len, best) = (self.trace.len(), self.best);
        let f = self.eval(xi, grad, Some(pairs));
        self.trace.truncate(len);
        self.trace_gradients.truncate(len);
        self.best = best;
        f
    }
}
