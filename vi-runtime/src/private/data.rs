//! Data operands: a data operand of a rule is seen as one of the value types the rules take
//! (`f64`, `[f64]` or `Vec<f64>` as a column, `DVector`, `RowDVector`, `DMatrix` of `f64`)
//! through [`Val`]: borrowed when it already is one, converted (integers, nalgebra views)
//! otherwise. A data operand of a distribution is seen as `f64`s through [`Flats`] (which also
//! takes `bool`s, as observations). Conversions of data that depends only on the model's
//! arguments are made once and kept in the model's [`DataCache`]. [`ToValue`] copies data that
//! becomes the first value of active state.

use crate::{ad, dist};
use nalgebra::{ArrayStorage, Const, Dyn, Matrix, ViewStorage, U1};
use nalgebra::{DMatrix, DVector, RowDVector};
use std::any::Any;
use std::borrow::Cow;
use std::sync::OnceLock;

// The traits are the public `crate::data`'s (so an error about a data type names no hidden
// path); the names here are the ones this module always used.
pub(crate) use crate::data::{F64s, Numeric as Val, Observable as Flats};

macro_rules! val_borrowed {
    ($($t:ty),*) => {$(
        impl Val for $t {
            type V = $t;
            const CONVERTS: bool = false;
            #[inline(always)]
            fn val(&self) -> Cow<'_, $t> {
                Cow::Borrowed(self)
            }
        }
    )*};
}
/// The value types the rules take, each seen as itself (borrowed) by [`Val`] and [`Flats`].
macro_rules! value_types {
    ($m:ident) => {
        $m!(
            f64,
            [f64],
            Vec<f64>,
            DVector<f64>,
            RowDVector<f64>,
            DMatrix<f64>
        );
    };
}
value_types!(val_borrowed);

/// Integers: converted (`as f64`). (Not `f32`: a float literal must stay unambiguously
/// `f64` for the rules to be chosen.)
macro_rules! val_int {
    ($($t:ty),*) => {$(
        impl Val for $t {
            type V = f64;
            const CONVERTS: bool = false;
            #[inline(always)]
            fn val(&self) -> Cow<'_, f64> {
                Cow::Owned(*self as f64)
            }
        }
    )*};
}
val_int!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// `Val` for a column of numbers seen as `[f64]`: each element converted (`as f64`).
macro_rules! val_as_f64_column {
    ([$($g:tt)*] $t:ty) => {
        impl<$($g)*> Val for $t {
            type V = [f64];
            const CONVERTS: bool = true;
            fn val(&self) -> Cow<'_, [f64]> {
                Cow::Owned(self.iter().map(|&v| v as f64).collect())
            }
        }
    };
}

/// Slices and `Vec`s of integers: converted element by element (`as f64`). Owned nalgebra
/// vectors and matrices are taken of `f64` only, so that `DVector::zeros(n)` in a model
/// still means a vector of `f64`s (views of integers are converted below).
macro_rules! val_converted {
    ($($t:ty),*) => {$(
        val_as_f64_column!([] [$t]);
        impl Val for Vec<$t> {
            type V = Vec<f64>;
            const CONVERTS: bool = true;
            fn val(&self) -> Cow<'_, Vec<f64>> {
                Cow::Owned(self.iter().map(|&v| v as f64).collect())
            }
        }
        val_as_f64_column!([const N: usize] Matrix<$t, Const<N>, U1, ArrayStorage<$t, N, 1>>);
    )*};
}
val_converted!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl<const N: usize> Val for Matrix<f64, Const<N>, U1, ArrayStorage<f64, N, 1>> {
    type V = [f64];
    const CONVERTS: bool = false;
    #[inline(always)]
    fn val(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(self.as_slice())
    }
}

