//! The differentiation rules: every backward rule against central finite differences of
//! `L = sum(w * op(inputs))` (random fixed weights `w`, so the backward rule gets `g = w`),
//! forward values against nalgebra or the scalar functions, and shape errors.

// Closures around the rules keep each call site monomorphic and readable.
#![allow(clippy::redundant_closure)]

use nalgebra::{DMatrix, DVector, RowDVector};
use rand::{Rng, SeedableRng};
use vi_runtime::ad::{self, Broadcast, Flat, MulRule, ShapeError, Transpose, Value};
use vi_runtime::check::gradient_mismatch;

/// Relative tolerance of analytic gradients against central differences.
const TOL: f64 = 1e-6;

type TestRng = rand_xoshiro::Xoshiro256PlusPlus;

fn rng(seed: u64) -> TestRng {
    TestRng::seed_from_u64(seed)
}

/// A copy of `v` holding the elements `d`.
fn rebuild<V: Value>(v: &V, d: &[f64]) -> V {
    let mut out = v.clone();
    out.flat_mut().copy_from_slice(d);
    out
}

/// `v` with its elements replaced by draws of `f`.
fn fill<V: Value>(v: V, rng: &mut TestRng, f: impl Fn(&mut TestRng) -> f64) -> V {
    let mut out = v;
    for e in out.flat_mut() {
        *e = f(rng);
    }
    out
}

/// Positive numbers in (0.5, 2): fine for ln, sqrt, powf bases.
fn pos(rng: &mut TestRng) -> f64 {
    rng.random_range(0.5..2.0)
}

/// Numbers of either sign bounded away from 0: fine for divisors, abs.
fn signed(rng: &mut TestRng) -> f64 {
    let m = rng.random_range(0.5..2.0);
    if rng.random::<bool>() {
        m
    } else {
        -m
    }
}

