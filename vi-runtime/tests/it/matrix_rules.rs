//! The matrix rules (`ad::cholesky`, `dot_self`, `add_diag`, `log_determinant`) against
//! central finite differences through the shared harness; symmetric inputs are perturbed
//! in both mirrored entries at once, so their adjoint is compared as `g_ij + g_ji`.

use nalgebra::{DMatrix, DVector};
use vi_runtime::ad;
use vi_runtime::check::gradient_mismatch;

fn spd() -> DMatrix<f64> {
    DMatrix::from_row_slice(3, 3, &[2.0, 0.6, -0.3, 0.6, 1.5, 0.2, -0.3, 0.2, 0.8])
}

fn sym(v: &[f64]) -> DMatrix<f64> {
    let mut m = DMatrix::zeros(3, 3);
    let mut p = 0;
    for c in 0..3 {
        for r in c..3 {
            m[(r, c)] = v[p];
            m[(c, r)] = v[p];
            p += 1;
        }
    }
    m
}

fn lower_sym_grad(g: &DMatrix<f64>) -> Vec<f64> {
    let mut v = Vec::new();
    for c in 0..3 {
        for r in c..3 {
            v.push(if r == c {
                g[(r, c)]
            } else {
                g[(r, c)] + g[(c, r)]
            });
        }
    }
    v
}

fn lower(m: &DMatrix<f64>) -> Vec<f64> {
    let mut v = Vec::new();
    for c in 0..3 {
        for r in c..3 {
            v.push(m[(r, c)]);
        }
    }
    v
}

#[test]
fn cholesky_rule_matches_finite_differences() {
    let a = spd();
    let l = ad::cholesky(&a).unwrap();
    assert!((&l * l.transpose() - &a).abs().max() < 1e-14);
    let w = DMatrix::from_fn(3, 3, |r, c| {
        if r >= c {
            0.3 * r as f64 - 0.7 * c as f64 + 0.5
        } else {
            0.0
        }
    });
    let mut ga = DMatrix::zeros(3, 3);
    ad::cholesky_back(&a, &l, &w, &mut ga);
    assert!(
        (&ga - ga.transpose()).abs().max() < 1e-14,
        "adjoint not symmetric"
    );
    let f = |v: &[f64]| ad::cholesky(&sym(v)).unwrap().component_mul(&w).sum();
    assert_eq!(
        gradient_mismatch(f, &lower_sym_grad(&ga), &lower(&a), 1e-6),
        None
    );
    assert!(ad::cholesky(&DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0])).is_err());
    assert!(ad::cholesky(&DMatrix::zeros(2, 3)).is_err());
}

#[test]
fn dot_self_add_diag_and_log_determinant_match_finite_differences() {
    let x = DVector::from_vec(vec![0.5, -1.5, 2.0]);
    assert_eq!(ad::dot_self(&x).unwrap(), 6.5);
    let mut gx = DVector::zeros(3);
    ad::dot_self_back(&x, &6.5, &0.7, &mut gx);
    let f = |v: &[f64]| 0.7 * ad::dot_self(&DVector::from_column_slice(v)).unwrap();
    assert_eq!(
        gradient_mismatch(f, gx.as_slice(), x.as_slice(), 1e-6),
        None
    );

    let a = spd();
    let w = DMatrix::from_fn(3, 3, |r, c| 0.2 * r as f64 - 0.1 * c as f64 + 0.3);
    let out = ad::add_diag(&a, &0.4).unwrap();
    let (mut ga, mut gd) = (DMatrix::zeros(3, 3), 0.0);
    ad::add_diag_back(&a, &0.4, &out, &w, Some(&mut ga), Some(&mut gd));
    let f = |v: &[f64]| {
        ad::add_diag(&DMatrix::from_column_slice(3, 3, &v[..9]), &v[9])
            .unwrap()
            .component_mul(&w)
            .sum()
    };
    let xs: Vec<f64> = a.iter().copied().chain([0.4]).collect();
    let gs: Vec<f64> = ga.iter().copied().chain([gd]).collect();
    assert_eq!(gradient_mismatch(f, &gs, &xs, 1e-6), None);
    let d = DVector::from_vec(vec![0.1, 0.2, 0.3]);
    let out = ad::add_diag_vec(&a, &d).unwrap();
    let mut gdv = DVector::zeros(3);
    ad::add_diag_vec_back(&a, &d, &out, &w, None, Some(&mut gdv));
    assert_eq!(gdv, w.diagonal());
    assert!(ad::add_diag_vec(&a, &DVector::zeros(2)).is_err());

    // log_determinant of a general (non-symmetric) matrix, against ln |det| and FD.
    let m = DMatrix::from_row_slice(3, 3, &[1.0, 2.0, 0.5, -0.3, 1.2, 0.7, 0.4, -1.0, 2.0]);
    let ld = ad::log_determinant(&m).unwrap();
    assert!((ld - m.determinant().abs().ln()).abs() < 1e-14);
    let mut gm = DMatrix::zeros(3, 3);
    ad::log_determinant_back(&m, &ld, &1.3, &mut gm);
    let f = |v: &[f64]| 1.3 * ad::log_determinant(&DMatrix::from_column_slice(3, 3, v)).unwrap();
    assert_eq!(
        gradient_mismatch(f, gm.as_slice(), m.as_slice(), 1e-6),
        None
    );
}
