//! [`Posterior`]: the one result type of every engine.

use crate::error::UnknownName;
use crate::model::ParamLayout;
use crate::stats::{mean, quantile, sd};

// The engines name `Diagnostics` through this module; it lives in `diagnostics.rs`.
pub use super::diagnostics::Diagnostics;

/// The draws of one chain (one for VI and Laplace; one per chain for NUTS).
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// Draws on the constrained scale, one row of `dim` values per draw, in layout order
    /// (matrices row-major).
    pub draws: Vec<f64>,
    /// The log density (unconstrained, Jacobian included) at each draw: CmdStan's `lp__`.
    pub lp: Vec<f64>,
}

impl Chain {
    /// The number of draws in the chain given the parameter dimension.
    pub fn len(&self) -> usize {
        self.lp.len()
    }

    /// Whether the chain holds no draws.
    pub fn is_empty(&self) -> bool {
        self.lp.is_empty()
    }
}

/// Draws from a posterior (or its approximation), by parameter name, on the constrained scale.
///
/// Values of a vector or matrix parameter are flattened, row-major for matrices.
#[derive(Debug, Clone)]
pub struct Posterior {
    layout: ParamLayout,
    chains: Vec<Chain>,
    diagnostics: Diagnostics,
}

impl Posterior {
    /// Builds a posterior from the draws of each chain. Every chain's `draws` must hold
    /// `lp.len() * layout.dim()` values.
    pub fn new(layout: ParamLayout, chains: Vec<Chain>, diagnostics: Diagnostics) -> Self {
        debug_assert!(chains
            .iter()
            .all(|c| c.draws.len() == c.lp.len() * layout.dim()));
        Posterior {
            layout,
            chains,
            diagnostics,
        }
    }

    /// The parameter layout of the model that was fitted.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// The chains, each with its draws and `lp__`.
    pub fn chains(&self) -> &[Chain] {
        &self.chains
    }

    /// The method's diagnostics.
    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diagnostics
    }

    /// The method's name: `"VI"`, `"Laplace"` or `"NUTS"`.
    pub fn method(&self) -> &'static str {
        self.diagnostics.method()
    }

    /// The total number of draws over all chains.
    pub fn num_draws(&self) -> usize {
        self.chains.iter().map(Chain::len).sum()
    }

    /// All draws of flat element `i` (see [`ParamLayout::flat_names`]), chains concatenated.
    pub fn flat_draws(&self, i: usize) -> Vec<f64> {
        let d = self.layout.dim();
        self.chains
            .iter()
            .flat_map(|c| c.draws.iter().skip(i).step_by(d).copied())
            .collect()
    }

    /// The draws of flat element `i`, one `Vec` per chain.
    pub fn flat_draws_by_chain(&self, i: usize) -> Vec<Vec<f64>> {
        let d = self.layout.dim();
        self.chains
            .iter()
            .map(|c| c.draws.iter().skip(i).step_by(d).copied().collect())
            .collect()
    }

    /// Every draw of parameter `name`, one flattened `Vec` per draw, chains concatenated.
    ///
    /// # Errors
    /// [`UnknownName`], listing the known names, if there is no such parameter.
    pub fn draws(&self, name: &str) -> Result<Vec<Vec<f64>>, UnknownName> {
        let p = self.layout.get(name)?;
        let d = self.layout.dim();
        let r = p.range();
        Ok(self
            .chains
            .iter()
            .flat_map(|c| {
                c.draws
                    .chunks_exact(d.max(1))
                    .map(|row| row[r.clone()].to_vec())
            })
            .collect())
    }

    fn per_element(
        &self,
        name: &str,
        f: impl Fn(&mut Vec<f64>) -> f64,
    ) -> Result<Vec<f64>, UnknownName> {
        let p = self.layout.get(name)?;
        Ok(p.range()
            .map(|i| {
                let mut xs = self.flat_draws(i);
                f(&mut xs)
            })
            .collect())
    }

    /// The posterior mean of each element of `name`.
    ///
    /// # Errors
    /// [`UnknownName`] if there is no such parameter.
    pub fn mean(&self, name: &str) -> Result<Vec<f64>, UnknownName> {
        self.per_element(name, |xs| mean(xs))
    }

    /// The posterior standard deviation of each element of `name` (divisor n - 1).
    ///
    /// # Errors
    /// [`UnknownName`] if there is no such parameter.
    pub fn sd(&self, name: &str) -> Result<Vec<f64>, UnknownName> {
        self.per_element(name, |xs| sd(xs))
    }

    /// The `q`-quantile (0 <= q <= 1) of each element of `name`, by linear interpolation
    /// between order statistics (NumPy's default, as ArviZ uses).
    ///
    /// # Errors
    /// [`UnknownName`] if there is no such parameter.
    pub fn quantile(&self, name: &str, q: f64) -> Result<Vec<f64>, UnknownName> {
        self.per_element(name, |xs| quantile(xs, q))
    }
}
