//! A fused `Normal` statement whose scale is the same in every lane (`y[i] ~ Normal(a[g[i]]
//! + b * x[i], sigma)`): each lane needs only its residual `r = y - mu`, whose square goes
//! into one sum and whose `r / sigma^2` is the adjoint of `mu` (and minus that of `y`);
//! the density and the scale's adjoint come from the sum once, after the loop, as the
//! sufficient-statistics kernel and a hand-written gradient compute them:
//! `sum ln N = -ss / (2 sigma^2) - n (ln sigma + ln sqrt(2 pi))` and
//! `d/dsigma = (ss / sigma^2 - n) / sigma`.
//!
//! Per lane that is a subtraction, two products and a sum, where
//! [`Kernel::elem`](crate::dist::scalar::Kernel::elem) computes the whole one-element
//! density and all its partials.

use crate::math::LN_SQRT_2PI;

/// The scale's pieces a fused `Normal` loop reads; see [`fused_normal_prep`].
#[derive(Debug, Clone, Copy)]
pub struct NormalLanes {
    /// `1 / sigma^2`, or 0 for an invalid scale (the lanes' partials are then 0, as
    /// `Kernel::elem`'s are).
    pub inv2: f64,
    sigma: f64,
}

/// The pieces of the scale `sigma` for the lanes' loop.
#[inline(always)]
#[must_use]
pub fn fused_normal_prep(sigma: f64) -> NormalLanes {
    let inv2 = if sigma > 0.0 {
        1.0 / (sigma * sigma)
    } else {
        0.0
    };
    NormalLanes { inv2, sigma }
}

/// The statement's term of the log density over `n` lanes whose squared residuals sum to
/// `ss`, and the adjoint of the scale: NaN and 0 for an invalid scale (`sigma <= 0` or NaN,
/// as the one-element kernel gives).
#[inline]
#[must_use]
pub fn fused_normal_finish(p: &NormalLanes, ss: f64, n: usize) -> (f64, f64) {
    let s = p.sigma;
    // Not `s <= 0.0`: a NaN scale is invalid too.
    if s.is_nan() || s <= 0.0 {
        return (f64::NAN, 0.0);
    }
    let n = n as f64;
    let q = ss * p.inv2;
    (-0.5 * q - n * (s.ln() + LN_SQRT_2PI), (q - n) / s)
}

/// A gathered base's scratch adjoint for a fused `Normal` loop: `n` zeros (the base's
/// length), from the pool. The loop adds each lane's residual into it unscaled, as a
/// hand-written gradient does, and [`fused_add_scaled`] applies `1 / sigma^2` once per
/// element of the base instead of once per lane.
#[inline]
#[must_use]
pub fn fused_scratch(n: usize) -> Vec<f64> {
    crate::ad::pool::zeroed(n)
}

/// Adds `s * z` into `a`, elementwise, and gives `z`'s storage back to the pool.
#[inline]
pub fn fused_add_scaled(a: &mut [f64], z: Vec<f64>, s: f64) {
    for (x, y) in a.iter_mut().zip(&z) {
        *x += y * s;
    }
    crate::ad::pool::give(z);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::scalar::Kernel;

    #[test]
    fn the_sums_give_what_the_one_element_kernel_gives_lane_by_lane() {
        // Residuals near 100 on a scale of 3 (values near 100, as the tests' predictors).
        let (mu, sigma) = ([101.5, 97.25, 100.0, 104.0], 3.0);
        let y = [99.0, 102.0, 100.5, 95.0];
        let mut k = crate::dist::normal::Scalar::default();
        let (mut lp, mut ds, mut ss) = (0.0, 0.0, 0.0);
        let p = fused_normal_prep(sigma);
        for (&yi, &mi) in y.iter().zip(&mu) {
            let (e, [dy, dmu, dsig]) = k.elem([yi, mi, sigma], [true; 3]);
            lp += e;
            ds += dsig;
            let r = yi - mi;
            ss += r * r;
            assert!((r * p.inv2 - dmu).abs() < 1e-15 && (dy + dmu).abs() < 1e-15);
        }
        let (lp2, ds2) = fused_normal_finish(&p, ss, y.len());
        assert!((lp - lp2).abs() < 1e-12 * lp.abs(), "{lp} {lp2}");
        assert!((ds - ds2).abs() < 1e-12 * ds.abs(), "{ds} {ds2}");
    }

    #[test]
    fn a_scratch_adjoint_is_zeros_added_back_scaled() {
        let z = fused_scratch(3);
        assert_eq!(z, [0.0; 3]);
        let mut a = [1.0, 2.0, 3.0];
        fused_add_scaled(&mut a, vec![4.0, -2.0, 0.5], 0.25);
        assert_eq!(a, [2.0, 1.5, 3.125]);
    }

    #[test]
    fn an_invalid_scale_gives_nan_and_zero_partials() {
        for s in [0.0, -1.0, f64::NAN] {
            let p = fused_normal_prep(s);
            assert_eq!(p.inv2, 0.0);
            let (lp, ds) = fused_normal_finish(&p, 4.0, 3);
            assert!(lp.is_nan() && ds == 0.0);
        }
    }
}
