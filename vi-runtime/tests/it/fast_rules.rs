//! The vectorised paths of the rules at sizes that exercise them: the matrix products'
//! four-column unrolling and its remainders, reductions longer than their partial sums and
//! blocks, the adjoint of a scalar or row broadcast over many elements, the `Normal`
//! kernel's likelihood pass, and `tanh` across its whole range. Values against nalgebra or
//! plain per-element formulas, gradients against central finite differences
//! (`vi_runtime::check`).

use nalgebra::{DMatrix, DVector, RowDVector};
use vi_runtime::ad::{self, Flat, Operand, Value};
use vi_runtime::check::gradient_mismatch;
use vi_runtime::dist::normal;

/// Relative tolerance of analytic gradients against central differences.
const TOL: f64 = 1e-6;
/// Relative tolerance of values against an independent computation (summation order
/// differs).
const VAL: f64 = 1e-12;

/// Deterministic values in [-1.5, 1.5), different per `seed`.
fn vals(n: usize, seed: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 53 + seed * 97 + 11) % 211) as f64 / 70.0 - 1.5)
        .collect()
}

fn filled<V: Value>(mut v: V, seed: usize) -> V {
    let n = v.flat().len();
    v.flat_mut().copy_from_slice(&vals(n, seed));
    v
}

fn rebuild<V: Value>(v: &V, d: &[f64]) -> V {
    let mut out = v.clone();
    out.flat_mut().copy_from_slice(d);
    out
}

fn dotp(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn close(what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= VAL * (1.0 + y.abs()),
            "{what}: element {i}: {x} vs {y}"
        );
    }
}

/// The backward rule of a binary operation against central differences of
/// `L = sum(w * op(a, b))`, adding onto nonzero starting adjoints.
fn check_binary<A: Value, B: Value, O: Value>(
    what: &str,
    a: &A,
    b: &B,
    fwd: impl Fn(&A, &B) -> O,
    back: impl Fn(&A, &B, &O, &O, Option<&mut A>, Option<&mut B>),
) {
    let out = fwd(a, b);
    let w = filled(out.clone(), 5);
    let na = a.flat().len();
    let x: Vec<f64> = a.flat().iter().chain(b.flat()).copied().collect();
    let f = |x: &[f64]| {
        dotp(
            w.flat(),
            fwd(&rebuild(a, &x[..na]), &rebuild(b, &x[na..])).flat(),
        )
    };
    let (ga0, gb0) = (filled(a.clone(), 6), filled(b.clone(), 7));
    let (mut ga, mut gb) = (ga0.clone(), gb0.clone());
    back(a, b, &out, &w, Some(&mut ga), Some(&mut gb));
    let grad: Vec<f64> = ga
        .flat()
        .iter()
        .zip(ga0.flat())
        .chain(gb.flat().iter().zip(gb0.flat()))
        .map(|(n, o)| n - o)
        .collect();
    assert_eq!(
        gradient_mismatch(f, &grad, &x, TOL),
        None,
        "{what}: (index, analytic, numeric)"
    );
}

#[test]
fn matrix_vector_products_at_every_column_count() {
    // 4, 5, 6, 7 and 9 columns: whole groups of four and every remainder; 70 rows is not a
    // multiple of the eight partial sums.
    for k in [1, 4, 5, 6, 7, 9] {
        let a = filled(DMatrix::zeros(70, k), 1);
        let b = filled(DVector::zeros(k), 2);
        let out = ad::mul(&a, &b).unwrap();
        close(
            &format!("A b, k = {k}"),
            out.as_slice(),
            (&a * &b).as_slice(),
        );
        check_binary(
            &format!("A b, k = {k}"),
            &a,
            &b,
            |a, b| ad::mul(a, b).unwrap(),
            ad::mul_back,
        );
        let r = filled(RowDVector::zeros(70), 3);
        let out = ad::mul(&r, &a).unwrap();
        close(
            &format!("r A, k = {k}"),
            out.as_slice(),
            (&r * &a).as_slice(),
        );
        check_binary(
            &format!("r A, k = {k}"),
            &r,
            &a,
            |a, b| ad::mul(a, b).unwrap(),
            ad::mul_back,
        );
    }
    // Data on the left (no adjoint for it), as in `x * w`.
    let x = filled(DMatrix::zeros(33, 6), 4);
    let w = filled(DVector::zeros(6), 5);
    let out = ad::mul(&x, &w).unwrap();
    let g = filled(out.clone(), 6);
    let mut gw = DVector::zeros(6);
    ad::mul_back(&x, &w, &out, &g, None, Some(&mut gw));
    close("x^T g", gw.as_slice(), (x.transpose() * &g).as_slice());
}

