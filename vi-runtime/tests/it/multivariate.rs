//! The multivariate distributions: log densities against scipy.stats (scipy 1.17.1), every
//! partial against central finite differences through the shared harness, several draws
//! at once against the sum of single draws, the LKJ densities integrating to 1 over the
//! transforms' unconstrained space, and samplers against their moments.

use nalgebra::DMatrix;
use vi_runtime::check::gradient_mismatch;
use vi_runtime::dist::{
    dirichlet, lkj_corr, lkj_corr_cholesky, multi_normal, multi_normal_cholesky, multinomial,
};
use vi_runtime::infer::rng_for;
use vi_runtime::VectorTransform;

const TOL: f64 = 1e-6;

fn sigma() -> Vec<f64> {
    // [[2, 0.6, -0.3], [0.6, 1.5, 0.2], [-0.3, 0.2, 0.8]], column-major (symmetric).
    vec![2.0, 0.6, -0.3, 0.6, 1.5, 0.2, -0.3, 0.2, 0.8]
}

const MU: [f64; 3] = [0.5, -1.0, 2.0];

/// np.linalg.cholesky(Sigma), column-major (its first element happens to be sqrt 2).
#[allow(clippy::approx_constant)]
const L: [f64; 9] = [
    1.4142135623730951,
    0.42426406871192845,
    -0.21213203435596423,
    0.0,
    1.1489125293076057,
    0.25241260113576186,
    0.0,
    0.0,
    0.8314372368302245,
];

/// scipy.stats.multivariate_normal(MU, Sigma).logpdf(y) (scipy 1.17.1).
const MVN_REF: [([f64; 3], f64); 3] = [
    ([0.4, -0.8, 2.1], -3.081002853405218),
    ([3.0, -4.0, 0.0], -10.411030250665494),
    ([30.0, 20.0, -10.0], -352.4439069629943),
];

fn rel(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}

#[test]
fn multi_normal_densities_match_scipy() {
    for (y, want) in MVN_REF {
        let a = multi_normal::lpdf(&y, &MU, &sigma(), None, None, None);
        let b = multi_normal_cholesky::lpdf(&y, &MU, &L, None, None, None);
        assert!(rel(a, want, 1e-12), "MultiNormal at {y:?}: {a} vs {want}");
        assert!(
            rel(b, want, 1e-12),
            "MultiNormalCholesky at {y:?}: {b} vs {want}"
        );
    }
    // Three draws at once (3 x 3, one per row, column-major) are the sum.
    let ys: Vec<[f64; 3]> = MVN_REF.iter().map(|r| r.0).collect();
    let flat: Vec<f64> = (0..3).flat_map(|j| ys.iter().map(move |y| y[j])).collect();
    let sum: f64 = MVN_REF.iter().map(|r| r.1).sum();
    let a = multi_normal::lpdf(&flat, &MU, &sigma(), None, None, None);
    assert!(rel(a, sum, 1e-12), "{a} vs {sum}");
    // Not positive definite, shapes that do not fit: NaN and errors.
    assert!(multi_normal::lpdf(&MU, &MU, &[1.0, 2.0, 2.0, 1.0], None, None, None).is_nan());
    assert!(multi_normal::lpdf(&[1.0, 2.0], &MU, &sigma(), None, None, None).is_nan());
    let err = multi_normal::check(None, None, Some(&[1.0, 0.5, 0.4, 1.0])).unwrap_err();
    assert_eq!((err.arg, err.index), (2, 2));
    let err = multi_normal_cholesky::check(None, None, Some(&[1.0, 0.0, 0.0, -1.0])).unwrap_err();
    assert_eq!((err.arg, err.index), (2, 3));
}

/// The lower triangle of a symmetric matrix as free coordinates, and back.
fn sym_from_lower(k: usize, v: &[f64]) -> Vec<f64> {
    let mut m = vec![0.0; k * k];
    let mut p = 0;
    for c in 0..k {
        for r in c..k {
            m[r + c * k] = v[p];
            m[c + r * k] = v[p];
            p += 1;
        }
    }
    m
}

fn lower_of(k: usize, m: &[f64], symmetric_grad: bool) -> Vec<f64> {
    let mut v = Vec::new();
    for c in 0..k {
        for r in c..k {
            v.push(if symmetric_grad && r != c {
                m[r + c * k] + m[c + r * k]
            } else {
                m[r + c * k]
            });
        }
    }
    v
}

