//! What each engine says about its own fit: [`Diagnostics`], one variant per engine.
//!
//! A [`Posterior`](super::posterior::Posterior) carries one [`Diagnostics`]; match on it to
//! reach the engine's own report. The reports are defined next to the engine that fills
//! them ([`ViDiagnostics`] in `vi.rs`, [`LaplaceDiagnostics`] in `laplace.rs`,
//! [`NutsDiagnostics`] in `nuts/report.rs`) and re-exported here, so this module is the one
//! place that names all three and `posterior.rs` needs no engine.
//!
//! The convergence statistics of MCMC draws (R-hat, ESS, MCSE) are in
//! [`convergence`](super::convergence); they are re-exported here too, where they used to
//! live, so `vi_runtime::infer::diagnostics::rhat` keeps working.
//!
//! ```
//! use vi_runtime::infer::diagnostics::{Diagnostics, LaplaceDiagnostics};
//! let d = Diagnostics::Laplace(LaplaceDiagnostics::default());
//! assert_eq!(d.method(), "Laplace");
//! ```

pub use super::laplace::LaplaceDiagnostics;
pub use super::nuts::{ChainDiagnostics, NutsDiagnostics, ParamDiagnostics, SamplerStats};
pub use super::vi::ViDiagnostics;

#[doc(no_inline)]
pub use super::convergence::{ess, ess_bulk, ess_mean, ess_quantile, ess_tail, mcse_mean, rhat};

/// What the method has to say about its own fit.
// One value per fit, never in a hot path or a large collection: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Diagnostics {
    /// Mean-field variational inference.
    Vi(ViDiagnostics),
    /// Laplace approximation.
    Laplace(LaplaceDiagnostics),
    /// NUTS MCMC.
    Nuts(NutsDiagnostics),
}

impl Diagnostics {
    /// The method's name: `"VI"`, `"Laplace"` or `"NUTS"`.
    pub fn method(&self) -> &'static str {
        match self {
            Diagnostics::Vi(_) => "VI",
            Diagnostics::Laplace(_) => "Laplace",
            Diagnostics::Nuts(_) => "NUTS",
        }
    }
}
