//! Posterior predictive draws: replicates of the observed quantities, one per posterior draw.

use super::posterior::Posterior;
use super::rng_for;
use crate::error::{FitError, UnknownName};
use crate::model::Model;
use crate::stats::{mean, quantile};
use rand::RngCore;

/// A model that can draw replicates of what it observes, given constrained parameter values.
/// `model!` implements it for every model; each observation statement gives one named
/// quantity (`y` for `y ~ Normal(..)`).
pub trait Simulate: Model {
    /// One replicate of every observed quantity at the constrained parameter values
    /// `constrained` (layout order), as (name, flattened values).
    fn simulate_with(&self, constrained: &[f64], rng: &mut dyn RngCore) -> Vec<(String, Vec<f64>)>;
}

/// Posterior predictive draws, by observed quantity: one flattened `Vec` per posterior draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictive {
    names: Vec<String>,
    /// `draws[k][d]`: quantity `k`, posterior draw `d`.
    draws: Vec<Vec<Vec<f64>>>,
}

impl Predictive {
    /// The observed quantities' names, in statement order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn index(&self, name: &str) -> Result<usize, UnknownName> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| UnknownName {
                name: name.to_string(),
                known: self.names.clone(),
            })
    }

    /// Every replicate of `name`, one flattened `Vec` per posterior draw.
    ///
    /// # Errors
    /// [`UnknownName`], listing the observed quantities, if there is no such quantity.
    pub fn draws(&self, name: &str) -> Result<&[Vec<f64>], UnknownName> {
        Ok(&self.draws[self.index(name)?])
    }

    fn per_element(
        &self,
        name: &str,
        f: impl Fn(&mut Vec<f64>) -> f64,
    ) -> Result<Vec<f64>, UnknownName> {
        let draws = self.draws(name)?;
        let len = draws.first().map_or(0, Vec::len);
        Ok((0..len)
            .map(|j| {
                let mut col: Vec<f64> = draws.iter().filter_map(|d| d.get(j).copied()).collect();
                f(&mut col)
            })
            .collect())
    }

    /// The predictive mean of each element of `name`.
    ///
    /// # Errors
    /// [`UnknownName`] if there is no such quantity.
    pub fn mean(&self, name: &str) -> Result<Vec<f64>, UnknownName> {
        self.per_element(name, |xs| mean(xs))
    }

    /// The `q`-quantile of each element of `name` (linear interpolation, as NumPy).
    ///
    /// # Errors
    /// [`UnknownName`] if there is no such quantity.
    pub fn quantile(&self, name: &str, q: f64) -> Result<Vec<f64>, UnknownName> {
        self.per_element(name, |xs| quantile(xs, q))
    }
}

impl Posterior {
    /// Posterior predictive draws: for every posterior draw, one replicate of each observed
    /// quantity of `model`. Pass the fitted model for replicates at the data, or the same
    /// model built on new inputs (with placeholder observations of the right length) for
    /// predictions there. Seeded: the same seed gives the same draws.
    ///
    /// # Errors
    /// [`FitError::InvalidSettings`] when `model`'s parameters are not the posterior's.
    pub fn predictive<M: Simulate + ?Sized>(
        &self,
        model: &M,
        seed: u64,
    ) -> Result<Predictive, FitError> {
        let (mine, theirs) = (self.layout(), model.layout());
        // The posterior's derived quantities follow the parameters in each draw.
        let same = mine.latent_dim() == theirs.dim()
            && mine
                .params()
                .iter()
                .zip(theirs.params())
                .all(|(a, b)| a.name == b.name && a.shape == b.shape);
        if !same {
            return Err(FitError::InvalidSettings {
                message: format!(
                    "the model's parameters ({}) are not the posterior's ({})",
                    theirs.flat_names().join(", "),
                    mine.flat_names().join(", ")
                ),
            });
        }
        let mut rng = rng_for(seed, 0);
        let d = mine.dim();
        let mut names: Vec<String> = Vec::new();
        let mut draws: Vec<Vec<Vec<f64>>> = Vec::new();
        for chain in self.chains() {
            for row in chain.draws.chunks_exact(d.max(1)) {
                for (k, (name, values)) in model
                    .simulate_with(&row[..theirs.dim()], &mut rng)
                    .into_iter()
                    .enumerate()
                {
                    if k == names.len() {
                        names.push(name);
                        draws.push(Vec::with_capacity(self.num_draws()));
                    }
                    draws[k].push(values);
                }
            }
        }
        Ok(Predictive { names, draws })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::posterior::{Chain, Diagnostics};
    use crate::infer::vi::ViDiagnostics;
    use crate::{ParamLayout, Transform};
    use rand::Rng;

    /// y_i ~ Normal(mu, 1), i = 1..n (the density is irrelevant here).
    struct Obs {
        layout: ParamLayout,
        n: usize,
    }

    impl Model for Obs {
        fn layout(&self) -> &ParamLayout {
            &self.layout
        }
        fn log_density_grad_jac(&self, _: &[f64], grad: &mut [f64], _: bool) -> f64 {
            grad.fill(0.0);
            0.0
        }
    }

    impl Simulate for Obs {
        fn simulate_with(&self, c: &[f64], rng: &mut dyn RngCore) -> Vec<(String, Vec<f64>)> {
            let y = (0..self.n)
                .map(|_| c[0] + rng.sample::<f64, _>(rand_distr::StandardNormal))
                .collect();
            vec![("y".to_string(), y)]
        }
    }

    fn obs(name: &str, n: usize) -> Obs {
        let mut layout = ParamLayout::new();
        layout.push(name, vec![], Transform::Identity);
        Obs { layout, n }
    }

    #[test]
    fn replicates_follow_the_observation_model() {
        let m = obs("mu", 2);
        // 2 chains x 2000 draws of mu = 3 exactly: y_rep ~ Normal(3, 1).
        let chain = Chain {
            draws: vec![3.0; 2000],
            lp: vec![0.0; 2000],
        };
        let post = Posterior::new(
            m.layout.clone(),
            vec![chain.clone(), chain],
            Diagnostics::Vi(ViDiagnostics::default()),
        );
        let pred = post.predictive(&m, 5).unwrap();
        assert_eq!(pred.names(), ["y"]);
        assert_eq!(pred.draws("y").unwrap().len(), 4000);
        let mean = pred.mean("y").unwrap();
        // Standard error of a mean of 4000 unit-variance draws: 1/sqrt(4000) = 0.0158.
        assert!(
            mean.iter().all(|m| (m - 3.0).abs() < 4.0 * 0.0158),
            "{mean:?}"
        );
        // The 97.5% quantile of Normal(3, 1) is 3 + 1.959964.
        let q = pred.quantile("y", 0.975).unwrap();
        assert!(q.iter().all(|q| (q - 4.959_964).abs() < 0.1), "{q:?}");
        assert_eq!(pred, post.predictive(&m, 5).unwrap());
        assert_ne!(pred, post.predictive(&m, 6).unwrap());
        assert_eq!(pred.mean("z").unwrap_err().known, ["y"]);
        assert!(post.predictive(&obs("nu", 2), 5).is_err());
    }
}
