//! Which Rust types a model's data may have (re-exported as `vi::data`).
//!
//! A `model!`'s data arguments are ordinary Rust values. What a value may do in the model
//! depends on its type, and each role is a trait here, so that a compiler error about a data
//! type names what the type was asked to be:
//!
//! - [`Finite`]: a data argument's type, which the constructor checks for NaN, infinities
//!   and integers too large for an `f64`. Numbers, `bool`, strings, slices, `Vec`s, arrays,
//!   maps and nalgebra values (nested too).
//! - [`Numeric`]: data in the model's arithmetic, with a latent variable (`w * x`,
//!   `dot(v, x)`) or with other data (`exposure.ln() + offset`): `f64`, integers, slices and
//!   `Vec`s of them, nalgebra vectors, matrices and views of `f64`.
//! - [`Observable`]: data on the left of `~` or given to a distribution: as [`Numeric`],
//!   and `bool`s too (a Bernoulli's outcomes).
//!
//! In `model! { fn counts(x: &[i64], y: &[bool], labels: &[String]) { .. } }`, `x` is
//! [`Finite`] (checked) and [`Numeric`] (`y ~ BernoulliLogit(w * x)` meets the latent `w`),
//! `y` is [`Observable`], and `labels` is only [`Finite`]: Rust code may read it, the
//! model's arithmetic may not.
//!
//! ```
//! use vi_runtime::data::{Finite, Numeric, Observable};
//! fn roles<X: Finite + Numeric + ?Sized, Y: Observable + ?Sized, L: Finite + ?Sized>(
//!     _: &X, _: &Y, _: &L,
//! ) {
//! }
//! roles(&[1_i64, 2, 3][..], &[false, true][..], &vec![String::from("a")]);
//! ```
//!
//! A type that has not the trait a role needs is a compile error at the data's token that
//! says so (`` `[String]` cannot take part in a model's arithmetic ``), not an
//! error inside the generated code. The functions of this module are what the generated
//! code calls to ask for a role; a model's author does not call them.
//!
//! The traits' methods are how the runtime reads the data; implementing a trait for a type
//! of your own is possible but rarely useful (convert the data to numbers before the model
//! instead).

use std::any::Any;
use std::borrow::Cow;

use crate::private::{DataCache, FiniteCheck};
use crate::ModelError;

/// Data that can take part in a model's arithmetic, with a latent variable or with other
/// data: `f64`, integers, slices and `Vec`s of them, and nalgebra vectors, matrices and views
/// of `f64` (through references).
///
/// ```
/// fn meets_latent<T: vi_runtime::data::Numeric + ?Sized>(_: &T) {}
/// meets_latent(&[1.0, 2.0][..]);
/// meets_latent(&vec![3_i64, 4]);
/// meets_latent(&nalgebra::DMatrix::<f64>::zeros(2, 2));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot take part in a model's arithmetic",
    label = "data in a model's arithmetic must hold numbers",
    note = "data in a model's arithmetic (with a latent variable or with other data) must be `f64`, an integer, a slice or `Vec` of them, or a nalgebra vector, matrix or view of them; convert other data (`bool`s, strings, maps) to numbers first, in a `let` or before the model"
)]
pub trait Numeric {
    /// The value type the differentiation rules see (`f64`, `[f64]`, `DVector<f64>`,
    /// `RowDVector<f64>` or `DMatrix<f64>`).
    type V: ?Sized + ToOwned<Owned: Any + Send + Sync + 'static> + 'static;
    /// Whether [`Numeric::val`] allocates a converted copy (worth keeping with the model).
    const CONVERTS: bool;
    /// The value: borrowed when the data already is a value type, converted otherwise.
    fn val(&self) -> Cow<'_, Self::V>;
}

/// Data as the flat `f64`s a distribution's kernel takes.
pub enum F64s<'a> {
    /// Already `f64`s.
    Slice(&'a [f64]),
    /// One converted number (no allocation).
    One(f64),
    /// Converted numbers.
    Vec(Vec<f64>),
}

impl std::ops::Deref for F64s<'_> {
    type Target = [f64];
    #[inline(always)]
    fn deref(&self) -> &[f64] {
        match self {
            F64s::Slice(s) => s,
            F64s::One(x) => std::slice::from_ref(x),
            F64s::Vec(v) => v,
        }
    }
}

