//! Constraint transforms between a parameter's support and the unconstrained real line.
//!
//! Every transform is elementwise: an unconstrained value `y` maps to a constrained value
//! `x = constrain(y)`; the log-density on the unconstrained space adds
//! `log_jacobian(y) = ln |dx/dy|`.

use crate::math::{log_sigmoid, logit, sigmoid};
use std::fmt;

pub mod vector;

/// How a parameter's support maps to the real line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transform {
    /// The whole real line: `x = y`.
    Identity,
    /// `(lower, inf)`: `x = lower + exp(y)`. Positive parameters use `LowerBound(0.0)`.
    LowerBound(f64),
    /// `(-inf, upper)`: `x = upper - exp(y)`.
    UpperBound(f64),
    /// `(lower, upper)`: `x = lower + (upper - lower) * sigmoid(y)`. The unit interval
    /// (Beta) is `Interval(0.0, 1.0)`, the logit transform.
    Interval(f64, f64),
}

/// A constrained value outside a transform's support.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutsideSupport {
    /// The value given.
    pub value: f64,
    /// The transform whose support it is outside.
    pub transform: Transform,
}

impl fmt::Display for OutsideSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "value {} is outside the support {}",
            self.value, self.transform
        )
    }
}

impl std::error::Error for OutsideSupport {}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transform::Identity => write!(f, "(-inf, inf)"),
            Transform::LowerBound(a) => write!(f, "({a}, inf)"),
            Transform::UpperBound(b) => write!(f, "(-inf, {b})"),
            Transform::Interval(a, b) => write!(f, "({a}, {b})"),
        }
    }
}

/// Bounds that do not make a support: `lower >= upper`, or a NaN bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvalidBounds {
    /// The lower bound given (`-inf` for none).
    pub lower: f64,
    /// The upper bound given (`inf` for none).
    pub upper: f64,
}

impl fmt::Display for InvalidBounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lower bound {} must be below upper bound {}",
            self.lower, self.upper
        )
    }
}

impl std::error::Error for InvalidBounds {}

impl Transform {
    /// The transform of a real declared with optional bounds (Stan's
    /// `real<lower=a, upper=b>`; the bounds may come from data): no bound is the identity,
    /// one bound a shifted log, both the scaled logit. An infinite bound counts as none.
    ///
    /// ```
    /// use vi_runtime::Transform;
    /// assert_eq!(Transform::bounded(Some(0.0), None)?, Transform::LowerBound(0.0));
    /// assert_eq!(Transform::bounded(Some(-1.0), Some(2.0))?, Transform::Interval(-1.0, 2.0));
    /// assert!(Transform::bounded(Some(2.0), Some(2.0)).is_err());
    /// # Ok::<(), vi_runtime::InvalidBounds>(())
    /// ```
    ///
    /// # Errors
    /// [`InvalidBounds`] for a NaN bound or `lower >= upper`.
    pub fn bounded(lower: Option<f64>, upper: Option<f64>) -> Result<Transform, InvalidBounds> {
        let a = lower.unwrap_or(f64::NEG_INFINITY);
        let b = upper.unwrap_or(f64::INFINITY);
        if a.is_nan() || b.is_nan() || a >= b {
            return Err(InvalidBounds { lower: a, upper: b });
        }
        Ok(match (a.is_finite(), b.is_finite()) {
            (false, false) => Transform::Identity,
            (true, false) => Transform::LowerBound(a),
            (false, true) => Transform::UpperBound(b),
            (true, true) => Transform::Interval(a, b),
        })
    }

    /// Positive reals, by the log transform.
    pub const POSITIVE: Transform = Transform::LowerBound(0.0);
    /// The unit interval, by the logit transform.
    pub const UNIT: Transform = Transform::Interval(0.0, 1.0);

    /// Maps an unconstrained value to the support.
    #[inline]
    pub fn constrain(&self, y: f64) -> f64 {
        match *self {
            Transform::Identity => y,
            Transform::LowerBound(a) => a + y.exp(),
            Transform::UpperBound(b) => b - y.exp(),
            Transform::Interval(a, b) => a + (b - a) * sigmoid(y),
        }
    }

    /// Maps a value in the support to the real line.
    ///
    /// # Errors
    /// [`OutsideSupport`] when `x` is not strictly inside the support (or is NaN).
    pub fn unconstrain(&self, x: f64) -> Result<f64, OutsideSupport> {
        let err = OutsideSupport {
            value: x,
            transform: *self,
        };
        match *self {
            Transform::Identity if x.is_finite() => Ok(x),
            Transform::LowerBound(a) if x > a && x.is_finite() => Ok((x - a).ln()),
            Transform::UpperBound(b) if x < b && x.is_finite() => Ok((b - x).ln()),
            Transform::Interval(a, b) if x > a && x < b => Ok(logit((x - a) / (b - a))),
            _ => Err(err),
        }
    }

