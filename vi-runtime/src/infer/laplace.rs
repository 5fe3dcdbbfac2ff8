//! The Laplace approximation.

/// What a Laplace fit reports about itself.
#[derive(Debug, Clone, Default)]
pub struct LaplaceDiagnostics {
    /// The Laplace estimate of the log evidence.
    pub log_evidence: f64,
}