#[test]
fn matrix_matrix_products_at_network_like_sizes() {
    for (r, k, m) in [(37, 5, 11), (20, 4, 3), (9, 7, 6), (12, 1, 5)] {
        let a = filled(DMatrix::zeros(r, k), 7);
        let b = filled(DMatrix::zeros(k, m), 8);
        let out = ad::mul(&a, &b).unwrap();
        close(
            &format!("A B {r}x{k}x{m}"),
            out.as_slice(),
            (&a * &b).as_slice(),
        );
        check_binary(
            &format!("A B {r}x{k}x{m}"),
            &a,
            &b,
            |a, b| ad::mul(a, b).unwrap(),
            ad::mul_back,
        );
        // The two adjoints separately against nalgebra: G B^T and A^T G.
        let g = filled(out.clone(), 9);
        let (mut ga, mut gb) = (DMatrix::zeros(r, k), DMatrix::zeros(k, m));
        ad::mul_back(&a, &b, &out, &g, Some(&mut ga), Some(&mut gb));
        close("G B^T", ga.as_slice(), (&g * b.transpose()).as_slice());
        close("A^T G", gb.as_slice(), (a.transpose() * &g).as_slice());
    }
}

#[test]
fn broadcast_adjoints_over_many_elements() {
    // A scalar against 150 elements and a row against 130 rows: the broadcast input's
    // adjoint is a sum over more elements than one block (64) of the summing loop.
    let c = filled(DVector::zeros(150), 10);
    let s = 0.75;
    for (name, op) in [("+", 0), ("-", 1), ("*", 2), ("/", 3)] {
        let fwd = |a: &DVector<f64>, b: &f64| match op {
            0 => ad::add(a, b).unwrap(),
            1 => ad::sub(a, b).unwrap(),
            2 => ad::mul(a, b).unwrap(),
            _ => ad::div(a, b).unwrap(),
        };
        let back = |a: &DVector<f64>,
                    b: &f64,
                    o: &DVector<f64>,
                    g: &DVector<f64>,
                    ga: Option<&mut DVector<f64>>,
                    gb: Option<&mut f64>| match op {
            0 => ad::add_back(a, b, o, g, ga, gb),
            1 => ad::sub_back(a, b, o, g, ga, gb),
            2 => ad::mul_back(a, b, o, g, ga, gb),
            _ => ad::div_back(a, b, o, g, ga, gb),
        };
        check_binary(&format!("column {name} scalar"), &c, &s, fwd, back);
        // The scalar's adjoint alone against its plain sum.
        let out = fwd(&c, &s);
        let g = filled(out.clone(), 11);
        let mut gs = 0.0;
        back(&c, &s, &out, &g, None, Some(&mut gs));
        let want: f64 = match op {
            0 => g.iter().sum(),
            1 => -g.iter().sum::<f64>(),
            2 => dotp(g.as_slice(), c.as_slice()),
            _ => -dotp(g.as_slice(), out.as_slice()) / s,
        };
        assert!(
            (gs - want).abs() <= VAL * (1.0 + want.abs()),
            "{name}: {gs} vs {want}"
        );
    }
    let m = filled(DMatrix::zeros(130, 3), 12);
    let r = filled(RowDVector::zeros(3), 13);
    check_binary(
        "matrix + row",
        &m,
        &r,
        |a, b| ad::add(a, b).unwrap(),
        ad::add_back,
    );
    check_binary(
        "matrix * row",
        &m,
        &r,
        |a, b| ad::mul(a, b).unwrap(),
        ad::mul_back,
    );
}

#[test]
fn sum_dot_and_mean_at_every_length() {
    for n in [7, 8, 9, 63, 64, 65, 200] {
        let a = filled(DVector::zeros(n), 14);
        let b = filled(DVector::zeros(n), 15);
        let want: f64 = a.iter().sum();
        assert!((ad::sum(&a).unwrap() - want).abs() <= VAL * (1.0 + want.abs()));
        let want = dotp(a.as_slice(), b.as_slice());
        assert!((ad::dot(&a, &b).unwrap() - want).abs() <= VAL * (1.0 + want.abs()));
        let want = a.iter().sum::<f64>() / n as f64;
        assert!((ad::mean(&a).unwrap() - want).abs() <= VAL * (1.0 + want.abs()));
    }
}

