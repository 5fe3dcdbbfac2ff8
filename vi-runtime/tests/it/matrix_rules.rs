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

fn mat(r: usize, c: usize, seed: f64) -> DMatrix<f64> {
    DMatrix::from_fn(r, c, |i, j| {
        ((i * 7 + j * 3) as f64 * 0.37 + seed).sin() * 1.3
    })
}

fn vec_(n: usize, seed: f64) -> DVector<f64> {
    DVector::from_fn(n, |i, _| ((i * 5) as f64 * 0.61 + seed).cos() * 1.1)
}

#[test]
fn diagonal_products_match_finite_differences() {
    let (v, m) = (vec_(3, 0.2), mat(3, 4, 0.5));
    let w = mat(3, 4, 1.7);
    let out = ad::diag_pre_multiply(&v, &m).unwrap();
    // diag(v) M by loops.
    for i in 0..3 {
        for j in 0..4 {
            assert!((out[(i, j)] - v[i] * m[(i, j)]).abs() < 1e-15);
        }
    }
    let (mut gv, mut gm) = (DVector::zeros(3), DMatrix::zeros(3, 4));
    ad::diag_pre_multiply_back(&v, &m, &out, &w, Some(&mut gv), Some(&mut gm));
    let f = |x: &[f64]| {
        let v = DVector::from_column_slice(&x[..3]);
        let m = DMatrix::from_column_slice(3, 4, &x[3..]);
        ad::diag_pre_multiply(&v, &m)
            .unwrap()
            .component_mul(&w)
            .sum()
    };
    let xs: Vec<f64> = v.iter().chain(m.iter()).copied().collect();
    let gs: Vec<f64> = gv.iter().chain(gm.iter()).copied().collect();
    assert_eq!(gradient_mismatch(f, &gs, &xs, 1e-6), None);
    assert!(ad::diag_pre_multiply(&vec_(4, 0.0), &m).is_err());

    let v = vec_(4, 0.9);
    let out = ad::diag_post_multiply(&m, &v).unwrap();
    for i in 0..3 {
        for j in 0..4 {
            assert!((out[(i, j)] - m[(i, j)] * v[j]).abs() < 1e-15);
        }
    }
    let (mut gm, mut gv) = (DMatrix::zeros(3, 4), DVector::zeros(4));
    ad::diag_post_multiply_back(&m, &v, &out, &w, Some(&mut gm), Some(&mut gv));
    let f = |x: &[f64]| {
        let m = DMatrix::from_column_slice(3, 4, &x[..12]);
        let v = DVector::from_column_slice(&x[12..]);
        ad::diag_post_multiply(&m, &v)
            .unwrap()
            .component_mul(&w)
            .sum()
    };
    let xs: Vec<f64> = m.iter().chain(v.iter()).copied().collect();
    let gs: Vec<f64> = gm.iter().chain(gv.iter()).copied().collect();
    assert_eq!(gradient_mismatch(f, &gs, &xs, 1e-6), None);
    assert!(ad::diag_post_multiply(&m, &vec_(3, 0.0)).is_err());
}

