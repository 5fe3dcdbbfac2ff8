//! What a NUTS run reports about itself: per-draw sampler parameters, per-chain and
//! per-parameter diagnostics, the warnings and the verdict.

use std::fmt;
use std::time::Duration;

use nalgebra::DMatrix;

use super::{Adaptation, Metric};

/// CmdStan's sampler parameters of one draw.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SamplerStats {
    /// The mean Metropolis acceptance probability over the trajectory (`accept_stat__`).
    pub accept_stat: f64,
    /// The step size used (`stepsize__`).
    pub step_size: f64,
    /// The depth of the trajectory tree (`treedepth__`).
    pub tree_depth: usize,
    /// The number of leapfrog steps (`n_leapfrog__`).
    pub n_leapfrog: usize,
    /// Whether the trajectory diverged (`divergent__`).
    pub divergent: bool,
    /// The Hamiltonian at the draw (`energy__`).
    pub energy: f64,
}

/// The R-hat above which a parameter is flagged (Vehtari et al. 2021).
pub const RHAT_THRESHOLD: f64 = 1.01;
/// The bulk and tail ESS below which a parameter is flagged (Vehtari et al. 2021: 100 per
/// chain for 4 chains).
pub const ESS_THRESHOLD: f64 = 400.0;
/// The E-BFMI below which a chain is flagged (Stan's threshold).
pub const E_BFMI_THRESHOLD: f64 = 0.3;

/// The E-BFMI of a chain's energies (Stan's `compute_e_bfmi`): the mean squared change of
/// energy between draws over its variance. NaN for fewer than two draws.
pub fn e_bfmi(energy: &[f64]) -> f64 {
    if energy.len() < 2 {
        return f64::NAN;
    }
    let n = energy.len() as f64;
    let mean = energy.iter().sum::<f64>() / n;
    let num: f64 = energy.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum();
    let den: f64 = energy.iter().map(|e| (e - mean).powi(2)).sum();
    num / den
}

/// What a NUTS run reports about itself.
#[derive(Debug, Clone, Default)]
pub struct NutsDiagnostics {
    /// Divergent transitions after warmup, per chain.
    pub divergences: Vec<usize>,
    /// What each chain reports: adapted step size and metric, tree-depth hits, per-draw
    /// sampler parameters.
    pub chains: Vec<ChainDiagnostics>,
    /// The convergence diagnostics of each flat parameter, in flat order.
    pub params: Vec<ParamDiagnostics>,
    /// The maximum tree depth the run used.
    pub max_depth: usize,
    /// The seed of the run.
    pub seed: u64,
    /// Warmup iterations per chain.
    pub warmup: usize,
    /// Sampling iterations per chain (before thinning).
    pub draws: usize,
    /// The thinning interval.
    pub thin: usize,
    /// The target acceptance statistic.
    pub target_accept: f64,
    /// The metric that was asked for ([`Metric::Auto`] unless set); what each chain used is
    /// [`ChainDiagnostics::metric`].
    pub metric: Metric,
    /// The warmup schedule.
    pub adaptation: Adaptation,
    /// Wall time of the whole fit, diagnostics included.
    pub elapsed: Duration,
    /// Points where the model's code panicked during the run (warmup included); each was
    /// rejected, which made its transition divergent.
    pub model_faults: usize,
    /// The first of them in words, with the statement when the model names it.
    pub model_fault: Option<String>,
}

