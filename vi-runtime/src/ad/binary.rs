// Longer than 800 lines: the element-wise operators and the matrix products share this file's
// private broadcasting machinery (`View`, `Lane`, the forward and backward loops) and the
// operand macros; split, that machinery would become crate-visible for no reader's gain. In
// order: the operators, the loops, `Broadcast`, the products (`MulRule`, `MulKind`), the
// operand impls, the public functions.
//! Binary rules: `+ - * /` and `powf` with NumPy broadcasting, and the matrix products.
//!
//! Every operand is seen as a column-major (rows, columns) array plus its type's kind, which
//! says along which axes it broadcasts (a scalar along both, a column across columns, a row
//! over rows, a matrix along none). Shapes are checked once; the loops then run column by
//! column (or over the whole array when no operand really broadcasts) with each operand's
//! column either a slice or one repeated number, so every inner loop is a plain indexed loop
//! over slices of one known length, which the compiler vectorises.

use super::pool::Recycle;
use super::{kernels, Flat, Operand, ShapeError, Value, Zeros};
use kind::{Join, Kind};
use nalgebra::{DMatrix, DVector};

pub mod kind {
    //! Type-level operand kinds: which axes an operand broadcasts along, and the value type
    //! a broadcast of two kinds produces.
    use crate::ad::Value;
    use nalgebra::{DMatrix, DVector, RowDVector};

    /// An operand kind.
    pub trait Kind {
        /// Broadcasts over rows (has one row by type): scalars and rows.
        const BROW: bool;
        /// Broadcasts across columns (has one column by type): scalars and columns.
        const BCOL: bool;
        /// The value type of this kind.
        type Value: Value;
    }

    /// A scalar (`f64`, integers).
    pub struct Scalar;
    /// A column vector (`DVector<f64>`, `Vec<f64>`, `[f64]`).
    pub struct Col;
    /// A row vector (`RowDVector<f64>`).
    pub struct Row;
    /// A matrix (`DMatrix<f64>`).
    pub struct Mat;

    impl Kind for Scalar {
        const BROW: bool = true;
        const BCOL: bool = true;
        type Value = f64;
    }
    impl Kind for Col {
        const BROW: bool = false;
        const BCOL: bool = true;
        type Value = DVector<f64>;
    }
    impl Kind for Row {
        const BROW: bool = true;
        const BCOL: bool = false;
        type Value = RowDVector<f64>;
    }
    impl Kind for Mat {
        const BROW: bool = false;
        const BCOL: bool = false;
        type Value = DMatrix<f64>;
    }

    /// The kind of the broadcast of `Self` and `K`: it broadcasts along an axis only when
    /// both do.
    pub trait Join<K: Kind>: Kind {
        /// The result's kind.
        type Out: Kind;
    }

    macro_rules! join {
        ($($a:ident, $b:ident => $o:ident;)*) => {$(
            impl Join<$b> for $a {
                type Out = $o;
            }
        )*};
    }
    join! {
        Scalar, Scalar => Scalar; Scalar, Col => Col; Scalar, Row => Row; Scalar, Mat => Mat;
        Col, Scalar => Col; Col, Col => Col; Col, Row => Mat; Col, Mat => Mat;
        Row, Scalar => Row; Row, Col => Mat; Row, Row => Row; Row, Mat => Mat;
        Mat, Scalar => Mat; Mat, Col => Mat; Mat, Row => Mat; Mat, Mat => Mat;
    }

    /// A vector kind (column or row): the operands of `dot`, `index` and `set`.
    pub trait VectorKind: Kind {}
    impl VectorKind for Col {}
    impl VectorKind for Row {}
}

/// An elementwise binary operation: its value and its partial derivatives.
pub trait ElemOp {
    /// The operator's name in shape errors, e.g. `"+"`.
    const NAME: &'static str;
    /// The value `f(a, b)`.
    fn f(a: f64, b: f64) -> f64;
    /// `df/da` at `(a, b)` where `out = f(a, b)`.
    fn da(a: f64, b: f64, out: f64) -> f64;
    /// `df/db` at `(a, b)` where `out = f(a, b)`.
    fn db(a: f64, b: f64, out: f64) -> f64;
}

pub(super) struct AddOp;
pub(super) struct SubOp;
pub(super) struct MulOp;
pub(super) struct DivOp;
struct PowOp;

impl ElemOp for AddOp {
    const NAME: &'static str = "+";
    #[inline(always)]
    fn f(a: f64, b: f64) -> f64 {
        a + b
    }
    #[inline(always)]
    fn da(_: f64, _: f64, _: f64) -> f64 {
        1.0
    }
    #[inline(always)]
    fn db(_: f64, _: f64, _: f64) -> f64 {
        1.0
    }
}

impl ElemOp for SubOp {
    const NAME: &'static str = "-";
    #[inline(always)]
    fn f(a: f64, b: f64) -> f64 {
        a - b
    }
    #[inline(always)]
    fn da(_: f64, _: f64, _: f64) -> f64 {
        1.0
    }
    #[inline(always)]
    fn db(_: f64, _: f64, _: f64) -> f64 {
        -1.0
    }
}

impl ElemOp for MulOp {
    const NAME: &'static str = "*";
    #[inline(always)]
    fn f(a: f64, b: f64) -> f64 {
        a * b
    }
    #[inline(always)]
    fn da(_: f64, b: f64, _: f64) -> f64 {
        b
    }
    #[inline(always)]
    fn db(a: f64, _: f64, _: f64) -> f64 {
        a
    }
}

