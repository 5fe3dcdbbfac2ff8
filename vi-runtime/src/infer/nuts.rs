//! The No-U-Turn sampler.

/// What a NUTS run reports about itself.
#[derive(Debug, Clone, Default)]
pub struct NutsDiagnostics {
    /// Divergent transitions after warmup, per chain.
    pub divergences: Vec<usize>,
}
