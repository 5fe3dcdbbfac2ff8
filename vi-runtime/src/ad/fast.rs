//! The scalar fast paths of `+ - * /` and of the fused `a * b + c`, and the method-call
//! dispatch (autoref specialisation) that picks them: the generated code calls
//! `Bin(&a, &b).mul_fwd()`, which two `f64`s resolve to [`ScalarRules`] (found first) and any
//! other operands to the general, broadcasting rule ([`GeneralMul`], on `&Bin`). A column
//! and a scalar take [`ColScalarRules`], one plain loop each.
//!
//! The scalar rules are the elementwise operators' own ([`ElemOp`](super::ElemOp): their
//! value and partial derivatives), so each derivative is written once, in `binary.rs`.
//! Reached by generated code through `vi::__private`; not part of the `ad` API.

use super::binary::{AddOp, DivOp, MulOp, SubOp};
use super::{ElemOp, ShapeError};
use crate::ad;
use nalgebra::DVector;

/// The operands of a binary rule, for method-call dispatch: two `f64`s take the scalar fast
/// path ([`ScalarRules`], found first by method resolution), anything else the general,
/// broadcasting rules of [`ad`] ([`GeneralAdd`] and friends, implemented on `&Bin`).
pub struct Bin<'a, A: ?Sized, B: ?Sized>(pub &'a A, pub &'a B);

/// `+ - * /` on two scalars, forward and backward, without the broadcasting machinery.
pub trait ScalarRules {
    /// `a + b`.
    fn add_fwd(&self) -> Result<f64, ShapeError>;
    /// `a - b`.
    fn sub_fwd(&self) -> Result<f64, ShapeError>;
    /// `a * b`.
    fn mul_fwd(&self) -> Result<f64, ShapeError>;
    /// `a / b`.
    fn div_fwd(&self) -> Result<f64, ShapeError>;
    /// Backward of `+`.
    fn add_bwd(&self, out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>);
    /// Backward of `-`.
    fn sub_bwd(&self, out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>);
    /// Backward of `*`.
    fn mul_bwd(&self, out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>);
    /// Backward of `/`.
    fn div_bwd(&self, out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>);
}

impl ScalarRules for Bin<'_, f64, f64> {
    #[inline(always)]
    fn add_fwd(&self) -> Result<f64, ShapeError> {
        Ok(AddOp::f(*self.0, *self.1))
    }
    #[inline(always)]
    fn sub_fwd(&self) -> Result<f64, ShapeError> {
        Ok(SubOp::f(*self.0, *self.1))
    }
    #[inline(always)]
    fn mul_fwd(&self) -> Result<f64, ShapeError> {
        Ok(MulOp::f(*self.0, *self.1))
    }
    #[inline(always)]
    fn div_fwd(&self) -> Result<f64, ShapeError> {
        Ok(DivOp::f(*self.0, *self.1))
    }
    #[inline(always)]
    fn add_bwd(&self, out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>) {
        scalar_back::<AddOp>(*self.0, *self.1, *out, *g, ga, gb);
    }
    #[inline(always)]
    fn sub_bwd(&self, out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>) {
        scalar_back::<SubOp>(*self.0, *self.1, *out, *g, ga, gb);
    }
    #[inline(always)]
    fn mul_bwd(&self, out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>) {
        scalar_back::<MulOp>(*self.0, *self.1, *out, *g, ga, gb);
    }
    #[inline(always)]
    fn div_bwd(&self, out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>) {
        scalar_back::<DivOp>(*self.0, *self.1, *out, *g, ga, gb);
    }
}

/// The backward rule of a scalar operator: `g` times each partial derivative, added into
/// the adjoints that are there (as the elementwise loops of `binary.rs` do per element).
#[inline(always)]
fn scalar_back<O: ElemOp>(
    a: f64,
    b: f64,
    out: f64,
    g: f64,
    ga: Option<&mut f64>,
    gb: Option<&mut f64>,
) {
    if let Some(ga) = ga {
        *ga += g * O::da(a, b, out);
    }
    if let Some(gb) = gb {
        *gb += g * O::db(a, b, out);
    }
}

/// `a += b` elementwise.
#[inline]
fn add_into(a: &mut DVector<f64>, b: &DVector<f64>) {
    for (x, y) in a.as_mut_slice().iter_mut().zip(b.as_slice()) {
        *x += *y;
    }
}