impl ElemOp for DivOp {
    const NAME: &'static str = "/";
    #[inline(always)]
    fn f(a: f64, b: f64) -> f64 {
        a / b
    }
    #[inline(always)]
    fn da(_: f64, b: f64, _: f64) -> f64 {
        1.0 / b
    }
    #[inline(always)]
    fn db(_: f64, b: f64, out: f64) -> f64 {
        -out / b
    }
}

impl ElemOp for PowOp {
    const NAME: &'static str = "powf";
    #[inline(always)]
    fn f(a: f64, b: f64) -> f64 {
        a.powf(b)
    }
    #[inline(always)]
    fn da(a: f64, b: f64, _: f64) -> f64 {
        if b == 0.0 {
            0.0
        } else {
            b * a.powf(b - 1.0)
        }
    }
    #[inline(always)]
    fn db(a: f64, _: f64, out: f64) -> f64 {
        // d/db a^b = a^b ln a; 0 where a^b is 0 (the limit from a > 0).
        if out == 0.0 {
            0.0
        } else {
            out * a.ln()
        }
    }
}

/// An operand's data with its shape and broadcast axes.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
    brow: bool,
    bcol: bool,
}

/// One column of an operand: a slice, or one number repeated.
#[derive(Clone, Copy)]
enum LaneOf<'a> {
    Slice(&'a [f64]),
    Repeat(f64),
}

impl<'a> View<'a> {
    #[inline]
    fn of<A: Operand + ?Sized>(a: &'a A) -> Self {
        let (rows, cols) = a.dims();
        View {
            data: a.flat(),
            rows,
            cols,
            brow: <A::Kind as Kind>::BROW,
            bcol: <A::Kind as Kind>::BCOL,
        }
    }

    #[inline]
    fn is_scalar(&self) -> bool {
        self.brow && self.bcol
    }

    /// Whether the operand can be walked in the output's flat order: a scalar, or of the
    /// output's shape.
    #[inline]
    fn spans(&self, r: usize, c: usize) -> bool {
        self.is_scalar() || (self.rows == r && self.cols == c)
    }

    #[inline]
    fn flat_lane(&self, n: usize) -> LaneOf<'a> {
        if self.is_scalar() {
            LaneOf::Repeat(self.data[0])
        } else {
            LaneOf::Slice(&self.data[..n])
        }
    }

    /// Offset of column `j` of the broadcast output in this operand.
    #[inline]
    fn col_offset(&self, j: usize) -> usize {
        if self.bcol {
            0
        } else {
            j * self.rows
        }
    }

    #[inline]
    fn col_lane(&self, j: usize, r: usize) -> LaneOf<'a> {
        let off = self.col_offset(j);
        if self.brow {
            LaneOf::Repeat(self.data[off])
        } else {
            LaneOf::Slice(&self.data[off..off + r])
        }
    }
}

/// Calls `$body` with `$x`, `$y` bound to the two lanes' concrete types (a slice or an
/// `f64`), so each of the four combinations gets its own monomorphic loop.
macro_rules! lanes {
    ($a:expr, $b:expr; $x:ident, $y:ident => $body:expr) => {
        match ($a, $b) {
            (LaneOf::Slice($x), LaneOf::Slice($y)) => $body,
            (LaneOf::Slice($x), LaneOf::Repeat($y)) => $body,
            (LaneOf::Repeat($x), LaneOf::Slice($y)) => $body,
            (LaneOf::Repeat($x), LaneOf::Repeat($y)) => $body,
        }
    };
}

trait Lane: Copy {
    fn fit(self, n: usize) -> Self;
    /// Elements `start..end` (a repeated number: itself).
    fn sub(self, start: usize, end: usize) -> Self;
    fn at(self, i: usize) -> f64;
}

impl Lane for f64 {
    #[inline(always)]
    fn fit(self, _: usize) -> Self {
        self
    }
    #[inline(always)]
    fn sub(self, _: usize, _: usize) -> Self {
        self
    }
    #[inline(always)]
    fn at(self, _: usize) -> f64 {
        self
    }
}

impl Lane for &[f64] {
    #[inline(always)]
    fn fit(self, n: usize) -> Self {
        &self[..n]
    }
    #[inline(always)]
    fn sub(self, start: usize, end: usize) -> Self {
        &self[start..end]
    }
    #[inline(always)]
    fn at(self, i: usize) -> f64 {
        self[i]
    }
}

#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn fwd_loop<X: Lane, Y: Lane>(o: &mut [f64], x: X, y: Y, f: impl Fn(f64, f64) -> f64) {
    let n = o.len();
    let x = x.fit(n);
    let y = y.fit(n);
    for i in 0..n {
        o[i] = f(x.at(i), y.at(i));
    }
}

#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn back_loop<X: Lane, Y: Lane>(
    acc: &mut [f64],
    x: X,
    y: Y,
    out: &[f64],
    g: &[f64],
    d: impl Fn(f64, f64, f64) -> f64,
) {
    let n = g.len();
    let out = &out[..n];
    let acc = &mut acc[..n];
    let x = x.fit(n);
    let y = y.fit(n);
    for i in 0..n {
        acc[i] += g[i] * d(x.at(i), y.at(i), out[i]);
    }
}

/// Elements per block of [`back_sum`]: its buffer stays in registers or L1.
const SUM_BLOCK: usize = 64;