/// nalgebra views of any number type (`x.column(j)`, `x.row(i)`, `x.rows(a, n)`,
/// `DVectorView`): a column is seen as `[f64]` (borrowed when it is a contiguous column of
/// `f64`s), a row as a `RowDVector`, a block as a `DMatrix` (copies).
macro_rules! val_views {
    ($($t:ty),*) => {$(
        val_as_f64_column!([CS: nalgebra::Dim] Matrix<$t, Dyn, U1, ViewStorage<'_, $t, Dyn, U1, Dyn, CS>>);
        impl<RS: nalgebra::Dim, CS: nalgebra::Dim> Val
            for Matrix<$t, U1, Dyn, ViewStorage<'_, $t, U1, Dyn, RS, CS>>
        {
            type V = RowDVector<f64>;
            const CONVERTS: bool = true;
            fn val(&self) -> Cow<'_, RowDVector<f64>> {
                Cow::Owned(RowDVector::from_iterator(self.len(), self.iter().map(|&v| v as f64)))
            }
        }
        impl<RS: nalgebra::Dim, CS: nalgebra::Dim> Val
            for Matrix<$t, Dyn, Dyn, ViewStorage<'_, $t, Dyn, Dyn, RS, CS>>
        {
            type V = DMatrix<f64>;
            const CONVERTS: bool = true;
            fn val(&self) -> Cow<'_, DMatrix<f64>> {
                let (r, c) = self.shape();
                Cow::Owned(DMatrix::from_iterator(r, c, self.iter().map(|&v| v as f64)))
            }
        }
    )*};
}
val_views!(f64, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! val_contiguous_columns {
    ($($t:ty),*) => {$(
        val_as_f64_column!([CS: nalgebra::Dim] Matrix<$t, Dyn, U1, ViewStorage<'_, $t, Dyn, U1, U1, CS>>);
    )*};
}
val_contiguous_columns!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl<CS: nalgebra::Dim> Val for Matrix<f64, Dyn, U1, ViewStorage<'_, f64, Dyn, U1, U1, CS>> {
    type V = [f64];
    const CONVERTS: bool = false;
    #[inline(always)]
    fn val(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(self.as_slice())
    }
}

impl<T: Val + ?Sized> Val for &T {
    type V = T::V;
    const CONVERTS: bool = T::CONVERTS;
    #[inline(always)]
    fn val(&self) -> Cow<'_, T::V> {
        (**self).val()
    }
}

impl<T: Val + ?Sized> Val for &mut T {
    type V = T::V;
    const CONVERTS: bool = T::CONVERTS;
    #[inline(always)]
    fn val(&self) -> Cow<'_, T::V> {
        (**self).val()
    }
}

/// Free-function form of [`Val::val`].
#[inline(always)]
pub fn val<T: Val + ?Sized>(x: &T) -> Cow<'_, T::V> {
    x.val()
}

macro_rules! flats_borrowed {
    ($($t:ty),*) => {$(
        impl Flats for $t {
            const CONVERTS: bool = false;
            #[inline(always)]
            fn flats(&self) -> F64s<'_> {
                F64s::Slice(ad::flat(self))
            }
        }
    )*};
}
value_types!(flats_borrowed);

/// `bool` as 0 or 1.
trait ToF64: Copy {
    fn to_f64(self) -> f64;
}

macro_rules! to_f64_num {
    ($($t:ty),*) => {$(
        impl ToF64 for $t {
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
to_f64_num!(f64, f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl ToF64 for bool {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
}

fn converted<'a, T: ToF64 + 'a>(it: impl Iterator<Item = &'a T>) -> F64s<'static> {
    F64s::Vec(it.map(|&v| v.to_f64()).collect())
}

macro_rules! flats_converted {
    ($($t:ty),*) => {$(
        impl Flats for $t {
            const CONVERTS: bool = false;
            #[inline(always)]
            fn flats(&self) -> F64s<'_> {
                F64s::One(self.to_f64())
            }
        }
        flats_converted!(@containers [$t], Vec<$t>, DVector<$t>, RowDVector<$t>, DMatrix<$t>);
        impl<const N: usize> Flats for Matrix<$t, Const<N>, U1, ArrayStorage<$t, N, 1>> {
            const CONVERTS: bool = true;
            fn flats(&self) -> F64s<'_> {
                converted(self.iter())
            }
        }
    )*};
    (@containers $($c:ty),*) => {$(
        impl Flats for $c {
            const CONVERTS: bool = true;
            fn flats(&self) -> F64s<'_> {
                converted(self.iter())
            }
        }
    )*};
}
flats_converted!(f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, bool);

impl<const N: usize> Flats for Matrix<f64, Const<N>, U1, ArrayStorage<f64, N, 1>> {
    const CONVERTS: bool = false;
    #[inline(always)]
    fn flats(&self) -> F64s<'_> {
        F64s::Slice(self.as_slice())
    }
}

macro_rules! flats_views {
    ($($t:ty),*) => {$(
        impl<CS: nalgebra::Dim> Flats for Matrix<$t, Dyn, U1, ViewStorage<'_, $t, Dyn, U1, Dyn, CS>> {
            const CONVERTS: bool = true;
            fn flats(&self) -> F64s<'_> {
                converted(self.iter())
            }
        }
        impl<RS: nalgebra::Dim, CS: nalgebra::Dim> Flats
            for Matrix<$t, U1, Dyn, ViewStorage<'_, $t, U1, Dyn, RS, CS>>
        {
            const CONVERTS: bool = true;
            fn flats(&self) -> F64s<'_> {
                converted(self.iter())
            }
        }
        impl<RS: nalgebra::Dim, CS: nalgebra::Dim> Flats
            for Matrix<$t, Dyn, Dyn, ViewStorage<'_, $t, Dyn, Dyn, RS, CS>>
        {
            const CONVERTS: bool = true;
            fn flats(&self) -> F64s<'_> {
                converted(self.iter())
            }
        }
    )*};
}
flats_views!(f64, f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, bool);