#[test]
fn quad_form_and_dot_products_match_finite_differences() {
    let (a, b) = (mat(3, 3, 0.1), vec_(3, 0.4));
    let q = ad::quad_form(&a, &b).unwrap();
    let by_loops: f64 = (0..3)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| b[i] * a[(i, j)] * b[j])
        .sum();
    assert!((q - by_loops).abs() < 1e-14);
    let (mut ga, mut gb) = (DMatrix::zeros(3, 3), DVector::zeros(3));
    ad::quad_form_back(&a, &b, &q, &0.8, Some(&mut ga), Some(&mut gb));
    let f = |x: &[f64]| {
        0.8 * ad::quad_form(
            &DMatrix::from_column_slice(3, 3, &x[..9]),
            &DVector::from_column_slice(&x[9..]),
        )
        .unwrap()
    };
    let xs: Vec<f64> = a.iter().chain(b.iter()).copied().collect();
    let gs: Vec<f64> = ga.iter().chain(gb.iter()).copied().collect();
    assert_eq!(gradient_mismatch(f, &gs, &xs, 1e-6), None);
    assert!(ad::quad_form(&mat(2, 3, 0.0), &b).is_err());

    let (a, b) = (mat(4, 3, 0.3), mat(4, 3, 1.1));
    let c = ad::columns_dot_product(&a, &b).unwrap();
    let r = ad::rows_dot_product(&a, &b).unwrap();
    for j in 0..3 {
        assert!((c[j] - (0..4).map(|i| a[(i, j)] * b[(i, j)]).sum::<f64>()).abs() < 1e-14);
    }
    for i in 0..4 {
        assert!((r[i] - (0..3).map(|j| a[(i, j)] * b[(i, j)]).sum::<f64>()).abs() < 1e-14);
    }
    let wc = nalgebra::RowDVector::from_vec(vec![0.3, -1.2, 0.7]);
    let wr = vec_(4, 2.0);
    let (mut ga, mut gb) = (DMatrix::zeros(4, 3), DMatrix::zeros(4, 3));
    ad::columns_dot_product_back(&a, &b, &c, &wc, Some(&mut ga), Some(&mut gb));
    ad::rows_dot_product_back(&a, &b, &r, &wr, Some(&mut ga), Some(&mut gb));
    let f = |x: &[f64]| {
        let a = DMatrix::from_column_slice(4, 3, &x[..12]);
        let b = DMatrix::from_column_slice(4, 3, &x[12..]);
        ad::columns_dot_product(&a, &b).unwrap().dot(&wc)
            + ad::rows_dot_product(&a, &b).unwrap().dot(&wr)
    };
    let xs: Vec<f64> = a.iter().chain(b.iter()).copied().collect();
    let gs: Vec<f64> = ga.iter().chain(gb.iter()).copied().collect();
    assert_eq!(gradient_mismatch(f, &gs, &xs, 1e-6), None);
    assert!(ad::rows_dot_product(&a, &mat(3, 4, 0.0)).is_err());
}

#[test]
fn triangular_solve_matches_finite_differences() {
    let l = ad::cholesky(&spd()).unwrap();
    let b = vec_(3, 0.8);
    let x = ad::mdivide_left_tri_low(&l, &b).unwrap();
    assert!((&l * &x - &b).abs().max() < 1e-14);
    let w = vec_(3, 1.9);
    let (mut gl, mut gb) = (DMatrix::zeros(3, 3), DVector::zeros(3));
    ad::mdivide_left_tri_low_back(&l, &b, &x, &w, Some(&mut gl), Some(&mut gb));
    // Perturb the lower triangle and b; the upper triangle is never read.
    let f = |v: &[f64]| {
        let mut l = DMatrix::zeros(3, 3);
        let mut p = 0;
        for c in 0..3 {
            for r in c..3 {
                l[(r, c)] = v[p];
                p += 1;
            }
        }
        ad::mdivide_left_tri_low(&l, &DVector::from_column_slice(&v[6..]))
            .unwrap()
            .dot(&w)
    };
    let xs: Vec<f64> = lower(&l).into_iter().chain(b.iter().copied()).collect();
    let gs: Vec<f64> = lower(&gl).into_iter().chain(gb.iter().copied()).collect();
    assert_eq!(gradient_mismatch(f, &gs, &xs, 1e-6), None);
    // Only the lower triangle is read.
    let mut upper = l.clone();
    upper[(0, 2)] = 100.0;
    assert_eq!(ad::mdivide_left_tri_low(&upper, &b).unwrap(), x);
    assert!(ad::mdivide_left_tri_low(&DMatrix::zeros(3, 3), &b).is_err());
}

#[test]
fn exponentiated_quadratic_kernel_matches_its_formula_and_finite_differences() {
    let x = [0.0, 0.5, 1.7, -2.0];
    let rho = 0.8;
    let k = ad::gp_exp_quad_unit(&rho, &x[..]).unwrap();
    for i in 0..4 {
        for j in 0..4 {
            let d: f64 = x[i] - x[j];
            assert!((k[(i, j)] - (-d * d / (2.0 * rho * rho)).exp()).abs() < 1e-15);
        }
    }
    let w = mat(4, 4, 0.6);
    let mut g = 0.0;
    ad::gp_exp_quad_unit_back(&rho, &x[..], &k, &w, &mut g);
    let f = |v: &[f64]| {
        ad::gp_exp_quad_unit(&v[0], &x[..])
            .unwrap()
            .component_mul(&w)
            .sum()
    };
    assert_eq!(gradient_mismatch(f, &[g], &[rho], 1e-6), None);
}
