//! Limited-memory BFGS with a strong-Wolfe line search, maximising a log density.
//!
//! Nocedal and Wright (2006), *Numerical Optimization*, 2nd ed.: the two-loop recursion
//! (Algorithm 7.4) with the initial scaling `gamma_k = s'y / y'y` (7.20), and the line search
//! of Algorithms 3.5 and 3.6 (bracketing, then zoom by safeguarded cubic interpolation) with
//! `c1 = 1e-4`, `c2 = 0.9`. A point where the density is not finite is treated as a step too
//! long: the line search shrinks towards the last good point, so models that are `-inf`
//! outside a region are handled.
//!
//! The objective and its gradient come from one call, as every [`crate::Model`] computes them.

/// Settings of the optimiser.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LbfgsSettings {
    /// Stop when `max_i |grad_i| <= tol_grad * max(1, |f|)` (relative for large objectives,
    /// whose gradients carry proportionally larger rounding errors).
    pub tol_grad: f64,
    /// Stop when the relative change of the objective in one iteration is below this.
    pub tol_rel_obj: f64,
    /// Iteration cap.
    pub max_iterations: usize,
    /// Number of correction pairs kept.
    pub history: usize,
}

/// Where the optimiser stopped.
#[derive(Debug, Clone)]
pub(crate) struct LbfgsResult {
    /// The maximiser found.
    pub x: Vec<f64>,
    /// The objective there.
    pub f: f64,
    /// Its gradient there.
    pub grad: Vec<f64>,
    /// Iterations taken.
    pub iterations: usize,
    /// Why it stopped, in words.
    pub message: &'static str,
}

/// The message of a run stopped by its iteration cap.
pub(crate) const ITERATION_CAP: &str = "iteration cap reached";

const C1: f64 = 1e-4;
const C2: f64 = 0.9;
const MAX_BRACKET: usize = 40;
const MAX_ZOOM: usize = 40;

/// A plain left-to-right dot product, not `stats::dot` (the AD kernels' two-accumulator sum):
/// L-BFGS's path on a problem it does not solve to tolerance depends on the last bits, and
/// this keeps the fits it gave.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// One evaluated trial point of the line search, for the minimised objective `phi = -f`.
struct Trial {
    alpha: f64,
    phi: f64,
    dphi: f64,
    x: Vec<f64>,
    g: Vec<f64>,
}

