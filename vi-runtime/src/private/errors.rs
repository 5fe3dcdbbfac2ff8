//! Why a generated run stops, and the statement it stopped in: [`Fail`] (a shape that does
//! not fit, bad data, an invalid statement), the index messages (`index 3 is out of range for
//! `a` of length 3 at i = 2`), and [`catch`], which turns a failure or a panic of the
//! constructor's run into a [`ModelError`] naming the statement.

use crate::ad::ShapeError;
use crate::ModelError;

/// Why a generated run stopped: a shape that does not fit (statement index) or bad data.
#[derive(Debug)]
pub enum Fail {
    /// An operation of statement `.0` got operands of shapes that do not fit.
    Shape(usize, ShapeError),
    /// Bad data, already described.
    Model(Box<ModelError>),
    /// Statement `.0` is invalid for this data, in words (a negative size, an index out of
    /// range: see [`index_at`]).
    Invalid(usize, String),
}

/// Tags a rule's shape error with its statement.
#[inline(always)]
pub fn shape<T>(stmt: usize, r: Result<T, ShapeError>) -> Result<T, Fail> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => Err(Fail::Shape(stmt, e)),
    }
}

/// Tags an index rule's error (`v[i]`, `m[(i, j)]`) with its statement, the indexed value's
/// name and the values of the loop variables around it, which `loops` gives only when the
/// index is out of range: "index 3 is out of range for `a` of length 3 at i = 2".
#[inline(always)]
pub fn index_at<T, const N: usize>(
    stmt: usize,
    r: Result<T, ShapeError>,
    what: &str,
    loops: impl FnOnce() -> [(&'static str, i64); N],
) -> Result<T, Fail> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => Err(Fail::Invalid(stmt, index_message(&e, what, &loops()))),
    }
}

#[cold]
fn index_message(e: &ShapeError, what: &str, loops: &[(&str, i64)]) -> String {
    let ((r, c), (i, j)) = (e.left, e.right);
    let mut m = if e.op == "index2" || (r > 1 && c > 1) || j > 0 {
        format!("index ({i}, {j}) is out of range for `{what}` of shape {r}x{c}")
    } else {
        format!("index {i} is out of range for `{what}` of length {}", r * c)
    };
    for (k, (name, value)) in loops.iter().enumerate() {
        m.push_str(if k == 0 { " at " } else { ", " });
        m.push_str(&format!("{name} = {value}"));
    }
    m
}

thread_local! {
    /// The statement the constructor's run is in (see [`at_statement`]).
    static STATEMENT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Called by the constructor's run before each statement: a panic in the model's code is
/// then reported with the statement it happened in.
#[inline]
pub fn at_statement(stmt: usize) {
    STATEMENT.with(|s| s.set(Some(stmt)));
}

/// Runs the constructor's checking pass, turning a failure, or a panic in the user's data
/// code, into a [`ModelError`] naming the statement. The panic is caught silently: nothing is
/// printed (see [`crate::infer::guard::catch_silently`]).
///
/// # Errors
/// The [`ModelError`] the pass returned, or [`ModelError::Invalid`] with the panic's
/// message and the statement it happened in.
pub fn catch<T>(srcs: &[&str], f: impl FnOnce() -> Result<T, Fail>) -> Result<T, ModelError> {
    let previous = STATEMENT.with(|s| s.replace(None));
    let result = crate::infer::guard::catch_silently(f);
    let stmt = STATEMENT.with(|s| s.replace(previous));
    let text = |k: usize| srcs.get(k).copied().unwrap_or("?").to_string();
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Fail::Model(e))) => Err(*e),
        Ok(Err(Fail::Shape(k, e))) => Err(ModelError::Shape {
            statement: text(k),
            message: e.to_string(),
        }),
        Ok(Err(Fail::Invalid(k, message))) => Err(ModelError::Invalid {
            statement: Some(text(k)),
            message,
        }),
        Err(panic) => {
            // The location `catch_silently` appends is the library's or the generated code's,
            // not the user's: the statement says where.
            let message = match panic.rsplit_once(" (at ") {
                Some((m, _)) if panic.ends_with(')') => m.to_string(),
                _ => panic,
            };
            Err(ModelError::Invalid {
                statement: stmt.map(text),
                message: match stmt {
                    Some(_) => message,
                    None => format!("the model's code panicked on this data: {message}"),
                },
            })
        }
    }
}