    /// ln |dx/dy| at the unconstrained value `y`.
    #[inline]
    pub fn log_jacobian(&self, y: f64) -> f64 {
        match *self {
            Transform::Identity => 0.0,
            Transform::LowerBound(_) | Transform::UpperBound(_) => y,
            Transform::Interval(a, b) => (b - a).ln() + log_sigmoid(y) + log_sigmoid(-y),
        }
    }

    /// d/dy of [`Transform::log_jacobian`].
    #[inline]
    pub fn log_jacobian_grad(&self, y: f64) -> f64 {
        match *self {
            Transform::Identity => 0.0,
            Transform::LowerBound(_) | Transform::UpperBound(_) => 1.0,
            Transform::Interval(..) => 1.0 - 2.0 * sigmoid(y),
        }
    }

    /// dx/dy at the unconstrained value `y` (for the chain rule from the constrained
    /// gradient to the unconstrained one).
    #[inline]
    pub fn constrain_grad(&self, y: f64) -> f64 {
        match *self {
            Transform::Identity => 1.0,
            Transform::LowerBound(_) => y.exp(),
            Transform::UpperBound(_) => -y.exp(),
            Transform::Interval(a, b) => {
                let s = sigmoid(y);
                (b - a) * s * (1.0 - s)
            }
        }
    }

    /// Constrains `y`, adds its log-Jacobian to `*lp` when `jacobian` is set, and returns `x`.
    #[inline]
    pub fn constrain_lp(&self, y: f64, lp: &mut f64, jacobian: bool) -> f64 {
        if jacobian {
            *lp += self.log_jacobian(y);
        }
        self.constrain(y)
    }

    /// Chain rule back through the transform: given `dlp/dx` at `x = constrain(y)`, returns
    /// `dlp/dy`, including the log-Jacobian's derivative when `jacobian` is set.
    #[inline]
    pub fn grad_back(&self, y: f64, dx: f64, jacobian: bool) -> f64 {
        let g = dx * self.constrain_grad(y);
        if jacobian {
            g + self.log_jacobian_grad(y)
        } else {
            g
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Transform; 6] = [
        Transform::Identity,
        Transform::POSITIVE,
        Transform::LowerBound(-3.0),
        Transform::UpperBound(2.5),
        Transform::UNIT,
        Transform::Interval(-1.0, 4.0),
    ];

    #[test]
    fn round_trip() {
        for t in ALL {
            for &y in &[-7.0, -1.3, 0.0, 0.4, 2.2, 6.0] {
                let x = t.constrain(y);
                let back = t.unconstrain(x).unwrap();
                assert!((back - y).abs() < 1e-9 * (1.0 + y.abs()), "{t:?} y={y}");
            }
        }
    }

    fn central(f: impl Fn(f64) -> f64, y: f64) -> f64 {
        let h = 1e-6 * (1.0 + y.abs());
        (f(y + h) - f(y - h)) / (2.0 * h)
    }

    #[test]
    fn jacobian_matches_finite_differences() {
        for t in ALL {
            for &y in &[-4.0, -0.7, 0.0, 0.9, 3.0] {
                // ln |dx/dy| from a finite difference of constrain itself.
                let fd = central(|y| t.constrain(y), y);
                assert!((t.constrain_grad(y) - fd).abs() < 1e-6 * (1.0 + fd.abs()));
                assert!(
                    (t.log_jacobian(y) - fd.abs().ln()).abs() < 1e-6,
                    "{t:?} y={y}"
                );
                let fd_lj = central(|y| t.log_jacobian(y), y);
                assert!((t.log_jacobian_grad(y) - fd_lj).abs() < 1e-6, "{t:?} y={y}");
            }
        }
    }

    #[test]
    fn outside_support_is_an_error() {
        assert!(Transform::POSITIVE.unconstrain(-1.0).is_err());
        assert!(Transform::POSITIVE.unconstrain(0.0).is_err());
        assert!(Transform::UNIT.unconstrain(1.0).is_err());
        assert!(Transform::UpperBound(1.0).unconstrain(2.0).is_err());
        assert!(Transform::Identity.unconstrain(f64::NAN).is_err());
        let e = Transform::UNIT.unconstrain(1.5).unwrap_err();
        assert_eq!(e.to_string(), "value 1.5 is outside the support (0, 1)");
    }
}
