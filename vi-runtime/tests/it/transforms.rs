//! The vector and matrix constraint transforms (`VectorTransform`): the constrained value
//! satisfies its constraint, the round trip through `unconstrain` gives `y` back, the
//! log-Jacobian equals the log absolute determinant of the finite-difference Jacobian of
//! the map from `y` to the constrained value's free entries, and `grad_back` (with and
//! without the log-Jacobian) agrees with finite differences through the shared harness.

use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use vi_runtime::check::gradient_mismatch;
use vi_runtime::{Transform, VectorTransform};

type TestRng = rand_xoshiro::Xoshiro256PlusPlus;

fn all() -> Vec<VectorTransform> {
    use VectorTransform::*;
    vec![
        Simplex(1),
        Simplex(2),
        Simplex(5),
        Ordered(1),
        Ordered(4),
        PositiveOrdered(4),
        CholeskyCorr(1),
        CholeskyCorr(2),
        CholeskyCorr(4),
        CorrMatrix(2),
        CorrMatrix(4),
        CovMatrix(1),
        CovMatrix(3),
    ]
}

fn constrain(t: VectorTransform, y: &[f64]) -> (Vec<f64>, f64) {
    let mut x = vec![0.0; t.constrained_len()];
    let lj = t.constrain(y, &mut x);
    (x, lj)
}

/// The constrained value's free entries, whose Jacobian in `y` is square.
fn free(t: VectorTransform, x: &[f64]) -> Vec<f64> {
    use VectorTransform::*;
    match t {
        Simplex(k) => x[..k - 1].to_vec(),
        Ordered(_) | PositiveOrdered(_) => x.to_vec(),
        CholeskyCorr(k) | CorrMatrix(k) => {
            let mut v = Vec::new();
            for i in 1..k {
                for j in 0..i {
                    v.push(x[i + j * k]);
                }
            }
            v
        }
        CovMatrix(k) => {
            let mut v = Vec::new();
            for i in 0..k {
                for j in 0..=i {
                    v.push(x[i + j * k]);
                }
            }
            v
        }
    }
}