#[test]
fn multi_normal_partials_match_finite_differences() {
    let y: Vec<f64> = vec![0.4, 3.0, -0.8, -4.0, 2.1, 0.0]; // two draws, 2 x 3
    let k = 3;
    // MultiNormal: y, mu (shared), the lower triangle of a symmetric Sigma.
    let (mut gy, mut gm, mut gs) = (vec![0.0; 6], vec![0.0; 3], vec![0.0; 9]);
    multi_normal::lpdf(
        &y,
        &MU,
        &sigma(),
        Some(&mut gy),
        Some(&mut gm),
        Some(&mut gs),
    );
    let s_low = lower_of(k, &sigma(), false);
    let x: Vec<f64> = y.iter().chain(&MU).chain(&s_low).copied().collect();
    let g: Vec<f64> = gy
        .iter()
        .chain(&gm)
        .chain(&lower_of(k, &gs, true))
        .copied()
        .collect();
    let f = |x: &[f64]| {
        multi_normal::lpdf(
            &x[..6],
            &x[6..9],
            &sym_from_lower(k, &x[9..]),
            None,
            None,
            None,
        )
    };
    if let Some((i, an, fd)) = gradient_mismatch(f, &g, &x, TOL) {
        panic!("MultiNormal partial {i}: {an} vs {fd}");
    }
    // MultiNormalCholesky: y, mu per draw (2 x 3), the lower triangle of L.
    let mu2: Vec<f64> = vec![0.5, 0.1, -1.0, -0.7, 2.0, 1.0];
    let (mut gy, mut gm, mut gl) = (vec![0.0; 6], vec![0.0; 6], vec![0.0; 9]);
    multi_normal_cholesky::lpdf(&y, &mu2, &L, Some(&mut gy), Some(&mut gm), Some(&mut gl));
    let l_low = lower_of(k, &L, false);
    let x: Vec<f64> = y.iter().chain(&mu2).chain(&l_low).copied().collect();
    let g: Vec<f64> = gy
        .iter()
        .chain(&gm)
        .chain(&lower_of(k, &gl, false))
        .copied()
        .collect();
    let lower_mat = |v: &[f64]| {
        let mut m = vec![0.0; 9];
        let mut p = 0;
        for c in 0..k {
            for r in c..k {
                m[r + c * k] = v[p];
                p += 1;
            }
        }
        m
    };
    let f = |x: &[f64]| {
        multi_normal_cholesky::lpdf(&x[..6], &x[6..12], &lower_mat(&x[12..]), None, None, None)
    };
    if let Some((i, an, fd)) = gradient_mismatch(f, &g, &x, TOL) {
        panic!("MultiNormalCholesky partial {i}: {an} vs {fd}");
    }
}

#[test]
fn multi_normal_sampler_matches_its_moments() {
    let n = 20_000;
    let draws = multi_normal::sample(&mut rng_for(8, 0), &MU, &sigma(), n);
    let m = DMatrix::from_column_slice(n, 3, &draws);
    let s = DMatrix::from_column_slice(3, 3, &sigma());
    for j in 0..3 {
        let mean = m.column(j).mean();
        // Within 4 standard errors.
        assert!(
            (mean - MU[j]).abs() < 4.0 * (s[(j, j)] / n as f64).sqrt(),
            "mean {j}: {mean}"
        );
        for i in 0..3 {
            let c: f64 = (0..n)
                .map(|t| (m[(t, i)] - MU[i]) * (m[(t, j)] - MU[j]))
                .sum::<f64>()
                / n as f64;
            // Var of a sample covariance: (S_ii S_jj + S_ij^2) / n.
            let se = ((s[(i, i)] * s[(j, j)] + s[(i, j)].powi(2)) / n as f64).sqrt();
            assert!(
                (c - s[(i, j)]).abs() < 4.0 * se,
                "cov {i}{j}: {c} vs {}",
                s[(i, j)]
            );
        }
    }
}

