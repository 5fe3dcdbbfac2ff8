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
            *t = rng.random_range(-radius..radius);
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