fn dotp(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn diff(after: &[f64], before: &[f64]) -> Vec<f64> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

/// The one harness for binary rules: checks that `back` with `g = w` adds exactly
/// d/d(a, b) sum(w * fwd(a, b)) into adjoints that start nonzero, for both inputs at once
/// and for each alone.
#[allow(clippy::type_complexity)]
fn check_binary<A: Value, B: Value, O: Value>(
    what: &str,
    a: &A,
    b: &B,
    fwd: impl Fn(&A, &B) -> Result<O, ShapeError>,
    back: impl Fn(&A, &B, &O, &O, Option<&mut A>, Option<&mut B>),
    rng: &mut TestRng,
) {
    let out = fwd(a, b).unwrap_or_else(|e| panic!("{what}: {e}"));
    let w = fill(out.clone(), rng, signed);
    let na = a.flat().len();
    let x: Vec<f64> = a.flat().iter().chain(b.flat()).copied().collect();
    let f = |x: &[f64]| {
        let o = fwd(&rebuild(a, &x[..na]), &rebuild(b, &x[na..])).unwrap();
        dotp(w.flat(), o.flat())
    };
    let ga0 = fill(a.clone(), rng, signed);
    let gb0 = fill(b.clone(), rng, signed);
    let (mut ga, mut gb) = (ga0.clone(), gb0.clone());
    back(a, b, &out, &w, Some(&mut ga), Some(&mut gb));
    let da = diff(ga.flat(), ga0.flat());
    let db = diff(gb.flat(), gb0.flat());
    let grad: Vec<f64> = da.iter().chain(&db).copied().collect();
    assert_eq!(
        gradient_mismatch(f, &grad, &x, TOL),
        None,
        "{what}: (index, analytic, numeric)"
    );
    // One side at a time gives the same adjoints.
    let mut ga1 = ga0.clone();
    back(a, b, &out, &w, Some(&mut ga1), None);
    let mut gb1 = gb0.clone();
    back(a, b, &out, &w, None, Some(&mut gb1));
    assert_eq!(ga1.flat(), ga.flat(), "{what}: left alone");
    assert_eq!(gb1.flat(), gb.flat(), "{what}: right alone");
}

/// The same for unary rules `back(x, out, g, gx)`.
fn check_unary<X: Value, O: Value>(
    what: &str,
    x: &X,
    fwd: impl Fn(&X) -> Result<O, ShapeError>,
    back: impl Fn(&X, &O, &O, &mut X),
    rng: &mut TestRng,
) {
    let out = fwd(x).unwrap_or_else(|e| panic!("{what}: {e}"));
    let w = fill(out.clone(), rng, signed);
    let f = |d: &[f64]| dotp(w.flat(), fwd(&rebuild(x, d)).unwrap().flat());
    let gx0 = fill(x.clone(), rng, signed);
    let mut gx = gx0.clone();
    back(x, &out, &w, &mut gx);
    let grad = diff(gx.flat(), gx0.flat());
    assert_eq!(
        gradient_mismatch(f, &grad, x.flat(), TOL),
        None,
        "{what}: (index, analytic, numeric)"
    );
}

/// `v` broadcast to an `r` x `c` matrix by nalgebra's own constructors (independent of the
/// rules' broadcasting code).
trait Expand {
    fn expand(&self, r: usize, c: usize) -> DMatrix<f64>;
}
impl Expand for f64 {
    fn expand(&self, r: usize, c: usize) -> DMatrix<f64> {
        DMatrix::from_element(r, c, *self)
    }
}
impl Expand for DVector<f64> {
    fn expand(&self, r: usize, c: usize) -> DMatrix<f64> {
        assert_eq!(self.len(), r);
        DMatrix::from_columns(&vec![self.clone(); c])
    }
}
impl Expand for RowDVector<f64> {
    fn expand(&self, r: usize, c: usize) -> DMatrix<f64> {
        assert_eq!(self.len(), c);
        DMatrix::from_rows(&vec![self.clone(); r])
    }
}
impl Expand for DMatrix<f64> {
    fn expand(&self, r: usize, c: usize) -> DMatrix<f64> {
        assert_eq!(self.shape(), (r, c));
        self.clone()
    }
}

/// Forward value of a broadcasting op against nalgebra's elementwise map of the expanded
/// operands, and the output's shape.
fn check_broadcast_value<A, B>(
    what: &str,
    a: &A,
    b: &B,
    out: &impl Value,
    shape: (usize, usize),
    f: fn(f64, f64) -> f64,
) where
    A: Expand,
    B: Expand,
{
    let (r, c) = shape;
    assert_eq!(out.dims(), shape, "{what}: shape");
    let expect = a.expand(r, c).zip_map(&b.expand(r, c), f);
    for (k, (o, e)) in out.flat().iter().zip(expect.as_slice()).enumerate() {
        assert!(
            (o - e).abs() <= 1e-14 * e.abs().max(1.0),
            "{what}: element {k}: {o} vs {e}"
        );
    }
}

/// All five elementwise rules on one pair of operand types, gradients and values.
fn elementwise_rules<A, B>(what: &str, a: &A, b: &B, shape: (usize, usize), rng: &mut TestRng)
where
    A: Value + Expand + Broadcast<B>,
    B: Value + Expand,
{
    let w = |op: &str| format!("{what}: {op}");
    check_binary(
        &w("add"),
        a,
        b,
        |a, b| ad::add(a, b),
        |a, b, o, g, x, y| ad::add_back(a, b, o, g, x, y),
        rng,
    );
    check_binary(
        &w("sub"),
        a,
        b,
        |a, b| ad::sub(a, b),
        |a, b, o, g, x, y| ad::sub_back(a, b, o, g, x, y),
        rng,
    );
    check_binary(
        &w("div"),
        a,
        b,
        |a, b| ad::div(a, b),
        |a, b, o, g, x, y| ad::div_back(a, b, o, g, x, y),
        rng,
    );
    check_binary(
        &w("powf"),
        a,
        b,
        |a, b| ad::powf(a, b),
        |a, b, o, g, x, y| ad::powf_back(a, b, o, g, x, y),
        rng,
    );
    check_broadcast_value(&w("add"), a, b, &ad::add(a, b).unwrap(), shape, |x, y| {
        x + y
    });
    check_broadcast_value(&w("sub"), a, b, &ad::sub(a, b).unwrap(), shape, |x, y| {
        x - y
    });
    check_broadcast_value(&w("div"), a, b, &ad::div(a, b).unwrap(), shape, |x, y| {
        x / y
    });
    check_broadcast_value(&w("powf"), a, b, &ad::powf(a, b).unwrap(), shape, f64::powf);
}

/// Elementwise `mul` on one pair (where `*` is not a matrix product).
fn elementwise_mul<A, B>(what: &str, a: &A, b: &B, shape: (usize, usize), rng: &mut TestRng)
where
    A: Value + Expand + MulRule<B>,
    B: Value + Expand,
{
    let w = format!("{what}: mul");
    check_binary(
        &w,
        a,
        b,
        |a, b| ad::mul(a, b),
        |a, b, o, g, x, y| ad::mul_back(a, b, o, g, x, y),
        rng,
    );
    check_broadcast_value(&w, a, b, &ad::mul(a, b).unwrap(), shape, |x, y| x * y);
}

/// The operands: a scalar, a column of 3, a row of 4, a 3 x 4 matrix; `a` positive (a base
/// of `powf`), `b` of either sign and away from 0 (a divisor).
struct Operands {
    s: (f64, f64),
    c: (DVector<f64>, DVector<f64>),
    r: (RowDVector<f64>, RowDVector<f64>),
    m: (DMatrix<f64>, DMatrix<f64>),
}

fn operands(rng: &mut TestRng) -> Operands {
    let mut two = |v: DMatrix<f64>| (fill(v.clone(), rng, pos), fill(v, rng, signed));
    let m = two(DMatrix::zeros(3, 4));
    let c = two(DMatrix::zeros(3, 1));
    let r = two(DMatrix::zeros(1, 4));
    let s = two(DMatrix::zeros(1, 1));
    Operands {
        s: (s.0[0], s.1[0]),
        c: (c.0.column(0).into_owned(), c.1.column(0).into_owned()),
        r: (r.0.row(0).into_owned(), r.1.row(0).into_owned()),
        m,
    }
}

/// Calls `$f(name, &a, &b, out_shape, rng)` for all sixteen pairs of operand kinds.
macro_rules! all_pairs {
    ($f:ident, $o:expr, $rng:expr) => {{
        let o = &$o;
        let rng = $rng;
        $f("s.s", &o.s.0, &o.s.1, (1, 1), rng);
        $f("s.c", &o.s.0, &o.c.1, (3, 1), rng);
        $f("s.r", &o.s.0, &o.r.1, (1, 4), rng);
        $f("s.m", &o.s.0, &o.m.1, (3, 4), rng);
        $f("c.s", &o.c.0, &o.s.1, (3, 1), rng);
        $f("c.c", &o.c.0, &o.c.1, (3, 1), rng);
        $f("c.r", &o.c.0, &o.r.1, (3, 4), rng);
        $f("c.m", &o.c.0, &o.m.1, (3, 4), rng);
        $f("r.s", &o.r.0, &o.s.1, (1, 4), rng);
        $f("r.c", &o.r.0, &o.c.1, (3, 4), rng);
        $f("r.r", &o.r.0, &o.r.1, (1, 4), rng);
        $f("r.m", &o.r.0, &o.m.1, (3, 4), rng);
        $f("m.s", &o.m.0, &o.s.1, (3, 4), rng);
        $f("m.c", &o.m.0, &o.c.1, (3, 4), rng);
        $f("m.r", &o.m.0, &o.r.1, (3, 4), rng);
        $f("m.m", &o.m.0, &o.m.1, (3, 4), rng);
    }};
}

#[test]
fn elementwise_binary_rules_all_pairs() {
    for seed in 0..3 {
        let mut rng = rng(seed);
        let o = operands(&mut rng);
        all_pairs!(elementwise_rules, o, &mut rng);
    }
}

#[test]
fn elementwise_mul_all_non_product_pairs() {
    let mut rng = rng(10);
    let o = operands(&mut rng);
    let rng = &mut rng;
    elementwise_mul("s.s", &o.s.0, &o.s.1, (1, 1), rng);
    elementwise_mul("s.c", &o.s.0, &o.c.1, (3, 1), rng);
    elementwise_mul("s.r", &o.s.0, &o.r.1, (1, 4), rng);
    elementwise_mul("s.m", &o.s.0, &o.m.1, (3, 4), rng);
    elementwise_mul("c.s", &o.c.0, &o.s.1, (3, 1), rng);
    elementwise_mul("c.c", &o.c.0, &o.c.1, (3, 1), rng);
    elementwise_mul("c.r", &o.c.0, &o.r.1, (3, 4), rng);
    elementwise_mul("c.m", &o.c.0, &o.m.1, (3, 4), rng);
    elementwise_mul("r.s", &o.r.0, &o.s.1, (1, 4), rng);
    elementwise_mul("r.c", &o.r.0, &o.c.1, (3, 4), rng);
    elementwise_mul("r.r", &o.r.0, &o.r.1, (1, 4), rng);
    elementwise_mul("m.s", &o.m.0, &o.s.1, (3, 4), rng);
    elementwise_mul("m.r", &o.m.0, &o.r.1, (3, 4), rng);
}

#[test]
fn matrix_products_against_nalgebra_and_differences() {
    let mut rng = rng(20);
    let x = fill(DMatrix::zeros(3, 4), &mut rng, signed);
    let v = fill(DVector::zeros(4), &mut rng, signed);
    let y = fill(DMatrix::zeros(4, 2), &mut rng, signed);
    let r = fill(RowDVector::zeros(3), &mut rng, signed);
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-13);

    let mv: DVector<f64> = ad::mul(&x, &v).unwrap();
    assert!(close(mv.as_slice(), (&x * &v).as_slice()));
    let mm: DMatrix<f64> = ad::mul(&x, &y).unwrap();
    assert_eq!(mm.shape(), (3, 2));
    assert!(close(mm.as_slice(), (&x * &y).as_slice()));
    let rm: RowDVector<f64> = ad::mul(&r, &x).unwrap();
    assert!(close(rm.as_slice(), (&r * &x).as_slice()));
    // A data column on the right is a column too.
    let vd: Vec<f64> = v.as_slice().to_vec();
    assert_eq!(ad::mul(&x, &vd).unwrap(), mv);
    assert_eq!(ad::mul(&x, vd.as_slice()).unwrap(), mv);

    check_binary(
        "mat*vec",
        &x,
        &v,
        |a, b| ad::mul(a, b),
        |a, b, o, g, p, q| ad::mul_back(a, b, o, g, p, q),
        &mut rng,
    );
    check_binary(
        "mat*mat",
        &x,
        &y,
        |a, b| ad::mul(a, b),
        |a, b, o, g, p, q| ad::mul_back(a, b, o, g, p, q),
        &mut rng,
    );
    check_binary(
        "row*mat",
        &r,
        &x,
        |a, b| ad::mul(a, b),
        |a, b, o, g, p, q| ad::mul_back(a, b, o, g, p, q),
        &mut rng,
    );

    // The neural-network layer x * w1 + b1^T: a matrix plus a row broadcast over rows.
    let h = ad::add(
        &mm,
        &ad::transpose(&DVector::from_vec(vec![1.0, -1.0])).unwrap(),
    )
    .unwrap();
    assert_eq!(h[(2, 1)], mm[(2, 1)] - 1.0);
}