#[test]
fn dirichlet_and_multinomial_match_scipy_and_finite_differences() {
    let alpha = [0.5, 2.0, 3.5];
    // scipy.stats.dirichlet([0.5, 2, 3.5]).logpdf(theta) (scipy 1.17.1)
    for (th, want) in [
        ([0.2, 0.3, 0.5], 0.8820313980015224),
        ([0.01, 0.98, 0.01], -6.21638988178343),
        ([0.7, 0.2, 0.1], -4.173409975439576),
    ] {
        let got = dirichlet::lpdf(&th, &alpha, None, None);
        assert!(
            rel(got, want, 1e-12),
            "Dirichlet at {th:?}: {got} vs {want}"
        );
    }
    // scipy.stats.multinomial(sum(y), [0.2, 0.5, 0.3]).logpmf(y) (scipy 1.17.1)
    let theta = [0.2, 0.5, 0.3];
    for (y, want) in [
        ([2.0, 0.0, 3.0], -4.528209144851965),
        ([0.0, 10.0, 0.0], -6.931471805599452),
        ([5.0, 5.0, 5.0], -3.9959933311051508),
    ] {
        let got = multinomial::lpdf(&y, &theta, None, None);
        assert!(
            rel(got, want, 1e-12),
            "Multinomial at {y:?}: {got} vs {want}"
        );
    }
    // Partials, two draws at once.
    let th2 = [0.2, 0.6, 0.3, 0.1, 0.5, 0.3];
    let (mut gt, mut ga) = (vec![0.0; 6], vec![0.0; 3]);
    dirichlet::lpdf(&th2, &alpha, Some(&mut gt), Some(&mut ga));
    let x: Vec<f64> = th2.iter().chain(&alpha).copied().collect();
    let g: Vec<f64> = gt.iter().chain(&ga).copied().collect();
    let f = |x: &[f64]| dirichlet::lpdf(&x[..6], &x[6..], None, None);
    assert_eq!(gradient_mismatch(f, &g, &x, TOL), None);
    let y2 = [2.0, 1.0, 0.0, 4.0, 3.0, 0.0];
    let mut gt = vec![0.0; 3];
    multinomial::lpdf(&y2, &theta, None, Some(&mut gt));
    let f = |t: &[f64]| multinomial::lpdf(&y2, t, None, None);
    assert_eq!(gradient_mismatch(f, &gt, &theta, TOL), None);
    // Outside the support and bad data.
    assert_eq!(
        dirichlet::lpdf(&[0.0, 0.5, 0.5], &alpha, None, None),
        f64::NEG_INFINITY
    );
    assert!(dirichlet::check(Some(&[0.2, 0.2, 0.2]), Some(&alpha)).is_err());
    assert_eq!(
        multinomial::check(Some(&[1.0, -1.0, 0.0]), None)
            .unwrap_err()
            .index,
        1
    );
    // Samplers: means alpha / sum(alpha) and n theta.
    let n = 20_000;
    let d = dirichlet::sample(&mut rng_for(9, 0), &alpha, n);
    let a0: f64 = alpha.iter().sum();
    for j in 0..3 {
        let mean = d[j * n..(j + 1) * n].iter().sum::<f64>() / n as f64;
        let m = alpha[j] / a0;
        let sd = (m * (1.0 - m) / (a0 + 1.0) / n as f64).sqrt();
        assert!(
            (mean - m).abs() < 4.0 * sd,
            "Dirichlet mean {j}: {mean} vs {m}"
        );
    }
    let c = multinomial::sample(&mut rng_for(9, 1), &[12.0], &theta, n);
    for i in 0..n {
        assert_eq!(c[i] + c[i + n] + c[i + 2 * n], 12.0);
    }
    for j in 0..3 {
        let mean = c[j * n..(j + 1) * n].iter().sum::<f64>() / n as f64;
        let sd = (12.0 * theta[j] * (1.0 - theta[j]) / n as f64).sqrt();
        assert!(
            (mean - 12.0 * theta[j]).abs() < 4.0 * sd,
            "Multinomial mean {j}: {mean}"
        );
    }
}

/// `int exp(lpdf(x(y)) + ln|J(y)|) dy` over the unconstrained space, by the midpoint rule in
/// `z = tanh(y)` on `m^d` points (the integrand in `z` is smooth: the transform's
/// `ln(1 - z^2)` cancels `dy = dz / (1 - z^2)`).
fn integral(t: VectorTransform, lpdf: impl Fn(&[f64]) -> f64, m: usize) -> f64 {
    let d = t.unconstrained_len();
    let mut x = vec![0.0; t.constrained_len()];
    let h = 2.0 / m as f64;
    let mut total = 0.0;
    let mut idx = vec![0usize; d];
    loop {
        let z: Vec<f64> = idx.iter().map(|&i| -1.0 + h * (i as f64 + 0.5)).collect();
        let y: Vec<f64> = z.iter().map(|z| z.atanh()).collect();
        let lj = t.constrain(&y, &mut x);
        let w: f64 = z.iter().map(|z| 1.0 / (1.0 - z * z)).product();
        let v = (lpdf(&x) + lj).exp() * w;
        if v.is_finite() {
            total += v * h.powi(d as i32);
        }
        let mut p = 0;
        loop {
            if p == d {
                return total;
            }
            idx[p] += 1;
            if idx[p] < m {
                break;
            }
            idx[p] = 0;
            p += 1;
        }
    }
}