/// `acc += sum_i g[i] d(x[i], y[i], out[i])`: the adjoint of an input broadcast along this
/// run. A single running sum would not vectorise; the terms of each block go through
/// [`back_loop`] into a small buffer, which [`kernels::sum`] adds with several partial sums.
#[inline(always)]
fn back_sum<X: Lane, Y: Lane>(
    acc: &mut f64,
    x: X,
    y: Y,
    out: &[f64],
    g: &[f64],
    d: impl Fn(f64, f64, f64) -> f64 + Copy,
) {
    let n = g.len();
    let out = &out[..n];
    let mut buf = [0.0; SUM_BLOCK];
    let mut start = 0;
    while start < n {
        let m = SUM_BLOCK.min(n - start);
        let b = &mut buf[..m];
        b.fill(0.0);
        let end = start + m;
        back_loop(
            b,
            x.sub(start, end),
            y.sub(start, end),
            &out[start..end],
            &g[start..end],
            d,
        );
        *acc += kernels::sum_impl(b);
        start = end;
    }
}

/// The broadcast axis length: equal lengths, or the one that does not broadcast.
#[inline]
fn axis(ba: bool, na: usize, bb: bool, nb: usize) -> Option<usize> {
    match (ba, bb) {
        (true, true) => Some(1),
        (true, false) => Some(nb),
        (false, true) => Some(na),
        (false, false) => (na == nb).then_some(na),
    }
}

#[inline]
fn out_dims(op: &'static str, a: &View, b: &View) -> Result<(usize, usize), ShapeError> {
    let r = axis(a.brow, a.rows, b.brow, b.rows);
    let c = axis(a.bcol, a.cols, b.bcol, b.cols);
    match (r, c) {
        (Some(r), Some(c)) => Ok((r, c)),
        _ => Err(ShapeError {
            op,
            left: (a.rows, a.cols),
            right: (b.rows, b.cols),
        }),
    }
}

#[inline]
fn elementwise<O: ElemOp, Out: Value>(a: View, b: View) -> Result<Out, ShapeError> {
    let (r, c) = out_dims(O::NAME, &a, &b)?;
    // Every element is written below: storage from the pool as it is (a scalar: no storage).
    let mut out = if <Out::Kind as Kind>::BROW && <Out::Kind as Kind>::BCOL {
        Out::zeros_shaped(r, c)
    } else {
        Out::from_storage(r, c, super::pool::scratch(r * c))
    };
    let o = out.flat_mut();
    let n = o.len();
    if n == 0 {
        return Ok(out);
    }
    if n < DISPATCH_MIN {
        fwd_loops::<O>(o, a, b, r, c);
    } else {
        crate::simd::dispatch!([O: ElemOp] [O] (o: &mut [f64], a: View<'_>, b: View<'_>, r: usize, c: usize) -> () {
            fwd_loops::<O>(o, a, b, r, c)
        });
    }
    Ok(out)
}

#[inline]
fn elementwise_back<O: ElemOp>(
    a: View,
    b: View,
    out: &[f64],
    g: &[f64],
    ga: Option<&mut [f64]>,
    gb: Option<&mut [f64]>,
) {
    let Ok((r, c)) = out_dims(O::NAME, &a, &b) else {
        return;
    };
    if r * c == 0 || out.len() != r * c || g.len() != r * c {
        return;
    }
    if r * c < DISPATCH_MIN {
        back_sides::<O>(a, b, r, c, out, g, ga, gb);
    } else {
        crate::simd::dispatch!([O: ElemOp] [O] (
            a: View<'_>,
            b: View<'_>,
            r: usize,
            c: usize,
            out: &[f64],
            g: &[f64],
            ga: Option<&mut [f64]>,
            gb: Option<&mut [f64]>,
        ) -> () {
            back_sides::<O>(a, b, r, c, out, g, ga, gb)
        });
    }
}

/// The loops of [`elementwise`] on an output of `r x c` elements.
#[inline(always)]
fn fwd_loops<O: ElemOp>(o: &mut [f64], a: View<'_>, b: View<'_>, r: usize, c: usize) {
    let n = o.len();
    if a.spans(r, c) && b.spans(r, c) {
        lanes!(a.flat_lane(n), b.flat_lane(n); x, y => fwd_loop(o, x, y, O::f));
    } else {
        for (j, oc) in o.chunks_exact_mut(r).enumerate() {
            lanes!(a.col_lane(j, r), b.col_lane(j, r); x, y => fwd_loop(oc, x, y, O::f));
        }
    }
}

/// The loops of [`elementwise_back`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn back_sides<O: ElemOp>(
    a: View<'_>,
    b: View<'_>,
    r: usize,
    c: usize,
    out: &[f64],
    g: &[f64],
    ga: Option<&mut [f64]>,
    gb: Option<&mut [f64]>,
) {
    if let Some(ga) = ga {
        side(ga, &a, a, b, r, c, out, g, O::da);
    }
    if let Some(gb) = gb {
        side(gb, &b, a, b, r, c, out, g, O::db);
    }
}

/// Below this many elements a broadcast rule runs its loop in place: the call into the
/// dispatched copy (see [`simd`](crate::simd)) would cost more than the wider lanes save.
const DISPATCH_MIN: usize = 16;

