//! Finding a starting point: uniform(-2, 2) on the unconstrained scale, checked finite.

use super::Rng;
use crate::error::FitError;
use crate::model::Model;
use rand::Rng as _;

/// How many random points are tried before giving up.
pub const INIT_TRIES: usize = 100;

/// Draws points uniformly in `(-radius, radius)^dim` until one has a finite log density and
/// a finite gradient, and returns it with its log density and gradient.
///
/// # Errors
/// [`FitError::NoParameters`] for a model of dimension 0; [`FitError::NoFiniteStart`] after
/// [`INIT_TRIES`] failures, naming the statement whose term was not finite when the model can
/// tell.
pub fn initial_point<M: Model + ?Sized>(
    model: &M,
    rng: &mut Rng,
    radius: f64,
) -> Result<(Vec<f64>, f64, Vec<f64>), FitError> {
    let d = model.dim();
    if d == 0 {
        return Err(FitError::NoParameters);
    }
    let mut theta = vec![0.0; d];
    let mut grad = vec![0.0; d];
    for _ in 0..INIT_TRIES {
        for t in theta.iter_mut() {
            *t = uniform(rng, radius);
        }
        let lp = model.log_density_grad(&theta, &mut grad);
        if lp.is_finite() && grad.iter().all(|g| g.is_finite()) {
            return Ok((theta, lp, grad));
        }
    }
    let statement = model
        .log_density_terms(&theta)
        .into_iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(s, _)| s);
    Err(FitError::NoFiniteStart {
        tries: INIT_TRIES,
        statement,
    })
}

/// Uniform in `(-radius, radius)`; 0 for radius 0 (CmdStan's `init=0`), which
/// `random_range` rejects as an empty range.
fn uniform(rng: &mut Rng, radius: f64) -> f64 {
    if radius > 0.0 {
        rng.random_range(-radius..radius)
    } else {
        0.0
    }
}

/// Draws `candidates` points as [`initial_point`] does (each one from `rng`, in turn, so the
/// choice depends on the seed and the chain only) and returns the one with the highest log
/// density (Jacobian included), with its log density and gradient. `candidates = 1` is
/// [`initial_point`], draw for draw.
///
/// What others do: Stan draws one uniform(-2, 2) point (retried only when not finite),
/// NumPyro's default `init_to_uniform` the same; PyMC, whose initial points nutpie uses,
/// takes the prior mean plus uniform(-1, 1) jitter (`jitter+adapt_diag`), again retried
/// only when not finite; CmdStan can start from Pathfinder's draws.
///
/// Why: a single uniform(-2, 2) point can land where
/// the posterior is astronomically improbable yet finite, for example an MA coefficient
/// beyond 1 in ARMA(1,1), where the error recursion explodes (log density near -1e80).
/// Warmup then spends itself on the climb, and a chain that adapts its metric there gets
/// a near-zero scale in every coordinate but one and never recovers. The best of a few
/// candidates lands in the bulk of the prior-times-likelihood unless the bad region covers
/// nearly the whole box, at the price of `candidates` gradients (nothing, next to warmup).
/// A short optimisation would go further but towards the mode, which in hierarchical
/// models is the neck of a funnel (log density unbounded as a scale goes to 0), and
/// would pull the chains together, which weakens R-hat as a check on multimodality; a
/// Pathfinder phase (CmdStan's `pathfinder` inits) costs hundreds of gradients per path.
///
/// # Errors
/// As [`initial_point`]: no candidate at all is finite after [`INIT_TRIES`] tries.
pub fn best_initial_point<M: Model + ?Sized>(
    model: &M,
    rng: &mut Rng,
    radius: f64,
    candidates: usize,
) -> Result<(Vec<f64>, f64, Vec<f64>), FitError> {
    let mut best = initial_point(model, rng, radius)?;
    let d = best.0.len();
    let mut theta = vec![0.0; d];
    let mut grad = vec![0.0; d];
    // With radius 0 every candidate is the origin.
    let candidates = if radius > 0.0 { candidates } else { 1 };
    for _ in 1..candidates {
        // Later candidates get one try each: the first already proved the model has
        // finite points, and a retry loop would only tilt the choice.
        for t in theta.iter_mut() {
            *t = uniform(rng, radius);
        }
        let lp = model.log_density_grad(&theta, &mut grad);
        if lp > best.1 && grad.iter().all(|g| g.is_finite()) {
            best.0.copy_from_slice(&theta);
            best.1 = lp;
            best.2.copy_from_slice(&grad);
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParamLayout, Transform};

    /// A density that is finite only for theta > 5: never reached from (-2, 2).
    struct Nowhere(ParamLayout);

    impl Model for Nowhere {
        fn layout(&self) -> &ParamLayout {
            &self.0
        }
        fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
            grad[0] = 0.0;
            if theta[0] > 5.0 {
                0.0
            } else {
                f64::NEG_INFINITY
            }
        }
        fn log_density_terms(&self, theta: &[f64]) -> Vec<(String, f64)> {
            vec![
                ("x ~ Normal(0, 1)".into(), 0.0),
                ("target += bad(x)".into(), self.log_density(theta)),
            ]
        }
    }

    /// `-x^2 / 2` in one dimension.
    struct Normal1(ParamLayout);

    impl Model for Normal1 {
        fn layout(&self) -> &ParamLayout {
            &self.0
        }
        fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
            grad[0] = -theta[0];
            -0.5 * theta[0] * theta[0]
        }
    }

    #[test]
    fn best_initial_point_keeps_the_candidate_nearest_the_mode() {
        let mut l = ParamLayout::new();
        l.push("x", vec![], Transform::Identity);
        let m = Normal1(l);
        // The ten candidates, drawn here from the same generator.
        let mut rng = super::super::rng_for(4, 1);
        let xs: Vec<f64> = (0..10).map(|_| rng.random_range(-2.0..2.0)).collect();
        let nearest = xs
            .iter()
            .copied()
            .min_by(|a, b| a.abs().total_cmp(&b.abs()));
        let mut rng = super::super::rng_for(4, 1);
        let (q, lp, g) = best_initial_point(&m, &mut rng, 2.0, 10).unwrap();
        assert_eq!(Some(q[0]), nearest);
        assert_eq!((lp, g[0]), (-0.5 * q[0] * q[0], -q[0]));
        // One candidate is `initial_point`, draw for draw; radius 0 is the origin.
        let one = best_initial_point(&m, &mut super::super::rng_for(4, 1), 2.0, 1).unwrap();
        assert_eq!(one.0[0], xs[0]);
        let zero = best_initial_point(&m, &mut rng, 0.0, 10).unwrap();
        assert_eq!(zero.0, vec![0.0]);
    }

    #[test]
    fn no_finite_start_names_the_statement() {
        let mut l = ParamLayout::new();
        l.push("x", vec![], Transform::Identity);
        let mut rng = super::super::rng_for(1, 0);
        let e = initial_point(&Nowhere(l), &mut rng, 2.0).unwrap_err();
        assert_eq!(
            e,
            FitError::NoFiniteStart {
                tries: INIT_TRIES,
                statement: Some("target += bad(x)".into())
            }
        );
        assert!(initial_point(&Nowhere(ParamLayout::new()), &mut rng, 2.0).is_err());
    }
}