#[test]
fn lkj_densities_integrate_to_one() {
    for &eta in &[1.0, 1.5, 3.0] {
        for &(k, m) in &[(2usize, 4000usize), (3, 70)] {
            let i1 = integral(
                VectorTransform::CorrMatrix(k),
                |x| lkj_corr::lpdf(x, &[eta], None, None),
                m,
            );
            let i2 = integral(
                VectorTransform::CholeskyCorr(k),
                |x| lkj_corr_cholesky::lpdf(x, &[eta], None, None),
                m,
            );
            assert!((i1 - 1.0).abs() < 2e-3, "LkjCorr K={k} eta={eta}: {i1}");
            assert!((i2 - 1.0).abs() < 2e-3, "LkjCholesky K={k} eta={eta}: {i2}");
        }
    }
}

#[test]
fn lkj_partials_match_finite_differences() {
    let t = VectorTransform::CholeskyCorr(4);
    let mut l = vec![0.0; 16];
    t.constrain(&[0.3, -0.5, 0.2, 0.8, -0.1, 0.4], &mut l);
    // LkjCholesky: the diagonal's partials and eta's.
    let (mut gl, mut ge) = (vec![0.0; 16], vec![0.0]);
    lkj_corr_cholesky::lpdf(&l, &[1.7], Some(&mut gl), Some(&mut ge));
    let mut x = l.clone();
    x.push(1.7);
    let mut g = gl.clone();
    g.push(ge[0]);
    let f = |x: &[f64]| lkj_corr_cholesky::lpdf(&x[..16], &x[16..], None, None);
    assert_eq!(gradient_mismatch(f, &g, &x, TOL), None);
    // LkjCorr: the lower triangle of a symmetric Omega, and eta.
    let lm = DMatrix::from_column_slice(4, 4, &l);
    let om = (&lm * lm.transpose()).as_slice().to_vec();
    let (mut go, mut ge) = (vec![0.0; 16], vec![0.0]);
    lkj_corr::lpdf(&om, &[2.5], Some(&mut go), Some(&mut ge));
    let mut x = lower_of(4, &om, false);
    x.push(2.5);
    let mut g = lower_of(4, &go, true);
    g.push(ge[0]);
    let f = |x: &[f64]| lkj_corr::lpdf(&sym_from_lower(4, &x[..10]), &x[10..], None, None);
    assert_eq!(gradient_mismatch(f, &g, &x, TOL), None);
    // Invalid arguments.
    assert!(lkj_corr::lpdf(&om, &[0.0], None, None).is_nan());
    assert!(lkj_corr::check(Some(&[1.0, 0.5, 0.5, 2.0]), None).is_err());
    assert!(lkj_corr_cholesky::check(Some(&[1.0, 0.5, 0.0, 0.5]), None).is_err());
}

#[test]
fn lkj_sampler_matches_its_marginal_moments() {
    // Each correlation of an LKJ(eta) K x K matrix is 2 Beta(b, b) - 1 with
    // b = eta - 1 + K / 2: mean 0, variance 1 / (2 eta + K - 1).
    let (k, eta, n) = (4, 2.0, 20_000);
    let draws = lkj_corr::sample(&mut rng_for(10, 0), k, &[eta], n);
    let var = 1.0 / (2.0 * eta + k as f64 - 1.0);
    for (r, c) in [(1, 0), (3, 1), (3, 2)] {
        let v: Vec<f64> = draws.chunks(k * k).map(|m| m[r + c * k]).collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let m2 = v.iter().map(|x| x * x).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 4.0 * (var / n as f64).sqrt(),
            "({r}, {c}) mean {mean}"
        );
        // Var(x^2) <= E[x^4] <= E[x^2] = var (|x| <= 1): a 4-sigma band of sqrt(var / n).
        assert!(
            (m2 - var).abs() < 4.0 * (var / n as f64).sqrt(),
            "({r}, {c}) var {m2} vs {var}"
        );
    }
    for m in draws.chunks(k * k) {
        let om = DMatrix::from_column_slice(k, k, m);
        assert!(om.diagonal().iter().all(|d| (d - 1.0).abs() < 1e-12));
        assert!(nalgebra::Cholesky::new(om).is_some());
    }
}
