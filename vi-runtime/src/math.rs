//! Numerically careful scalar functions shared by distributions, transforms and rules.

/// ln(sqrt(2 pi)).
pub const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
/// ln(2 pi).
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;
/// ln(pi).
pub const LN_PI: f64 = 1.144_729_885_849_400_2;

/// The logistic function 1 / (1 + e^-x), without overflow for large |x|.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// ln(1 + e^x), exact to rounding for all x (no overflow for large x, no loss for small).
#[inline]
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// ln(sigmoid(x)) = -softplus(-x), stable in both tails.
#[inline]
pub fn log_sigmoid(x: f64) -> f64 {
    -softplus(-x)
}

/// ln(sum(exp(xs))) without overflow; `-inf` for an empty slice.
pub fn log_sum_exp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// logit(p) = ln(p / (1 - p)).
#[inline]
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_std() {
        assert!((LN_SQRT_2PI - (2.0 * std::f64::consts::PI).sqrt().ln()).abs() < 1e-15);
        assert!((LN_2PI - (2.0 * std::f64::consts::PI).ln()).abs() < 1e-15);
        assert!((LN_PI - std::f64::consts::PI.ln()).abs() < 1e-15);
    }

    #[test]
    fn tails_are_stable() {
        // ln(1 + e^800) = 800 + ln(1 + e^-800) = 800 exactly in f64.
        assert_eq!(softplus(800.0), 800.0);
        // ln(1 + e^-800) = e^-800, which underflows to 0 but never to a negative or NaN.
        assert_eq!(softplus(-800.0), 0.0);
        // log_sigmoid(-800) = -800 - ln(1 + e^-800) = -800.
        assert_eq!(log_sigmoid(-800.0), -800.0);
        assert_eq!(sigmoid(-800.0), 0.0);
        assert_eq!(sigmoid(800.0), 1.0);
        // Closed forms at 0: softplus(0) = ln 2, sigmoid(0) = 1/2.
        assert!((softplus(0.0) - std::f64::consts::LN_2).abs() < 1e-16);
        assert_eq!(sigmoid(0.0), 0.5);
        // ln(e^1000 + e^1000) = 1000 + ln 2.
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + std::f64::consts::LN_2)).abs() < 1e-12);
        assert!((logit(sigmoid(1.7)) - 1.7).abs() < 1e-12);
    }
}
