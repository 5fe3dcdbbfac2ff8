// Longer than 800 lines: one short module per distribution's log CDF and complementary log
// CDF (about 40 lines each), kept together so that every CDF kernel is found in one place.
//! Log CDFs and log complementary CDFs as vectorised kernels, for `Dist(args).lcdf(y)` and
//! `.lccdf(y)` (censoring, truncation, hand-written likelihoods).
//!
//! Every distribution with a CDF kernel has a module here, `dist::cdf::<module>` (the same
//! module name as its density's), holding
//!
//! * `lcdf(y, params.., dy, dparams..) -> f64`: the sum over the broadcast elements of
//!   ln P(Y <= y), adding each partial into its `Option<&mut [f64]>` buffer, exactly the
//!   calling convention of the density kernels (`dist::normal::lpdf`);
//! * `lccdf(..)`: the same for ln P(Y > y);
//! * `Lcdf` and `Lccdf`: the one-element kernels ([`Kernel`](super::scalar::Kernel)) behind
//!   them, for the generated code's scalar path and its memo slot (they keep no memo).
//!
//! Below the support `lcdf` is `-inf` and `lccdf` 0; above it `lcdf` is 0 and `lccdf`
//! `-inf`. Invalid parameters give NaN. Both tails keep their relative accuracy: a lower
//! tail of 1e-300 is computed as such, not as `ln(1 - (1 - 1e-300))` (the complement of a
//! small probability goes through `ln1p` or `log1m_exp`). For a discrete distribution `y`
//! is a count (its partial buffer is left untouched) and P(Y <= y) is taken at `floor(y)`.
//!
//! | module | arguments | partials |
//! |---|---|---|
//! | `normal` | `y, mu, sigma` | all |
//! | `log_normal` | `y, mu, sigma` | all |
//! | `half_normal` | `y, sigma` | all |
//! | `cauchy` | `y, mu, sigma` | all |
//! | `half_cauchy` | `y, sigma` | all |
//! | `laplace` | `y, mu, b` | all |
//! | `logistic` | `y, mu, sigma` | all |
//! | `gumbel` | `y, mu, beta` | all |
//! | `exponential` | `y, rate` | all |
//! | `weibull` | `y, alpha, sigma` | all |
//! | `pareto` | `y, y_min, alpha` | all |
//! | `gamma` | `y, shape, rate` | all |
//! | `inverse_gamma` | `y, shape, scale` | all |
//! | `uniform` | `y, lower, upper` | all |
//! | `poisson` | `y, rate` | `rate` |
//! | `poisson_log` | `y, log_rate` | `log_rate` |
//! | `bernoulli` | `y, p` | `p` |
//! | `bernoulli_logit` | `y, logit` | `logit` |
//! | `student_t` | `y, nu, mu, sigma` | all |
//! | `half_student_t` | `y, nu, sigma` | all |
//! | `beta` | `y, a, b` | all |
//! | `binomial` | `y, n, p` | `p` |
//! | `binomial_logit` | `y, n, logit` | `logit` |
//! | `neg_binomial_2` | `y, mu, phi` | `mu, phi` |
//! | `neg_binomial_2_log` | `y, eta, phi` | `eta, phi` |
//! | `beta_binomial` | `y, n, a, b` | `a, b` (a finite sum over the counts of one side) |
//!
//! The ones from `student_t` on go through the regularised incomplete beta function and
//! its derivatives in the shapes ([`log_inc_beta`]).

// `!(x > 0.0)` rejects NaN together with out-of-range values, on purpose.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::nonminimal_bool)]

use crate::math::special::{
    digamma, lbeta, lchoose, lgamma, log1m_exp, log_inc_beta, log_phi, log_phi_grad, LogIncBeta,
};
use crate::math::{sigmoid, softplus};
use std::f64::consts::{FRAC_1_PI, LN_2, PI};

/// Defines `Lcdf`, `Lccdf`, `lcdf` and `lccdf` in the calling module from two one-element
/// functions `fn([f64; N]) -> (f64, [f64; N])`.
macro_rules! cdf_kernels {
    ($dist:literal, $n:literal, [$($a:ident $g:ident),*], $lcdf:expr, $lccdf:expr) => {
        #[doc = concat!("ln P(Y <= y) of one ", $dist, " element and its partials.")]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct Lcdf;

        impl $crate::dist::scalar::Kernel<$n> for Lcdf {
            #[inline]
            fn elem(&mut self, x: [f64; $n], _want: [bool; $n]) -> (f64, [f64; $n]) {
                ($lcdf)(x)
            }
        }

        #[doc = concat!("ln P(Y > y) of one ", $dist, " element and its partials.")]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct Lccdf;

        impl $crate::dist::scalar::Kernel<$n> for Lccdf {
            #[inline]
            fn elem(&mut self, x: [f64; $n], _want: [bool; $n]) -> (f64, [f64; $n]) {
                ($lccdf)(x)
            }
        }

        #[doc = concat!("Sum over the broadcast elements of ln P(Y <= y) for Y ~ ", $dist,
            ", adding the partials into the given buffers (NaN when the lengths do not \
            broadcast or a parameter is invalid).")]
        #[allow(clippy::too_many_arguments)]
        pub fn lcdf($($a: &[f64],)* $($g: Option<&mut [f64]>),*) -> f64 {
            $crate::dist::scalar::slices::<Lcdf, $n>([$($a),*], [$($g),*])
        }

        #[doc = concat!("Sum over the broadcast elements of ln P(Y > y) for Y ~ ", $dist,
            ", adding the partials into the given buffers (NaN when the lengths do not \
            broadcast or a parameter is invalid).")]
        #[allow(clippy::too_many_arguments)]
        pub fn lccdf($($a: &[f64],)* $($g: Option<&mut [f64]>),*) -> f64 {
            $crate::dist::scalar::slices::<Lccdf, $n>([$($a),*], [$($g),*])
        }
    };
}

