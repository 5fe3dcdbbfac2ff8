//! Figures of fits, written as SVG files (the `plot` cargo feature).
//!
//! The functions here draw what a user wants to see of their own model: the ELBO trace of a
//! VI fit ([`elbo_trace`]), the posterior densities of one parameter under several methods
//! overlaid ([`posterior_densities`]), NUTS trace plots one line per chain ([`trace_plots`]),
//! and posterior predictive means with central bands over a 1-D grid of inputs
//! ([`predictive_bands`]). [`Figure`] is the small line/scatter/band plot they are built on;
//! use it for figures of your own.
//!
//! Figures are SVG only, drawn with [`plotters`](https://docs.rs/plotters) without its font
//! libraries, so the feature needs no system library. Every function returns a
//! [`PlotError`] on failure (an unwritable path, no finite data, an unknown parameter) and
//! never panics.
//!
//! The figure builder is in `figure.rs`, the figures of fits in `fits.rs`; the statistics
//! they draw (kernel density estimates, quantile bands) are the runtime's
//! [`stats`](crate::stats).
//!
//! ```no_run
//! # fn demo(fit: &vi::Posterior) -> Result<(), vi::plot::PlotError> {
//! vi::plot::elbo_trace(fit, "target/plots/elbo.svg")?;
//! vi::plot::Figure::new("Monte Carlo error")
//!     .x_label("n")
//!     .y_label("|error|")
//!     .log_log()
//!     .line("1/sqrt(n)", &[10.0, 100.0, 1000.0], &[0.3, 0.1, 0.03])
//!     .save("target/plots/mc.svg")?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::PathBuf;

use crate::UnknownName;

mod figure;
mod fits;
#[cfg(test)]
mod tests;

pub use figure::{linspace, save_stacked, Corner, Figure};
pub use fits::{band_summary, elbo_trace, posterior_densities, predictive_bands, trace_plots};
/// Gaussian kernel density estimate with Silverman's bandwidth, reflected at finite bounds:
/// the runtime's [`stats::kde`](crate::stats::kde), re-exported here where figures use it.
#[doc(no_inline)]
pub use vi_runtime::stats::kde;

/// Why a figure could not be made or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum PlotError {
    /// The file (or its directory) could not be written.
    Io {
        /// The path that was being written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The drawing library failed.
    Draw {
        /// Its message.
        message: String,
    },
    /// There was nothing finite to draw.
    NoData {
        /// What was empty.
        what: String,
    },
    /// The figure needs a fit of another method (an ELBO trace needs a VI fit).
    WrongMethod {
        /// The method the figure needs.
        expected: &'static str,
        /// The method of the posterior given.
        found: &'static str,
    },
    /// No parameter of that name.
    UnknownName(UnknownName),
    /// An element index past the end of a parameter.
    ElementOutOfRange {
        /// The parameter.
        name: String,
        /// The index asked for (0-based).
        index: usize,
        /// The parameter's number of elements.
        size: usize,
    },
    /// Two inputs that must have the same length do not.
    LengthMismatch {
        /// What was being compared.
        what: String,
        /// The length expected.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A setting outside its range (a band level outside (0, 1)).
    InvalidSetting {
        /// Which setting and why.
        what: String,
    },
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::Io { path, source } => {
                write!(f, "cannot write figure `{}`: {source}", path.display())
            }
            PlotError::Draw { message } => write!(f, "drawing failed: {message}"),
            PlotError::NoData { what } => write!(f, "nothing finite to draw: {what}"),
            PlotError::WrongMethod { expected, found } => {
                write!(f, "this figure needs a {expected} fit, got a {found} fit")
            }
            PlotError::UnknownName(e) => e.fmt(f),
            PlotError::ElementOutOfRange { name, index, size } => write!(
                f,
                "element {index} of `{name}` does not exist: it has {size} element(s)"
            ),
            PlotError::LengthMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected length {expected}, found {found}"),
            PlotError::InvalidSetting { what } => write!(f, "invalid setting: {what}"),
        }
    }
}

impl std::error::Error for PlotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlotError::Io { source, .. } => Some(source),
            PlotError::UnknownName(e) => Some(e),
            _ => None,
        }
    }
}

impl From<UnknownName> for PlotError {
    fn from(e: UnknownName) -> Self {
        PlotError::UnknownName(e)
    }
}