#[test]
fn data_and_integer_operands_match_their_f64_twins() {
    let mut rng = rng(30);
    let c = fill(DVector::zeros(3), &mut rng, signed);
    let m = fill(DMatrix::zeros(3, 2), &mut rng, signed);
    let y: Vec<f64> = fill(DVector::zeros(3), &mut rng, signed)
        .as_slice()
        .to_vec();
    let yv = DVector::from_vec(y.clone());
    let w = fill(DVector::zeros(3), &mut rng, signed);

    // Vec<f64> and [f64] act as columns, on either side.
    assert_eq!(ad::sub(&y, &c).unwrap(), ad::sub(&yv, &c).unwrap());
    assert_eq!(
        ad::sub(&c, y.as_slice()).unwrap(),
        ad::sub(&c, &yv).unwrap()
    );
    assert_eq!(ad::mul(&y, &m).unwrap(), ad::mul(&yv, &m).unwrap());
    assert_eq!(ad::div(&y, &2.5).unwrap(), ad::div(&yv, &2.5).unwrap());
    // The active side's adjoint is the same as with the f64 twin.
    let out = ad::sub(&y, &c).unwrap();
    let (mut g1, mut g2) = (DVector::zeros(3), DVector::zeros(3));
    ad::sub_back(&y, &c, &out, &w, None, Some(&mut g1));
    ad::sub_back(&yv, &c, &out, &w, None, Some(&mut g2));
    assert_eq!(g1, g2);
    assert_eq!(g1, -&w);

    // A reference to data is the data.
    let yr: &Vec<f64> = &y;
    assert_eq!(ad::sub(&yr, &c).unwrap(), ad::sub(&yv, &c).unwrap());
    assert_eq!(ad::add(&&m, &c).unwrap(), ad::add(&m, &c).unwrap());
    assert!((ad::dot(&yr, &c).unwrap() - yv.dot(&c)).abs() < 1e-14);

    // Integer scalars, as f64, on either side; literals infer.
    assert_eq!(ad::mul(&c, &2).unwrap(), ad::mul(&c, &2.0).unwrap());
    assert_eq!(ad::add(&3i64, &c).unwrap(), ad::add(&3.0, &c).unwrap());
    assert_eq!(ad::sub(&1, &c).unwrap(), ad::sub(&1.0, &c).unwrap());
    assert_eq!(ad::mul(&2.0, &m).unwrap(), &m * 2.0);
    assert_eq!(ad::div(&m, &4usize).unwrap(), ad::div(&m, &4.0).unwrap());
    assert_eq!(ad::powf(&c.map(f64::abs), &2).unwrap(), c.map(|v| v * v));
    let out = ad::div(&7i32, &c).unwrap();
    let (mut g1, mut g2) = (DVector::zeros(3), DVector::zeros(3));
    ad::div_back(&7i32, &c, &out, &w, None, Some(&mut g1));
    ad::div_back(&7.0, &c, &out, &w, None, Some(&mut g2));
    assert_eq!(g1, g2);
    let mut gc = DVector::zeros(3);
    ad::mul_back(
        &c,
        &3usize,
        &ad::mul(&c, &3usize).unwrap(),
        &w,
        Some(&mut gc),
        None,
    );
    assert_eq!(gc, &w * 3.0);
}

