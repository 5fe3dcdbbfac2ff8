// Longer than 800 lines: reference values, one row per point, each with the Python that
// computed it.
//! The log CDFs that go through the regularised incomplete beta function (StudentT,
//! HalfStudentT, Beta, Binomial, BinomialLogit, NegBinomial2, NegBinomial2Log) and
//! BetaBinomial's finite sum: values in both tails against scipy 1.17.1 or, where scipy
//! loses digits, mpmath 1.3.0 at 50 digits (each row says which, and what scipy gave);
//! `log_inc_beta`'s derivatives in both shapes against mpmath's numerical derivatives;
//! every partial of every kernel against central finite differences (the shared harness),
//! the vector kernels against the sum of their elements, and the two tails adding to 1.
//!
//! The tables were made on this machine by `cdf_beta_refs.py` (beside this file; it prints
//! the rows), whose core is:
//! ```python
//! import mpmath as mp; from scipy import stats as st; mp.mp.dps = 50
//! I  = lambda a, b, x: mp.betainc(a, b, 0, x, regularized=True)
//! Ic = lambda a, b, x: mp.betainc(a, b, x, 1, regularized=True)
//! # log_inc_beta rows: mp.log(I(a, b, x)), mp.log(Ic(a, b, x)),
//! #   mp.diff(lambda t: mp.log(I(t, b, x)), a), mp.diff(lambda t: mp.log(I(a, t, x)), b),
//! #   and the same two of mp.log(Ic(..)).
//! # CDF rows: d.logcdf(y), d.logsf(y) for the scipy distribution d named in the row; when
//! # either differs from mpmath's by more than 1e-12 relative, mpmath's:
//! #   StudentT: F(z) = I(nu/2, 1/2, nu/(nu+z^2)) / 2 for z < 0, 1 - that for z > 0;
//! #   Binomial: mp.fsum of mp.binomial(n, j) p^j (1-p)^(n-j) over the side's counts;
//! #   NegBinomial2: I(phi, k+1, phi/(mu+phi)) and Ic(..);
//! #   BetaBinomial: mp.fsum of mp.binomial(n, j) mp.beta(j+a, n-j+b) / mp.beta(a, b).
//! # HalfStudentT: P(Y > y) = I(nu/2, 1/2, nu/(nu+z^2)), z = y/sigma, by mpmath (scipy has
//! # no half-t; np.log(2) + st.t(nu).logsf(z) is quoted beside).
//! ```

// Reference values that happen to be ln 2 (a probability of 1/2) are scipy's.
#![allow(clippy::approx_constant)]

use super::{eval, int, rel_close, tol, u, Kernel};
use vi_runtime::check::gradient_mismatch;
use vi_runtime::dist::cdf;
use vi_runtime::infer::rng_for;
use vi_runtime::math::special::log_inc_beta;

/// `(a, b, x, ln I, ln(1 - I), d ln I / da, d ln I / db, d ln(1 - I) / da, d ln(1 - I) / db)`
/// by mpmath 1.3.0 at 50 digits (see the module's comment).
#[allow(clippy::type_complexity)]
const INC_BETA_REF: &[(f64, f64, f64, f64, f64, f64, f64, f64, f64)] = &[
    (
        2.0,
        3.0,
        0.4,
        -0.6447380413522577,
        -0.744019510933702,
        -0.4589736587034233,
        0.2979122263978635,
        0.506880000184252,
        -0.3290074419478089,
    ),
    (
        0.5,
        0.7,
        1e-06,
        -7.13321427788184,
        -0.0007984684759226691,
        -14.141040295201657,
        0.9309833237722864,
        0.011295683916099152,
        -0.0007436576897429158,
    ),
    (
        200.0,
        300.0,
        0.45,
        -0.011924469105979992,
        -4.435119072466626,
        -0.0016337632946285456,
        0.0012065546898622614,
        0.13619405269276302,
        -0.10058101656957742,
    ),
    (
        5.0,
        0.5,
        0.999,
        -0.08090425392189893,
        -2.554668286568854,
        -0.008817909417333318,
        0.4495589865487804,
        0.10464240249376247,
        -5.3349303319734025,
    ),
    (
        1000.0,
        2.0,
        0.9995,
        -0.09465993357411516,
        -2.4044210966046826,
        -0.00016679170834893396,
        0.16608580052413782,
        0.0016799292217201604,
        -1.6728193048396698,
    ),
    (
        0.01,
        5.0,
        0.3,
        -0.0008561429030716044,
        -7.0635012938259525,
        -0.08661456446969727,
        0.00044317384651227845,
        101.12504843211474,
        -0.5174184846023204,
    ),
    (
        30.0,
        40.0,
        0.9,
        -1.2120605905517758e-22,
        -50.464550167267014,
        -9.14445813681762e-23,
        2.1388408148779293e-22,
        0.7544555287169857,
        -1.7646319264487,
    ),
];

