//! The matrix forms of issue 17's rules: `quad_form` and `mdivide_left_tri_low` with a
//! matrix on the right, `add_diag` with a vector, `gp_exp_quad_unit` on points of several
//! coordinates; values against loops written here, every adjoint against central finite
//! differences through the shared harness.

use nalgebra::{DMatrix, DVector, RowDVector};
use vi_runtime::ad;
use vi_runtime::check::gradient_mismatch;

fn mat(r: usize, c: usize, s: f64) -> DMatrix<f64> {
    DMatrix::from_fn(r, c, |i, j| {
        ((i * 7 + j * 3) as f64 * 0.37 + s).sin() + 0.1 * s
    })
}

/// A lower triangular matrix with a diagonal well away from 0.
fn low(n: usize) -> DMatrix<f64> {
    DMatrix::from_fn(n, n, |i, j| {
        if i == j {
            1.5 + 0.2 * i as f64
        } else if i > j {
            0.4 * ((i + 2 * j) as f64).cos()
        } else {
            0.0
        }
    })
}

#[test]
fn quad_form_of_a_matrix_matches_loops_and_finite_differences() {
    let (a, b) = (mat(3, 3, 0.1), mat(3, 2, 0.4));
    let q = ad::quad_form(&a, &b).unwrap();
    assert_eq!(q.shape(), (2, 2));
    for k in 0..2 {
        for l in 0..2 {
            let by_loops: f64 = (0..3)
                .flat_map(|i| (0..3).map(move |j| (i, j)))
                .map(|(i, j)| b[(i, k)] * a[(i, j)] * b[(j, l)])
                .sum();
            assert!((q[(k, l)] - by_loops).abs() < 1e-14);
        }
    }
    // The adjoint of the result is the weight of each entry: f = sum W .* quad_form(A, B).
    let w = DMatrix::from_row_slice(2, 2, &[0.8, -0.3, 1.1, 0.5]);
    let (mut ga, mut gb) = (DMatrix::zeros(3, 3), DMatrix::zeros(3, 2));
    ad::quad_form_back(&a, &b, &q, &w, Some(&mut ga), Some(&mut gb));
    let f = |x: &[f64]| {
        let q = ad::quad_form(
            &DMatrix::from_column_slice(3, 3, &x[..9]),
            &DMatrix::from_column_slice(3, 2, &x[9..]),
        )
        .unwrap();
        q.component_mul(&w).sum()
    };
    let xs: Vec<f64> = a.iter().chain(b.iter()).copied().collect();
    let gs: Vec<f64> = ga.iter().chain(gb.iter()).copied().collect();
    assert_eq!(gradient_mismatch(f, &gs, &xs, 1e-6), None);
    // One adjoint asked for alone is the same.
    let mut gb1 = DMatrix::zeros(3, 2);
    ad::quad_form_back(&a, &b, &q, &w, None, Some(&mut gb1));
    assert_eq!(gb1, gb);
    assert!(ad::quad_form(&a, &mat(2, 2, 0.0)).is_err());
    assert!(ad::quad_form(&mat(3, 2, 0.0), &b).is_err());
}

#[test]
fn mdivide_left_tri_low_of_a_matrix_matches_finite_differences() {
    let (l, b) = (low(3), mat(3, 4, 0.7));
    let x = ad::mdivide_left_tri_low(&l, &b).unwrap();
    assert!((&l * &x - &b).abs().max() < 1e-13);
    // Column by column it is the vector form.
    for j in 0..4 {
        let xj = ad::mdivide_left_tri_low(&l, &DVector::from(b.column(j))).unwrap();
        assert!((xj - x.column(j)).abs().max() < 1e-15);
    }
    let w = mat(3, 4, 2.0);
    let (mut gl, mut gb) = (DMatrix::zeros(3, 3), DMatrix::zeros(3, 4));
    ad::mdivide_left_tri_low_back(&l, &b, &x, &w, Some(&mut gl), Some(&mut gb));
    // Only the lower triangle is read: the upper stays untouched.
    assert!(gl[(0, 1)] == 0.0 && gl[(0, 2)] == 0.0 && gl[(1, 2)] == 0.0);
    let f = |v: &[f64]| {
        let x = ad::mdivide_left_tri_low(
            &DMatrix::from_column_slice(3, 3, &v[..9]),
            &DMatrix::from_column_slice(3, 4, &v[9..]),
        )
        .unwrap();
        x.component_mul(&w).sum()
    };
    let xs: Vec<f64> = l.iter().chain(b.iter()).copied().collect();
    let gs: Vec<f64> = gl.iter().chain(gb.iter()).copied().collect();
    assert_eq!(gradient_mismatch(f, &gs, &xs, 1e-6), None);
    assert!(ad::mdivide_left_tri_low(&l, &mat(2, 2, 0.0)).is_err());
    let mut singular = low(3);
    singular[(1, 1)] = 0.0;
    assert!(ad::mdivide_left_tri_low(&singular, &b).is_err());
}