/// Adds `g * d(a, b, out)` into the adjoint `gx` of operand `x` (one of `a`, `b`), summing
/// over the axes `x` broadcasts along.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn side(
    gx: &mut [f64],
    x: &View,
    a: View,
    b: View,
    r: usize,
    c: usize,
    out: &[f64],
    g: &[f64],
    d: impl Fn(f64, f64, f64) -> f64 + Copy,
) {
    if gx.len() != x.data.len() {
        return;
    }
    if a.spans(r, c) && b.spans(r, c) {
        let n = r * c;
        lanes!(a.flat_lane(n), b.flat_lane(n); p, q => {
            if x.is_scalar() {
                back_sum(&mut gx[0], p, q, &out[..n], &g[..n], d)
            } else {
                back_loop(&mut gx[..n], p, q, out, g, d)
            }
        });
    } else {
        for j in 0..c {
            let (oc, gc) = (&out[j * r..(j + 1) * r], &g[j * r..(j + 1) * r]);
            let off = x.col_offset(j);
            lanes!(a.col_lane(j, r), b.col_lane(j, r); p, q => {
                if x.brow {
                    back_sum(&mut gx[off], p, q, oc, gc, d)
                } else {
                    back_loop(&mut gx[off..off + r], p, q, oc, gc, d)
                }
            });
        }
    }
}

/// Elementwise binary rules with NumPy broadcasting, implemented for every pair of
/// [`Operand`]s and for integer scalars against them.
pub trait Broadcast<B: ?Sized> {
    /// The broadcast result's type.
    type Output: Value;
    /// Forward: `op(a, b)` elementwise, broadcast.
    fn zip<O: ElemOp>(a: &Self, b: &B) -> Result<Self::Output, ShapeError>;
    /// Backward: adds the adjoints of `a` and `b` given the output and its adjoint `g`.
    fn zip_back<O: ElemOp>(
        a: &Self,
        b: &B,
        out: &Self::Output,
        g: &Self::Output,
        ga: Option<&mut Self>,
        gb: Option<&mut B>,
    );
}

impl<A: Operand + ?Sized, B: Operand + ?Sized> Broadcast<B> for A
where
    A::Kind: Join<B::Kind>,
{
    type Output = <<A::Kind as Join<B::Kind>>::Out as Kind>::Value;
    #[inline]
    fn zip<O: ElemOp>(a: &Self, b: &B) -> Result<Self::Output, ShapeError> {
        elementwise::<O, Self::Output>(View::of(a), View::of(b))
    }
    #[inline]
    fn zip_back<O: ElemOp>(
        a: &Self,
        b: &B,
        out: &Self::Output,
        g: &Self::Output,
        ga: Option<&mut Self>,
        gb: Option<&mut B>,
    ) {
        elementwise_back::<O>(
            View::of(a),
            View::of(b),
            out.flat(),
            g.flat(),
            ga.map(|x| x.flat_mut()),
            gb.map(|x| x.flat_mut()),
        );
    }
}

/// Multiplication: the matrix product for `DMatrix * DVector`, `DMatrix * DMatrix` and
/// `RowDVector * DMatrix` (and `DMatrix` times a data column), elementwise with broadcasting
/// otherwise.
pub trait MulRule<B: ?Sized> {
    /// The product's type.
    type Output: Value;
    /// Forward.
    fn mul(a: &Self, b: &B) -> Result<Self::Output, ShapeError>;
    /// Backward: adds the adjoints of `a` and `b`.
    fn mul_back(
        a: &Self,
        b: &B,
        out: &Self::Output,
        g: &Self::Output,
        ga: Option<&mut Self>,
        gb: Option<&mut B>,
    );
    /// The product's shape (rows, columns), or the forward rule's error.
    fn mul_dims(a: &Self, b: &B) -> Result<(usize, usize), ShapeError>;
    /// Whether [`MulRule::mul_acc`] adds the product into its output (a matrix product).
    const ACCUMULATES: bool;
    /// Adds the product into `out` (of the product's shape) when it is a matrix product
    /// (see [`MulKind::fwd_acc`]); `false` otherwise.
    fn mul_acc(a: &Self, b: &B, out: &mut [f64]) -> bool;
    /// [`MulRule::mul_back`] with the product and its adjoint as flat slices (column-major,
    /// of the product's length; the product's values are not read).
    fn mul_back_flat(
        a: &Self,
        b: &B,
        out: &[f64],
        g: &[f64],
        ga: Option<&mut Self>,
        gb: Option<&mut B>,
    );
}

/// [`MulRule`] by operand kinds.
pub trait MulKind<K: Kind>: Kind {
    /// The product's type.
    type Out: Value;
    /// Forward.
    fn fwd<A: Operand + ?Sized, B: Operand + ?Sized>(a: &A, b: &B)
        -> Result<Self::Out, ShapeError>;
    /// Backward, from the flat product and its flat adjoint into flat adjoints.
    fn back<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
        out: &[f64],
        g: &[f64],
        ga: Option<&mut [f64]>,
        gb: Option<&mut [f64]>,
    );
    /// The product's shape (rows, columns), or the forward rule's error.
    fn dims<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
    ) -> Result<(usize, usize), ShapeError>;
    /// Whether [`MulKind::fwd_acc`] adds the product into its output.
    const ACCUMULATES: bool = false;
    /// Adds the product into `out` (of the product's shape, column-major) when this kind is
    /// a matrix product, whose kernels accumulate; `false` (nothing done) for elementwise
    /// products.
    #[inline]
    fn fwd_acc<A: Operand + ?Sized, B: Operand + ?Sized>(_a: &A, _b: &B, _out: &mut [f64]) -> bool {
        false
    }
}