/// A log probability against its reference: relative 1e-12, or within 1e-15 of a reference
/// that is 0 to that precision.
fn log_close(got: f64, want: f64) -> bool {
    rel_close(got, want, 1e-12) || (want.abs() < 1e-15 && (got - want).abs() < 1e-15)
}

#[test]
fn log_inc_beta_and_its_shape_derivatives_match_mpmath() {
    for &(a, b, x, lp, lq, dpa, dpb, dqa, dqb) in INC_BETA_REF {
        let r = log_inc_beta(a, b, x, 1.0 - x);
        let ctx = format!("I_{x}({a}, {b})");
        assert!(log_close(r.ln_p, lp), "{ctx}: ln I {} vs {lp}", r.ln_p);
        assert!(log_close(r.ln_q, lq), "{ctx}: ln(1 - I) {} vs {lq}", r.ln_q);
        for (got, want, what) in [
            (r.dp[0], dpa, "d ln I / da"),
            (r.dp[1], dpb, "d ln I / db"),
            (r.dq[0], dqa, "d ln(1 - I) / da"),
            (r.dq[1], dqb, "d ln(1 - I) / db"),
        ] {
            assert!(
                rel_close(got, want, 1e-9) || (got - want).abs() < 1e-20,
                "{ctx}: {what} {got} vs mpmath {want}"
            );
        }
        // d/dx against finite differences (x and 1 - x moved together).
        let h = 1e-7 * x.min(1.0 - x);
        let fd = |f: fn(&vi_runtime::math::special::LogIncBeta) -> f64| {
            let up = log_inc_beta(a, b, x + h, 1.0 - (x + h));
            let dn = log_inc_beta(a, b, x - h, 1.0 - (x - h));
            (f(&up) - f(&dn)) / (2.0 * h)
        };
        let (fp, fq) = (fd(|r| r.ln_p), fd(|r| r.ln_q));
        assert!(
            (r.dp[2] - fp).abs() <= 1e-5 * fp.abs().max(1e-12),
            "{ctx}: d/dx {} vs {fp}",
            r.dp[2]
        );
        assert!(
            (r.dq[2] - fq).abs() <= 1e-5 * fq.abs().max(1e-12),
            "{ctx}: d/dx {} vs {fq}",
            r.dq[2]
        );
    }
    // The ends, and invalid arguments.
    let r = log_inc_beta(2.0, 3.0, 0.0, 1.0);
    assert_eq!((r.ln_p, r.ln_q), (f64::NEG_INFINITY, 0.0));
    let r = log_inc_beta(2.0, 3.0, 1.0, 0.0);
    assert_eq!((r.ln_p, r.ln_q), (0.0, f64::NEG_INFINITY));
    assert!(log_inc_beta(-1.0, 3.0, 0.5, 0.5).ln_p.is_nan());
    assert!(log_inc_beta(1.0, 3.0, 0.5, 0.6).ln_p.is_nan());
}

/// One module's two kernels, which of its arguments are real, random parameters and a
/// random point.
struct CdfSpec {
    name: &'static str,
    lcdf: Kernel,
    lccdf: Kernel,
    real: &'static [bool],
    params: fn(&mut vi_runtime::infer::Rng) -> Vec<f64>,
    point: fn(&mut vi_runtime::infer::Rng, &[f64]) -> f64,
}

