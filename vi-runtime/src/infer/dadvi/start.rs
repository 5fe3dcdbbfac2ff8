//! Where the optimisation starts: at the Laplace mode, whitened by the Laplace covariance's
//! Cholesky factor, with the sds `1/sqrt(diag(-H))`; or, when no mode is found or the start
//! is turned off, at a random point with unit sds and no whitening.

use nalgebra::DMatrix;

use super::objective::Whitening;
use super::{Settings, ViStart};
use crate::error::FitError;
use crate::infer::init::initial_point;
use crate::infer::laplace::Laplace;
use crate::infer::posterior::Diagnostics;
use crate::infer::Rng;
use crate::model::Model;

/// Above this dimension the Laplace start (a dense Hessian by `4d` gradients and an
/// `O(d^3)` factorisation) is skipped.
const LAPLACE_MAX_DIM: usize = 1000;

/// The whitening, the initial log sds `omega0` and how the start was made, for a model of
/// dimension `d`.
pub(super) fn start<M: Model + ?Sized>(
    settings: &Settings,
    model: &M,
    seed: u64,
    rng: &mut Rng,
    d: usize,
) -> Result<(Whitening, Vec<f64>, ViStart), FitError> {
    let started = if !settings.laplace_start {
        Err("the Laplace start was turned off".to_string())
    } else if d > LAPLACE_MAX_DIM {
        Err(format!(
            "{d} parameters: above {LAPLACE_MAX_DIM}, the Laplace start's dense Hessian is \
             not computed"
        ))
    } else {
        laplace_start(model, seed)
    };
    Ok(match started {
        Ok(LaplaceStart {
            mode,
            l,
            log_evidence,
            converged,
            distinct_modes,
        }) => {
            // sd_i = 1 / sqrt((-H)_ii) with -H = (L L')^-1 = L^-T L^-1: the squared
            // norms of the columns of L^-1.
            let l_inv = l
                .clone()
                .solve_lower_triangular(&DMatrix::identity(d, d))
                .unwrap_or_else(|| DMatrix::identity(d, d));
            let omega0: Vec<f64> = (0..d)
                .map(|i| -0.5 * l_inv.column(i).norm_squared().ln())
                .collect();
            (
                Whitening::Dense { shift: mode, l },
                omega0,
                ViStart::Laplace {
                    log_evidence,
                    converged,
                    distinct_modes,
                },
            )
        }
        Err(reason) => {
            let (theta0, _, _) = initial_point(model, rng, 2.0)?;
            (
                Whitening::None { shift: theta0 },
                vec![0.0; d],
                ViStart::Random { reason },
            )
        }
    })
}

/// The Laplace start: the mode, the whitening factor and the log evidence.
fn laplace_start<M: Model + ?Sized>(model: &M, seed: u64) -> Result<LaplaceStart, String> {
    let fit = Laplace::default()
        .seed(seed)
        .draws(2)
        .fit(model)
        .map_err(|e| format!("no Laplace mode: {e}"))?;
    let Diagnostics::Laplace(d) = fit.diagnostics() else {
        return Err("Laplace returned no Laplace diagnostics".into());
    };
    // A point where L-BFGS stopped short of its tolerance still has a negative definite
    // Hessian (Laplace checked): the whitening it gives is what the optimisation needs.
    let chol = d
        .covariance
        .clone()
        .cholesky()
        .ok_or_else(|| "the Laplace covariance is not positive definite".to_string())?;
    Ok(LaplaceStart {
        mode: d.mode_unconstrained.clone(),
        l: chol.l(),
        log_evidence: d.log_evidence,
        converged: d.converged,
        distinct_modes: d.distinct_modes,
    })
}

/// What the Laplace start gives.
struct LaplaceStart {
    mode: Vec<f64>,
    /// `L L' = (-H)^-1`.
    l: DMatrix<f64>,
    log_evidence: f64,
    /// Whether L-BFGS met its tolerance there.
    converged: bool,
    /// How many distinct modes the mode search's starts reached.
    distinct_modes: usize,
}