#[test]
fn binary_shape_mismatches_are_errors() {
    let c3 = DVector::<f64>::zeros(3);
    let c2 = DVector::<f64>::zeros(2);
    let r4 = RowDVector::<f64>::zeros(4);
    let r3 = RowDVector::<f64>::zeros(3);
    let m34 = DMatrix::<f64>::zeros(3, 4);
    let m24 = DMatrix::<f64>::zeros(2, 4);
    assert_eq!(
        ad::add(&c3, &c2),
        Err(ShapeError {
            op: "+",
            left: (3, 1),
            right: (2, 1)
        })
    );
    assert_eq!(ad::sub(&r4, &r3).unwrap_err().op, "-");
    assert_eq!(ad::div(&c2, &m34).unwrap_err().right, (3, 4));
    assert!(ad::mul(&m34, &r3).is_err()); // a row of 3 against 4 columns
    assert!(ad::powf(&m34, &m24).is_err());
    assert!(ad::add(&vec![1.0; 2], &c3).is_err());
    assert_eq!(
        ad::mul(&m34, &c3),
        Err(ShapeError {
            op: "matrix product",
            left: (3, 4),
            right: (3, 1)
        })
    );
    assert!(ad::mul(&m34, &m34).is_err());
    assert!(ad::mul(&r4, &m34).is_err());
    // Empty operands are fine where the shapes agree.
    let e = DVector::<f64>::zeros(0);
    assert_eq!(ad::mul(&e, &r4).unwrap().shape(), (0, 4));
    assert_eq!(ad::add(&e, &1.0).unwrap().len(), 0);
}

