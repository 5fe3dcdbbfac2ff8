//! Method-call dispatch (autoref specialisation): the generated code calls one method on a
//! wrapper of the operands, and the operands' types pick the implementation: [`Bin`] and
//! [`Tri`] choose between the scalar fast paths and the general broadcasting rules of
//! [`ad`], `Ops2` to `Ops6` between a distribution's scalar and vectorised kernels, and
//! [`Recycler`] gives pooled storage back or drops anything else.

use super::{Acc, F64s};
use crate::ad::ShapeError;
use crate::{ad, dist};
use nalgebra::DVector;
use std::borrow::Cow;

/// A value whose storage goes back to this thread's pool (`crate::ad::pool`) once its
/// statement is done: `Recycler(__t3_1).recycle();` (autoref specialisation: values of
/// other types are dropped).
pub struct Recycler<T>(pub T);

/// [`Recycler`] of a value with pooled storage.
pub trait RecycleKnown {
    /// Gives the storage back.
    fn recycle(self);
}

impl<T: crate::ad::pool::Recycle> RecycleKnown for Recycler<T> {
    #[inline]
    fn recycle(self) {
        self.0.recycle()
    }
}

/// [`Recycler`] of any other value: dropped.
pub trait RecycleOther {
    /// Drops the value.
    fn recycle(self);
}

impl<T> RecycleOther for &Recycler<T> {
    #[inline]
    fn recycle(self) {}
}

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
        Ok(self.0 + self.1)
    }
    #[inline(always)]
    fn sub_fwd(&self) -> Result<f64, ShapeError> {
        Ok(self.0 - self.1)
    }
    #[inline(always)]
    fn mul_fwd(&self) -> Result<f64, ShapeError> {
        Ok(self.0 * self.1)
    }
    #[inline(always)]
    fn div_fwd(&self) -> Result<f64, ShapeError> {
        Ok(self.0 / self.1)
    }
    #[inline(always)]
    fn add_bwd(&self, _out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>) {
        if let Some(ga) = ga {
            *ga += g;
        }
        if let Some(gb) = gb {
            *gb += g;
        }
    }
    #[inline(always)]
    fn sub_bwd(&self, _out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>) {
        if let Some(ga) = ga {
            *ga += g;
        }
        if let Some(gb) = gb {
            *gb -= g;
        }
    }
    #[inline(always)]
    fn mul_bwd(&self, _out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>) {
        if let Some(ga) = ga {
            *ga += g * self.1;
        }
        if let Some(gb) = gb {
            *gb += g * self.0;
        }
    }
    #[inline(always)]
    fn div_bwd(&self, out: &f64, g: &f64, ga: Option<&mut f64>, gb: Option<&mut f64>) {
        if let Some(ga) = ga {
            *ga += g / self.1;
        }
        if let Some(gb) = gb {
            *gb -= g * out / self.1;
        }
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

impl ColScalarRules for Bin<'_, DVector<f64>, f64> {
    #[inline]
    fn add_fwd(&self) -> Result<DVector<f64>, ShapeError> {
        let mut out = DVector::from_vec(crate::ad::pool::copied(self.0.as_slice()));
        let b = *self.1;
        out.as_mut_slice().iter_mut().for_each(|x| *x += b);
        Ok(out)
    }
    #[inline]
    fn sub_fwd(&self) -> Result<DVector<f64>, ShapeError> {
        let mut out = DVector::from_vec(crate::ad::pool::copied(self.0.as_slice()));
        let b = *self.1;
        out.as_mut_slice().iter_mut().for_each(|x| *x -= b);
        Ok(out)
    }
    #[inline]
    fn mul_fwd(&self) -> Result<DVector<f64>, ShapeError> {
        let mut out = DVector::from_vec(crate::ad::pool::copied(self.0.as_slice()));
        let b = *self.1;
        out.as_mut_slice().iter_mut().for_each(|x| *x *= b);
        Ok(out)
    }
    #[inline]
    fn add_bwd(
        &self,
        _out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut DVector<f64>>,
        gb: Option<&mut f64>,
    ) {
        if let Some(ga) = ga {
            ga.acc(g);
        }
        if let Some(gb) = gb {
            *gb += crate::ad::kernels::sum(g.as_slice());
        }
    }
    #[inline]
    fn sub_bwd(
        &self,
        _out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut DVector<f64>>,
        gb: Option<&mut f64>,
    ) {
        if let Some(ga) = ga {
            ga.acc(g);
        }
        if let Some(gb) = gb {
            *gb -= crate::ad::kernels::sum(g.as_slice());
        }
    }
    #[inline]
    fn mul_bwd(
        &self,
        _out: &DVector<f64>,
        g: &DVector<f64>,
        ga: Option<&mut DVector<f64>>,
        gb: Option<&mut f64>,
    ) {
        let b = *self.1;
        let g = g.as_slice();
        if let Some(ga) = ga {
            for (x, y) in ga.as_mut_slice().iter_mut().zip(g) {
                *x += y * b;
            }
        }
        if let Some(gb) = gb {
            *gb += crate::ad::kernels::dot(g, self.0.as_slice());
        }
    }
}

