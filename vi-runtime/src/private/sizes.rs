//! Sizes and loop ranges: a latent's declared size as `usize` ([`size`], [`Size`]), loop
//! bounds of any integer type ([`len`]), reversed ranges for the reverse sweep ([`rev`]), the
//! side of a square matrix and a Multinomial's trials.

use super::Fail;

/// Iterates backwards over what a loop iterated forwards.
#[inline]
pub fn rev<I: IntoIterator>(it: I) -> std::iter::Rev<I::IntoIter>
where
    I::IntoIter: DoubleEndedIterator,
{
    it.into_iter().rev()
}

/// A size given as any integer.
pub trait Len {
    /// As `usize` (negative sizes are 0).
    fn len_usize(&self) -> usize;
}

macro_rules! len_int {
    ($($t:ty),*) => {$(
        impl Len for $t {
            #[inline]
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, unused_comparisons)]
            fn len_usize(&self) -> usize {
                if *self < 0 { 0 } else { *self as usize }
            }
        }
    )*};
}
len_int!(usize, u8, u16, u32, u64, isize, i8, i16, i32, i64);

impl<T: Len + ?Sized> Len for &T {
    fn len_usize(&self) -> usize {
        (**self).len_usize()
    }
}

/// A size given as any integer, as `usize`.
#[inline]
pub fn len<T: Len>(n: T) -> usize {
    n.len_usize()
}

/// A latent's size as the declaration gives it: a non-negative integer (of any integer type,
/// or an `f64` that is a whole number).
pub trait Size {
    /// The size, or what is wrong with it in words (`"-3 ... is negative"`).
    fn size(&self) -> Result<usize, String>;
}

macro_rules! size_int {
    ($($t:ty),*) => {$(
        impl Size for $t {
            #[inline]
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, unused_comparisons)]
            fn size(&self) -> Result<usize, String> {
                if *self < 0 {
                    Err(format!("the size {self} of `{{}}` is negative"))
                } else {
                    usize::try_from(*self).map_err(|_| format!("the size {self} of `{{}}` is too large"))
                }
            }
        }
    )*};
}
size_int!(usize, u8, u16, u32, u64, isize, i8, i16, i32, i64, i128, u128);

impl Size for f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn size(&self) -> Result<usize, String> {
        if !self.is_finite() || self.fract() != 0.0 {
            Err(format!("the size {self} of `{{}}` is not a whole number"))
        } else if *self < 0.0 {
            Err(format!("the size {self} of `{{}}` is negative"))
        } else {
            Ok(*self as usize)
        }
    }
}

impl<T: Size + ?Sized> Size for &T {
    fn size(&self) -> Result<usize, String> {
        (**self).size()
    }
}

/// The size of latent `name` declared by statement `stmt`, as `usize`; a negative or
/// fractional size is a [`ModelError::Invalid`](crate::ModelError::Invalid) naming the
/// declaration.
///
/// # Errors
/// [`Fail::Invalid`] with the statement and what is wrong.
#[inline]
pub fn size<T: Size>(n: T, stmt: usize, name: &str) -> Result<usize, Fail> {
    n.size()
        .map_err(|m| Fail::Invalid(stmt, m.replacen("{}", name, 1)))
}

/// The side `K` of a square matrix of `len` elements (0 when `len` is not a square), for
/// the size of a multivariate latent.
pub fn side(len: usize) -> usize {
    let k = (len as f64).sqrt().round() as usize;
    if k * k == len {
        k
    } else {
        0
    }
}

/// The sums of the rows of a flat `n x k` column-major matrix (a Multinomial's trials).
pub fn row_sums(y: &[f64], n: usize, k: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            (0..k)
                .map(|j| y.get(i + j * n).copied().unwrap_or(0.0))
                .sum()
        })
        .collect()
}