fn specs() -> Vec<CdfSpec> {
    use cdf::*;
    use Kernel::*;
    vec![
        CdfSpec {
            name: "student_t",
            lcdf: K3(student_t::lcdf),
            lccdf: K3(student_t::lccdf),
            real: &[true, true, true, true],
            params: |r| vec![u(r, 0.5, 30.0), u(r, -2.0, 2.0), u(r, 0.5, 2.0)],
            point: |r, p| p[1] + p[2] * u(r, -20.0, 20.0),
        },
        CdfSpec {
            name: "half_student_t",
            lcdf: K2(half_student_t::lcdf),
            lccdf: K2(half_student_t::lccdf),
            real: &[true, true, true],
            params: |r| vec![u(r, 0.5, 30.0), u(r, 0.5, 2.0)],
            point: |r, p| p[1] * u(r, 0.01, 20.0),
        },
        CdfSpec {
            name: "beta",
            lcdf: K2(beta::lcdf),
            lccdf: K2(beta::lccdf),
            real: &[true, true, true],
            params: |r| vec![u(r, 0.3, 20.0), u(r, 0.3, 20.0)],
            point: |r, _| u(r, 0.001, 0.999),
        },
        CdfSpec {
            name: "binomial",
            lcdf: K2(binomial::lcdf),
            lccdf: K2(binomial::lccdf),
            real: &[false, false, true],
            params: |r| vec![int(r, 1, 200), u(r, 0.02, 0.98)],
            point: |r, p| int(r, 0, p[0] as u64 - 1),
        },
        CdfSpec {
            name: "binomial_logit",
            lcdf: K2(binomial_logit::lcdf),
            lccdf: K2(binomial_logit::lccdf),
            real: &[false, false, true],
            params: |r| vec![int(r, 1, 200), u(r, -4.0, 4.0)],
            point: |r, p| int(r, 0, p[0] as u64 - 1),
        },
        CdfSpec {
            name: "neg_binomial_2",
            lcdf: K2(neg_binomial_2::lcdf),
            lccdf: K2(neg_binomial_2::lccdf),
            real: &[false, true, true],
            params: |r| vec![u(r, 0.1, 50.0), u(r, 0.2, 20.0)],
            point: |r, p| int(r, 0, (3.0 * p[0]) as u64 + 5),
        },
        CdfSpec {
            name: "neg_binomial_2_log",
            lcdf: K2(neg_binomial_2_log::lcdf),
            lccdf: K2(neg_binomial_2_log::lccdf),
            real: &[false, true, true],
            params: |r| vec![u(r, -2.0, 4.0), u(r, 0.2, 20.0)],
            point: |r, p| int(r, 0, (3.0 * p[0].exp()) as u64 + 5),
        },
        CdfSpec {
            name: "beta_binomial",
            lcdf: K3(beta_binomial::lcdf),
            lccdf: K3(beta_binomial::lccdf),
            real: &[false, false, true, true],
            params: |r| vec![int(r, 1, 100), u(r, 0.3, 10.0), u(r, 0.3, 10.0)],
            point: |r, p| int(r, 0, p[0] as u64 - 1),
        },
    ]
}

