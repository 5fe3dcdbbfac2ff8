//! Runtime of [`vi`](https://docs.rs/vi): the [`Model`] trait, distributions, constraint
//! transforms, differentiation rules, inference engines and the [`Posterior`] they return.
//!
//! Most users reach this crate through the `vi` facade and its `model!` macro.
#![warn(missing_docs)]

pub mod ad;
pub mod check;
pub mod data;
pub mod dist;
mod error;
pub mod infer;
pub mod lecture;
pub mod math;
mod model;
#[doc(hidden)]
pub mod private;
pub mod progress;
pub mod simd;
pub mod stats;
pub mod threads;
mod transform;

pub use error::{DistError, FitError, ModelError, ReadCsvError, UnknownName};
pub use infer::csv::read_csv;
pub use infer::diagnostics::Diagnostics;
pub use infer::laplace::{Laplace, LaplaceDiagnostics};
pub use infer::minibatch::MinibatchReport;
pub use infer::nuts::{
    AdaptOptions, Adaptation, ChainDiagnostics, Metric, Nuts, NutsDiagnostics, ParamDiagnostics,
    SamplerStats,
};
pub use infer::posterior::{Chain, Posterior};
pub use infer::predictive::{Predictive, Simulate};
pub use infer::psis::{pareto_k, Reliability};
pub use infer::summary::{Summary, SummaryRow};
pub use infer::vi::{Vi, ViDiagnostics, ViMethod, ViStart};
pub use model::{Model, Param, ParamLayout};
pub use threads::{set_threads, threads};
pub use transform::vector::{VectorOutsideSupport, VectorTransform};
pub use transform::{InvalidBounds, OutsideSupport, Transform};