impl<A: Operand + ?Sized, B: Operand + ?Sized> MulRule<B> for A
where
    A::Kind: MulKind<B::Kind>,
{
    type Output = <A::Kind as MulKind<B::Kind>>::Out;
    const ACCUMULATES: bool = <A::Kind as MulKind<B::Kind>>::ACCUMULATES;
    #[inline]
    fn mul(a: &Self, b: &B) -> Result<Self::Output, ShapeError> {
        <A::Kind as MulKind<B::Kind>>::fwd(a, b)
    }
    #[inline]
    fn mul_back(
        a: &Self,
        b: &B,
        out: &Self::Output,
        g: &Self::Output,
        ga: Option<&mut Self>,
        gb: Option<&mut B>,
    ) {
        <A::Kind as MulKind<B::Kind>>::back(
            a,
            b,
            out.flat(),
            g.flat(),
            ga.map(|x| x.flat_mut()),
            gb.map(|x| x.flat_mut()),
        );
    }
    #[inline]
    fn mul_dims(a: &Self, b: &B) -> Result<(usize, usize), ShapeError> {
        <A::Kind as MulKind<B::Kind>>::dims(a, b)
    }
    #[inline]
    fn mul_acc(a: &Self, b: &B, out: &mut [f64]) -> bool {
        <A::Kind as MulKind<B::Kind>>::fwd_acc(a, b, out)
    }
    #[inline]
    fn mul_back_flat(
        a: &Self,
        b: &B,
        out: &[f64],
        g: &[f64],
        ga: Option<&mut Self>,
        gb: Option<&mut B>,
    ) {
        <A::Kind as MulKind<B::Kind>>::back(
            a,
            b,
            out,
            g,
            ga.map(|x| x.flat_mut()),
            gb.map(|x| x.flat_mut()),
        );
    }
}

macro_rules! elementwise_mul {
    ($($a:ident, $b:ident;)*) => {$(
        impl MulKind<kind::$b> for kind::$a {
            type Out = <<kind::$a as Join<kind::$b>>::Out as Kind>::Value;
            #[inline]
            fn fwd<A: Operand + ?Sized, B: Operand + ?Sized>(
                a: &A,
                b: &B,
            ) -> Result<Self::Out, ShapeError> {
                elementwise::<MulOp, Self::Out>(View::of(a), View::of(b))
            }
            #[inline]
            fn back<A: Operand + ?Sized, B: Operand + ?Sized>(
                a: &A,
                b: &B,
                out: &[f64],
                g: &[f64],
                ga: Option<&mut [f64]>,
                gb: Option<&mut [f64]>,
            ) {
                elementwise_back::<MulOp>(View::of(a), View::of(b), out, g, ga, gb);
            }
            #[inline]
            fn dims<A: Operand + ?Sized, B: Operand + ?Sized>(
                a: &A,
                b: &B,
            ) -> Result<(usize, usize), ShapeError> {
                out_dims(MulOp::NAME, &View::of(a), &View::of(b))
            }
        }
    )*};
}
elementwise_mul! {
    Scalar, Scalar; Scalar, Col; Scalar, Row; Scalar, Mat;
    Col, Scalar; Col, Col; Col, Row; Col, Mat;
    Row, Scalar; Row, Col; Row, Row;
    Mat, Scalar; Mat, Row;
}

const MATMUL: &str = "matrix product";

/// (rows of the left, the shared inner dimension, columns of the right) of a matrix product,
/// or the error when the inner dimensions differ.
#[inline]
fn inner_dims(
    (r, k): (usize, usize),
    (k2, m): (usize, usize),
) -> Result<(usize, usize, usize), ShapeError> {
    if k == k2 {
        Ok((r, k, m))
    } else {
        Err(ShapeError {
            op: MATMUL,
            left: (r, k),
            right: (k2, m),
        })
    }
}

impl MulKind<kind::Col> for kind::Mat {
    type Out = DVector<f64>;
    const ACCUMULATES: bool = true;
    #[inline]
    fn fwd<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
    ) -> Result<Self::Out, ShapeError> {
        let (r, k, _) = inner_dims(a.dims(), b.dims())?;
        let mut out = DVector::from_vec(super::pool::zeroed(r));
        kernels::gemv(a.flat(), r, k, b.flat(), out.as_mut_slice());
        Ok(out)
    }
    #[inline]
    fn back<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
        _out: &[f64],
        g: &[f64],
        ga: Option<&mut [f64]>,
        gb: Option<&mut [f64]>,
    ) {
        let ((r, k), (k2, _)) = (a.dims(), b.dims());
        if k != k2 || g.len() != r {
            return;
        }
        if let Some(ga) = ga {
            // dA += g b^T
            kernels::ger(ga, r, k, g, b.flat());
        }
        if let Some(gb) = gb {
            // db += A^T g
            kernels::gemv_tr(a.flat(), r, k, g, gb);
        }
    }
    #[inline]
    fn dims<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
    ) -> Result<(usize, usize), ShapeError> {
        let (r, _, _) = inner_dims(a.dims(), b.dims())?;
        Ok((r, 1))
    }
    #[inline]
    fn fwd_acc<A: Operand + ?Sized, B: Operand + ?Sized>(a: &A, b: &B, out: &mut [f64]) -> bool {
        let ((r, k), _) = (a.dims(), b.dims());
        kernels::gemv(a.flat(), r, k, b.flat(), out);
        true
    }
}