macro_rules! flats_contiguous_columns {
    ($($t:ty),*) => {$(
        impl<CS: nalgebra::Dim> Flats for Matrix<$t, Dyn, U1, ViewStorage<'_, $t, Dyn, U1, U1, CS>> {
            const CONVERTS: bool = true;
            fn flats(&self) -> F64s<'_> {
                converted(self.iter())
            }
        }
    )*};
}
flats_contiguous_columns!(f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, bool);

impl<CS: nalgebra::Dim> Flats for Matrix<f64, Dyn, U1, ViewStorage<'_, f64, Dyn, U1, U1, CS>> {
    const CONVERTS: bool = false;
    #[inline(always)]
    fn flats(&self) -> F64s<'_> {
        F64s::Slice(self.as_slice())
    }
}

impl<T: Flats + ?Sized> Flats for &T {
    const CONVERTS: bool = T::CONVERTS;
    #[inline(always)]
    fn flats(&self) -> F64s<'_> {
        (**self).flats()
    }
}

impl<T: Flats + ?Sized> Flats for &mut T {
    const CONVERTS: bool = T::CONVERTS;
    #[inline(always)]
    fn flats(&self) -> F64s<'_> {
        (**self).flats()
    }
}

type Slot = OnceLock<Box<dyn Any + Send + Sync>>;

/// Converted copies of the data operands that depend only on the model's arguments, made
/// on first use (the constructor's run) and kept with the model: an `&[i64]` meeting a
/// latent, or observed by a Poisson, is converted to `f64`s once, not on every gradient.
///
/// Slot `k` holds two conversions: the operand's value for the rules ([`cached_val`]) and
/// its `f64`s for a distribution ([`cached_flats`]), and the statistics a distribution
/// keeps of it ([`stats_cell`]).
pub struct DataCache(Box<[Slot]>);

impl DataCache {
    /// `n` empty slots, one per cached operand.
    pub fn new(n: usize) -> Self {
        DataCache((0..3 * n).map(|_| OnceLock::new()).collect())
    }

    /// Cell `use_` (0 for values, 1 for flats) of slot `k`.
    fn get<V: Any + Send + Sync>(
        &self,
        k: usize,
        use_: usize,
        make: impl FnOnce() -> V,
    ) -> Option<&V> {
        self.0
            .get(k.checked_mul(3)?.checked_add(use_)?)?
            .get_or_init(|| Box::new(make()))
            .downcast_ref::<V>()
    }
}