/// A number operand of a distribution statement (a value or a data element), as the `f64`
/// the scalar kernels take.
pub trait Number {
    /// The value as `f64` (`bool` as 0 or 1).
    fn number(&self) -> f64;
}

macro_rules! number_as {
    ($($t:ty),*) => {$(
        impl Number for $t {
            #[inline(always)]
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn number(&self) -> f64 {
                *self as f64
            }
        }
    )*};
}
number_as!(f64, f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl Number for bool {
    #[inline(always)]
    fn number(&self) -> f64 {
        f64::from(u8::from(*self))
    }
}

impl<T: Number + ?Sized> Number for &T {
    #[inline(always)]
    fn number(&self) -> f64 {
        (**self).number()
    }
}

/// A data operand of a distribution statement, unchanged: its type must hold numbers (the
/// type error lands on the user's expression).
#[inline(always)]
pub fn obs<T: ad::ToF64s + ?Sized>(x: &T) -> &T {
    x
}

macro_rules! kernel_ops {
    ($($ops:ident, $sc:ident, $sl:ident, $n:literal, [$($t:ident $i:tt $g:ident),*];)*) => {$(
        /// The operands of a distribution statement (the value first), for method-call
        /// dispatch: all numbers take the scalar kernel (the first trait, found first by method
        /// resolution), anything else the vectorised one.
        pub struct $ops<'a, $($t: ?Sized),*>($(pub &'a $t),*);

        /// The scalar kernel path: [`dist::scalar::scalar`].
        pub trait $sc {
            /// ln p, adding the partials into the `Some` adjoints.
            #[allow(clippy::too_many_arguments)]
            fn lpdf<K: dist::scalar::Kernel<$n>>(&self, k: &mut K, $($g: Option<&mut f64>),*) -> f64;
        }

        impl<$($t: Number + ?Sized),*> $sc for $ops<'_, $($t),*> {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn lpdf<K: dist::scalar::Kernel<$n>>(&self, k: &mut K, $($g: Option<&mut f64>),*) -> f64 {
                dist::scalar::scalar(k, [$(self.$i.number()),*], [$($g),*])
            }
        }

        /// The vectorised kernel path: [`dist::scalar::Kernel::lpdf`] on flat slices.
        pub trait $sl {
            /// ln p summed over the broadcast elements, adding the partials into the `Some`
            /// adjoints.
            #[allow(clippy::too_many_arguments)]
            fn lpdf<K: dist::scalar::Kernel<$n>>(&self, k: &mut K, $($g: Option<&mut impl ad::Flat>),*) -> f64;
        }

        impl<$($t: ad::ToF64s + ?Sized),*> $sl for &$ops<'_, $($t),*> {
            #[inline]
            #[allow(clippy::too_many_arguments)]
            fn lpdf<K: dist::scalar::Kernel<$n>>(&self, _k: &mut K, $($g: Option<&mut impl ad::Flat>),*) -> f64 {
                let x = [$(self.$i.to_f64s()),*];
                let x = x.each_ref().map(|v| &**v);
                let g = [$($g.map(|g| g.flat_mut())),*];
                // Data that never changes: the kernel may keep statistics of it.
                match self.0.stats_cell() {
                    Some(cell) => K::lpdf_stats(cell, x, g),
                    None => K::lpdf(x, g),
                }
            }
        }
    )*};
}

kernel_ops! {
    Ops2, ScalarKernel2, SliceKernel2, 2, [A 0 ga, B 1 gb];
    Ops3, ScalarKernel3, SliceKernel3, 3, [A 0 ga, B 1 gb, C 2 gc];
    Ops4, ScalarKernel4, SliceKernel4, 4, [A 0 ga, B 1 gb, C 2 gc, D 3 gd];
    Ops5, ScalarKernel5, SliceKernel5, 5, [A 0 ga, B 1 gb, C 2 gc, D 3 gd, E 4 ge];
    Ops6, ScalarKernel6, SliceKernel6, 6, [A 0 ga, B 1 gb, C 2 gc, D 3 gd, E 4 ge, F 5 gf];
}

/// A data operand of a distribution statement: the data as written (a number takes the
/// scalar kernel through [`Number`]) and its `f64`s (for the vectorised kernel, the
/// constructor's checks and sampling), kept with the model when converted.
pub struct DataOp<'a, T: ?Sized> {
    /// The data.
    pub raw: &'a T,
    /// Its `f64`s.
    pub flat: F64s<'a>,
    /// Where statistics of it are kept, when it never changes.
    pub stats: Option<&'a dist::stats::StatsCell>,
}

impl<T: ?Sized> DataOp<'_, T> {
    /// The `f64`s.
    #[inline(always)]
    pub fn f64s(&self) -> &[f64] {
        &self.flat
    }
}

impl<T: Number + ?Sized> Number for DataOp<'_, T> {
    #[inline(always)]
    fn number(&self) -> f64 {
        self.raw.number()
    }
}

impl<T: ?Sized> ad::ToF64s for DataOp<'_, T> {
    #[inline(always)]
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(&self.flat)
    }
    #[inline(always)]
    fn stats_cell(&self) -> Option<&dist::stats::StatsCell> {
        self.stats
    }
}
