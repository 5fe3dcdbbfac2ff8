//! The constructor's checks: every value of a data argument finite and exactly representable
//! ([`FiniteCheck`], [`check_argument`](crate::data::check_argument)), and each distribution statement's broadcast lengths and
//! argument validation ([`check_statement`]).

use super::Fail;
use crate::dist::ArgError;
use crate::ModelError;
use nalgebra::Matrix;
use std::borrow::Cow;

pub(crate) use crate::data::{BadValue, Finite};

/// Wraps a data argument for the constructor's check: every `f64`/`f32` in it finite, every
/// integer exactly representable as an `f64` (what the model computes with). A type the check
/// does not know is a compile error naming it (see [`Finite`]), never a silent pass.
pub struct FiniteCheck<'a, T: ?Sized>(pub &'a T);

impl Finite for f64 {
    #[inline]
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        (!self.is_finite()).then(|| (String::new(), BadValue::NonFinite(*self)))
    }
}
impl Finite for f32 {
    #[inline]
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        (!self.is_finite()).then(|| (String::new(), BadValue::NonFinite(f64::from(*self))))
    }
}
impl Finite for bool {
    #[inline]
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        None
    }
}

/// The largest integer size every smaller one of which an `f64` represents exactly: 2^53.
const EXACT_INT: u128 = 1 << 53;

macro_rules! finite_small_int {
    ($($t:ty),*) => {$(
        impl Finite for $t {
            #[inline]
            fn first_non_finite(&self) -> Option<(String, BadValue)> {
                None
            }
        }
    )*};
}
finite_small_int!(u8, u16, u32, i8, i16, i32);

macro_rules! finite_wide_int {
    ($($t:ty),*) => {$(
        impl Finite for $t {
            #[inline]
            fn first_non_finite(&self) -> Option<(String, BadValue)> {
                (self.unsigned_abs() as u128 > EXACT_INT)
                    .then(|| (String::new(), BadValue::Inexact(self.to_string())))
            }
        }
    )*};
}
finite_wide_int!(i64, isize, i128);

macro_rules! finite_wide_uint {
    ($($t:ty),*) => {$(
        impl Finite for $t {
            #[inline]
            fn first_non_finite(&self) -> Option<(String, BadValue)> {
                (*self as u128 > EXACT_INT)
                    .then(|| (String::new(), BadValue::Inexact(self.to_string())))
            }
        }
    )*};
}
finite_wide_uint!(u64, usize, u128);

/// The first bad element of a sequence, its index prefixed.
fn first_bad_in<'a, T: Finite + 'a>(it: impl Iterator<Item = &'a T>) -> Option<(String, BadValue)> {
    it.enumerate().find_map(|(i, x)| {
        x.first_non_finite()
            .map(|(rest, v)| (format!("[{i}]{rest}"), v))
    })
}

impl<T: Finite> Finite for [T] {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        first_bad_in(self.iter())
    }
}
impl<T: Finite> Finite for Vec<T> {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        first_bad_in(self.iter())
    }
}
impl<T: Finite, const N: usize> Finite for [T; N] {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        first_bad_in(self.iter())
    }
}
impl<T: Finite + ?Sized> Finite for Box<T> {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        (**self).first_non_finite()
    }
}
impl<T: Finite + ToOwned + ?Sized> Finite for Cow<'_, T> {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        (**self).first_non_finite()
    }
}

/// Every nalgebra vector, matrix and view: `[i]` for a vector (one column or one row),
/// `[(i, j)]` otherwise, the first bad element in row-major order.
impl<T, R, C, S> Finite for Matrix<T, R, C, S>
where
    T: Finite + nalgebra::Scalar,
    R: nalgebra::Dim,
    C: nalgebra::Dim,
    S: nalgebra::RawStorage<T, R, C>,
{
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        let (r, c) = self.shape();
        if c == 1 || r == 1 {
            return first_bad_in(self.iter());
        }
        (0..r)
            .flat_map(|i| (0..c).map(move |j| (i, j)))
            .find_map(|(i, j)| {
                self[(i, j)]
                    .first_non_finite()
                    .map(|(rest, v)| (format!("[({i}, {j})]{rest}"), v))
            })
    }
}
impl<T: Finite + ?Sized> Finite for &T {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        (**self).first_non_finite()
    }
}
impl<T: Finite + ?Sized> Finite for &mut T {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        (**self).first_non_finite()
    }
}

/// Text holds no numbers: nothing to check.
impl Finite for str {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        None
    }
}
impl Finite for String {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        None
    }
}
impl Finite for char {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        None
    }
}
impl<T: Finite> Finite for Option<T> {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        self.as_ref().and_then(Finite::first_non_finite)
    }
}
/// Maps: the index is the key as Rust prints it (`table["a"]`).
impl<K: std::fmt::Debug, V: Finite, H> Finite for std::collections::HashMap<K, V, H> {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        self.iter().find_map(|(k, v)| {
            v.first_non_finite()
                .map(|(rest, x)| (format!("[{k:?}]{rest}"), x))
        })
    }
}
impl<K: std::fmt::Debug, V: Finite> Finite for std::collections::BTreeMap<K, V> {
    fn first_non_finite(&self) -> Option<(String, BadValue)> {
        self.iter().find_map(|(k, v)| {
            v.first_non_finite()
                .map(|(rest, x)| (format!("[{k:?}]{rest}"), x))
        })
    }
}

impl<T: Finite + ?Sized> FiniteCheck<'_, T> {
    /// `Err` naming the argument and the full index of the first bad value.
    ///
    /// # Errors
    /// [`ModelError::NonFiniteData`] for NaN or an infinity, [`ModelError::Invalid`] for an
    /// integer too large for an `f64`.
    pub fn check_finite(&self, name: &str) -> Result<(), ModelError> {
        match self.0.first_non_finite() {
            None => Ok(()),
            Some((index, BadValue::NonFinite(value))) => Err(ModelError::NonFiniteData {
                name: name.to_string(),
                index,
                value,
            }),
            Some((index, BadValue::Inexact(value))) => Err(ModelError::Invalid {
                statement: None,
                message: format!(
                    "data `{name}{index}` is {value}, too large in size for the model's \
                     arithmetic in f64 (at most 2^53 = 9007199254740992)"
                ),
            }),
        }
    }
}

/// The constructor's check of one distribution statement: broadcast lengths (each operand 1
/// or the value's length, which may be 0: no observations, or a zero-length latent) and the
/// kernel's validation of the data operands.
pub fn check_statement(
    stmt: &str,
    names: &[&str],
    lens: &[usize],
    checked: Result<(), ArgError>,
) -> Result<(), Fail> {
    let n = lens.first().copied().unwrap_or(1);
    for (k, &l) in lens.iter().enumerate().skip(1) {
        if l != 1 && l != n {
            return Err(Fail::Model(Box::new(ModelError::Shape {
                statement: stmt.to_string(),
                message: format!(
                    "`{}` has {} elements but `{}` has {}",
                    names.get(k).copied().unwrap_or("?"),
                    l,
                    names.first().copied().unwrap_or("?"),
                    n
                ),
            })));
        }
    }
    checked.map_err(|e| {
        Fail::Model(Box::new(ModelError::Statement {
            statement: stmt.to_string(),
            argument: names.get(e.arg).map(|s| s.to_string()),
            index: Some(e.index),
            source: e.error,
        }))
    })
}