/// ln(1 - e^l) and its partials from ln S = `l` and its partials `dl`: the other tail.
/// `-inf` with zero partials where `l` is 0.
#[inline]
pub(crate) fn complement<const N: usize>(l: f64, dl: [f64; N]) -> (f64, [f64; N]) {
    let c = log1m_exp(l);
    if c == f64::NEG_INFINITY || l == f64::NEG_INFINITY {
        return (c, [0.0; N]);
    }
    let k = -1.0 / (-l).exp_m1();
    (c, dl.map(|d| d * k))
}

/// The partials `[d/dy, d/dmu, d/dsigma]` of `h((y - mu) / sigma)` with `g = h'(z)`.
#[inline]
pub(crate) fn loc_scale(z: f64, g: f64, sigma: f64) -> [f64; 3] {
    let gy = g / sigma;
    [gy, -gy, -gy * z]
}

/// ln Phi(z) and its derivative.
#[inline]
pub(crate) fn std_normal(z: f64) -> (f64, f64) {
    (log_phi(z), log_phi_grad(z))
}

/// ln of the standard logistic CDF at `z` and its derivative.
#[inline]
pub(crate) fn std_logistic(z: f64) -> (f64, f64) {
    (-softplus(-z), sigmoid(-z))
}

/// ln of the standard Cauchy CDF at `z` and its derivative: `F(z) = atan2(1, -z) / pi`,
/// accurate in the left tail; the right tail as `ln1p(-F(-z))`.
#[inline]
pub(crate) fn std_cauchy(z: f64) -> (f64, f64) {
    if z.is_nan() {
        return (f64::NAN, 0.0);
    }
    let f = if z.abs() < 1e150 {
        FRAC_1_PI / (1.0 + z * z)
    } else {
        0.0
    };
    if z <= 0.0 {
        let cdf = 1.0_f64.atan2(-z) * FRAC_1_PI;
        (cdf.ln(), f / cdf)
    } else {
        let cdf = 1.0 - 1.0_f64.atan2(z) * FRAC_1_PI;
        ((-(1.0_f64.atan2(z) * FRAC_1_PI)).ln_1p(), f / cdf)
    }
}

/// ln of the standard Laplace CDF at `z` and its derivative.
#[inline]
pub(crate) fn std_laplace(z: f64) -> (f64, f64) {
    if z < 0.0 {
        (z - LN_2, 1.0)
    } else {
        let t = 0.5 * (-z).exp();
        ((-t).ln_1p(), t / (1.0 - t))
    }
}

/// A symmetric location-scale family's `(lcdf, lccdf)` one-element functions from its
/// standard log CDF `std`.
#[inline]
pub(crate) fn sym_loc_scale(
    [y, mu, sigma]: [f64; 3],
    upper: bool,
    std: fn(f64) -> (f64, f64),
) -> (f64, [f64; 3]) {
    if !(sigma > 0.0) || !mu.is_finite() || y.is_nan() {
        return (f64::NAN, [0.0; 3]);
    }
    let z = (y - mu) / sigma;
    if upper {
        // ln P(Y > y) = ln F(-z).
        let (l, g) = std(-z);
        (
            l,
            if l == f64::NEG_INFINITY {
                [0.0; 3]
            } else {
                loc_scale(z, -g, sigma)
            },
        )
    } else {
        let (l, g) = std(z);
        (
            l,
            if l == f64::NEG_INFINITY {
                [0.0; 3]
            } else {
                loc_scale(z, g, sigma)
            },
        )
    }
}