/// `(module, parameters, y, ln P(Y <= y), ln P(Y > y))`; each row's comment says where its
/// values come from.
const LCDF_REF: &[(&str, &[f64], f64, f64, f64)] = &[
    (
        "student_t",
        &[3.0, 1.0, 2.0],
        -10000.0,
        -25.45415626417631,
        -8.8186152076504e-12,
    ), // st.t(3, 1, 2).logcdf(-10000.0), .logsf(-10000.0) (scipy 1.17.1)
    (
        "student_t",
        &[3.0, 1.0, 2.0],
        -1.0,
        -1.632189224494123,
        -0.21753569164062553,
    ), // st.t(3, 1, 2).logcdf(-1), .logsf(-1) (scipy 1.17.1)
    (
        "student_t",
        &[3.0, 1.0, 2.0],
        1.0,
        -0.6931471805599453,
        -0.6931471805599453,
    ), // st.t(3, 1, 2).logcdf(1), .logsf(1) (scipy 1.17.1)
    (
        "student_t",
        &[3.0, 1.0, 2.0],
        1.5,
        -0.5265563914105834,
        -0.8931490501007893,
    ), // st.t(3, 1, 2).logcdf(1.5), .logsf(1.5) (scipy 1.17.1)
    (
        "student_t",
        &[3.0, 1.0, 2.0],
        50.0,
        -7.453497632353308e-05,
        -9.504279329154306,
    ), // st.t(3, 1, 2).logcdf(50), .logsf(50) (scipy 1.17.1)
    (
        "student_t",
        &[3.0, 1.0, 2.0],
        1000000.0,
        -8.821288790461552e-18,
        -39.26936369318128,
    ), // st.t(3, 1, 2).logcdf(1000000.0), .logsf(1000000.0) (scipy 1.17.1)
    (
        "student_t",
        &[0.7, 0.0, 1.0],
        -100.0,
        -4.392146895695432,
        -0.012451331803740608,
    ), // st.t(0.7, 0, 1).logcdf(-100), .logsf(-100) (scipy 1.17.1)
    (
        "student_t",
        &[0.7, 0.0, 1.0],
        2.0,
        -0.20404469591285176,
        -1.6897044010478917,
    ), // st.t(0.7, 0, 1).logcdf(2), .logsf(2) (scipy 1.17.1)
    (
        "student_t",
        &[300.0, 0.0, 1.0],
        -8.0,
        -31.92320141950555,
        -1.3675076950769297e-14,
    ), // st.t(300, 0, 1).logcdf(-8), .logsf(-8) (scipy 1.17.1)
    (
        "student_t",
        &[300.0, 0.0, 1.0],
        0.5,
        -0.36921150103652434,
        -1.1753179338827087,
    ), // st.t(300, 0, 1).logcdf(0.5), .logsf(0.5) (scipy 1.17.1)
    (
        "half_student_t",
        &[3.0, 2.0],
        1e-08,
        -19.421569593575875,
        -3.6755259762333594e-09,
    ), // mpmath: log(betainc(nu/2, 1/2, 0|1, nu/(nu+z^2))); scipy np.log(2) + st.t(3).logsf(1e-08/2) = np.float64(-3.6755259946730234e-09)
    (
        "half_student_t",
        &[3.0, 2.0],
        1.0,
        -1.0539677481574399,
        -0.4285577553719223,
    ), // mpmath: log(betainc(nu/2, 1/2, 0|1, nu/(nu+z^2))); scipy np.log(2) + st.t(3).logsf(1/2) = np.float64(-0.4285577553719223)
    (
        "half_student_t",
        &[3.0, 2.0],
        100000.0,
        -1.7642524628092265e-14,
        -31.668464235066303,
    ), // mpmath: log(betainc(nu/2, 1/2, 0|1, nu/(nu+z^2))); scipy np.log(2) + st.t(3).logsf(100000.0/2) = np.float64(-31.668464235066306)
    (
        "half_student_t",
        &[1.5, 0.5],
        0.2,
        -1.3421662397957594,
        -0.30283505045647124,
    ), // mpmath: log(betainc(nu/2, 1/2, 0|1, nu/(nu+z^2))); scipy np.log(2) + st.t(1.5).logsf(0.2/0.5) = np.float64(-0.3028350504564715)
    (
        "half_student_t",
        &[1.5, 0.5],
        30.0,
        -0.0016236718554332532,
        -6.423876843203153,
    ), // mpmath: log(betainc(nu/2, 1/2, 0|1, nu/(nu+z^2))); scipy np.log(2) + st.t(1.5).logsf(30/0.5) = np.float64(-6.423876843203153)
    (
        "beta",
        &[2.0, 3.0],
        1e-10,
        -44.25994239078619,
        -5.9999999992e-20,
    ), // st.beta(2, 3).logcdf(1e-10), .logsf(1e-10) (scipy 1.17.1)
    (
        "beta",
        &[2.0, 3.0],
        0.4,
        -0.6447380413522577,
        -0.744019510933702,
    ), // st.beta(2, 3).logcdf(0.4), .logsf(0.4) (scipy 1.17.1)
    (
        "beta",
        &[2.0, 3.0],
        0.999999,
        -3.9999970003450675e-18,
        -40.06023806268695,
    ), // st.beta(2, 3).logcdf(0.999999), .logsf(0.999999) (scipy 1.17.1)
    (
        "beta",
        &[0.5, 0.7],
        1e-12,
        -14.040969656863911,
        -7.981500235031212e-07,
    ), // st.beta(0.5, 0.7).logcdf(1e-12), .logsf(1e-12) (scipy 1.17.1)
    (
        "beta",
        &[0.5, 0.7],
        0.5,
        -0.5102187543934622,
        -0.9172017270367729,
    ), // st.beta(0.5, 0.7).logcdf(0.5), .logsf(0.5) (scipy 1.17.1)
    (
        "beta",
        &[0.5, 0.7],
        0.999999999,
        -2.8573035140878594e-07,
        -15.068217440974907,
    ), // st.beta(0.5, 0.7).logcdf(0.999999999), .logsf(0.999999999) (scipy 1.17.1)
    (
        "beta",
        &[200.0, 300.0],
        0.3,
        -13.767007554707972,
        -1.0496990752631825e-06,
    ), // st.beta(200, 300).logcdf(0.3), .logsf(0.3) (scipy 1.17.1)
    (
        "beta",
        &[200.0, 300.0],
        0.4,
        -0.6883017062147303,
        -0.6980162478923904,
    ), // st.beta(200, 300).logcdf(0.4), .logsf(0.4) (scipy 1.17.1)
    (
        "beta",
        &[200.0, 300.0],
        0.5,
        -3.543486542533561e-06,
        -12.550401188235375,
    ), // st.beta(200, 300).logcdf(0.5), .logsf(0.5) (scipy 1.17.1)
    (
        "binomial",
        &[10.0, 0.3],
        0.0,
        -3.5667494393873236,
        -0.02865416219876478,
    ), // st.binom(10, 0.3).logcdf(0), .logsf(0) (scipy 1.17.1)
    (
        "binomial",
        &[10.0, 0.3],
        3.0,
        -0.4313819902707921,
        -1.0487105094288514,
    ), // st.binom(10, 0.3).logcdf(3), .logsf(3) (scipy 1.17.1)
    (
        "binomial",
        &[10.0, 0.3],
        9.0,
        -5.904917433990634e-06,
        -12.03972804325936,
    ), // mpmath 1.3.0 (50 digits); scipy 1.17.1's st.binom(10, 0.3).logcdf/.logsf give np.float64(-5.904917433955099e-06), np.float64(-12.03972804325936)
    (
        "binomial",
        &[1000.0, 0.01],
        0.0,
        -10.05033585350144,
        -4.317217931578084e-05,
    ), // mpmath 1.3.0 (50 digits); scipy 1.17.1's st.binom(1000, 0.01).logcdf/.logsf give np.float64(-10.050335853501442), np.float64(-4.3172179315834146e-05)
    (
        "binomial",
        &[1000.0, 0.01],
        10.0,
        -0.5394981065711243,
        -0.8747669116138448,
    ), // st.binom(1000, 0.01).logcdf(10), .logsf(10) (scipy 1.17.1)
    (
        "binomial",
        &[1000.0, 0.01],
        60.0,
        -2.8610388950683897e-28,
        -63.42119779493692,
    ), // mpmath 1.3.0 (50 digits); scipy 1.17.1's st.binom(1000, 0.01).logcdf/.logsf give np.float64(0.0), np.float64(-63.421197794936916)
    (
        "binomial",
        &[50.0, 0.999],
        30.0,
        -106.69977558101792,
        -4.580049607213986e-47,
    ), // mpmath 1.3.0 (50 digits); scipy 1.17.1's st.binom(50, 0.999).logcdf/.logsf give np.float64(-106.69977558101792), np.float64(0.0)
    (
        "binomial",
        &[50.0, 0.999],
        49.0,
        -3.0201403046806505,
        -0.050025016679176665,
    ), // st.binom(50, 0.999).logcdf(49), .logsf(49) (scipy 1.17.1)
    (
        "binomial_logit",
        &[20.0, -1.0],
        0.0,
        -6.265233750364456,
        -0.0019030786501874814,
    ), // st.binom(20, expit(-1.0)).logcdf(0), .logsf(0) (scipy 1.17.1)
    (
        "binomial_logit",
        &[20.0, -1.0],
        5.0,
        -0.6161434933439509,
        -0.7765788546091471,
    ), // st.binom(20, expit(-1.0)).logcdf(5), .logsf(5) (scipy 1.17.1)
    (
        "binomial_logit",
        &[20.0, -1.0],
        19.0,
        -3.918807371574227e-12,
        -26.265233750364455,
    ), // mpmath 1.3.0 (50 digits); scipy 1.17.1's st.binom(20, expit(-1.0)).logcdf/.logsf give np.float64(-3.918754210027093e-12), np.float64(-26.26523375036446)
    (
        "neg_binomial_2",
        &[4.0, 2.5],
        0.0,
        -2.388778612568591,
        -0.09622643379196198,
    ), // st.nbinom(2.5, 2.5/(4+2.5)).logcdf(0), .logsf(0) (scipy 1.17.1)
    (
        "neg_binomial_2",
        &[4.0, 2.5],
        3.0,
        -0.6440016569060455,
        -0.7448333876683649,
    ), // st.nbinom(2.5, 2.5/(4+2.5)).logcdf(3), .logsf(3) (scipy 1.17.1)
    (
        "neg_binomial_2",
        &[4.0, 2.5],
        60.0,
        -1.258189177671642e-11,
        -25.09876249626125,
    ), // st.nbinom(2.5, 2.5/(4+2.5)).logcdf(60), .logsf(60) (scipy 1.17.1)
    (
        "neg_binomial_2",
        &[1000.0, 0.5],
        2.0,
        -3.1724256801651394,
        -0.042805036618223526,
    ), // st.nbinom(0.5, 0.5/(1000+0.5)).logcdf(2), .logsf(2) (scipy 1.17.1)
    (
        "neg_binomial_2",
        &[1000.0, 0.5],
        1000.0,
        -0.381538009702156,
        -1.148255677983256,
    ), // st.nbinom(0.5, 0.5/(1000+0.5)).logcdf(1000), .logsf(1000) (scipy 1.17.1)
    (
        "neg_binomial_2",
        &[1000.0, 0.5],
        50000.0,
        -1.5466909250173957e-12,
        -27.194903354204055,
    ), // st.nbinom(0.5, 0.5/(1000+0.5)).logcdf(50000), .logsf(50000) (scipy 1.17.1)
    (
        "neg_binomial_2",
        &[0.01, 100.0],
        0.0,
        -0.009999500033332494,
        -4.610215767674816,
    ), // st.nbinom(100, 100/(0.01+100)).logcdf(0), .logsf(0) (scipy 1.17.1)
    (
        "neg_binomial_2",
        &[0.01, 100.0],
        3.0,
        -4.384650441111438e-10,
        -21.547741024477432,
    ), // st.nbinom(100, 100/(0.01+100)).logcdf(3), .logsf(3) (scipy 1.17.1)
    (
        "neg_binomial_2_log",
        &[1.3862943611198906, 2.5],
        0.0,
        -2.388778612568591,
        -0.09622643379196198,
    ), // st.nbinom(2.5, 2.5/(exp(1.3862943611198906)+2.5)).logcdf(0), .logsf(0) (scipy 1.17.1)
    (
        "neg_binomial_2_log",
        &[1.3862943611198906, 2.5],
        3.0,
        -0.6440016569060455,
        -0.7448333876683649,
    ), // st.nbinom(2.5, 2.5/(exp(1.3862943611198906)+2.5)).logcdf(3), .logsf(3) (scipy 1.17.1)
    (
        "neg_binomial_2_log",
        &[1.3862943611198906, 2.5],
        60.0,
        -1.258189177671642e-11,
        -25.09876249626125,
    ), // st.nbinom(2.5, 2.5/(exp(1.3862943611198906)+2.5)).logcdf(60), .logsf(60) (scipy 1.17.1)
    (
        "neg_binomial_2_log",
        &[-20.0, 3.0],
        0.0,
        -2.0611536217304987e-09,
        -20.0000000013741,
    ), // mpmath 1.3.0 (50 digits); scipy 1.17.1's st.nbinom(3.0, 3.0/(exp(-20.0)+3.0)).logcdf/.logsf give np.float64(-2.0611535818535065e-09), np.float64(-20.000000020721032)
    (
        "neg_binomial_2_log",
        &[-20.0, 3.0],
        1.0,
        -2.8322361637080886e-18,
        -40.40546511039833,
    ), // mpmath 1.3.0 (50 digits); scipy 1.17.1's st.nbinom(3.0, 3.0/(exp(-20.0)+3.0)).logcdf/.logsf give np.float64(-2.8322360541179466e-18), np.float64(-40.405465149092194)
    (
        "neg_binomial_2_log",
        &[8.0, 1.5],
        10.0,
        -8.05032219002001,
        -0.0003190500186319372,
    ), // st.nbinom(1.5, 1.5/(exp(8.0)+1.5)).logcdf(10), .logsf(10) (scipy 1.17.1)
    (
        "neg_binomial_2_log",
        &[8.0, 1.5],
        2000.0,
        -0.8430492019494077,
        -0.5628141698974168,
    ), // st.nbinom(1.5, 1.5/(exp(8.0)+1.5)).logcdf(2000), .logsf(2000) (scipy 1.17.1)
    (
        "beta_binomial",
        &[10.0, 2.0, 3.0],
        0.0,
        -2.719100037288795,
        -0.06820825002653358,
    ), // st.betabinom(10, 2, 3).logcdf(0), .logsf(0) (scipy 1.17.1)
    (
        "beta_binomial",
        &[10.0, 2.0, 3.0],
        4.0,
        -0.5201933737695908,
        -0.9024016197134879,
    ), // st.betabinom(10, 2, 3).logcdf(4), .logsf(4) (scipy 1.17.1)
    (
        "beta_binomial",
        &[10.0, 2.0, 3.0],
        9.0,
        -0.011049836186584935,
        -4.510859506516853,
    ), // st.betabinom(10, 2, 3).logcdf(9), .logsf(9) (scipy 1.17.1)
    (
        "beta_binomial",
        &[1000.0, 50.0, 80.0],
        300.0,
        -3.5519372953184187,
        -0.029088029847580552,
    ), // st.betabinom(1000, 50, 80).logcdf(300), .logsf(300) (scipy 1.17.1)
    (
        "beta_binomial",
        &[1000.0, 50.0, 80.0],
        400.0,
        -0.444327097426481,
        -1.025145215031785,
    ), // mpmath 1.3.0 (50 digits); scipy 1.17.1's st.betabinom(1000, 50, 80).logcdf/.logsf give np.float64(-0.44432709742588566), np.float64(-1.0251452150328493)
    (
        "beta_binomial",
        &[1000.0, 50.0, 80.0],
        500.0,
        -0.006098668070825021,
        -5.10273266498579,
    ), // mpmath 1.3.0 (50 digits); scipy 1.17.1's st.betabinom(1000, 50, 80).logcdf/.logsf give np.float64(-0.006098668070197237), np.float64(-5.102732665088414)
    (
        "beta_binomial",
        &[200.0, 0.5, 0.7],
        0.0,
        -2.9965241449506994,
        -0.051251634310643744,
    ), // st.betabinom(200, 0.5, 0.7).logcdf(0), .logsf(0) (scipy 1.17.1)
    (
        "beta_binomial",
        &[200.0, 0.5, 0.7],
        199.0,
        -0.012760356075396787,
        -4.367785489461093,
    ), // mpmath 1.3.0 (50 digits); scipy 1.17.1's st.betabinom(200, 0.5, 0.7).logcdf/.logsf give np.float64(-0.012760356075131561), np.float64(-4.367785489481745)
];

