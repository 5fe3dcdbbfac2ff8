//! `a * b + c` of two scalars and a column (`mu_a + sigma_a * z`, the non-centred
//! hierarchy's `let`): one plain loop forward and one backward (a dot product, a sum and a
//! scaled copy), where the general rule (`ad::mul_add`) goes through broadcasting views
//! and a pass per operand. Found by method-call dispatch on [`Tri`] before the general
//! rule (as [`ScalarMulAdd`](crate::ad::fast::ScalarMulAdd) is for three scalars).

use nalgebra::DVector;

use crate::ad::fast::Tri;
use crate::ad::{kernels, pool, ShapeError};

/// `a * b + c` for a scalar `a`, a column `b` and a scalar `c`, forward and backward.
pub trait ColMulAdd {
    /// `a * b + c`, elementwise.
    fn mul_add_fwd(&self) -> Result<DVector<f64>, ShapeError>;
    /// Backward: adds into the adjoints given.
    fn mul_add_bwd(
        &self,
        out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut f64>,
        gb: Option<&mut DVector<f64>>,
        gc: Option<&mut f64>,
    );
}

impl ColMulAdd for Tri<'_, f64, DVector<f64>, f64> {
    #[inline]
    fn mul_add_fwd(&self) -> Result<DVector<f64>, ShapeError> {
        let (a, c) = (*self.0, *self.2);
        // Two roundings, as `a * b` then `+ c` (as the general rule).
        Ok(DVector::from_vec(pool::mapped(self.1.as_slice(), |x| {
            a * x + c
        })))
    }

    #[inline]
    fn mul_add_bwd(
        &self,
        _out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut f64>,
        gb: Option<&mut DVector<f64>>,
        gc: Option<&mut f64>,
    ) {
        let (b, g) = (self.1.as_slice(), g.as_slice());
        if b.len() != g.len() {
            return;
        }
        if let Some(ga) = ga {
            *ga += kernels::dot(g, b);
        }
        if let Some(gb) = gb {
            let a = *self.0;
            for (x, y) in gb.as_mut_slice().iter_mut().zip(g) {
                *x += y * a;
            }
        }
        if let Some(gc) = gc {
            *gc += kernels::sum(g);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::fast::GeneralMulAdd;

    #[test]
    fn forward_and_backward_agree_with_the_general_rule() {
        // Values near 100 (unstandardised), 85 elements (radon's counties).
        let z = DVector::from_iterator(85, (0..85).map(|i| 100.0 + (i as f64 * 0.37).sin()));
        let (s, m) = (1.7, -3.25);
        let t = Tri(&s, &z, &m);
        let fast = ColMulAdd::mul_add_fwd(&t).unwrap();
        let general = GeneralMulAdd::mul_add_fwd(&&t).unwrap();
        assert_eq!(fast, general);
        let g = DVector::from_iterator(85, (0..85).map(|i| (i as f64 * 0.11).cos()));
        let (mut ga, mut gb, mut gc) = (0.5, DVector::from_element(85, 1.0), 2.0);
        ColMulAdd::mul_add_bwd(&t, &fast, &g, Some(&mut ga), Some(&mut gb), Some(&mut gc));
        let (mut ha, mut hb, mut hc) = (0.5, DVector::from_element(85, 1.0), 2.0);
        GeneralMulAdd::mul_add_bwd(
            &&t,
            &general,
            &g,
            Some(&mut ha),
            Some(&mut hb),
            Some(&mut hc),
        );
        // Independent of both: the sums written out.
        let dot: f64 = g.iter().zip(z.iter()).map(|(g, z)| g * z).sum();
        let sum: f64 = g.iter().sum();
        assert!(
            (ga - 0.5 - dot).abs() < 1e-10 * dot.abs()
                && (ha - 0.5 - dot).abs() < 1e-10 * dot.abs()
        );
        assert!((gc - 2.0 - sum).abs() < 1e-12 && (hc - 2.0 - sum).abs() < 1e-12);
        for i in 0..85 {
            assert_eq!(gb[i], 1.0 + g[i] * s);
            assert!((hb[i] - gb[i]).abs() < 1e-15);
        }
    }
}