/// What one NUTS chain reports about itself.
#[derive(Debug, Clone, Default)]
pub struct ChainDiagnostics {
    /// Divergent transitions during warmup (expected while adapting; not a warning).
    pub warmup_divergences: usize,
    /// Draws after warmup whose tree reached the maximum depth.
    pub max_depth_hits: usize,
    /// The adapted step size.
    pub step_size: f64,
    /// The diagonal of the adapted inverse metric (variance estimate, unconstrained scale).
    pub inv_metric: Vec<f64>,
    /// The metric the chain used after warmup: [`Metric::Diag`], [`Metric::Dense`] or
    /// [`Metric::LowRank`] with the number of directions it kept (never `Auto`).
    pub metric: Metric,
    /// The adapted inverse metric as a matrix, for dense and low-rank metrics (`None` for a
    /// diagonal one, which [`ChainDiagnostics::inv_metric`] holds).
    pub inv_metric_matrix: Option<DMatrix<f64>>,
    /// The energy Bayesian fraction of missing information of the kept draws (Betancourt
    /// 2016): `sum (E_n - E_{n-1})^2 / sum (E_n - mean E)^2`. Below 0.3 the momentum
    /// resampling explores the energy distribution poorly (heavy tails, funnels). NaN with
    /// fewer than two draws.
    pub e_bfmi: f64,
    /// CmdStan's sampler parameters of each kept draw.
    pub sampler: Vec<SamplerStats>,
    /// Wall time of the warmup (initialisation included).
    pub warmup_time: Duration,
    /// Wall time of the sampling iterations.
    pub sampling_time: Duration,
}

/// The convergence diagnostics of one flat parameter element, on the constrained scale.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamDiagnostics {
    /// The flat (CmdStan) name: `sigma`, `w.1`.
    pub name: String,
    /// Rank-normalised split R-hat (NaN for one chain).
    pub rhat: f64,
    /// Bulk effective sample size.
    pub ess_bulk: f64,
    /// Tail effective sample size.
    pub ess_tail: f64,
    /// Monte Carlo standard error of the mean.
    pub mcse_mean: f64,
}

impl ParamDiagnostics {
    /// The diagnostics of the flat element `name` from its draws, one `Vec` per chain.
    pub fn of(name: String, chains: &[Vec<f64>]) -> Self {
        use crate::infer::convergence::{ess_bulk, ess_tail, mcse_mean, rhat};
        ParamDiagnostics {
            name,
            rhat: rhat(chains),
            ess_bulk: ess_bulk(chains),
            ess_tail: ess_tail(chains),
            mcse_mean: mcse_mean(chains),
        }
    }
}

impl NutsDiagnostics {
    /// The diagnostics of flat element `name` (`w.2`), if any.
    pub fn param(&self, name: &str) -> Option<&ParamDiagnostics> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The adapted step size of each chain.
    pub fn step_sizes(&self) -> Vec<f64> {
        self.chains.iter().map(|c| c.step_size).collect()
    }

    /// The total number of divergent transitions after warmup.
    pub fn total_divergences(&self) -> usize {
        self.divergences.iter().sum()
    }

    /// The total number of draws whose tree hit the maximum depth.
    pub fn total_max_depth_hits(&self) -> usize {
        self.chains.iter().map(|c| c.max_depth_hits).sum()
    }

    /// The E-BFMI of each chain.
    pub fn e_bfmi(&self) -> Vec<f64> {
        self.chains.iter().map(|c| c.e_bfmi).collect()
    }

