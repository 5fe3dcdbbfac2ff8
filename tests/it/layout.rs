//! The facade re-exports what a hand-written model needs.

use vi::prelude::*;

struct Gauss(ParamLayout);

impl Model for Gauss {
    fn layout(&self) -> &ParamLayout {
        &self.0
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _jac: bool) -> f64 {
        grad[0] = -theta[0];
        -0.5 * theta[0] * theta[0]
    }
}

#[test]
fn hand_written_model_through_the_facade() {
    let mut l = ParamLayout::new();
    l.push("z", vec![], Transform::Identity);
    let m = Gauss(l);
    assert_eq!(m.dim(), 1);
    // The default log_density runs the gradient into scratch: -0.5 * 2^2 = -2.
    assert_eq!(m.log_density(&[2.0]), -2.0);
}