/// Maximises `f` from `x0`, where `f(x, grad)` returns the objective and writes its gradient.
/// `f0` and `g0` are the objective and gradient at `x0` (finite).
pub(crate) fn maximize(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: Vec<f64>,
    f0: f64,
    g0: Vec<f64>,
    settings: LbfgsSettings,
) -> LbfgsResult {
    let n = x0.len();
    // Minimise phi = -f throughout.
    let mut eval = |x: &[f64], g: &mut [f64]| -> f64 {
        let v = f(x, g);
        for gi in g.iter_mut() {
            *gi = -*gi;
        }
        let v = -v;
        if v.is_finite() && g.iter().all(|gi| gi.is_finite()) {
            v
        } else {
            f64::INFINITY
        }
    };
    let mut x = x0;
    let mut phi = -f0;
    let mut g: Vec<f64> = g0.iter().map(|v| -v).collect();
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut p = vec![0.0; n];
    let mut alpha_buf = vec![0.0; settings.history.max(1)];
    // `_converged`: whether a convergence criterion was met (not the iteration cap or a
    // failed search); the caller judges convergence by the gradient itself.
    let done = |x: Vec<f64>, phi: f64, g: Vec<f64>, it, _converged: bool, message| LbfgsResult {
        x,
        f: -phi,
        grad: g.iter().map(|v| -v).collect(),
        iterations: it,
        message,
    };
    for iter in 1..=settings.max_iterations {
        if crate::stats::inf_norm(&g) <= settings.tol_grad * phi.abs().max(1.0) {
            return done(x, phi, g, iter - 1, true, "gradient below tolerance");
        }
        // Two-loop recursion: p = -H g.
        let mut q = g.clone();
        let m = s_hist.len();
        for j in (0..m).rev() {
            let rho = 1.0 / dot(&y_hist[j], &s_hist[j]);
            let a = rho * dot(&s_hist[j], &q);
            alpha_buf[j] = a;
            for (qi, yi) in q.iter_mut().zip(&y_hist[j]) {
                *qi -= a * yi;
            }
        }
        let gamma = if m > 0 {
            dot(&s_hist[m - 1], &y_hist[m - 1]) / dot(&y_hist[m - 1], &y_hist[m - 1])
        } else {
            1.0
        };
        for qi in q.iter_mut() {
            *qi *= gamma;
        }
        for j in 0..m {
            let rho = 1.0 / dot(&y_hist[j], &s_hist[j]);
            let b = rho * dot(&y_hist[j], &q);
            for (qi, si) in q.iter_mut().zip(&s_hist[j]) {
                *qi += (alpha_buf[j] - b) * si;
            }
        }
        for (pi, qi) in p.iter_mut().zip(&q) {
            *pi = -qi;
        }
        let mut dphi0 = dot(&g, &p);
        let mut alpha0 = 1.0;
        if m == 0 || dphi0 >= 0.0 || !dphi0.is_finite() {
            // Steepest descent with a step of unit length.
            s_hist.clear();
            y_hist.clear();
            for (pi, gi) in p.iter_mut().zip(&g) {
                *pi = -gi;
            }
            dphi0 = dot(&g, &p);
            alpha0 = 1.0 / dphi0.abs().sqrt();
        }
        let trial = match line_search(&mut eval, &x, phi, dphi0, &p, alpha0) {
            Some(t) => t,
            None if m > 0 => {
                // Retry once along the steepest descent direction with a fresh memory.
                s_hist.clear();
                y_hist.clear();
                for (pi, gi) in p.iter_mut().zip(&g) {
                    *pi = -gi;
                }
                let d0 = dot(&g, &p);
                match line_search(&mut eval, &x, phi, d0, &p, 1.0 / d0.abs().sqrt()) {
                    Some(t) => t,
                    None => return done(x, phi, g, iter - 1, false, "line search failed"),
                }
            }
            None => return done(x, phi, g, iter - 1, false, "line search failed"),
        };
        let s: Vec<f64> = trial.x.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = trial.g.iter().zip(&g).map(|(a, b)| a - b).collect();
        let rel = (phi - trial.phi).abs() / phi.abs().max(trial.phi.abs()).max(1.0);
        x = trial.x;
        phi = trial.phi;
        g = trial.g;
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) {
            if s_hist.len() == settings.history {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
        if crate::stats::inf_norm(&g) <= settings.tol_grad * phi.abs().max(1.0) {
            return done(x, phi, g, iter, true, "gradient below tolerance");
        }
        if rel < settings.tol_rel_obj {
            return done(
                x,
                phi,
                g,
                iter,
                true,
                "relative change of the objective below tolerance",
            );
        }
    }
    let it = settings.max_iterations;
    done(x, phi, g, it, false, ITERATION_CAP)
}

/// Strong-Wolfe line search along `p` from `x` (Nocedal and Wright, Algorithm 3.5).
fn line_search(
    eval: &mut impl FnMut(&[f64], &mut [f64]) -> f64,
    x: &[f64],
    phi0: f64,
    dphi0: f64,
    p: &[f64],
    alpha0: f64,
) -> Option<Trial> {
    let n = x.len();
    let mut try_at = |alpha: f64| -> Trial {
        let xa: Vec<f64> = x.iter().zip(p).map(|(xi, pi)| xi + alpha * pi).collect();
        let mut ga = vec![0.0; n];
        let phi = eval(&xa, &mut ga);
        let dphi = if phi.is_finite() {
            dot(&ga, p)
        } else {
            f64::NAN
        };
        Trial {
            alpha,
            phi,
            dphi,
            x: xa,
            g: ga,
        }
    };
    let mut prev = Trial {
        alpha: 0.0,
        phi: phi0,
        dphi: dphi0,
        x: x.to_vec(),
        g: Vec::new(),
    };
    let mut alpha = alpha0;
    for i in 0..MAX_BRACKET {
        let cur = try_at(alpha);
        if !cur.phi.is_finite()
            || cur.phi > phi0 + C1 * alpha * dphi0
            || (i > 0 && cur.phi >= prev.phi)
        {
            return zoom(&mut try_at, phi0, dphi0, prev, cur);
        }
        if cur.dphi.abs() <= -C2 * dphi0 {
            return Some(cur);
        }
        if cur.dphi >= 0.0 {
            return zoom(&mut try_at, phi0, dphi0, cur, prev);
        }
        alpha *= 2.0;
        prev = cur;
    }
    None
}

/// Zoom between `lo` (satisfies sufficient decrease, lowest so far) and `hi` (Nocedal and
/// Wright, Algorithm 3.6), by cubic interpolation safeguarded to the middle 80% of the
/// interval, or bisection when an end is not finite.
fn zoom(
    try_at: &mut impl FnMut(f64) -> Trial,
    phi0: f64,
    dphi0: f64,
    mut lo: Trial,
    mut hi: Trial,
) -> Option<Trial> {
    for _ in 0..MAX_ZOOM {
        let (a, b) = (lo.alpha.min(hi.alpha), lo.alpha.max(hi.alpha));
        let width = b - a;
        if width <= f64::EPSILON * b.max(1e-300) {
            break;
        }
        let mut alpha = if hi.phi.is_finite() && hi.dphi.is_finite() {
            cubic_min(lo.alpha, lo.phi, lo.dphi, hi.alpha, hi.phi, hi.dphi)
        } else {
            f64::NAN
        };
        if !alpha.is_finite() || alpha < a + 0.1 * width || alpha > b - 0.1 * width {
            alpha = 0.5 * (lo.alpha + hi.alpha);
        }
        let cur = try_at(alpha);
        if !cur.phi.is_finite() || cur.phi > phi0 + C1 * alpha * dphi0 || cur.phi >= lo.phi {
            hi = cur;
        } else {
            if cur.dphi.abs() <= -C2 * dphi0 {
                return Some(cur);
            }
            if cur.dphi * (hi.alpha - lo.alpha) >= 0.0 {
                hi = std::mem::replace(&mut lo, cur);
            } else {
                lo = cur;
            }
        }
    }
    // No strong-Wolfe point found: accept the best point if it decreased the objective.
    (lo.alpha > 0.0 && lo.phi < phi0 && !lo.g.is_empty()).then_some(lo)
}

/// The minimiser of the cubic interpolating values and slopes at `a` and `b`.
fn cubic_min(a: f64, fa: f64, da: f64, b: f64, fb: f64, db: f64) -> f64 {
    let d1 = da + db - 3.0 * (fa - fb) / (a - b);
    let disc = d1 * d1 - da * db;
    if disc < 0.0 {
        return f64::NAN;
    }
    let d2 = (b - a).signum() * disc.sqrt();
    b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Rosenbrock function (negated, to maximise): optimum at (1, 1).
    fn neg_rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
        g[0] = -(-2.0 * (1.0 - a) - 400.0 * a * (b - a * a));
        g[1] = -(200.0 * (b - a * a));
        -f
    }

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let x0 = vec![-1.2, 1.0];
        let mut g0 = vec![0.0; 2];
        let f0 = neg_rosenbrock(&x0, &mut g0);
        let s = LbfgsSettings {
            tol_grad: 1e-10,
            tol_rel_obj: 0.0,
            max_iterations: 500,
            history: 5,
        };
        let r = maximize(neg_rosenbrock, x0, f0, g0, s);
        assert_eq!(r.message, "gradient below tolerance");
        assert!(
            (r.x[0] - 1.0).abs() < 1e-8 && (r.x[1] - 1.0).abs() < 1e-8,
            "{:?}",
            r.x
        );
    }

    #[test]
    fn shrinks_away_from_non_finite_regions() {
        // Maximise ln x - x on x > 0 (-inf outside), optimum x = 1, from x = 0.1.
        let f = |x: &[f64], g: &mut [f64]| {
            if x[0] <= 0.0 {
                g[0] = f64::NAN;
                return f64::NEG_INFINITY;
            }
            g[0] = 1.0 / x[0] - 1.0;
            x[0].ln() - x[0]
        };
        let x0 = vec![0.1];
        let mut g0 = vec![0.0];
        let f0 = f(&x0, &mut g0);
        let s = LbfgsSettings {
            tol_grad: 1e-12,
            tol_rel_obj: 0.0,
            max_iterations: 100,
            history: 5,
        };
        let r = maximize(f, x0, f0, g0, s);
        assert_eq!(r.message, "gradient below tolerance");
        assert!((r.x[0] - 1.0).abs() < 1e-10);
    }
}