impl MulKind<kind::Mat> for kind::Mat {
    type Out = DMatrix<f64>;
    const ACCUMULATES: bool = true;
    #[inline]
    fn fwd<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
    ) -> Result<Self::Out, ShapeError> {
        let (r, k, m) = inner_dims(a.dims(), b.dims())?;
        let mut out = DMatrix::from_vec(r, m, super::pool::zeroed(r * m));
        kernels::gemm(a.flat(), b.flat(), out.as_mut_slice(), r, k, m);
        Ok(out)
    }
    #[inline]
    fn back<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
        _out: &[f64],
        g: &[f64],
        ga: Option<&mut [f64]>,
        gb: Option<&mut [f64]>,
    ) {
        let ((r, k), (k2, m)) = (a.dims(), b.dims());
        if k != k2 || g.len() != r * m || r == 0 || k == 0 || m == 0 {
            return;
        }
        if let Some(ga) = ga {
            // dA += G B^T
            kernels::gemm_nt(g, b.flat(), ga, r, k, m);
        }
        if let Some(gb) = gb {
            // dB += A^T G
            kernels::gemm_tn(a.flat(), g, gb, r, k, m);
        }
    }
    #[inline]
    fn dims<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
    ) -> Result<(usize, usize), ShapeError> {
        let (r, _, m) = inner_dims(a.dims(), b.dims())?;
        Ok((r, m))
    }
    #[inline]
    fn fwd_acc<A: Operand + ?Sized, B: Operand + ?Sized>(a: &A, b: &B, out: &mut [f64]) -> bool {
        let ((r, k), (_, m)) = (a.dims(), b.dims());
        kernels::gemm(a.flat(), b.flat(), out, r, k, m);
        true
    }
}

impl MulKind<kind::Mat> for kind::Row {
    type Out = nalgebra::RowDVector<f64>;
    const ACCUMULATES: bool = true;
    #[inline]
    fn fwd<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
    ) -> Result<Self::Out, ShapeError> {
        let (_, k, m) = inner_dims(a.dims(), b.dims())?;
        let mut out = nalgebra::RowDVector::from_vec(super::pool::zeroed(m));
        // (r M)^T = M^T r^T
        kernels::gemv_tr(b.flat(), k, m, a.flat(), out.as_mut_slice());
        Ok(out)
    }
    #[inline]
    fn back<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
        _out: &[f64],
        g: &[f64],
        ga: Option<&mut [f64]>,
        gb: Option<&mut [f64]>,
    ) {
        let ((_, k), (k2, m)) = (a.dims(), b.dims());
        if k != k2 || g.len() != m {
            return;
        }
        if let Some(ga) = ga {
            // dr^T += M g^T
            kernels::gemv(b.flat(), k, m, g, ga);
        }
        if let Some(gb) = gb {
            // dM += r^T g
            kernels::ger(gb, k, m, a.flat(), g);
        }
    }
    #[inline]
    fn dims<A: Operand + ?Sized, B: Operand + ?Sized>(
        a: &A,
        b: &B,
    ) -> Result<(usize, usize), ShapeError> {
        let (_, _, m) = inner_dims(a.dims(), b.dims())?;
        Ok((1, m))
    }
    #[inline]
    fn fwd_acc<A: Operand + ?Sized, B: Operand + ?Sized>(a: &A, b: &B, out: &mut [f64]) -> bool {
        let ((_, k), (_, m)) = (a.dims(), b.dims());
        // (r M)^T = M^T r^T
        kernels::gemv_tr(b.flat(), k, m, a.flat(), out);
        true
    }
}

/// Integer scalars on either side: converted to `f64`, their adjoint ignored.
macro_rules! int_operand {
    ($($t:ty),*) => {$(
        impl<A: Operand + ?Sized> Broadcast<$t> for A
        where
            A: Broadcast<f64>,
        {
            type Output = <A as Broadcast<f64>>::Output;
            #[inline]
            fn zip<O: ElemOp>(a: &Self, b: &$t) -> Result<Self::Output, ShapeError> {
                <A as Broadcast<f64>>::zip::<O>(a, &(*b as f64))
            }
            #[inline]
            fn zip_back<O: ElemOp>(
                a: &Self,
                b: &$t,
                out: &Self::Output,
                g: &Self::Output,
                ga: Option<&mut Self>,
                _: Option<&mut $t>,
            ) {
                <A as Broadcast<f64>>::zip_back::<O>(a, &(*b as f64), out, g, ga, None);
            }
        }

        impl<B: Operand + ?Sized> Broadcast<B> for $t
        where
            f64: Broadcast<B>,
        {
            type Output = <f64 as Broadcast<B>>::Output;
            #[inline]
            fn zip<O: ElemOp>(a: &Self, b: &B) -> Result<Self::Output, ShapeError> {
                <f64 as Broadcast<B>>::zip::<O>(&(*a as f64), b)
            }
            #[inline]
            fn zip_back<O: ElemOp>(
                a: &Self,
                b: &B,
                out: &Self::Output,
                g: &Self::Output,
                _: Option<&mut Self>,
                gb: Option<&mut B>,
            ) {
                <f64 as Broadcast<B>>::zip_back::<O>(&(*a as f64), b, out, g, None, gb);
            }
        }

        impl<A: Operand + ?Sized> MulRule<$t> for A
        where
            A: MulRule<f64>,
        {
            type Output = <A as MulRule<f64>>::Output;
            const ACCUMULATES: bool = <A as MulRule<f64>>::ACCUMULATES;
            #[inline]
            fn mul(a: &Self, b: &$t) -> Result<Self::Output, ShapeError> {
                <A as MulRule<f64>>::mul(a, &(*b as f64))
            }
            #[inline]
            fn mul_back(
                a: &Self,
                b: &$t,
                out: &Self::Output,
                g: &Self::Output,
                ga: Option<&mut Self>,
                _: Option<&mut $t>,
            ) {
                <A as MulRule<f64>>::mul_back(a, &(*b as f64), out, g, ga, None);
            }
            #[inline]
            fn mul_dims(a: &Self, b: &$t) -> Result<(usize, usize), ShapeError> {
                <A as MulRule<f64>>::mul_dims(a, &(*b as f64))
            }
            #[inline]
            fn mul_acc(a: &Self, b: &$t, out: &mut [f64]) -> bool {
                <A as MulRule<f64>>::mul_acc(a, &(*b as f64), out)
            }
            #[inline]
            fn mul_back_flat(
                a: &Self,
                b: &$t,
                out: &[f64],
                g: &[f64],
                ga: Option<&mut Self>,
                _: Option<&mut $t>,
            ) {
                <A as MulRule<f64>>::mul_back_flat(a, &(*b as f64), out, g, ga, None);
            }
        }

        impl<B: Operand + ?Sized> MulRule<B> for $t
        where
            f64: MulRule<B>,
        {
            type Output = <f64 as MulRule<B>>::Output;
            const ACCUMULATES: bool = <f64 as MulRule<B>>::ACCUMULATES;
            #[inline]
            fn mul(a: &Self, b: &B) -> Result<Self::Output, ShapeError> {
                <f64 as MulRule<B>>::mul(&(*a as f64), b)
            }
            #[inline]
            fn mul_back(
                a: &Self,
                b: &B,
                out: &Self::Output,
                g: &Self::Output,
                _: Option<&mut Self>,
                gb: Option<&mut B>,
            ) {
                <f64 as MulRule<B>>::mul_back(&(*a as f64), b, out, g, None, gb);
            }
            #[inline]
            fn mul_dims(a: &Self, b: &B) -> Result<(usize, usize), ShapeError> {
                <f64 as MulRule<B>>::mul_dims(&(*a as f64), b)
            }
            #[inline]
            fn mul_acc(a: &Self, b: &B, out: &mut [f64]) -> bool {
                <f64 as MulRule<B>>::mul_acc(&(*a as f64), b, out)
            }
            #[inline]
            fn mul_back_flat(
                a: &Self,
                b: &B,
                out: &[f64],
                g: &[f64],
                _: Option<&mut Self>,
                gb: Option<&mut B>,
            ) {
                <f64 as MulRule<B>>::mul_back_flat(&(*a as f64), b, out, g, None, gb);
            }
        }
    )*};
}
int_operand!(i32, i64, usize);

