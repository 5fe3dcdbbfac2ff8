//! Mean-field Gaussian variational inference.

/// What a VI fit reports about itself.
#[derive(Debug, Clone, Default)]
pub struct ViDiagnostics {
    /// The ELBO estimate at each iteration.
    pub elbo_trace: Vec<f64>,
}