fn assert_in_set(t: VectorTransform, x: &[f64]) {
    use VectorTransform::*;
    match t {
        Simplex(_) => {
            assert!(x.iter().all(|&v| v > 0.0), "{t}: {x:?}");
            assert!((x.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{t}: {x:?}");
        }
        Ordered(_) => assert!(x.windows(2).all(|w| w[1] > w[0]), "{t}: {x:?}"),
        PositiveOrdered(_) => {
            assert!(
                x[0] > 0.0 && x.windows(2).all(|w| w[1] > w[0]),
                "{t}: {x:?}"
            )
        }
        CholeskyCorr(k) => {
            let l = DMatrix::from_column_slice(k, k, x);
            assert_eq!(
                l.upper_triangle() - DMatrix::from_diagonal(&l.diagonal()),
                DMatrix::zeros(k, k)
            );
            for i in 0..k {
                assert!(l[(i, i)] > 0.0);
                assert!((l.row(i).norm() - 1.0).abs() < 1e-12, "{t}: row {i}");
            }
        }
        CorrMatrix(k) | CovMatrix(k) => {
            let m = DMatrix::from_column_slice(k, k, x);
            assert!(
                (&m - m.transpose()).abs().max() < 1e-12,
                "{t}: not symmetric"
            );
            assert!(
                nalgebra::Cholesky::new(m.clone()).is_some(),
                "{t}: not positive definite"
            );
            if matches!(t, CorrMatrix(_)) {
                assert!(
                    m.diagonal().iter().all(|d| (d - 1.0).abs() < 1e-12),
                    "{t}: diagonal"
                );
            }
        }
    }
}

#[test]
fn constrained_values_are_in_their_set_and_round_trip() {
    let mut rng = TestRng::seed_from_u64(1);
    for t in all() {
        for _ in 0..20 {
            let y: Vec<f64> = (0..t.unconstrained_len())
                .map(|_| rng.random_range(-2.5..2.5))
                .collect();
            let (x, lj) = constrain(t, &y);
            assert!(lj.is_finite(), "{t}");
            assert_in_set(t, &x);
            let back = t.unconstrain(&x).unwrap_or_else(|e| panic!("{t}: {e}"));
            for (a, b) in back.iter().zip(&y) {
                assert!(
                    (a - b).abs() < 1e-8 * (1.0 + b.abs()),
                    "{t}: {back:?} vs {y:?}"
                );
            }
        }
    }
}

#[test]
fn log_jacobians_are_the_log_determinants_of_finite_difference_jacobians() {
    let mut rng = TestRng::seed_from_u64(2);
    for t in all() {
        let n = t.unconstrained_len();
        if n == 0 {
            assert_eq!(constrain(t, &[]).1, 0.0);
            continue;
        }
        for _ in 0..5 {
            let y: Vec<f64> = (0..n).map(|_| rng.random_range(-1.5..1.5)).collect();
            let (_, lj) = constrain(t, &y);
            let mut jac = DMatrix::zeros(n, n);
            for c in 0..n {
                let h = 1e-6;
                let (mut yp, mut ym) = (y.clone(), y.clone());
                yp[c] += h;
                ym[c] -= h;
                let (fp, fm) = (free(t, &constrain(t, &yp).0), free(t, &constrain(t, &ym).0));
                for r in 0..n {
                    jac[(r, c)] = (fp[r] - fm[r]) / (2.0 * h);
                }
            }
            let fd = jac.determinant().abs().ln();
            assert!(
                (lj - fd).abs() < 1e-6 * fd.abs().max(1.0),
                "{t} at {y:?}: {lj} vs {fd}"
            );
        }
    }
}

#[test]
fn grad_back_matches_finite_differences() {
    let mut rng = TestRng::seed_from_u64(3);
    for t in all() {
        let n = t.unconstrained_len();
        for _ in 0..5 {
            let y: Vec<f64> = (0..n).map(|_| rng.random_range(-1.5..1.5)).collect();
            let w: Vec<f64> = (0..t.constrained_len())
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            for jacobian in [false, true] {
                let f = |y: &[f64]| {
                    let (x, lj) = constrain(t, y);
                    let v: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
                    v + if jacobian { lj } else { 0.0 }
                };
                let mut g = vec![0.0; n];
                t.grad_back(&y, &w, jacobian, &mut g);
                if let Some((i, an, fd)) = gradient_mismatch(f, &g, &y, 1e-6) {
                    panic!("{t} (jacobian {jacobian}) at {y:?}: element {i}: {an} vs {fd}");
                }
            }
        }
    }
}

#[test]
fn values_outside_the_set_are_errors_naming_the_element() {
    use VectorTransform::*;
    let e = Simplex(3).unconstrain(&[0.5, -0.1, 0.6]).unwrap_err();
    assert_eq!(e.index, 1);
    assert_eq!(
        e.to_string(),
        "not a simplex of length 3: element 1 is not positive"
    );
    assert!(Simplex(3).unconstrain(&[0.5, 0.2, 0.2]).is_err());
    assert_eq!(
        Ordered(3).unconstrain(&[0.0, 1.0, 1.0]).unwrap_err().index,
        2
    );
    assert_eq!(
        PositiveOrdered(2)
            .unconstrain(&[-1.0, 1.0])
            .unwrap_err()
            .index,
        0
    );
    // Not symmetric.
    let e = CovMatrix(2).unconstrain(&[1.0, 0.5, 0.4, 1.0]).unwrap_err();
    assert_eq!(e.index, 2);
    // Not positive definite.
    assert!(CovMatrix(2).unconstrain(&[1.0, 2.0, 2.0, 1.0]).is_err());
    // A diagonal that is not 1.
    assert_eq!(
        CorrMatrix(2)
            .unconstrain(&[2.0, 0.5, 0.5, 1.0])
            .unwrap_err()
            .index,
        0
    );
    // Wrong length.
    assert!(Simplex(3).unconstrain(&[0.5, 0.5]).is_err());
    // A Cholesky factor with a row that is not of unit length.
    assert!(CholeskyCorr(2).unconstrain(&[1.0, 0.5, 0.0, 0.5]).is_err());
}

/// A draw's distribution: Simplex(K) at y = 0 is the centre; the 2x2 correlation from the
/// Cholesky factor is tanh(y), as Stan's.
#[test]
fn stan_conventions() {
    let (x, _) = constrain(VectorTransform::Simplex(4), &[0.0; 3]);
    assert!(x.iter().all(|v| (v - 0.25).abs() < 1e-15));
    let (x, _) = constrain(VectorTransform::CorrMatrix(2), &[0.3]);
    assert!((x[1] - 0.3f64.tanh()).abs() < 1e-15);
    let (x, lj) = constrain(VectorTransform::CovMatrix(1), &[0.4]);
    // Sigma = e^(2y): ln |d Sigma / dy| = ln 2 + 2y.
    assert!((x[0] - 0.8f64.exp()).abs() < 1e-14);
    assert!((lj - (std::f64::consts::LN_2 + 0.8)).abs() < 1e-14);
    assert!(Transform::bounded(Some(f64::NAN), None).is_err());
    assert_eq!(
        Transform::bounded(None, Some(1.0)).unwrap(),
        Transform::UpperBound(1.0)
    );
    assert_eq!(
        Transform::bounded(Some(f64::NEG_INFINITY), None).unwrap(),
        Transform::Identity
    );
}
