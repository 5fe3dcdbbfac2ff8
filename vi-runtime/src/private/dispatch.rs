//! Method-call dispatch (autoref specialisation): the generated code calls one method on a
//! wrapper of the operands, and the operands' types pick the implementation: [`Bin`] and
//! [`Tri`] choose between the scalar fast paths and the general broadcasting rules of
//! [`ad`], `Ops2` to `Ops6` between a distribution's scalar and vectorised kernels, and
//! [`Recycler`] gives pooled storage back or drops anything else.

use crate::data::F64s;
use crate::{ad, dist};
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