/// All unary rules on one value type.
fn unary_rules<X>(x_pos: &X, x_signed: &X, rng: &mut TestRng)
where
    X: Value + Broadcast<X> + Broadcast<f64>,
{
    macro_rules! check {
        ($x:expr, $f:ident, $b:ident, $scalar:expr) => {{
            let what = format!("{} on {:?}", stringify!($f), $x.dims());
            check_unary(
                &what,
                $x,
                |x| ad::$f(x),
                |x, o, g, gx| ad::$b(x, o, g, gx),
                rng,
            );
            let out = ad::$f($x).unwrap();
            let scalar: fn(f64) -> f64 = $scalar;
            for (o, v) in out.flat().iter().zip($x.flat()) {
                assert!(
                    (o - scalar(*v)).abs() <= 1e-15 * o.abs().max(1.0),
                    "{what}: value"
                );
            }
        }};
    }
    check!(x_signed, neg, neg_back, |v| -v);
    check!(x_signed, exp, exp_back, f64::exp);
    check!(x_pos, ln, ln_back, f64::ln);
    check!(x_pos, log1p, log1p_back, f64::ln_1p);
    check!(x_signed, expm1, expm1_back, f64::exp_m1);
    check!(x_pos, sqrt, sqrt_back, f64::sqrt);
    check!(x_signed, tanh, tanh_back, f64::tanh);
    check!(x_signed, sigmoid, sigmoid_back, |v| 1.0
        / (1.0 + (-v).exp()));
    check!(x_signed, softplus, softplus_back, |v| v.exp().ln_1p());
    check!(x_signed, log_sigmoid, log_sigmoid_back, |v| -(-v)
        .exp()
        .ln_1p());
    check!(x_signed, sin, sin_back, f64::sin);
    check!(x_signed, cos, cos_back, f64::cos);
    check!(x_signed, abs, abs_back, f64::abs);
    for n in [-2, 0, 1, 3] {
        let what = format!("powi({n}) on {:?}", x_signed.dims());
        check_unary(
            &what,
            x_signed,
            |x| ad::powi(x, n),
            |x, o, g, gx| ad::powi_back(x, n, o, g, gx),
            rng,
        );
    }
    // An active exponent, scalar and of the same shape.
    let p = fill(x_signed.clone(), rng, signed);
    check_binary(
        "powf same shape",
        x_pos,
        &p,
        |a, b| ad::powf(a, b),
        |a, b, o, g, x, y| ad::powf_back(a, b, o, g, x, y),
        rng,
    );
    check_binary(
        "powf scalar",
        x_pos,
        &1.7,
        |a, b| ad::powf(a, b),
        |a, b, o, g, x, y| ad::powf_back(a, b, o, g, x, y),
        rng,
    );
}

