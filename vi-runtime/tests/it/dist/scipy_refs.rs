//! Independent references for the issue-17 densities whose other tests compare them with
//! formulas written in Rust (Categorical, CategoricalLogit, OrderedLogistic, Wishart,
//! InvWishart, LkjCorr, LkjCholesky): values computed on this machine with scipy 1.17.1 and
//! mpmath 1.3.0 (`pip install --user scipy`), three points or more each, tails included.
//! The python that made each table is in the comment above it, so it can be run again.
//!
//! (Weibull, Gumbel, Logistic, Pareto, BetaBinomial, NegBinomial2, NegBinomial2Log,
//! Dirichlet, Multinomial, MultiNormal and MultiNormalCholesky have their scipy tables in
//! `dist/vocab.rs` and `multivariate.rs`; all 162 values there were re-evaluated with scipy
//! 1.17.1 from the expressions in their comments and agree to 1e-12.)

// Reference values that happen to be ln 2 (a probability of 1/2) are scipy's.
#![allow(clippy::approx_constant)]

use super::rel_close;
use vi_runtime::dist::{
    categorical, categorical_logit, inv_wishart, lkj_corr, lkj_corr_cholesky, ordered_logistic,
    wishart,
};

const TOL: f64 = 1e-12;

fn close(got: f64, want: f64) -> bool {
    got == want || rel_close(got, want, TOL) || (got - want).abs() < 1e-15
}

/// `S`, column-major (symmetric): the scale matrix of the Wishart tables.
const S: [f64; 9] = [2.0, 0.6, -0.3, 0.6, 1.5, 0.2, -0.3, 0.2, 0.8];

/// The three points `W` of the Wishart tables (symmetric, so column-major = row-major): a
/// central one, a nearly singular one (1e-3 I, far in the lower tail of both) and a large one.
const WS: [[f64; 9]; 3] = [
    [1.5, 0.4, 0.1, 0.4, 2.0, -0.5, 0.1, -0.5, 1.0],
    [1e-3, 0.0, 0.0, 0.0, 1e-3, 0.0, 0.0, 0.0, 1e-3],
    [80.0, 30.0, -10.0, 30.0, 60.0, 5.0, -10.0, 5.0, 40.0],
];

/// `(nu, [Wishart at WS[i]], [InvWishart at WS[i]])`, from
/// ```python
/// from scipy import stats as st; import numpy as np
/// S = np.array([[2.0, 0.6, -0.3], [0.6, 1.5, 0.2], [-0.3, 0.2, 0.8]])
/// for nu in [4.5, 2.5, 12.0]:
///     for W in WS:  # as np.array(..).reshape(3, 3)
///         st.wishart(df=nu, scale=S).logpdf(W), st.invwishart(df=nu, scale=S).logpdf(W)
/// ```
#[allow(clippy::type_complexity)]
const WISHART_REF: [(f64, [f64; 3], [f64; 3]); 3] = [
    (
        4.5,
        [-9.571382632133702, -12.873863279588504, -70.30951086637108],
        [-10.382052542280004, -2066.910602277155, -55.52904318375852],
    ),
    (
        2.5,
        [-9.218743889234599, 9.079591203814736, -80.96381124131696],
        [-9.477473966334358, -2087.6068394417134, -43.61752548996788],
    ),
    (
        12.0,
        [
            -28.315562009769433,
            -112.62110168411475,
            -47.777668552088116,
        ],
        [
            -31.196006293840256,
            -2006.7214970018244,
            -117.61901862723747,
        ],
    ),
];

#[test]
fn wishart_and_inv_wishart_match_scipy() {
    for (nu, w_ref, iw_ref) in WISHART_REF {
        for (i, w) in WS.iter().enumerate() {
            let got = wishart::lpdf(w, &[nu], &S, None, None, None);
            assert!(
                close(got, w_ref[i]),
                "Wishart({nu}) at W{i}: {got} vs scipy {}",
                w_ref[i]
            );
            let got = inv_wishart::lpdf(w, &[nu], &S, None, None, None);
            assert!(
                close(got, iw_ref[i]),
                "InvWishart({nu}) at W{i}: {got} vs scipy {}",
                iw_ref[i]
            );
        }
    }
}