/// The log CDFs of a distribution on `(0, inf)` with one scale from the standard one on
/// the positive half-line: `std_sf(t) -> (ln S(t), d ln S / dt)` for the survival
/// function, `std_cdf` the same for the CDF (used below `t = 1`); `y <= 0` is below the
/// support.
#[inline]
pub(crate) fn half_scale(
    [y, sigma]: [f64; 2],
    upper: bool,
    std_sf: fn(f64) -> (f64, f64),
    std_cdf: fn(f64) -> (f64, f64),
) -> (f64, [f64; 2]) {
    if !(sigma > 0.0) || y.is_nan() {
        return (f64::NAN, [0.0; 2]);
    }
    if y <= 0.0 {
        return if upper {
            (0.0, [0.0; 2])
        } else {
            (f64::NEG_INFINITY, [0.0; 2])
        };
    }
    let t = y / sigma;
    if t < 1.0 {
        // Near 0 the CDF is small and ln S is close to 0: the CDF's relative precision
        // would be lost in ln S, so both come from the CDF there.
        let (lc, gc) = std_cdf(t);
        let dl = [gc / sigma, -gc * t / sigma];
        if upper {
            complement(lc, dl)
        } else {
            (lc, dl)
        }
    } else {
        let (ls, gs) = std_sf(t);
        let dl = [gs / sigma, -gs * t / sigma];
        if upper {
            (ls, dl)
        } else {
            complement(ls, dl)
        }
    }
}

/// The regularised incomplete gamma function P(a, x) on the log scale with its partials
/// `(ln P, [d/da, d/dx])` (`upper`: the same for Q).
#[inline]
pub(crate) fn log_gamma_cdf(a: f64, x: f64, upper: bool) -> (f64, [f64; 2]) {
    let (lp, dlp, lq, dlq) = crate::math::special::log_gamma_p_q(a, x);
    if x == 0.0 || x == f64::INFINITY {
        return (if upper { lq } else { lp }, [0.0; 2]);
    }
    // d/dx P = x^(a-1) e^-x / Gamma(a).
    let ln_dens = (a - 1.0) * x.ln() - x - crate::math::special::lgamma(a);
    if upper {
        (lq, [dlq, -(ln_dens - lq).exp()])
    } else {
        (lp, [dlp, (ln_dens - lp).exp()])
    }
}

pub mod normal {
    //! Normal(mu, sigma): `lcdf(y, mu, sigma, ..)`, `lccdf(..)`.
    use super::*;

    pub(crate) fn one(x: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        sym_loc_scale(x, upper, std_normal)
    }