#[test]
fn tanh_rule_over_its_whole_range() {
    // Both signs, tiny, moderate, near and past saturation; 41 elements (not a multiple of
    // any vector width).
    let x = DVector::from_iterator(41, (0..41).map(|i| (i as f64 - 20.0) * 0.6));
    let y = ad::tanh(&x).unwrap();
    for (yi, xi) in y.iter().zip(x.iter()) {
        assert!(
            (yi - xi.tanh()).abs() <= 4.0 * f64::EPSILON * yi.abs(),
            "tanh({xi})"
        );
    }
    let w = filled(y.clone(), 16);
    let mut gx = DVector::zeros(41);
    ad::tanh_back(&x, &y, &w, &mut gx);
    let f = |d: &[f64]| {
        dotp(
            w.as_slice(),
            ad::tanh(&DVector::from_column_slice(d)).unwrap().as_slice(),
        )
    };
    assert_eq!(
        gradient_mismatch(f, gx.as_slice(), x.as_slice(), TOL),
        None,
        "tanh_back: (index, analytic, numeric)"
    );
    // A matrix goes through the same loop.
    let m = DMatrix::from_fn(7, 6, |i, j| (i as f64 - 3.0) * 0.9 + j as f64 * 0.37);
    let t = ad::tanh(&m).unwrap();
    for (ti, mi) in t.iter().zip(m.iter()) {
        assert!((ti - mi.tanh()).abs() <= 4.0 * f64::EPSILON * ti.abs().max(f64::MIN_POSITIVE));
    }
}

#[test]
fn normal_likelihood_pass_matches_the_per_element_formula() {
    // Data y against a location per element with one latent scale (the vectorised pass),
    // at lengths around the partial-sum width.
    for n in [1, 7, 8, 9, 31, 200] {
        let y = vals(n, 17);
        let mu = vals(n, 18);
        let sigma = 0.8;
        let mut dmu = vec![0.25; n];
        let mut ds = [0.5];
        let lp = normal::lpdf(&y, &mu, &[sigma], None, Some(&mut dmu), Some(&mut ds));
        // sum of ln N(y | mu, sigma) = -0.5 z^2 - ln sigma - ln sqrt(2 pi), z = (y - mu) / sigma.
        let want: f64 = y
            .iter()
            .zip(&mu)
            .map(|(a, m)| {
                let z = (a - m) / sigma;
                -0.5 * z * z - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
            })
            .sum();
        assert!(
            (lp - want).abs() <= VAL * (1.0 + want.abs()),
            "n = {n}: {lp} vs {want}"
        );
        // Partials against central differences in (mu, sigma).
        let x: Vec<f64> = mu.iter().copied().chain([sigma]).collect();
        let f = |x: &[f64]| normal::lpdf(&y, &x[..n], &x[n..], None, None, None);
        let grad: Vec<f64> = dmu.iter().map(|g| g - 0.25).chain([ds[0] - 0.5]).collect();
        assert_eq!(
            gradient_mismatch(f, &grad, &x, TOL),
            None,
            "n = {n}: (index, analytic, numeric)"
        );
    }
}

/// A rule's name, its forward rule on a column, and the scalar function it computes.
type RuleCase = (
    &'static str,
    fn(&DVector<f64>) -> DVector<f64>,
    fn(f64) -> f64,
);

#[test]
fn exp_expm1_sigmoid_rules_over_a_wide_range() {
    // 41 elements from -30 to 30: both tails, around 0, lengths not a multiple of a vector.
    let x = DVector::from_iterator(41, (0..41).map(|i| (i as f64 - 20.0) * 1.5 + 0.01));
    let rules: [RuleCase; 3] = [
        ("exp", |v| ad::exp(v).unwrap(), f64::exp),
        ("expm1", |v| ad::expm1(v).unwrap(), f64::exp_m1),
        (
            "sigmoid",
            |v| ad::sigmoid(v).unwrap(),
            |v| 1.0 / (1.0 + (-v).exp()),
        ),
    ];
    for (name, f, scalar) in rules {
        let y = f(&x);
        for (yi, xi) in y.iter().zip(x.iter()) {
            let want = scalar(*xi);
            assert!(
                (yi - want).abs() <= 4.0 * f64::EPSILON * want.abs(),
                "{name}({xi}) = {yi}, want {want}"
            );
        }
    }
    // Backward rules against central differences (on a range where the values stay
    // moderate, so the differences are accurate).
    let x = DVector::from_iterator(23, (0..23).map(|i| (i as f64 - 11.0) * 0.4 + 0.03));
    let w = filled(x.clone(), 19);
    for name in ["exp", "expm1", "sigmoid"] {
        let fwd = |v: &DVector<f64>| match name {
            "exp" => ad::exp(v).unwrap(),
            "expm1" => ad::expm1(v).unwrap(),
            _ => ad::sigmoid(v).unwrap(),
        };
        let y = fwd(&x);
        let mut gx = DVector::zeros(23);
        match name {
            "exp" => ad::exp_back(&x, &y, &w, &mut gx),
            "expm1" => ad::expm1_back(&x, &y, &w, &mut gx),
            _ => ad::sigmoid_back(&x, &y, &w, &mut gx),
        }
        let f = |d: &[f64]| dotp(w.as_slice(), fwd(&DVector::from_column_slice(d)).as_slice());
        assert_eq!(
            gradient_mismatch(f, gx.as_slice(), x.as_slice(), TOL),
            None,
            "{name}_back: (index, analytic, numeric)"
        );
    }
}

