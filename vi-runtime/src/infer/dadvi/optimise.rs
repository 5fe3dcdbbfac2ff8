//! The optimiser: L-BFGS on `F` to the gradient tolerance, then at most [`NEWTON_STEPS`]
//! Newton steps on `F`'s Hessian (with a backtracking line search) where L-BFGS stopped
//! short of it.

use nalgebra::{DMatrix, DVector};

use super::objective::Objective;
use super::Settings;
use crate::infer::lbfgs::{self, LbfgsSettings};
use crate::model::Model;
use crate::stats;

/// Newton steps allowed after L-BFGS.
const NEWTON_STEPS: usize = 8;
/// Above this dimension no Hessian of `F` is computed to finish with Newton steps.
const NEWTON_MAX_DIM: usize = 400;

/// Where the optimisation stopped.
pub(super) struct Optimum {
    /// The whitened coordinates `(u, omega)`.
    pub(super) xi: Vec<f64>,
    /// `F` there.
    pub(super) f: f64,
    /// The largest whitened gradient component there.
    pub(super) grad_norm: f64,
    /// Whether `grad_norm` is within the tolerance.
    pub(super) converged: bool,
    /// L-BFGS iterations.
    pub(super) iterations: usize,
    pub(super) newton_steps: usize,
    pub(super) stop_reason: String,
    /// `F`'s Hessian at `xi`, when it was wanted or needed and could be computed.
    pub(super) hessian: Option<DMatrix<f64>>,
}

/// Maximises `F` from `xi0` (where `F` is `f0` and its gradient `g0`); computes `F`'s
/// Hessian at the optimum when `want_hessian`.
pub(super) fn optimise<M: Model + ?Sized>(
    settings: &Settings,
    obj: &mut Objective<'_, M>,
    xi0: Vec<f64>,
    f0: f64,
    g0: Vec<f64>,
    want_hessian: bool,
) -> Optimum {
    let d = obj.d;
    let opt = lbfgs::maximize(
        |x, g| obj.eval(x, g, None),
        xi0,
        f0,
        g0,
        LbfgsSettings {
            tol_grad: settings.grad_tolerance / f0.abs().max(1.0),
            tol_rel_obj: 0.0,
            max_iterations: settings.max_iterations,
            history: 10,
        },
    );
    let mut xi = opt.x;
    let mut f = opt.f;
    let mut grad = opt.grad;
    let mut stop_reason = opt.message.to_string();

    let mut hessian = if want_hessian
        || (stats::inf_norm(&grad) > settings.grad_tolerance && d <= NEWTON_MAX_DIM)
    {
        obj.hessian(&xi)
    } else {
        None
    };
    // Newton steps on F's Hessian where L-BFGS stopped short of the tolerance.
    let mut newton_steps = 0;
    while stats::inf_norm(&grad) > settings.grad_tolerance && newton_steps < NEWTON_STEPS {
        let Some(step) = hessian
            .as_ref()
            .and_then(|h| (-h).cholesky())
            .map(|c| c.solve(&DVector::from_column_slice(&grad)))
        else {
            break;
        };
        let mut t = 1.0;
        let mut accepted = false;
        let mut g_new = vec![0.0; 2 * d];
        for _ in 0..20 {
            let x_new: Vec<f64> = xi.iter().zip(step.iter()).map(|(x, s)| x + t * s).collect();
            let f_new = obj.eval(&x_new, &mut g_new, None);
            if f_new.is_finite() && f_new >= f - 1e-12 * f.abs().max(1.0) {
                xi = x_new;
                f = f_new;
                grad.copy_from_slice(&g_new);
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            break;
        }
        newton_steps += 1;
        if newton_steps % 2 == 0 {
            hessian = obj.hessian(&xi);
        }
    }
    let grad_norm = stats::inf_norm(&grad);
    let converged = grad_norm <= settings.grad_tolerance;
    if newton_steps > 0 {
        stop_reason = if converged {
            format!("gradient below tolerance after {newton_steps} Newton steps")
        } else {
            format!(
                "{stop_reason}; gradient still above tolerance after {newton_steps} Newton steps"
            )
        };
        if want_hessian {
            hessian = obj.hessian(&xi);
        }
    } else if converged {
        stop_reason = "gradient below tolerance".into();
    }
    Optimum {
        xi,
        f,
        grad_norm,
        converged,
        iterations: opt.iterations,
        newton_steps,
        stop_reason,
        hessian,
    }
}