#[test]
fn add_diag_of_a_vector_matches_finite_differences() {
    let (a, d) = (mat(3, 3, 0.2), DVector::from_vec(vec![0.5, -1.0, 2.0]));
    let out = ad::add_diag(&a, &d).unwrap();
    for i in 0..3 {
        for j in 0..3 {
            let want = a[(i, j)] + if i == j { d[i] } else { 0.0 };
            assert_eq!(out[(i, j)], want);
        }
    }
    let w = mat(3, 3, 1.3);
    let (mut ga, mut gd) = (DMatrix::zeros(3, 3), DVector::zeros(3));
    ad::add_diag_back(&a, &d, &out, &w, Some(&mut ga), Some(&mut gd));
    let f = |v: &[f64]| {
        ad::add_diag(
            &DMatrix::from_column_slice(3, 3, &v[..9]),
            &DVector::from_column_slice(&v[9..]),
        )
        .unwrap()
        .component_mul(&w)
        .sum()
    };
    let xs: Vec<f64> = a.iter().chain(d.iter()).copied().collect();
    let gs: Vec<f64> = ga.iter().chain(gd.iter()).copied().collect();
    assert_eq!(gradient_mismatch(f, &gs, &xs, 1e-6), None);
    assert!(ad::add_diag(&a, &DVector::zeros(2)).is_err());
    assert!(ad::add_diag(&mat(2, 3, 0.0), &1.0).is_err());
}

#[test]
fn gp_kernel_on_points_of_several_coordinates() {
    // Five points in the plane, given five ways.
    let pts: [[f64; 2]; 5] = [[0.0, 0.0], [1.0, 0.5], [-0.3, 2.0], [2.5, -1.0], [0.7, 0.7]];
    let rho = 1.3;
    let want = DMatrix::from_fn(5, 5, |i, j| {
        let d2: f64 = (0..2).map(|c| (pts[i][c] - pts[j][c]).powi(2)).sum();
        (-d2 / (2.0 * rho * rho)).exp()
    });
    let dv: Vec<DVector<f64>> = pts.iter().map(|p| DVector::from_row_slice(p)).collect();
    let rv: Vec<RowDVector<f64>> = pts.iter().map(|p| RowDVector::from_row_slice(p)).collect();
    let vv: Vec<Vec<f64>> = pts.iter().map(|p| p.to_vec()).collect();
    let m = DMatrix::from_fn(5, 2, |i, c| pts[i][c]);
    let ks = [
        ad::gp_exp_quad_unit(&rho, &dv).unwrap(),
        ad::gp_exp_quad_unit(&rho, &dv[..]).unwrap(),
        ad::gp_exp_quad_unit(&rho, &rv).unwrap(),
        ad::gp_exp_quad_unit(&rho, &vv).unwrap(),
        ad::gp_exp_quad_unit(&rho, &pts[..]).unwrap(),
        ad::gp_exp_quad_unit(&rho, &m).unwrap(),
    ];
    for k in &ks {
        assert!((k - &want).abs().max() < 1e-15);
    }
    // The derivative in rho against finite differences.
    let w = mat(5, 5, 0.9);
    let mut g = 0.0;
    ad::gp_exp_quad_unit_back(&rho, &dv, &ks[0], &w, &mut g);
    let f = |v: &[f64]| {
        ad::gp_exp_quad_unit(&v[0], &dv)
            .unwrap()
            .component_mul(&w)
            .sum()
    };
    assert_eq!(gradient_mismatch(f, &[g], &[rho], 1e-7), None);
    // One-dimensional points keep their meaning: a column of numbers, integers too.
    let x1 = [0.0, 1.5, 3.0];
    let k1 = ad::gp_exp_quad_unit(&rho, &x1[..]).unwrap();
    let xi: Vec<i32> = vec![0, 1, 3];
    let ki = ad::gp_exp_quad_unit(&rho, &xi).unwrap();
    assert!((k1[(0, 1)] - (-1.5f64 * 1.5 / (2.0 * rho * rho)).exp()).abs() < 1e-15);
    assert!((ki[(1, 2)] - (-4.0 / (2.0 * rho * rho)).exp()).abs() < 1e-15);
    // Points of different lengths: an error, not a panic.
    let ragged = vec![vec![0.0, 1.0], vec![2.0]];
    assert!(ad::gp_exp_quad_unit(&rho, &ragged).is_err());
}