    cdf_kernels!(
        "Normal",
        3,
        [y dy, mu dmu, sigma dsigma],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod cauchy {
    //! Cauchy(mu, sigma): `lcdf(y, mu, sigma, ..)`, `lccdf(..)`.
    use super::*;

    pub(crate) fn one(x: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        sym_loc_scale(x, upper, std_cauchy)
    }

    cdf_kernels!(
        "Cauchy",
        3,
        [y dy, mu dmu, sigma dsigma],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod laplace {
    //! Laplace(mu, b): `lcdf(y, mu, b, ..)`, `lccdf(..)`.
    use super::*;

    pub(crate) fn one(x: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        sym_loc_scale(x, upper, std_laplace)
    }

    cdf_kernels!(
        "Laplace",
        3,
        [y dy, mu dmu, b db],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod logistic {
    //! Logistic(mu, sigma): `lcdf(y, mu, sigma, ..)`, `lccdf(..)`.
    use super::*;

    pub(crate) fn one(x: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        sym_loc_scale(x, upper, std_logistic)
    }

    cdf_kernels!(
        "Logistic",
        3,
        [y dy, mu dmu, sigma dsigma],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod log_normal {
    //! LogNormal(mu, sigma): `lcdf(y, mu, sigma, ..)`, `lccdf(..)`.
    use super::*;

    fn one([y, mu, sigma]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(sigma > 0.0) || !mu.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        if y <= 0.0 {
            return if upper {
                (0.0, [0.0; 3])
            } else {
                (f64::NEG_INFINITY, [0.0; 3])
            };
        }
        let (l, [dy, dmu, ds]) = sym_loc_scale([y.ln(), mu, sigma], upper, std_normal);
        (l, [dy / y, dmu, ds])
    }

    cdf_kernels!(
        "LogNormal",
        3,
        [y dy, mu dmu, sigma dsigma],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod half_normal {
    //! HalfNormal(sigma): `lcdf(y, sigma, ..)`, `lccdf(..)`.
    use super::*;

    /// ln F(t) = ln erf(t / sqrt 2) and its derivative (accurate for small `t`).
    fn cdf(t: f64) -> (f64, f64) {
        let e = crate::math::special::erf(t * std::f64::consts::FRAC_1_SQRT_2);
        let d = (-0.5 * t * t).exp() * (2.0 / std::f64::consts::PI).sqrt();
        (e.ln(), d / e)
    }

    /// ln S(t) = ln(2 Phi(-t)) and its derivative.
    fn sf(t: f64) -> (f64, f64) {
        let (l, g) = std_normal(-t);
        (LN_2 + l, -g)
    }

    cdf_kernels!(
        "HalfNormal",
        2,
        [y dy, sigma dsigma],
        |x| half_scale(x, false, sf, cdf),
        |x| half_scale(x, true, sf, cdf)
    );
}

pub mod half_cauchy {
    //! HalfCauchy(sigma): `lcdf(y, sigma, ..)`, `lccdf(..)`.
    use super::*;

    /// ln F(t) = ln((2 / pi) atan(t)) and its derivative (accurate for small `t`).
    fn cdf(t: f64) -> (f64, f64) {
        let a = t.atan();
        (
            (std::f64::consts::FRAC_2_PI * a).ln(),
            1.0 / ((1.0 + t * t) * a),
        )
    }

    /// ln S(t) = ln(2 F(-t)) for the standard Cauchy F, and its derivative.
    fn sf(t: f64) -> (f64, f64) {
        let (l, g) = std_cauchy(-t);
        (LN_2 + l, -g)
    }

    cdf_kernels!(
        "HalfCauchy",
        2,
        [y dy, sigma dsigma],
        |x| half_scale(x, false, sf, cdf),
        |x| half_scale(x, true, sf, cdf)
    );
}

pub mod exponential {
    //! Exponential(rate): `lcdf(y, rate, ..)`, `lccdf(..)`.
    use super::*;

    fn one([y, rate]: [f64; 2], upper: bool) -> (f64, [f64; 2]) {
        if !(rate > 0.0) || !rate.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 2]);
        }
        if y <= 0.0 {
            return if upper {
                (0.0, [0.0; 2])
            } else {
                (f64::NEG_INFINITY, [0.0; 2])
            };
        }
        // ln S = -rate y.
        let ls = (-rate * y, [-rate, -y]);
        if upper {
            ls
        } else {
            complement(ls.0, ls.1)
        }
    }

    cdf_kernels!(
        "Exponential",
        2,
        [y dy, rate drate],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod gamma {
    //! Gamma(shape, rate): `lcdf(y, shape, rate, ..)`, `lccdf(..)` (the shape's partial
    //! through the incomplete gamma function's derivative in its first argument).
    use super::*;

    fn one([y, a, b]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(a > 0.0 && b > 0.0) || !a.is_finite() || !b.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        if y <= 0.0 {
            return if upper {
                (0.0, [0.0; 3])
            } else {
                (f64::NEG_INFINITY, [0.0; 3])
            };
        }
        let (l, [da, dx]) = log_gamma_cdf(a, b * y, upper);
        (l, [dx * b, da, dx * y])
    }

    cdf_kernels!(
        "Gamma",
        3,
        [y dy, shape dshape, rate drate],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod inverse_gamma {
    //! InverseGamma(shape, scale): `lcdf(y, shape, scale, ..)`, `lccdf(..)`.
    use super::*;

    fn one([y, a, s]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(a > 0.0 && s > 0.0) || !a.is_finite() || !s.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        if y <= 0.0 {
            return if upper {
                (0.0, [0.0; 3])
            } else {
                (f64::NEG_INFINITY, [0.0; 3])
            };
        }
        // P(Y <= y) = Q(a, s / y).
        let x = s / y;
        let (l, [da, dx]) = log_gamma_cdf(a, x, !upper);
        (l, [-dx * x / y, da, dx / y])
    }

    cdf_kernels!(
        "InverseGamma",
        3,
        [y dy, shape dshape, scale dscale],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod uniform {
    //! Uniform(lower, upper): `lcdf(y, lower, upper, ..)`, `lccdf(..)`.

    fn one([y, a, b]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(a < b) || !a.is_finite() || !b.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        let w = b - a;
        if upper {
            if y <= a {
                return (0.0, [0.0; 3]);
            }
            if y >= b {
                return (f64::NEG_INFINITY, [0.0; 3]);
            }
            // ln((b - y) / (b - a)).
            let r = b - y;
            ((r / w).ln(), [-1.0 / r, 1.0 / w, 1.0 / r - 1.0 / w])
        } else {
            if y >= b {
                return (0.0, [0.0; 3]);
            }
            if y <= a {
                return (f64::NEG_INFINITY, [0.0; 3]);
            }
            let r = y - a;
            ((r / w).ln(), [1.0 / r, -1.0 / r + 1.0 / w, -1.0 / w])
        }
    }

    cdf_kernels!(
        "Uniform",
        3,
        [y dy, lower dlower, upper dupper],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod poisson {
    //! Poisson(rate): `lcdf(y, rate, ..)`, `lccdf(..)`: P(Y <= k) = Q(k + 1, rate).
    use super::*;

    pub(crate) fn one([y, rate]: [f64; 2], upper: bool) -> (f64, [f64; 2]) {
        if !(rate >= 0.0) || !rate.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 2]);
        }
        if y < 0.0 {
            return if upper {
                (0.0, [0.0; 2])
            } else {
                (f64::NEG_INFINITY, [0.0; 2])
            };
        }
        if y == f64::INFINITY {
            return if upper {
                (f64::NEG_INFINITY, [0.0; 2])
            } else {
                (0.0, [0.0; 2])
            };
        }
        let k = y.floor();
        if rate == 0.0 {
            return if upper {
                (f64::NEG_INFINITY, [0.0; 2])
            } else {
                (0.0, [0.0; 2])
            };
        }
        let (l, [_, dx]) = log_gamma_cdf(k + 1.0, rate, !upper);
        (l, [0.0, dx])
    }

    cdf_kernels!(
        "Poisson",
        2,
        [y dy, rate drate],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod poisson_log {
    //! PoissonLog(log_rate): `lcdf(y, log_rate, ..)`, `lccdf(..)`.

    fn one([y, eta]: [f64; 2], upper: bool) -> (f64, [f64; 2]) {
        if eta.is_nan() || eta == f64::INFINITY {
            return (f64::NAN, [0.0; 2]);
        }
        let rate = eta.exp();
        let (l, [_, d]) = super::poisson::one([y, rate], upper);
        (l, [0.0, d * rate])
    }

    cdf_kernels!(
        "PoissonLog",
        2,
        [y dy, log_rate dlog_rate],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod bernoulli {
    //! Bernoulli(p): `lcdf(y, p, ..)`, `lccdf(..)`.

    fn one([y, p]: [f64; 2], upper: bool) -> (f64, [f64; 2]) {
        if !(0.0..=1.0).contains(&p) || y.is_nan() {
            return (f64::NAN, [0.0; 2]);
        }
        let below = if upper { 0.0 } else { f64::NEG_INFINITY };
        let above = if upper { f64::NEG_INFINITY } else { 0.0 };
        if y < 0.0 {
            (below, [0.0; 2])
        } else if y >= 1.0 {
            (above, [0.0; 2])
        } else if upper {
            // P(Y > 0) = p.
            (p.ln(), [0.0, 1.0 / p])
        } else {
            ((-p).ln_1p(), [0.0, -1.0 / (1.0 - p)])
        }
    }

    cdf_kernels!(
        "Bernoulli",
        2,
        [y dy, p dp],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod bernoulli_logit {
    //! BernoulliLogit(logit): `lcdf(y, logit, ..)`, `lccdf(..)`.
    use super::*;

    fn one([y, a]: [f64; 2], upper: bool) -> (f64, [f64; 2]) {
        if a.is_nan() || y.is_nan() {
            return (f64::NAN, [0.0; 2]);
        }
        let below = if upper { 0.0 } else { f64::NEG_INFINITY };
        let above = if upper { f64::NEG_INFINITY } else { 0.0 };
        if y < 0.0 {
            (below, [0.0; 2])
        } else if y >= 1.0 {
            (above, [0.0; 2])
        } else if upper {
            // ln P(Y = 1) = ln sigmoid(a).
            (-softplus(-a), [0.0, sigmoid(-a)])
        } else {
            (-softplus(a), [0.0, -sigmoid(a)])
        }
    }

    cdf_kernels!(
        "BernoulliLogit",
        2,
        [y dy, logit dlogit],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod weibull {
    //! Weibull(alpha, sigma): `lcdf(y, alpha, sigma, ..)`, `lccdf(..)`:
    //! S(y) = exp(-(y / sigma)^alpha).
    use super::*;

    pub(crate) fn one([y, alpha, sigma]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(alpha > 0.0 && sigma > 0.0) || !alpha.is_finite() || !sigma.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        if y <= 0.0 {
            return if upper {
                (0.0, [0.0; 3])
            } else {
                (f64::NEG_INFINITY, [0.0; 3])
            };
        }
        let r = (y / sigma).ln();
        let t = (alpha * r).exp();
        let ls = (-t, [-alpha * t / y, -t * r, alpha * t / sigma]);
        if upper {
            ls
        } else {
            complement(ls.0, ls.1)
        }
    }

    cdf_kernels!(
        "Weibull",
        3,
        [y dy, alpha dalpha, sigma dsigma],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod gumbel {
    //! Gumbel(mu, beta): `lcdf(y, mu, beta, ..)`, `lccdf(..)`: F(y) = exp(-e^-(y - mu) / beta).
    use super::*;

    pub(crate) fn one([y, mu, beta]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(beta > 0.0) || !beta.is_finite() || !mu.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        let z = (y - mu) / beta;
        let e = (-z).exp();
        let lf = (-e, loc_scale(z, e, beta));
        if lf.0 == f64::NEG_INFINITY {
            return if upper {
                (0.0, [0.0; 3])
            } else {
                (f64::NEG_INFINITY, [0.0; 3])
            };
        }
        if upper {
            complement(lf.0, lf.1)
        } else {
            lf
        }
    }

    cdf_kernels!(
        "Gumbel",
        3,
        [y dy, mu dmu, beta dbeta],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod pareto {
    //! Pareto(y_min, alpha): `lcdf(y, y_min, alpha, ..)`, `lccdf(..)`: S(y) = (y_min / y)^alpha.
    use super::*;

    pub(crate) fn one([y, y_min, alpha]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(alpha > 0.0 && y_min > 0.0) || !alpha.is_finite() || !y_min.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        if y <= y_min {
            return if upper {
                (0.0, [0.0; 3])
            } else {
                (f64::NEG_INFINITY, [0.0; 3])
            };
        }
        // ln(y_min / y) = -ln1p((y - y_min) / y_min): `y - y_min` is exact near the edge,
        // where the quotient's rounding would cost the lower tail its precision.
        let r = -((y - y_min) / y_min).ln_1p();
        let ls = (alpha * r, [-alpha / y, alpha / y_min, r]);
        if upper {
            ls
        } else {
            complement(ls.0, ls.1)
        }
    }

    cdf_kernels!(
        "Pareto",
        3,
        [y dy, y_min dy_min, alpha dalpha],
        |x| one(x, false),
        |x| one(x, true)
    );
}

/// `(lcdf, lccdf)` below and above a support: which of 0 and `-inf` each side takes.
#[inline]
fn outside<const N: usize>(above: bool, upper: bool) -> (f64, [f64; N]) {
    if above != upper {
        (0.0, [0.0; N])
    } else {
        (f64::NEG_INFINITY, [0.0; N])
    }
}

/// The pieces of the standard Student t's tails at `z` with `nu` degrees of freedom:
/// `P(|T| > |z|) = I_x(nu / 2, 1 / 2)` with `x = nu / (nu + z^2)` (as [`log_inc_beta`]
/// gives it, both sides and their derivatives), the log density at `z`, and `dx / dnu`.
fn t_tails(z: f64, nu: f64) -> (LogIncBeta, f64, f64) {
    let t2 = z * z;
    // x = nu / (nu + t2) and w = 1 - x = t2 / (nu + t2), each without cancellation or
    // overflow.
    let (x, w) = if t2 > nu {
        (nu / (nu + t2), 1.0 / (1.0 + nu / t2))
    } else {
        (1.0 / (1.0 + t2 / nu), t2 / (nu + t2))
    };
    let r = log_inc_beta(0.5 * nu, 0.5, x, w);
    let ln_f = lgamma(0.5 * (nu + 1.0))
        - lgamma(0.5 * nu)
        - 0.5 * (nu * PI).ln()
        - 0.5 * (nu + 1.0) * (t2 / nu).ln_1p();
    (r, ln_f, x * w / nu)
}

/// `exp(ln_f - l)`, the derivative of a log probability `l` whose probability has density
/// `e^ln_f`; 0 where `l` is `-inf`.
#[inline]
fn hazard(ln_f: f64, l: f64) -> f64 {
    if l == f64::NEG_INFINITY {
        0.0
    } else {
        (ln_f - l).exp()
    }
}

/// ln P(T <= z) for the standard Student t with `nu` degrees of freedom, with its partials
/// in `z` and `nu`: from `P(T <= -|z|) = I_x(nu / 2, 1 / 2) / 2`, `x = nu / (nu + z^2)`,
/// the other side as its complement; the partial in `z` is the density over the CDF.
pub(crate) fn std_student_t(z: f64, nu: f64) -> (f64, [f64; 2]) {
    if nu == f64::INFINITY {
        let (l, d) = std_normal(z);
        return (l, [d, 0.0]);
    }
    if z == f64::NEG_INFINITY {
        return (f64::NEG_INFINITY, [0.0; 2]);
    }
    if z == f64::INFINITY {
        return (0.0, [0.0; 2]);
    }
    let (r, ln_f, dx_dnu) = t_tails(z, nu);
    let tail = r.ln_p - LN_2;
    let dtail_dnu = 0.5 * r.dp[0] + r.dp[2] * dx_dnu;
    let (l, dnu) = if z <= 0.0 {
        (tail, dtail_dnu)
    } else {
        let l = log1m_exp(tail);
        (l, -(tail - l).exp() * dtail_dnu)
    };
    (l, [hazard(ln_f, l), dnu])
}

pub mod student_t {
    //! StudentT(nu, mu, sigma): `lcdf(y, nu, mu, sigma, ..)`, `lccdf(..)`, through the
    //! regularised incomplete beta function and its derivative in the shape.
    use super::*;

    pub(crate) fn one([y, nu, mu, sigma]: [f64; 4], upper: bool) -> (f64, [f64; 4]) {
        if !(nu > 0.0 && sigma > 0.0) || !sigma.is_finite() || !mu.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 4]);
        }
        let z = (y - mu) / sigma;
        // P(Y > y) = P(T <= -z).
        let (l, [dz, dnu]) = if upper {
            let (l, [dz, dnu]) = std_student_t(-z, nu);
            (l, [-dz, dnu])
        } else {
            std_student_t(z, nu)
        };
        let [gy, gmu, gsigma] = loc_scale(z, dz, sigma);
        (l, [gy, dnu, gmu, gsigma])
    }

    cdf_kernels!(
        "StudentT",
        4,
        [y dy, nu dnu, mu dmu, sigma dsigma],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod half_student_t {
    //! HalfStudentT(nu, sigma): `lcdf(y, nu, sigma, ..)`, `lccdf(..)`:
    //! P(Y > y) = 2 P(T > y / sigma) = I_x(nu / 2, 1 / 2), `x = nu / (nu + (y / sigma)^2)`.
    use super::*;

    fn one([y, nu, sigma]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(nu > 0.0 && sigma > 0.0) || !nu.is_finite() || !sigma.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        if y <= 0.0 {
            return outside(false, upper);
        }
        let z = y / sigma;
        if z == f64::INFINITY {
            return outside(true, upper);
        }
        // P(Y > y) = I_x(nu / 2, 1 / 2) and P(Y <= y) = 1 - I, each computed directly.
        let (r, ln_f, dx_dnu) = t_tails(z, nu);
        let (l, d, sign) = if upper {
            (r.ln_p, r.dp, -1.0)
        } else {
            (r.ln_q, r.dq, 1.0)
        };
        // The density of |T| is twice the t density.
        let dz = sign * hazard(ln_f + LN_2, l);
        let dnu = 0.5 * d[0] + d[2] * dx_dnu;
        (l, [dz / sigma, dnu, -dz * z / sigma])
    }

    cdf_kernels!(
        "HalfStudentT",
        3,
        [y dy, nu dnu, sigma dsigma],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod beta {
    //! Beta(a, b): `lcdf(y, a, b, ..)`, `lccdf(..)`: the regularised incomplete beta
    //! function `I_y(a, b)` with its derivatives in both shapes.
    use super::*;

    fn one([y, a, b]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(a > 0.0 && b > 0.0) || !a.is_finite() || !b.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        if y <= 0.0 || y >= 1.0 {
            return outside(y >= 1.0, upper);
        }
        let r = log_inc_beta(a, b, y, 1.0 - y);
        let (l, [da, db, dy]) = if upper {
            (r.ln_q, r.dq)
        } else {
            (r.ln_p, r.dp)
        };
        (l, [dy, da, db])
    }

    cdf_kernels!(
        "Beta",
        3,
        [y dy, a da, b db],
        |x| one(x, false),
        |x| one(x, true)
    );
}

/// ln P(Y <= k) (or, `upper`, ln P(Y > k)) of Binomial(n, p) with `q = 1 - p` given
/// accurately, and the partial in `p`: P(Y > k) = I_p(k + 1, n - k).
fn binomial_tail(k: f64, n: f64, p: f64, q: f64, upper: bool) -> (f64, f64) {
    if k < 0.0 || k >= n {
        return (outside::<1>(k >= n, upper).0, 0.0);
    }
    let r = log_inc_beta(k + 1.0, n - k, p, q);
    if upper {
        (r.ln_p, r.dp[2])
    } else {
        (r.ln_q, r.dq[2])
    }
}

/// Whether `n` is a count (a non-negative integer).
#[inline]
fn count(n: f64) -> bool {
    n >= 0.0 && n.is_finite() && n == n.floor()
}

pub mod binomial {
    //! Binomial(n, p): `lcdf(y, n, p, ..)`, `lccdf(..)`; `n` is data (its partial buffer
    //! is left untouched).
    use super::*;

    fn one([y, n, p]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !count(n) || !(0.0..=1.0).contains(&p) || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        let (l, d) = binomial_tail(y.floor(), n, p, 1.0 - p, upper);
        (l, [0.0, 0.0, d])
    }

    cdf_kernels!(
        "Binomial",
        3,
        [y dy, n dn, p dp],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod binomial_logit {
    //! BinomialLogit(n, logit): `lcdf(y, n, logit, ..)`, `lccdf(..)`.
    use super::*;

    fn one([y, n, a]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !count(n) || a.is_nan() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        let (p, q) = (sigmoid(a), sigmoid(-a));
        let (l, d) = binomial_tail(y.floor(), n, p, q, upper);
        (l, [0.0, 0.0, d * p * q])
    }

    cdf_kernels!(
        "BinomialLogit",
        3,
        [y dy, n dn, logit dlogit],
        |x| one(x, false),
        |x| one(x, true)
    );
}

/// ln P(Y <= k) (or ln P(Y > k)) of a negative binomial with shape `phi` and success
/// probability `p = phi / (mu + phi)` (`q = 1 - p` given accurately), with the partials in
/// `p` and `phi`: P(Y <= k) = I_p(phi, k + 1).
fn neg_binomial_tail(k: f64, phi: f64, p: f64, q: f64, upper: bool) -> (f64, [f64; 2]) {
    if k < 0.0 {
        return outside(false, upper);
    }
    let r = log_inc_beta(phi, k + 1.0, p, q);
    let (l, [dphi, _, dp]) = if upper {
        (r.ln_q, r.dq)
    } else {
        (r.ln_p, r.dp)
    };
    (l, [dp, dphi])
}

pub mod neg_binomial_2 {
    //! NegBinomial2(mu, phi): `lcdf(y, mu, phi, ..)`, `lccdf(..)`.
    use super::*;

    fn one([y, mu, phi]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(mu >= 0.0 && phi > 0.0) || !mu.is_finite() || !phi.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        let s = mu + phi;
        let (p, q) = (phi / s, mu / s);
        let (l, [dp, dphi]) = neg_binomial_tail(y.floor(), phi, p, q, upper);
        // dp / dmu = -p / s, dp / dphi = q / s.
        (l, [0.0, -dp * p / s, dphi + dp * q / s])
    }

    cdf_kernels!(
        "NegBinomial2",
        3,
        [y dy, mu dmu, phi dphi],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod neg_binomial_2_log {
    //! NegBinomial2Log(eta, phi): `lcdf(y, eta, phi, ..)`, `lccdf(..)`, with
    //! `p = sigmoid(ln phi - eta)` so a large or small `eta` keeps `p` and `1 - p` exact.
    use super::*;

    fn one([y, eta, phi]: [f64; 3], upper: bool) -> (f64, [f64; 3]) {
        if !(phi > 0.0) || !phi.is_finite() || eta.is_nan() || eta == f64::INFINITY || y.is_nan() {
            return (f64::NAN, [0.0; 3]);
        }
        let d = phi.ln() - eta;
        let (p, q) = (sigmoid(d), sigmoid(-d));
        let (l, [dp, dphi]) = neg_binomial_tail(y.floor(), phi, p, q, upper);
        // dp / deta = -p q, dp / dphi = p q / phi.
        (l, [0.0, -dp * p * q, dphi + dp * p * q / phi])
    }

    cdf_kernels!(
        "NegBinomial2Log",
        3,
        [y dy, eta deta, phi dphi],
        |x| one(x, false),
        |x| one(x, true)
    );
}

pub mod beta_binomial {
    //! BetaBinomial(n, a, b): `lcdf(y, n, a, b, ..)`, `lccdf(..)`: finite sums of the
    //! probabilities of the counts on each side (`0..=k` and `k+1..=n`), on the log scale;
    //! the asked side is its own sum when it is below 1/2, otherwise the complement of the
    //! other's, so both keep their relative accuracy. The partials in `a` and `b` are the
    //! probability-weighted means of each term's. `n` is data; the cost is `n + 1` terms.
    use super::*;

    fn one([y, n, a, b]: [f64; 4], upper: bool) -> (f64, [f64; 4]) {
        if !count(n) || !(a > 0.0 && b > 0.0) || !a.is_finite() || !b.is_finite() || y.is_nan() {
            return (f64::NAN, [0.0; 4]);
        }
        let k = y.floor();
        if k < 0.0 || k >= n {
            return outside(k >= n, upper);
        }
        // ln P(Y = j) = lchoose(n, j) + lbeta(j + a, n - j + b) - lbeta(a, b); its partial
        // in a is psi(j + a) - psi(n + a + b) - psi(a) + psi(a + b), in b likewise.
        let base = lbeta(a, b);
        let (psi_ab, psi_nab) = (digamma(a + b), digamma(n + a + b));
        let ca = psi_ab - psi_nab - digamma(a);
        let cb = psi_ab - psi_nab - digamma(b);
        // ln of the sum over the counts lo..=hi, with its partials: a running log-sum-exp
        // (max `m`, sum `s` of e^(l - m), and the weighted partials).
        let side = |lo: f64, hi: f64| {
            let (mut m, mut s, mut sa, mut sb) = (f64::NEG_INFINITY, 0.0, 0.0, 0.0);
            let mut j = lo;
            while j <= hi {
                let l = lchoose(n, j) + lbeta(j + a, n - j + b) - base;
                let ga = digamma(j + a) + ca;
                let gb = digamma(n - j + b) + cb;
                if l > m {
                    let r = (m - l).exp();
                    s *= r;
                    sa *= r;
                    sb *= r;
                    m = l;
                }
                let e = (l - m).exp();
                s += e;
                sa += e * ga;
                sb += e * gb;
                j += 1.0;
            }
            (m + s.ln(), [sa / s, sb / s])
        };
        let (lower, upper_side) = (side(0.0, k), side(k + 1.0, n));
        let (asked, other) = if upper {
            (upper_side, lower)
        } else {
            (lower, upper_side)
        };
        // A side near 1 is the complement of the other, small one, whose log keeps every
        // digit (summing the large side directly would leave an absolute error in its log).
        let (l, [da, db]) = if asked.0 > -LN_2 {
            let l = log1m_exp(other.0);
            let r = -(other.0 - l).exp();
            (l, other.1.map(|d| r * d))
        } else {
            asked
        };
        (l, [0.0, 0.0, da, db])
    }

    cdf_kernels!(
        "BetaBinomial",
        4,
        [y dy, n dn, a da, b db],
        |x| one(x, false),
        |x| one(x, true)
    );
}