macro_rules! general_rule {
    ($($(#[$doc:meta])* $tr:ident, $bound:ident, $fwd:ident, $bwd:ident, $rule:ident, $back:ident;)*) => {$(
        $(#[$doc])*
        pub trait $tr<A: ?Sized, B: ?Sized> {
            /// The output type.
            type Out;
            /// Forward.
            fn $fwd(&self) -> Result<Self::Out, ShapeError>;
            /// Backward.
            fn $bwd(&self, out: &Self::Out, g: &Self::Out, ga: Option<&mut A>, gb: Option<&mut B>);
        }
        impl<A: ad::$bound<B> + ?Sized, B: ?Sized> $tr<A, B> for &Bin<'_, A, B> {
            type Out = A::Output;
            #[inline(always)]
            fn $fwd(&self) -> Result<A::Output, ShapeError> {
                ad::$rule(self.0, self.1)
            }
            #[inline(always)]
            fn $bwd(&self, out: &A::Output, g: &A::Output, ga: Option<&mut A>, gb: Option<&mut B>) {
                ad::$back(self.0, self.1, out, g, ga, gb)
            }
        }
    )*};
}

general_rule! {
    /// `+` through [`ad::add`].
    GeneralAdd, Broadcast, add_fwd, add_bwd, add, add_back;
    /// `-` through [`ad::sub`].
    GeneralSub, Broadcast, sub_fwd, sub_bwd, sub, sub_back;
    /// `*` through [`ad::mul`].
    GeneralMul, MulRule, mul_fwd, mul_bwd, mul, mul_back;
    /// `/` through [`ad::div`].
    GeneralDiv, Broadcast, div_fwd, div_bwd, div, div_back;
}

/// The operands of `a * b + c`, fused ([`ad::mul_add`]), for method-call dispatch: three
/// `f64`s take the scalar fast path ([`ScalarMulAdd`], found first), anything else the
/// general rule ([`GeneralMulAdd`], on `&Tri`).
pub struct Tri<'a, A: ?Sized, B: ?Sized, C: ?Sized>(pub &'a A, pub &'a B, pub &'a C);

/// `a * b + c` on three scalars, forward and backward.
pub trait ScalarMulAdd {
    /// `a * b + c`.
    fn mul_add_fwd(&self) -> Result<f64, ShapeError>;
    /// Backward.
    fn mul_add_bwd(
        &self,
        out: &f64,
        g: &f64,
        ga: Option<&mut f64>,
        gb: Option<&mut f64>,
        gc: Option<&mut f64>,
    );
}

impl ScalarMulAdd for Tri<'_, f64, f64, f64> {
    #[inline(always)]
    fn mul_add_fwd(&self) -> Result<f64, ShapeError> {
        // Two roundings, as `a * b` then `+ c` (not `mul_add`, which rounds once).
        Ok(self.0 * self.1 + self.2)
    }
    #[inline(always)]
    fn mul_add_bwd(
        &self,
        _out: &f64,
        g: &f64,
        ga: Option<&mut f64>,
        gb: Option<&mut f64>,
        gc: Option<&mut f64>,
    ) {
        if let Some(ga) = ga {
            *ga += g * self.1;
        }
        if let Some(gb) = gb {
            *gb += g * self.0;
        }
        if let Some(gc) = gc {
            *gc += g;
        }
    }
}

/// `a * b + c` through [`ad::mul_add`].
pub trait GeneralMulAdd<A: ?Sized, B: ?Sized, C: ?Sized> {
    /// The output type.
    type Out;
    /// Forward.
    fn mul_add_fwd(&self) -> Result<Self::Out, ShapeError>;
    /// Backward.
    fn mul_add_bwd(
        &self,
        out: &Self::Out,
        g: &Self::Out,
        ga: Option<&mut A>,
        gb: Option<&mut B>,
        gc: Option<&mut C>,
    );
}

