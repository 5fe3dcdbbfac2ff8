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

// `!(x > 0.0)` rejects NaN together with out-of-range values, on purpose.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::nonminimal_bool)]

use crate::math::special::{log1m_exp, log_phi, log_phi_grad};
use crate::math::{sigmoid, softplus};
use std::f64::consts::{FRAC_1_PI, LN_2};

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
        pub fn lcdf($($a: &[f64],)* $($g: Option<&mut [f64]>),*) -> f64 {
            $crate::dist::scalar::slices::<Lcdf, $n>([$($a),*], [$($g),*])
        }

        #[doc = concat!("Sum over the broadcast elements of ln P(Y > y) for Y ~ ", $dist,
            ", adding the partials into the given buffers (NaN when the lengths do not \
            broadcast or a parameter is invalid).")]
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