/// `mul_add` against `mul` then `add` (to 1e-12: a matrix product accumulates onto `c`, so
/// the additions may round in another order), and
/// its backward rule against central differences of `L = sum(w * (a * b + c))`, adding onto
/// nonzero starting adjoints.
fn check_mul_add<A, B, C>(what: &str, a: &A, b: &B, c: &C)
where
    A: Value + ad::MulRule<B>,
    B: Value,
    C: Value,
    A::Output: ad::Broadcast<C>,
{
    let out = ad::mul_add(a, b, c).unwrap();
    let two = ad::add(&ad::mul(a, b).unwrap(), c).unwrap();
    assert_eq!(out.dims(), two.dims(), "{what}: shape");
    close(what, out.flat(), two.flat());
    let w = filled(out.clone(), 5);
    let (na, nb) = (a.flat().len(), b.flat().len());
    let x: Vec<f64> = a
        .flat()
        .iter()
        .chain(b.flat())
        .chain(c.flat())
        .copied()
        .collect();
    let f = |x: &[f64]| {
        let (a, b, c) = (
            rebuild(a, &x[..na]),
            rebuild(b, &x[na..na + nb]),
            rebuild(c, &x[na + nb..]),
        );
        dotp(w.flat(), ad::mul_add(&a, &b, &c).unwrap().flat())
    };
    let (ga0, gb0, gc0) = (
        filled(a.clone(), 6),
        filled(b.clone(), 7),
        filled(c.clone(), 8),
    );
    let (mut ga, mut gb, mut gc) = (ga0.clone(), gb0.clone(), gc0.clone());
    ad::mul_add_back(
        a,
        b,
        c,
        &out,
        &w,
        Some(&mut ga),
        Some(&mut gb),
        Some(&mut gc),
    );
    let grad: Vec<f64> = ga
        .flat()
        .iter()
        .zip(ga0.flat())
        .chain(gb.flat().iter().zip(gb0.flat()))
        .chain(gc.flat().iter().zip(gc0.flat()))
        .map(|(n, o)| n - o)
        .collect();
    assert_eq!(
        gradient_mismatch(f, &grad, &x, TOL),
        None,
        "{what}: (index, analytic, numeric)"
    );
}

#[test]
fn product_plus_sum_in_every_broadcast() {
    let m = |r, c, s| filled(DMatrix::<f64>::zeros(r, c), s);
    let v = |n, s| filled(DVector::<f64>::zeros(n), s);
    let row = |n, s| filled(RowDVector::<f64>::zeros(n), s);
    // The sum has the product's shape: `c` goes into the product's storage.
    check_mul_add("x * w + b", &m(70, 5, 1), &v(5, 2), &0.7);
    check_mul_add(
        "x * w + b, more columns than one pass",
        &m(40, 11, 1),
        &v(11, 2),
        &0.7,
    );
    check_mul_add("x * w + v", &m(70, 5, 1), &v(5, 2), &v(70, 3));
    check_mul_add("x * w1 + b1'", &m(30, 4, 1), &m(4, 6, 2), &row(6, 3));
    check_mul_add(
        "x * w1 + b1 (a column)",
        &m(30, 4, 1),
        &m(4, 6, 2),
        &v(30, 3),
    );
    check_mul_add("x * w1 + m", &m(30, 4, 1), &m(4, 6, 2), &m(30, 6, 3));
    check_mul_add("r * m + r", &row(5, 1), &m(5, 8, 2), &row(8, 3));
    check_mul_add("v * s + v", &v(7, 1), &1.3, &v(7, 2));
    check_mul_add("s * v + s", &-0.4, &v(7, 1), &2.0);
    check_mul_add("s * s + s", &-0.4, &1.7, &2.0);
    // The sum is larger than the product: the two rules.
    check_mul_add("s * s + v", &-0.4, &1.7, &v(5, 1));
    check_mul_add("v * s + m", &v(4, 1), &0.3, &m(4, 3, 2));
    check_mul_add("x * w + r", &m(6, 3, 1), &v(3, 2), &row(4, 3));
    // Shape errors of either rule.
    assert!(ad::mul_add(&m(6, 3, 1), &v(4, 2), &0.5).is_err());
    assert!(ad::mul_add(&m(6, 3, 1), &v(3, 2), &v(5, 3)).is_err());
    assert!(ad::mul_add(&m(6, 3, 1), &m(3, 2, 2), &row(3, 3)).is_err());
    // Empty operands.
    check_mul_add("empty", &m(0, 3, 1), &v(3, 2), &0.5);
}