impl<A, B, C> GeneralMulAdd<A, B, C> for &Tri<'_, A, B, C>
where
    A: ad::MulRule<B> + ?Sized,
    B: ?Sized,
    C: ad::Operand + ?Sized,
    A::Output: ad::Broadcast<C>,
{
    type Out = <A::Output as ad::Broadcast<C>>::Output;
    #[inline(always)]
    fn mul_add_fwd(&self) -> Result<Self::Out, ShapeError> {
        ad::mul_add(self.0, self.1, self.2)
    }
    #[inline(always)]
    fn mul_add_bwd(
        &self,
        out: &Self::Out,
        g: &Self::Out,
        ga: Option<&mut A>,
        gb: Option<&mut B>,
        gc: Option<&mut C>,
    ) {
        ad::mul_add_back(self.0, self.1, self.2, out, g, ga, gb, gc)
    }
}

/// `+ - *` of a column and a scalar (`x * w + b`, `theta * tau + mu`), forward and backward,
/// in one plain loop each.
pub trait ColScalarRules {
    /// `a + b`.
    fn add_fwd(&self) -> Result<DVector<f64>, ShapeError>;
    /// `a - b`.
    fn sub_fwd(&self) -> Result<DVector<f64>, ShapeError>;
    /// `a * b`.
    fn mul_fwd(&self) -> Result<DVector<f64>, ShapeError>;
    /// Backward of `+`.
    fn add_bwd(
        &self,
        out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut DVector<f64>>,
        gb: Option<&mut f64>,
    );
    /// Backward of `-`.
    fn sub_bwd(
        &self,
        out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut DVector<f64>>,
        gb: Option<&mut f64>,
    );
    /// Backward of `*`.
    fn mul_bwd(
        &self,
        out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut DVector<f64>>,
        gb: Option<&mut f64>,
    );
}

/// `a op b` elementwise for a column `a` and a scalar `b`, into a pooled copy of `a`.
#[inline]
fn col_scalar_fwd(a: &DVector<f64>, op: impl Fn(&mut f64)) -> Result<DVector<f64>, ShapeError> {
    let mut out = DVector::from_vec(super::pool::copied(a.as_slice()));
    out.as_mut_slice().iter_mut().for_each(op);
    Ok(out)
}

/// The backward rule of a column-and-scalar operation: `ga += g * da` (`ga += g` when `da`
/// is `None`, `+` and `-`) and `gb += db(g)`.
#[inline]
fn col_scalar_bwd(
    g: &DVector<f64>,
    ga: Option<&mut DVector<f64>>,
    gb: Option<&mut f64>,
    da: Option<f64>,
    db: impl FnOnce(&[f64]) -> f64,
) {
    if let Some(ga) = ga {
        match da {
            None => add_into(ga, g),
            Some(b) => {
                for (x, y) in ga.as_mut_slice().iter_mut().zip(g.as_slice()) {
                    *x += y * b;
                }
            }
        }
    }
    if let Some(gb) = gb {
        *gb += db(g.as_slice());
    }
}

impl ColScalarRules for Bin<'_, DVector<f64>, f64> {
    #[inline]
    fn add_fwd(&self) -> Result<DVector<f64>, ShapeError> {
        let b = *self.1;
        col_scalar_fwd(self.0, |x| *x += b)
    }
    #[inline]
    fn sub_fwd(&self) -> Result<DVector<f64>, ShapeError> {
        let b = *self.1;
        col_scalar_fwd(self.0, |x| *x -= b)
    }
    #[inline]
    fn mul_fwd(&self) -> Result<DVector<f64>, ShapeError> {
        let b = *self.1;
        col_scalar_fwd(self.0, |x| *x *= b)
    }
    #[inline]
    fn add_bwd(
        &self,
        _out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut DVector<f64>>,
        gb: Option<&mut f64>,
    ) {
        col_scalar_bwd(g, ga, gb, None, super::kernels::sum);
    }
    #[inline]
    fn sub_bwd(
        &self,
        _out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut DVector<f64>>,
        gb: Option<&mut f64>,
    ) {
        // `gb -= s` is `gb += -s` to the bit.
        col_scalar_bwd(g, ga, gb, None, |g| -super::kernels::sum(g));
    }
    #[inline]
    fn mul_bwd(
        &self,
        _out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut DVector<f64>>,
        gb: Option<&mut f64>,
    ) {
        col_scalar_bwd(g, ga, gb, Some(*self.1), |g| {
            super::kernels::dot(g, self.0.as_slice())
        });
    }
}