#[test]
fn incomplete_beta_cdfs_match_scipy_and_mpmath_in_both_tails() {
    let specs = specs();
    let mut bad = Vec::new();
    for &(name, params, y, lc, ls) in LCDF_REF {
        let s = specs.iter().find(|s| s.name == name).expect("a spec");
        let mut args = vec![vec![y]];
        args.extend(params.iter().map(|&p| vec![p]));
        let none = vec![false; args.len()];
        let got_c = eval(s.lcdf, &args, &none).0;
        let got_s = eval(s.lccdf, &args, &none).0;
        if !log_close(got_c, lc) {
            bad.push(format!("{name}{params:?} lcdf at {y}: {got_c} vs {lc}"));
        }
        if !log_close(got_s, ls) {
            bad.push(format!("{name}{params:?} lccdf at {y}: {got_s} vs {ls}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    for s in &specs {
        let n = LCDF_REF.iter().filter(|r| r.0 == s.name).count();
        assert!(n >= 3, "{} has {n} reference points", s.name);
    }
}

/// Every partial against finite differences at random points, scalar and with a vector
/// first argument; the vector value against the sum of its elements; the tails adding up.
#[test]
fn incomplete_beta_cdf_partials_match_finite_differences() {
    const N: usize = 4;
    for (si, s) in specs().into_iter().enumerate() {
        let k = s.real.len();
        let mut rng = rng_for(1717, si as u64);
        for rep in 0..12 {
            let p = (s.params)(&mut rng);
            let ys: Vec<f64> = (0..N).map(|_| (s.point)(&mut rng, &p)).collect();
            let mut args = vec![ys.clone()];
            args.extend(p.iter().map(|&v| vec![v]));
            for (which, kern) in [("lcdf", s.lcdf), ("lccdf", s.lccdf)] {
                let ctx = format!("{} {which} rep {rep} at {args:?}", s.name);
                let (lp, grads) = eval(kern, &args, &vec![true; k]);
                assert!(lp.is_finite(), "{ctx}: {lp}");
                let sum: f64 = ys
                    .iter()
                    .map(|&y| {
                        let mut one = vec![vec![y]];
                        one.extend(p.iter().map(|&v| vec![v]));
                        eval(kern, &one, &vec![false; k]).0
                    })
                    .sum();
                assert!(
                    (lp - sum).abs() <= tol::SUM * sum.abs().max(1.0),
                    "{ctx}: {lp} vs {sum}"
                );
                for j in (0..k).filter(|&j| !s.real[j]) {
                    assert!(
                        grads[j].iter().all(|&g| g == 0.0),
                        "{ctx}: argument {j} touched"
                    );
                }
                let real: Vec<usize> = (0..k).filter(|&j| s.real[j]).collect();
                let x: Vec<f64> = real.iter().flat_map(|&j| args[j].clone()).collect();
                let g: Vec<f64> = real.iter().flat_map(|&j| grads[j].clone()).collect();
                let f = |x: &[f64]| {
                    let mut a = args.clone();
                    let mut off = 0;
                    for &j in &real {
                        let len = a[j].len();
                        a[j].copy_from_slice(&x[off..off + len]);
                        off += len;
                    }
                    eval(kern, &a, &vec![false; k]).0
                };
                if let Some((i, an, fd)) = gradient_mismatch(f, &g, &x, tol::GRAD) {
                    panic!("{ctx}: partial {i} is {an}, finite difference {fd}");
                }
            }
            for &y in &ys {
                let mut one = vec![vec![y]];
                one.extend(p.iter().map(|&v| vec![v]));
                let c = eval(s.lcdf, &one, &vec![false; k]).0.exp();
                let d = eval(s.lccdf, &one, &vec![false; k]).0.exp();
                assert!(
                    (c + d - 1.0).abs() < 1e-12,
                    "{} at {one:?}: {c} + {d}",
                    s.name
                );
            }
        }
    }
}

#[test]
fn incomplete_beta_cdfs_outside_the_support_and_with_invalid_parameters() {
    use cdf::*;
    let ninf = f64::NEG_INFINITY;
    assert_eq!(beta::lcdf(&[0.0], &[2.0], &[3.0], None, None, None), ninf);
    assert_eq!(beta::lccdf(&[0.0], &[2.0], &[3.0], None, None, None), 0.0);
    assert_eq!(beta::lcdf(&[1.0], &[2.0], &[3.0], None, None, None), 0.0);
    assert_eq!(
        binomial::lcdf(&[-1.0], &[5.0], &[0.3], None, None, None),
        ninf
    );
    assert_eq!(
        binomial::lccdf(&[5.0], &[5.0], &[0.3], None, None, None),
        ninf
    );
    assert_eq!(
        binomial::lcdf(&[7.0], &[5.0], &[0.3], None, None, None),
        0.0
    );
    assert_eq!(
        beta_binomial::lccdf(&[9.0], &[9.0], &[1.0], &[2.0], None, None, None, None),
        ninf
    );
    assert_eq!(
        neg_binomial_2::lcdf(&[-1.0], &[3.0], &[2.0], None, None, None),
        ninf
    );
    assert_eq!(
        half_student_t::lcdf(&[0.0], &[3.0], &[1.0], None, None, None),
        ninf
    );
    // A count is floored: P(Y <= 2.7) = P(Y <= 2).
    let a = binomial::lcdf(&[2.7], &[5.0], &[0.3], None, None, None);
    let b = binomial::lcdf(&[2.0], &[5.0], &[0.3], None, None, None);
    assert_eq!(a, b);
    assert!(student_t::lcdf(&[0.0], &[-1.0], &[0.0], &[1.0], None, None, None, None).is_nan());
    assert!(beta::lcdf(&[0.5], &[0.0], &[1.0], None, None, None).is_nan());
    assert!(binomial::lcdf(&[1.0], &[2.5], &[0.3], None, None, None).is_nan());
    assert!(binomial::lcdf(&[1.0], &[3.0], &[1.3], None, None, None).is_nan());
    assert!(neg_binomial_2::lcdf(&[1.0], &[3.0], &[0.0], None, None, None).is_nan());
    assert!(beta_binomial::lcdf(&[1.0], &[3.0], &[-1.0], &[1.0], None, None, None, None).is_nan());
    // Student t with infinite degrees of freedom is the normal: ln Phi(-1) =
    // scipy.special.log_ndtr(-1.0) = -1.841021645009264 (scipy 1.17.1).
    let l = student_t::lcdf(
        &[-1.0],
        &[f64::INFINITY],
        &[0.0],
        &[1.0],
        None,
        None,
        None,
        None,
    );
    assert!(rel_close(l, -1.841021645009264, 1e-13), "{l}");
}