#[test]
fn unary_rules_on_every_value_type() {
    let mut rng = rng(40);
    let rng = &mut rng;
    let (a, b) = (pos(rng), signed(rng));
    unary_rules(&a, &b, rng);
    let c = DVector::zeros(5);
    unary_rules(&fill(c.clone(), rng, pos), &fill(c, rng, signed), rng);
    let r = RowDVector::zeros(4);
    unary_rules(&fill(r.clone(), rng, pos), &fill(r, rng, signed), rng);
    let m = DMatrix::zeros(3, 2);
    unary_rules(&fill(m.clone(), rng, pos), &fill(m, rng, signed), rng);
}

#[test]
fn unary_rules_are_stable_in_the_tails() {
    let x = DVector::from_vec(vec![-800.0, 800.0]);
    let g = DVector::from_vec(vec![1.0, 1.0]);
    let sp = ad::softplus(&x).unwrap();
    assert_eq!(sp.as_slice(), &[0.0, 800.0]);
    let mut gx = DVector::zeros(2);
    ad::softplus_back(&x, &sp, &g, &mut gx);
    assert_eq!(gx.as_slice(), &[0.0, 1.0]);
    let ls = ad::log_sigmoid(&x).unwrap();
    assert_eq!(ls.as_slice(), &[-800.0, 0.0]);
    let mut gx = DVector::zeros(2);
    ad::log_sigmoid_back(&x, &ls, &g, &mut gx);
    assert_eq!(gx.as_slice(), &[1.0, 0.0]);
    let s = ad::sigmoid(&x).unwrap();
    let mut gx = DVector::zeros(2);
    ad::sigmoid_back(&x, &s, &g, &mut gx);
    assert_eq!(gx.as_slice(), &[0.0, 0.0]);
    // abs at 0 has derivative 0; powi(x, 0) has derivative 0 even at x = 0.
    let mut ga = 0.0;
    ad::abs_back(&0.0, &0.0, &1.0, &mut ga);
    assert_eq!(ga, 0.0);
    ad::powi_back(&0.0, 0, &1.0, &1.0, &mut ga);
    assert_eq!(ga, 0.0);
}