impl DataCache {
    /// A value computed by the rules from data that depends only on the model's arguments
    /// (`exposure.ln()` inside a statement): `make` runs once per model, when slot `k` is
    /// first read (in the constructor's run), and every later call gets a copy of the kept
    /// value (its storage from the pool). A slot beyond the cache, or a failing `make`,
    /// keeps nothing.
    ///
    /// # Errors
    /// `make`'s error.
    #[inline]
    pub fn value<T, E>(&self, k: usize, make: impl FnOnce() -> Result<T, E>) -> Result<T, E>
    where
        T: ToValue<Out = T> + Any + Send + Sync,
    {
        let cell = k.checked_mul(3).and_then(|i| self.0.get(i));
        if let Some(v) = cell
            .and_then(|c| c.get())
            .and_then(|b| b.downcast_ref::<T>())
        {
            return Ok(v.to_value());
        }
        let v = make()?;
        if let Some(c) = cell {
            let _ = c.set(Box::new(v.to_value()));
        }
        Ok(v)
    }
}

impl DataCache {
    /// The value [`DataCache::keep`] left in slot `k` (its value cell), if it is a `V`.
    pub(crate) fn kept<V: Any>(&self, k: usize) -> Option<&V> {
        self.0
            .get(k.checked_mul(3)?)?
            .get()
            .and_then(|b| b.downcast_ref::<V>())
    }

    /// Keeps `v` in slot `k` (its value cell) unless something is there already, or the
    /// slot is past the cache's end.
    pub(crate) fn keep<V: Any + Send + Sync>(&self, k: usize, v: V) {
        if let Some(c) = k.checked_mul(3).and_then(|i| self.0.get(i)) {
            let _ = c.set(Box::new(v));
        }
    }
}

/// [`val`], the conversion kept in slot `k` of `cache` when there is one to keep.
#[inline(always)]
pub fn cached_val<'a, T: Val + ?Sized>(cache: &'a DataCache, k: usize, x: &'a T) -> Cow<'a, T::V> {
    if T::CONVERTS {
        // A slot's type never changes (one operand per slot): the fallback is never taken.
        if let Some(v) = cache.get(k, 0, || x.val().into_owned()) {
            return Cow::Borrowed(std::borrow::Borrow::borrow(v));
        }
    }
    x.val()
}

/// [`observed`](crate::data::observed), the conversion kept in slot `k` of `cache` when there is one to keep.
#[inline(always)]
pub fn cached_flats<'a, T: Flats + ?Sized>(cache: &'a DataCache, k: usize, x: &'a T) -> F64s<'a> {
    if T::CONVERTS {
        if let Some(v) = cache.get(k, 1, || x.flats().to_vec()) {
            return F64s::Slice(v);
        }
    }
    x.flats()
}

/// The cell of slot `k` of `cache` where a distribution keeps statistics of the operand
/// (see [`dist::stats`]); `None` past the cache's end.
#[inline(always)]
pub fn stats_cell(cache: &DataCache, k: usize) -> Option<&dist::stats::StatsCell> {
    cache.0.get(k.checked_mul(3)?.checked_add(2)?)
}

/// A data operand on its way to a rule, for method-call dispatch between [`ValKnown`] (its
/// type is a [`Val`]) and [`ValPoison`] (it is not, and [`check_numeric`](crate::data::check_numeric) has already reported
/// it: a stand-in of a type the rule takes keeps the compiler from adding errors about the
/// rule's operands).
pub struct Data<'a, T: ?Sized>(pub &'a T);