#[test]
fn categorical_matches_scipy() {
    // st.multinomial(1, [0.2, 0.5, 0.3]).logpmf(np.eye(3)[k]) for k = 0, 1, 2:
    // -1.6094379124341003, -0.6931471805599453, -1.2039728043259361 (scipy 1.17.1)
    let theta = [0.2, 0.5, 0.3];
    let want = [
        -1.6094379124341003,
        -0.6931471805599453,
        -1.2039728043259361,
    ];
    for (k, w) in want.iter().enumerate() {
        let got = categorical::lpdf(&[k as f64], &theta, None, None);
        assert!(close(got, *w), "Categorical at {k}: {got} vs scipy {w}");
    }
    // The sum over a vector of outcomes.
    let got = categorical::lpdf(&[0.0, 1.0, 1.0, 2.0], &theta, None, None);
    let sum = want[0] + 2.0 * want[1] + want[2];
    assert!(close(got, sum), "{got} vs {sum}");
    // Tails: th = [1e-12, 1 - 2e-12, 1e-12]; st.multinomial(1, th).logpmf([1, 0, 0]) =
    // -27.631021115928547, .logpmf([0, 1, 0]) = -1.999955756561757e-12 (scipy 1.17.1; the
    // second is ln of the f64 nearest 1 - 2e-12).
    let th = [1e-12, 1.0 - 2e-12, 1e-12];
    let got = categorical::lpdf(&[0.0], &th, None, None);
    assert!(close(got, -27.631021115928547), "{got}");
    let got = categorical::lpdf(&[1.0], &th, None, None);
    assert!(close(got, -1.999955756561757e-12), "{got}");
}

#[test]
fn categorical_logit_matches_scipy() {
    // scipy.special.log_softmax(eta) (scipy 1.17.1), for
    // eta = [0.3, -1.2, 2.0, 0.0] and, far in the tails, [500.0, -500.0, 0.0, 1.0].
    let cases: [([f64; 4], [f64; 4]); 2] = [
        (
            [0.3, -1.2, 2.0, 0.0],
            [
                -2.0065879825729347,
                -3.5065879825729347,
                -0.3065879825729347,
                -2.3065879825729345,
            ],
        ),
        ([500.0, -500.0, 0.0, 1.0], [0.0, -1000.0, -500.0, -499.0]),
    ];
    for (eta, want) in cases {
        for (k, w) in want.iter().enumerate() {
            let got = categorical_logit::lpdf(&[k as f64], &eta, None, None);
            assert!(
                close(got, *w),
                "CategoricalLogit{eta:?} at {k}: {got} vs scipy {w}"
            );
        }
    }
}

#[test]
fn ordered_logistic_matches_scipy_and_mpmath() {
    // c = [-1.0, 0.5, 2.0]; P(y = k) = F(eta - c[k-1]) - F(eta - c[k]) with F the standard
    // logistic CDF; from scipy 1.17.1:
    //   y = 0: st.logistic.logsf(eta - c[0]);  y = 3: st.logistic.logcdf(eta - c[2]);
    //   else:  np.log(st.logistic.cdf(eta - c[y-1]) - st.logistic.cdf(eta - c[y])).
    // The two middle categories far out, where that difference cancels, from mpmath 1.3.0
    // at 40 digits: mp.log(s(eta - c[y-1]) - s(eta - c[y])), s(x) = 1 / (1 + mp.e**-x).
    let c = [-1.0, 0.5, 2.0];
    let cases: [(f64, f64, f64); 8] = [
        (0.0, 0.3, -1.5410084538329922),
        (1.0, -0.4, -1.0311242841434274),
        (2.0, 1.5, -1.0398211306237835),
        (3.0, 2.0, -0.6931471805599453),
        (0.0, 40.0, -41.0),
        (3.0, -40.0, -42.0),
        (1.0, 45.0, -44.752482458925456),  // mpmath
        (2.0, -45.0, -45.752482458925456), // mpmath
    ];
    for (y, eta, want) in cases {
        let got = ordered_logistic::lpdf(&[y], &[eta], &c, None, None, None);
        assert!(
            close(got, want),
            "OrderedLogistic(eta = {eta}) at {y}: {got} vs {want}"
        );
    }
}