#[test]
fn reductions_and_transpose() {
    let mut rng = rng(50);
    let rng = &mut rng;
    let c = fill(DVector::zeros(4), rng, signed);
    let r = fill(RowDVector::zeros(4), rng, signed);
    let m = fill(DMatrix::zeros(3, 2), rng, signed);

    // sum and mean over every value type; a scalar output is checked as a 1-element value.
    macro_rules! reduce {
        ($x:expr) => {{
            check_unary(
                "sum",
                $x,
                |x| ad::sum(x),
                |x, o, g, gx| ad::sum_back(x, o, g, gx),
                rng,
            );
            check_unary(
                "mean",
                $x,
                |x| ad::mean(x),
                |x, o, g, gx| ad::mean_back(x, o, g, gx),
                rng,
            );
            let s: f64 = $x.flat().iter().sum();
            assert!((ad::sum($x).unwrap() - s).abs() < 1e-14);
            assert!((ad::mean($x).unwrap() - s / $x.flat().len() as f64).abs() < 1e-14);
        }};
    }
    reduce!(&1.5);
    reduce!(&c);
    reduce!(&r);
    reduce!(&m);
    assert_eq!(ad::mean(&DVector::<f64>::zeros(0)).unwrap_err().op, "mean");

    // dot in every pairing of columns and rows.
    let c2 = fill(DVector::zeros(4), rng, signed);
    let r2 = fill(RowDVector::zeros(4), rng, signed);
    check_binary(
        "dot c.c",
        &c,
        &c2,
        |a, b| ad::dot(a, b),
        |a, b, o, g, x, y| ad::dot_back(a, b, o, g, x, y),
        rng,
    );
    check_binary(
        "dot r.r",
        &r,
        &r2,
        |a, b| ad::dot(a, b),
        |a, b, o, g, x, y| ad::dot_back(a, b, o, g, x, y),
        rng,
    );
    check_binary(
        "dot c.r",
        &c,
        &r,
        |a, b| ad::dot(a, b),
        |a, b, o, g, x, y| ad::dot_back(a, b, o, g, x, y),
        rng,
    );
    check_binary(
        "dot r.c",
        &r,
        &c,
        |a, b| ad::dot(a, b),
        |a, b, o, g, x, y| ad::dot_back(a, b, o, g, x, y),
        rng,
    );
    assert!((ad::dot(&c, &r).unwrap() - c.dot(&r.transpose())).abs() < 1e-14);
    let y = c2.as_slice().to_vec();
    assert!((ad::dot(&y, &c).unwrap() - c.dot(&c2)).abs() < 1e-14);
    assert!((ad::dot(&c, y.as_slice()).unwrap() - c.dot(&c2)).abs() < 1e-14);
    assert_eq!(
        ad::dot(&c, &RowDVector::zeros(3)),
        Err(ShapeError {
            op: "dot",
            left: (4, 1),
            right: (1, 3)
        })
    );

    // transpose of every value type.
    fn tr<X: Transpose>(what: &str, x: &X, rng: &mut TestRng) {
        check_unary(
            what,
            x,
            |x| ad::transpose(x),
            |x, o, g, gx| ad::transpose_back(x, o, g, gx),
            rng,
        );
    }
    tr("transpose f64", &0.3, rng);
    tr("transpose col", &c, rng);
    tr("transpose row", &r, rng);
    tr("transpose mat", &m, rng);
    assert_eq!(ad::transpose(&m).unwrap(), m.transpose());
    assert_eq!(ad::transpose(&c).unwrap(), c.transpose());
}