/// A [`Data`] whose type is a [`Val`]: its value, converted once for the model when a cache
/// slot is given.
pub trait ValKnown<'a> {
    /// The value type.
    type V: ?Sized + ToOwned;
    /// The value (`P` is the stand-in type of [`ValPoison`], unused here).
    fn val_or<P: Clone + Default>(&self, cache: Option<(&'a DataCache, usize)>)
        -> Cow<'a, Self::V>;
}

impl<'a, T: Val + ?Sized> ValKnown<'a> for &Data<'a, T> {
    type V = T::V;
    #[inline(always)]
    fn val_or<P: Clone + Default>(&self, cache: Option<(&'a DataCache, usize)>) -> Cow<'a, T::V> {
        match cache {
            Some((c, k)) => cached_val(c, k, self.0),
            None => self.0.val(),
        }
    }
}

/// A [`Data`] whose type is not a [`Val`]: only ever in a model that does not compile.
pub trait ValPoison<'a> {
    /// A default `P`.
    fn val_or<P: Clone + Default>(&self, cache: Option<(&'a DataCache, usize)>) -> Cow<'a, P>;
}

impl<'a, T: ?Sized> ValPoison<'a> for Data<'a, T> {
    fn val_or<P: Clone + Default>(&self, _: Option<(&'a DataCache, usize)>) -> Cow<'a, P> {
        Cow::Owned(P::default())
    }
}

/// Data that becomes the first value of active state (`let mut s = ks;`, later assigned a
/// value depending on a latent): a value type of the rules (a slice or `Vec` is a column).
pub trait ToValue {
    /// The value type.
    type Out;
    /// An owned value.
    fn to_value(&self) -> Self::Out;
}

macro_rules! to_value_clone {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            type Out = $t;
            #[inline]
            fn to_value(&self) -> $t {
                self.clone()
            }
        }
    )*};
}
to_value_clone!(f64);

impl ToValue for DVector<f64> {
    type Out = DVector<f64>;
    #[inline]
    fn to_value(&self) -> DVector<f64> {
        DVector::from_vec(crate::ad::pool::copied(self.as_slice()))
    }
}

impl ToValue for RowDVector<f64> {
    type Out = RowDVector<f64>;
    #[inline]
    fn to_value(&self) -> RowDVector<f64> {
        RowDVector::from_vec(crate::ad::pool::copied(self.as_slice()))
    }
}

impl ToValue for DMatrix<f64> {
    type Out = DMatrix<f64>;
    #[inline]
    fn to_value(&self) -> DMatrix<f64> {
        let (r, c) = self.shape();
        DMatrix::from_vec(r, c, crate::ad::pool::copied(self.as_slice()))
    }
}

impl ToValue for [f64] {
    type Out = DVector<f64>;
    fn to_value(&self) -> DVector<f64> {
        DVector::from_vec(crate::ad::pool::copied(self))
    }
}

impl ToValue for Vec<f64> {
    type Out = DVector<f64>;
    fn to_value(&self) -> DVector<f64> {
        DVector::from_vec(crate::ad::pool::copied(self))
    }
}

/// A copy of a value (`let m = w;`), its storage from the pool.
#[inline]
pub fn copy_of<T: ToValue<Out = T>>(x: &T) -> T {
    x.to_value()
}

/// Free-function form of [`ToValue::to_value`].
#[inline]
pub fn to_value<T: ToValue + ?Sized>(x: &T) -> T::Out {
    x.to_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_made_once_and_f64_data_is_borrowed() {
        let ks: &[i64] = &[3, -1, 4];
        let cache = DataCache::new(2);
        let first = cached_val(&cache, 0, ks);
        let again = cached_val(&cache, 0, ks);
        assert_eq!(&*first, &[3.0, -1.0, 4.0][..]);
        // The second call reads the kept copy: the same memory.
        assert!(std::ptr::eq(&*first, &*again));
        let flags = [true, false];
        let f = cached_flats(&cache, 1, &flags[..]);
        assert_eq!(&*f, &[1.0, 0.0]);
        assert!(std::ptr::eq(&*f, &*cached_flats(&cache, 1, &flags[..])));
        // `f64` data needs no slot: borrowed as it is.
        let y = vec![0.5, 1.5];
        assert!(matches!(val(&y), Cow::Borrowed(v) if std::ptr::eq(v, &y)));
        assert!(matches!(crate::data::observed(&y[..]), F64s::Slice(s) if std::ptr::eq(s, &y[..])));
        // A contiguous column view of `f64`s is borrowed; a row view is copied.
        let m = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        assert!(matches!(val(&m.column(1)), Cow::Borrowed(c) if c == [2.0, 4.0]));
        assert_eq!(val(&m.row(1)).as_slice(), &[3.0, 4.0]);
        // A slot's value and its flats are kept apart.
        assert_eq!(&*cached_val(&cache, 1, ks), &[3.0, -1.0, 4.0][..]);
        assert_eq!(&*cached_flats(&cache, 1, &flags[..]), &[1.0, 0.0]);
        // A slot out of range, or holding another type, falls back to converting.
        assert_eq!(&*cached_val(&cache, 9, ks), &[3.0, -1.0, 4.0][..]);
        let row = m.row(0);
        assert_eq!(cached_val(&cache, 0, &row).as_slice(), &[1.0, 2.0]);
    }
}