/// The three correlation matrices of the LKJ tables (column-major = row-major), and their
/// Cholesky factors from `np.linalg.cholesky(Omega)`, column-major.
const OMEGAS: [[f64; 9]; 3] = [
    [1.0, 0.3, -0.2, 0.3, 1.0, 0.5, -0.2, 0.5, 1.0],
    [1.0, 0.95, 0.9, 0.95, 1.0, 0.93, 0.9, 0.93, 1.0],
    [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
];
const LS: [[f64; 9]; 3] = [
    [
        1.0,
        0.3,
        -0.2,
        0.0,
        0.9539392014169457,
        0.5870395085642742,
        0.0,
        0.0,
        0.7844645405527362,
    ],
    [
        1.0,
        0.95,
        0.9,
        0.0,
        0.31224989991991997,
        0.24019223070763085,
        0.0,
        0.0,
        0.36374124361651955,
    ],
    [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
];

/// `(eta, [LkjCorr at OMEGAS[i]], [LkjCholesky at LS[i]])`. The normalising constant is not
/// taken from the LKJ paper's formula (which the kernels use) but integrated numerically by
/// scipy 1.17.1 over the 3 x 3 correlation matrices (the elliptope):
/// ```python
/// f = lambda r23, r13, r12: max(1 - r12**2 - r13**2 - r23**2 + 2*r12*r13*r23, 0)**(eta - 1)
/// lo = lambda r12, r13: r12*r13 - np.sqrt((1 - r12**2)*(1 - r13**2))
/// hi = lambda r12, r13: r12*r13 + np.sqrt((1 - r12**2)*(1 - r13**2))
/// Z = integrate.tplquad(f, -1, 1, -1, 1, lo, hi, epsabs=1e-13, epsrel=1e-12)[0]
/// corr = (eta - 1) * np.log(np.linalg.det(O)) - np.log(Z)
/// L = np.linalg.cholesky(O); chol = corr + np.log(L[1, 1])  # |J| = prod_k L_kk^(K - k)
/// ```
/// (Z = 2.7925268031909267 at eta = 1.5, with scipy's error estimate 7.5e-14, and
/// 1.0280837917801418 at eta = 3, error 2.4e-13.)
#[allow(clippy::type_complexity)]
const LKJ_REF: [(f64, [f64; 3], [f64; 3]); 2] = [
    (
        1.5,
        [
            -1.3168560978194876,
            -3.2022108340002724,
            -1.0269468501930166,
        ],
        [-1.3640114375551082, -4.36616228448944, -1.0269468501930166],
    ),
    (
        3.0,
        [
            -1.1873336637308947,
            -8.728752608454034,
            -0.02769667322501002,
        ],
        [-1.2344890034665152, -9.8927040589432, -0.02769667322501002],
    ),
];

#[test]
fn lkj_densities_match_scipy_quadrature() {
    for (eta, corr, chol) in LKJ_REF {
        for i in 0..3 {
            let got = lkj_corr::lpdf(&OMEGAS[i], &[eta], None, None);
            assert!(
                rel_close(got, corr[i], 1e-10),
                "LkjCorr({eta}) at Omega{i}: {got} vs {}",
                corr[i]
            );
            let got = lkj_corr_cholesky::lpdf(&LS[i], &[eta], None, None);
            assert!(
                rel_close(got, chol[i], 1e-10),
                "LkjCholesky({eta}) at L{i}: {got} vs {}",
                chol[i]
            );
        }
    }
}