macro_rules! binary_fns {
    ($($(#[$doc:meta])* $name:ident, $back:ident, $op:ty;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name<A: Broadcast<B> + ?Sized, B: ?Sized>(
            a: &A,
            b: &B,
        ) -> Result<A::Output, ShapeError> {
            A::zip::<$op>(a, b)
        }

        #[doc = concat!("Backward rule of [`", stringify!($name), "`]: adds into `ga`, `gb` \
            (those given), summing over broadcast axes.")]
        #[inline]
        pub fn $back<A: Broadcast<B> + ?Sized, B: ?Sized>(
            a: &A,
            b: &B,
            out: &A::Output,
            g: &A::Output,
            ga: Option<&mut A>,
            gb: Option<&mut B>,
        ) {
            A::zip_back::<$op>(a, b, out, g, ga, gb)
        }
    )*};
}

binary_fns! {
    /// `a + b`, elementwise with NumPy broadcasting.
    ///
    /// ```
    /// use nalgebra::{DMatrix, DVector, RowDVector};
    /// use vi_runtime::ad;
    /// let m = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// let r = RowDVector::from_vec(vec![10.0, 20.0, 30.0]);
    /// // A row against every row of a matrix.
    /// let s = ad::add(&m, &r)?;
    /// assert_eq!(s, DMatrix::from_row_slice(2, 3, &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]));
    /// // A column against a row: the outer sum.
    /// let c = DVector::from_vec(vec![1.0, 2.0]);
    /// assert_eq!(ad::add(&c, &r)?.shape(), (2, 3));
    /// // Mismatched shapes are an error, not a panic.
    /// assert!(ad::add(&c, &DVector::zeros(3)).is_err());
    /// # Ok::<(), vi_runtime::ad::ShapeError>(())
    /// ```
    add, add_back, AddOp;
    /// `a - b`, elementwise with NumPy broadcasting.
    sub, sub_back, SubOp;
    /// `a / b`, elementwise with NumPy broadcasting.
    div, div_back, DivOp;
    /// `x^p` elementwise (`f64::powf`), with NumPy broadcasting; the exponent may be active.
    /// The derivative in `p` is taken as 0 where `x^p` is 0.
    powf, powf_back, PowOp;
}

/// `a * b`: the matrix product for `DMatrix * DVector`, `DMatrix * DMatrix` and
/// `RowDVector * DMatrix`; elementwise with NumPy broadcasting for every other pair.
///
/// ```
/// use nalgebra::{DMatrix, DVector};
/// use vi_runtime::ad;
/// let x = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
/// let w = DVector::from_vec(vec![1.0, -1.0]);
/// assert_eq!(ad::mul(&x, &w)?, DVector::from_vec(vec![-1.0, -1.0]));
/// assert_eq!(ad::mul(&w, &2.0)?, DVector::from_vec(vec![2.0, -2.0]));
/// assert!(ad::mul(&x, &DVector::zeros(3)).is_err());
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn mul<A: MulRule<B> + ?Sized, B: ?Sized>(a: &A, b: &B) -> Result<A::Output, ShapeError> {
    A::mul(a, b)
}