#[test]
fn indexing_rules_and_errors() {
    let mut rng = rng(60);
    let rng = &mut rng;
    let c = fill(DVector::zeros(4), rng, signed);
    let r = fill(RowDVector::zeros(3), rng, signed);
    let m = fill(DMatrix::zeros(3, 2), rng, signed);

    for i in 0..4 {
        check_unary(
            "index col",
            &c,
            |v| ad::index(v, i),
            |v, o, g, gv| ad::index_back(v, i, o, g, gv),
            rng,
        );
        assert_eq!(ad::index(&c, i).unwrap(), c[i]);
    }
    check_unary(
        "index row",
        &r,
        |v| ad::index(v, 2),
        |v, o, g, gv| ad::index_back(v, 2, o, g, gv),
        rng,
    );
    for (i, j) in [(0, 0), (2, 1), (1, 0)] {
        check_unary(
            "index2",
            &m,
            |v| ad::index2(v, i, j),
            |v, o, g, gv| ad::index2_back(v, i, j, o, g, gv),
            rng,
        );
        assert_eq!(ad::index2(&m, i, j).unwrap(), m[(i, j)]);
    }
    check_unary(
        "row",
        &m,
        |v| ad::row(v, 1),
        |v, o, g, gv| ad::row_back(v, 1, o, g, gv),
        rng,
    );
    check_unary(
        "col",
        &m,
        |v| ad::col(v, 1),
        |v, o, g, gv| ad::col_back(v, 1, o, g, gv),
        rng,
    );
    assert_eq!(ad::row(&m, 2).unwrap(), m.row(2).into_owned());
    assert_eq!(ad::col(&m, 0).unwrap(), m.column(0).into_owned());

    // Out of bounds: errors naming the shape and the index, never a panic.
    assert_eq!(
        ad::index(&c, 4),
        Err(ShapeError {
            op: "index",
            left: (4, 1),
            right: (4, 0)
        })
    );
    assert!(ad::index(&r, 3).is_err());
    assert!(ad::index(&vec![1.0], 1).is_err());
    assert_eq!(
        ad::index2(&m, 1, 2),
        Err(ShapeError {
            op: "index",
            left: (3, 2),
            right: (1, 2)
        })
    );
    assert!(ad::index2(&m, 3, 0).is_err());
    assert!(ad::row(&m, 3).is_err());
    assert!(ad::col(&m, 2).is_err());
    let mut v = c.clone();
    assert!(ad::set(&mut v, 4, 1.0).is_err());
    assert_eq!(v, c);

    // set: v = v0; v[1] = x; L = sum(w * v). The reverse sweep: gv = w, then set_back moves
    // gv[1] into x's adjoint, leaving gv the adjoint of v0.
    let w = fill(DVector::zeros(4), rng, signed);
    let prog = |t: &[f64]| {
        let mut v = DVector::from_column_slice(&t[..4]);
        ad::set(&mut v, 1, t[4]).unwrap();
        w.dot(&v)
    };
    let mut gv = w.clone();
    let mut gx = 0.0;
    ad::set_back(&mut gv, 1, &mut gx);
    let grad: Vec<f64> = gv.iter().copied().chain([gx]).collect();
    let t: Vec<f64> = c.iter().copied().chain([0.7]).collect();
    assert_eq!(gradient_mismatch(prog, &grad, &t, TOL), None);
}

#[test]
fn zeros_like_every_value_type() {
    assert_eq!(ad::zeros_like(&2.0), 0.0);
    assert_eq!(
        ad::zeros_like(&DVector::from_element(3, 1.0)),
        DVector::zeros(3)
    );
    assert_eq!(
        ad::zeros_like(&RowDVector::from_element(2, 1.0)),
        RowDVector::zeros(2)
    );
    assert_eq!(
        ad::zeros_like(&DMatrix::from_element(2, 3, 1.0)),
        DMatrix::zeros(2, 3)
    );
}