/// Data a distribution can take, observed on the left of `~` or given as a data argument
/// (a Binomial's trials): numbers or `bool`s, slices and `Vec`s of them, nalgebra vectors,
/// matrices and views, seen as `f64`s (matrices in their column-major order).
///
/// ```
/// fn observable<T: vi_runtime::data::Observable + ?Sized>(_: &T) {}
/// observable(&[true, false][..]);
/// observable(&vec![3_i32, 4]);
/// observable(&2.5);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be given to a distribution",
    label = "a distribution's data must hold numbers",
    note = "observed data and a distribution's data arguments must be `f64`, an integer or `bool`, a slice or `Vec` of them, or a nalgebra vector, matrix or view of them"
)]
pub trait Observable {
    /// Whether [`Observable::flats`] allocates a converted copy (worth keeping with the
    /// model).
    const CONVERTS: bool;
    /// The values as `f64`s.
    fn flats(&self) -> F64s<'_>;
}

/// What the constructor found wrong with a value of a data argument.
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    /// NaN or an infinity.
    NonFinite(f64),
    /// An integer too large to be represented exactly as an `f64` (above 2^53 in size).
    Inexact(String),
}

/// A data argument's type, which the constructor checks: floats for NaN and infinity,
/// integers for a size an `f64` represents exactly, containers (slices, `Vec`s, arrays,
/// `Box`, `Option`, maps, nalgebra values) element by element; strings and `char`s pass.
///
/// ```
/// use vi_runtime::data::{BadValue, Finite};
/// assert_eq!(vec![1.0, 2.0].first_non_finite(), None);
/// let (at, bad) = vec![vec![1.0], vec![0.0, f64::NAN]].first_non_finite().unwrap();
/// assert_eq!(at, "[1][1]");
/// assert!(matches!(bad, BadValue::NonFinite(x) if x.is_nan()));
/// ```
#[diagnostic::on_unimplemented(
    message = "`model!` cannot check data of type `{Self}` for NaN, infinity or overflow",
    label = "this data argument's type is not one `model!` knows how to check",
    note = "data arguments are numbers (`f64`, `f32`, integers, `bool`), slices, `Vec`s and \
            arrays of them (nested too), and nalgebra vectors, matrices and views"
)]
pub trait Finite {
    /// The first bad value, with its index from this value down as it is written in Rust
    /// (`[3][1]`, `[(2, 0)]`; empty for a scalar).
    fn first_non_finite(&self) -> Option<(String, BadValue)>;
}

/// The constructor's check of the data argument `name`: every `f64`/`f32` in it finite,
/// every integer exactly representable as an `f64`. Generated code calls it for each data
/// argument, so a type that is not [`Finite`] is reported at the argument.
///
/// ```
/// let err = vi_runtime::data::check_argument(&[1.0, f64::INFINITY][..], "y").unwrap_err();
/// assert!(err.to_string().contains("y[1]"), "{err}");
/// ```
///
/// # Errors
/// A [`ModelError`] naming the argument, the index of the first bad value and the value.
// `ModelError` (the runtime's) is large; this path is cold (once per argument at
// construction).
#[allow(clippy::result_large_err)]
#[inline]
pub fn check_argument<T: Finite + ?Sized>(x: &T, name: &str) -> Result<(), ModelError> {
    FiniteCheck(x).check_finite(name)
}

/// Asks that data in a model's arithmetic be [`Numeric`]. Generated code calls it with the
/// user's expression, so a type that cannot take part is reported under it; it does nothing
/// at run time.
#[inline(always)]
pub fn check_numeric<T: Numeric + ?Sized>(x: &T) {
    let _ = x;
}

/// The `f64`s of observed data or a distribution's data argument (see [`Observable`]).
///
/// ```
/// assert_eq!(&*vi_runtime::data::observed(&[true, false][..]), &[1.0, 0.0]);
/// ```
#[inline(always)]
pub fn observed<T: Observable + ?Sized>(x: &T) -> F64s<'_> {
    x.flats()
}

/// [`observed`] for data that depends only on the model's arguments: a converted copy is
/// made once and kept in slot `k` of the model's cache of such conversions.
#[inline(always)]
pub fn observed_cached<'a, T: Observable + ?Sized>(
    cache: &'a DataCache,
    k: usize,
    x: &'a T,
) -> F64s<'a> {
    crate::private::cached_flats(cache, k, x)
}