/// `a * b + c`: the product as [`mul`], then `+` broadcast as [`add`], in one step. When the
/// sum has the product's shape (`x * w + b`, `x * w1 + b1.transpose()`), `c` is added into
/// the product's own storage: no second temporary and no copy.
///
/// ```
/// use nalgebra::{DMatrix, DVector};
/// use vi_runtime::ad;
/// let x = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
/// let w = DVector::from_vec(vec![1.0, -1.0]);
/// assert_eq!(ad::mul_add(&x, &w, &0.5)?, DVector::from_vec(vec![-0.5, -0.5]));
/// assert!(ad::mul_add(&x, &w, &DVector::zeros(3)).is_err());
/// # Ok::<(), ad::ShapeError>(())
/// ```
#[inline]
pub fn mul_add<A, B, C>(
    a: &A,
    b: &B,
    c: &C,
) -> Result<<A::Output as Broadcast<C>>::Output, ShapeError>
where
    A: MulRule<B> + ?Sized,
    B: ?Sized,
    C: Operand + ?Sized,
    A::Output: Broadcast<C>,
{
    let cv = View::of(c);
    let (pr, pc) = A::mul_dims(a, b)?;
    let product = View {
        data: &[],
        rows: pr,
        cols: pc,
        brow: <<A::Output as Operand>::Kind as Kind>::BROW,
        bcol: <<A::Output as Operand>::Kind as Kind>::BCOL,
    };
    let (r, m) = out_dims(AddOp::NAME, &product, &cv)?;
    type Out<A, B, C> = <<A as MulRule<B>>::Output as Broadcast<C>>::Output;
    let scalar_out = <<Out<A, B, C> as Operand>::Kind as Kind>::BROW
        && <<Out<A, B, C> as Operand>::Kind as Kind>::BCOL;
    if (r, m) != (pr, pc) || scalar_out || r * m == 0 {
        // The sum is larger than the product (or a number, or empty): the two rules.
        let t = A::mul(a, b)?;
        let out = <A::Output as Broadcast<C>>::zip::<AddOp>(&t, c)?;
        t.recycle();
        return Ok(out);
    }
    if A::ACCUMULATES {
        // A matrix product accumulates into storage holding `c` already: no zeroing, no
        // second pass.
        let mut v = super::pool::scratch(r * m);
        for (j, o) in v.chunks_exact_mut(r).enumerate().take(m) {
            match cv.col_lane(j, r) {
                LaneOf::Slice(s) => o.copy_from_slice(s),
                LaneOf::Repeat(y) => o.fill(y),
            }
        }
        if A::mul_acc(a, b, &mut v) {
            return Ok(Value::from_storage(r, m, v));
        }
        super::pool::give(v);
    }
    // Any other product: `c` added into the product's own storage.
    let mut v = A::mul(a, b)?.into_storage();
    for (j, o) in v.chunks_exact_mut(r).enumerate().take(m) {
        match cv.col_lane(j, r) {
            LaneOf::Slice(s) => o.iter_mut().zip(s).for_each(|(x, y)| *x += y),
            LaneOf::Repeat(y) => o.iter_mut().for_each(|x| *x += y),
        }
    }
    Ok(Value::from_storage(r, m, v))
}

/// Backward rule of [`mul_add`]: adds into `ga`, `gb`, `gc` (those given). When the sum has
/// the product's shape its adjoint is the product's, handed to [`mul`]'s rule as it is.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn mul_add_back<A, B, C>(
    a: &A,
    b: &B,
    c: &C,
    out: &<A::Output as Broadcast<C>>::Output,
    g: &<A::Output as Broadcast<C>>::Output,
    ga: Option<&mut A>,
    gb: Option<&mut B>,
    gc: Option<&mut C>,
) where
    A: MulRule<B> + ?Sized,
    B: ?Sized,
    C: Operand + ?Sized,
    A::Output: Broadcast<C>,
{
    let Ok((pr, pc)) = A::mul_dims(a, b) else {
        return;
    };
    if out.dims() == (pr, pc) && out.flat().len() == pr * pc && g.flat().len() == pr * pc {
        if let Some(gc) = gc {
            let gcf = gc.flat_mut();
            if gcf.len() == pr * pc && c.dims() == (pr, pc) {
                // `c` of the sum's shape: its adjoint is the sum's.
                kernels::axpy(1.0, g.flat(), gcf);
            } else {
                // `c`'s side of `+`, the sum standing in for the product (`+` reads no values).
                let product = View {
                    data: out.flat(),
                    rows: pr,
                    cols: pc,
                    brow: <<A::Output as Operand>::Kind as Kind>::BROW,
                    bcol: <<A::Output as Operand>::Kind as Kind>::BCOL,
                };
                elementwise_back::<AddOp>(
                    product,
                    View::of(c),
                    out.flat(),
                    g.flat(),
                    None,
                    Some(gcf),
                );
            }
        }
        A::mul_back_flat(a, b, out.flat(), g.flat(), ga, gb);
        return;
    }
    let Ok(t) = A::mul(a, b) else {
        return;
    };
    let mut gt = t.zeros_like();
    <A::Output as Broadcast<C>>::zip_back::<AddOp>(&t, c, out, g, Some(&mut gt), gc);
    A::mul_back(a, b, &t, &gt, ga, gb);
    t.recycle();
    gt.recycle();
}

/// Backward rule of [`mul`]: adds into `ga`, `gb` (those given).
#[inline]
pub fn mul_back<A: MulRule<B> + ?Sized, B: ?Sized>(
    a: &A,
    b: &B,
    out: &A::Output,
    g: &A::Output,
    ga: Option<&mut A>,
    gb: Option<&mut B>,
) {
    A::mul_back(a, b, out, g, ga, gb)
}