    /// What needs attention, one sentence each: R-hat > 1.01, bulk or tail ESS < 400, any
    /// divergent transition after warmup, any draw at the maximum tree depth, a chain with
    /// E-BFMI below 0.3. Empty when nothing was found.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(fault) = &self.model_fault {
            out.push(fault.clone());
        }
        let flagged = |get: &dyn Fn(&ParamDiagnostics) -> f64, bad: &dyn Fn(f64) -> bool| {
            self.params
                .iter()
                .filter(|p| bad(get(p)))
                .map(|p| format!("{} ({:.3})", p.name, get(p)))
                .collect::<Vec<_>>()
        };
        let n_div = self.total_divergences();
        if n_div > 0 {
            let total: usize = self.chains.iter().map(|c| c.sampler.len()).sum();
            out.push(format!(
                "{n_div} of {total} transitions after warmup were divergent (per chain: {:?}): \
                 the sampler cannot explore part of the posterior and the draws may be biased; \
                 raise target_accept (now {}) or reparameterise the model",
                self.divergences, self.target_accept
            ));
        }
        let hits = self.total_max_depth_hits();
        if hits > 0 {
            let total: usize = self.chains.iter().map(|c| c.sampler.len()).sum();
            out.push(format!(
                "{hits} of {total} transitions after warmup hit the maximum tree depth {} (per \
                 chain: {:?}): the trajectories were cut short, so each draw moves less than \
                 NUTS would take it and the draws are more correlated; raise it, e.g. \
                 `Nuts::max_depth({})` (each level doubles the longest trajectory), or \
                 reparameterise",
                self.max_depth,
                self.chains
                    .iter()
                    .map(|c| c.max_depth_hits)
                    .collect::<Vec<_>>(),
                self.max_depth + 2,
            ));
        }
        let low: Vec<String> = self
            .chains
            .iter()
            .enumerate()
            .filter(|(_, c)| c.e_bfmi < E_BFMI_THRESHOLD)
            .map(|(i, c)| format!("chain {} ({:.3})", i + 1, c.e_bfmi))
            .collect();
        if !low.is_empty() {
            out.push(format!(
                "E-BFMI below {E_BFMI_THRESHOLD} for {}: resampling the momentum explores the \
                 energy distribution poorly, so the posterior's tails may not be reached \
                 (heavy tails or a funnel); reparameterise the model",
                low.join(", ")
            ));
        }
        let r = flagged(&|p| p.rhat, &|x| x > RHAT_THRESHOLD);
        if !r.is_empty() {
            out.push(format!(
                "R-hat above {RHAT_THRESHOLD} for {}: the chains have not mixed; run longer \
                 or reparameterise",
                r.join(", ")
            ));
        }
        let b = flagged(&|p| p.ess_bulk, &|x| x < ESS_THRESHOLD);
        if !b.is_empty() {
            out.push(format!(
                "bulk ESS below {ESS_THRESHOLD} for {}: means and medians are unreliable; \
                 run more draws",
                b.join(", ")
            ));
        }
        let t = flagged(&|p| p.ess_tail, &|x| x < ESS_THRESHOLD);
        if !t.is_empty() {
            out.push(format!(
                "tail ESS below {ESS_THRESHOLD} for {}: tail quantiles (5%, 95%) are \
                 unreliable; run more draws",
                t.join(", ")
            ));
        }
        let nan: Vec<&str> = self
            .params
            .iter()
            .filter(|p| p.ess_bulk.is_nan())
            .map(|p| p.name.as_str())
            .collect();
        if !nan.is_empty() {
            out.push(format!(
                "ESS could not be computed for {} (too few draws or NaN draws)",
                nan.join(", ")
            ));
        }
        out
    }
}

impl fmt::Display for NutsDiagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chains = self.chains.len();
        write!(
            f,
            "NUTS: {chains} chain{} of {} warmup + {} draws{}, {:.2} s. Step size{} {}.",
            if chains == 1 { "" } else { "s" },
            self.warmup,
            self.draws,
            if self.thin > 1 {
                format!(" (thinned by {})", self.thin)
            } else {
                String::new()
            },
            self.elapsed.as_secs_f64(),
            if chains == 1 { "" } else { "s" },
            self.chains
                .iter()
                .map(|c| format!("{:.3}", c.step_size))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        let metrics: Vec<String> = self.chains.iter().map(|c| c.metric.to_string()).collect();
        let mut kinds = metrics.clone();
        kinds.dedup();
        write!(
            f,
            " Metric {} ({} adaptation). E-BFMI {}.",
            if kinds.len() == 1 {
                kinds[0].clone()
            } else {
                metrics.join(", ")
            },
            self.adaptation,
            self.chains
                .iter()
                .map(|c| format!("{:.2}", c.e_bfmi))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        let warnings = self.warnings();
        if warnings.is_empty() {
            let rhat_note = if chains > 1 {
                format!("R-hat <= {RHAT_THRESHOLD}, ")
            } else {
                String::new()
            };
            write!(
                f,
                "\nNo problems detected: {rhat_note}bulk and tail ESS >= {ESS_THRESHOLD} for \
                 every parameter, no divergent transitions, no draw at the maximum tree \
                 depth ({}), E-BFMI >= {E_BFMI_THRESHOLD} in every chain.",
                self.max_depth
            )
        } else {
            write!(
                f,
                "\n{} problem{} detected:",
                warnings.len(),
                if warnings.len() == 1 { "" } else { "s" }
            )?;
            for w in &warnings {
                write!(f, "\n  - {w}")?;
            }
            Ok(())
        }
    }
}
