//! The posterior's summary table and its export as CmdStan CSV.

use std::fmt;
use std::io::{self, Write};

use super::convergence;
use super::csv::{f64_str, SAMPLER_COLUMNS};
use super::nuts::NutsDiagnostics;
use super::posterior::{Diagnostics, Posterior};
use crate::stats::{mean, quantile, sd};

/// One row of a [`Summary`]: the statistics of one flat parameter element.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The CmdStan flat name (`sigma`, `w.1`, `m.2.3`).
    pub name: String,
    /// Posterior mean.
    pub mean: f64,
    /// Posterior standard deviation (divisor n - 1).
    pub sd: f64,
    /// 5% quantile.
    pub q5: f64,
    /// Median.
    pub q50: f64,
    /// 95% quantile.
    pub q95: f64,
    /// Monte Carlo standard error of the mean (MCMC only).
    pub mcse_mean: Option<f64>,
    /// Bulk effective sample size (MCMC only).
    pub ess_bulk: Option<f64>,
    /// Tail effective sample size (MCMC only).
    pub ess_tail: Option<f64>,
    /// Rank-normalised split R-hat (MCMC only; NaN for a single chain).
    pub r_hat: Option<f64>,
}

/// A table like ArviZ's `az.summary`: one row per flat parameter element, followed by the
/// method's verdict on its own fit. Built by [`Posterior::summary`]; print it with `{}`.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The method: `"VI"`, `"Laplace"` or `"NUTS"`.
    pub method: &'static str,
    /// The rows, in flat parameter order.
    pub rows: Vec<SummaryRow>,
    /// The method's verdict (its diagnostics' `Display`).
    pub verdict: String,
}

impl Summary {
    /// The row of flat element `name` (`w.2`), if any.
    pub fn row(&self, name: &str) -> Option<&SummaryRow> {
        self.rows.iter().find(|r| r.name == name)
    }
}

/// Formats a statistic in 9 characters: fixed notation when it fits, else scientific.
fn num(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{x:.2e}")
    } else {
        format!("{x:.decimals$}")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mcmc = self.rows.iter().any(|r| r.ess_bulk.is_some());
        let width = self
            .rows
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(0)
            .max(4);
        let mut header = vec!["mean", "sd", "5%", "50%", "95%"];
        if mcmc {
            header.extend(["mcse_mean", "ess_bulk", "ess_tail", "r_hat"]);
        }
        write!(f, "{:width$}", "")?;
        for h in &header {
            write!(f, " {h:>9}")?;
        }
        writeln!(f)?;
        for r in &self.rows {
            write!(f, "{:width$}", r.name)?;
            for x in [r.mean, r.sd, r.q5, r.q50, r.q95] {
                write!(f, " {:>9}", num(x, 3))?;
            }
            if mcmc {
                let opt = |x: Option<f64>, d: usize| x.map_or("-".into(), |x| num(x, d));
                write!(f, " {:>9}", opt(r.mcse_mean, 3))?;
                write!(f, " {:>9}", opt(r.ess_bulk.map(f64::round), 0))?;
                write!(f, " {:>9}", opt(r.ess_tail.map(f64::round), 0))?;
                write!(f, " {:>9}", opt(r.r_hat, 2))?;
            }
            writeln!(f)?;
        }
        write!(f, "\n{}", self.verdict)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnostics::Vi(d) => fmt::Display::fmt(d, f),
            Diagnostics::Laplace(d) => fmt::Display::fmt(d, f),
            Diagnostics::Nuts(d) => fmt::Display::fmt(d, f),
        }
    }
}

impl Posterior {
    /// The summary table: mean, sd, 5%, 50%, 95% of every flat parameter element and, for
    /// NUTS, the MCSE of the mean, bulk and tail ESS and R-hat; then the method's verdict.
    ///
    /// ```
    /// # use vi_runtime::{Chain, Diagnostics, ParamLayout, Posterior, Transform};
    /// # use vi_runtime::infer::laplace::LaplaceDiagnostics;
    /// let mut layout = ParamLayout::new();
    /// layout.push("w", vec![2], Transform::Identity);
    /// let chain = Chain { draws: vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0], lp: vec![0.0; 3] };
    /// let post = Posterior::new(layout, vec![chain],
    ///     Diagnostics::Laplace(LaplaceDiagnostics::default()));
    /// let s = post.summary();
    /// assert_eq!(s.row("w.2").unwrap().mean, 20.0);
    /// println!("{s}");
    /// ```
    pub fn summary(&self) -> Summary {
        let names = self.layout().flat_names();
        let nuts = match self.diagnostics() {
            Diagnostics::Nuts(d)
                if d.params.len() == names.len()
                    && d.params.iter().zip(&names).all(|(p, n)| &p.name == n) =>
            {
                Some(d)
            }
            _ => None,
        };
        let mcmc = self.method() == "NUTS";
        let rows = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let mut xs = self.flat_draws(i);
                let m = mean(&xs);
                let s = sd(&xs);
                let q5 = quantile(&mut xs, 0.05);
                let q50 = quantile(&mut xs, 0.5);
                let q95 = quantile(&mut xs, 0.95);
                let (mcse, bulk, tail, rhat) = match (mcmc, nuts) {
                    (true, Some(d)) => (
                        Some(d.params[i].mcse_mean),
                        Some(d.params[i].ess_bulk),
                        Some(d.params[i].ess_tail),
                        Some(d.params[i].rhat),
                    ),
                    (true, None) => {
                        let x = self.flat_draws_by_chain(i);
                        (
                            Some(convergence::mcse_mean(&x)),
                            Some(convergence::ess_bulk(&x)),
                            Some(convergence::ess_tail(&x)),
                            Some(convergence::rhat(&x)),
                        )
                    }
                    _ => (None, None, None, None),
                };
                SummaryRow {
                    name,
                    mean: m,
                    sd: s,
                    q5,
                    q50,
                    q95,
                    mcse_mean: mcse,
                    ess_bulk: bulk,
                    ess_tail: tail,
                    r_hat: rhat,
                }
            })
            .collect();
        Summary {
            method: self.method(),
            rows,
            verdict: self.diagnostics().to_string(),
        }
    }

    /// Writes every chain's draws as one CmdStan-style CSV (chains one after another), for
    /// tools that pool draws; ArviZ's `from_cmdstan` and R's `posterior` / `cmdstanr` see a
    /// single chain in it. For VI and Laplace (one chain) it is the whole posterior; for NUTS
    /// prefer one file per chain with [`Posterior::to_csv_chain`] so the readers can compute
    /// R-hat.
    ///
    /// Columns: `lp__`, then for NUTS `accept_stat__, stepsize__, treedepth__,
    /// n_leapfrog__, divergent__, energy__`, then the flat parameter names (`w.1`, `w.2`,
    /// `sigma`) on the constrained scale. Comment lines (`#`) carry the configuration as
    /// CmdStan writes it (`method`, `num_samples`, `num_warmup`, `thin`, `id`, the adapted
    /// step size and inverse metric, the elapsed times), which ArviZ's `from_cmdstan` and
    /// cmdstanr's `read_cmdstan_csv` parse.
    ///
    /// VI and Laplace files hold draws only, under `method = variational` / `laplace`. CmdStan
    /// writes the guide's mean as the first row of a variational file and cmdstanr drops that
    /// row, so in R read these files with `posterior::as_draws_df(read.csv(f, comment.char =
    /// "#"))` rather than `read_cmdstan_csv`.
    ///
    /// # Errors
    /// Any error of the writer.
    pub fn to_csv(&self, mut w: impl Write) -> io::Result<()> {
        self.write_csv(&mut w, None)
    }

    /// Writes chain `chain` (0-based) as a CmdStan CSV file: the format `from_cmdstan` and
    /// `read_cmdstan_csv` read, one file per chain. See [`Posterior::to_csv`] for the columns.
    ///
    /// ```
    /// # use vi_runtime::{Chain, Diagnostics, ParamLayout, Posterior, Transform};
    /// # use vi_runtime::infer::vi::ViDiagnostics;
    /// let mut layout = ParamLayout::new();
    /// layout.push("sigma", vec![], Transform::POSITIVE);
    /// let chain = Chain { draws: vec![1.5, 2.5], lp: vec![-1.0, -2.0] };
    /// let post = Posterior::new(layout, vec![chain], Diagnostics::Vi(ViDiagnostics::default()));
    /// let mut out = Vec::new();
    /// post.to_csv_chain(0, &mut out)?;
    /// let text = String::from_utf8(out).unwrap();
    /// let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    /// assert_eq!(rows, ["lp__,sigma", "-1.0,1.5", "-2.0,2.5"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// Any error of the writer; [`io::ErrorKind::InvalidInput`] if there is no such chain.
    pub fn to_csv_chain(&self, chain: usize, mut w: impl Write) -> io::Result<()> {
        if chain >= self.chains().len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "no chain {chain}: the posterior has {} chain(s)",
                    self.chains().len()
                ),
            ));
        }
        self.write_csv(&mut w, Some(chain))
    }

    fn write_csv(&self, w: &mut dyn Write, only: Option<usize>) -> io::Result<()> {
        let nuts: Option<&NutsDiagnostics> = match self.diagnostics() {
            Diagnostics::Nuts(d) => Some(d),
            _ => None,
        };
        let chains: Vec<usize> = match only {
            Some(c) => vec![c],
            None => (0..self.chains().len()).collect(),
        };
        // The configuration, as CmdStan writes it (readers parse `key = value` comments).
        // cmdstanr compares `model` across files; the posterior does not know the model's
        // name, so every file carries the same placeholder.
        writeln!(w, "# model = vi_model")?;
        writeln!(w, "# method = {}", csv_method(self.method()))?;
        if let Some(d) = nuts {
            writeln!(w, "#   sample")?;
            writeln!(w, "#     num_samples = {}", d.draws)?;
            writeln!(w, "#     num_warmup = {}", d.warmup)?;
            writeln!(w, "#     save_warmup = 0")?;
            writeln!(w, "#     thin = {}", d.thin)?;
            writeln!(w, "#     adapt")?;
            writeln!(w, "#       engaged = 1")?;
            writeln!(w, "#       delta = {}", f64_str(d.target_accept))?;
            writeln!(w, "#     algorithm = hmc")?;
            writeln!(w, "#       engine = nuts")?;
            writeln!(w, "#         max_depth = {}", d.max_depth)?;
            let dense = !d.chains.is_empty()
                && d.chains
                    .iter()
                    .all(|c| c.metric == super::nuts::Metric::Dense);
            writeln!(
                w,
                "#       metric = {}",
                if dense { "dense_e" } else { "diag_e" }
            )?;
            writeln!(w, "# seed = {}", d.seed)?;
        }
        writeln!(w, "# id = {}", only.map_or(1, |c| c + 1))?;
        // Derived quantities (`#[keep]`), which `read_csv` marks as such.
        let layout = self.layout();
        let derived: Vec<&str> = layout
            .params()
            .iter()
            .filter(|p| layout.is_derived(&p.name))
            .map(|p| p.name.as_str())
            .collect();
        if !derived.is_empty() {
            writeln!(w, "# derived = {}", derived.join(", "))?;
        }
        let mut header = vec!["lp__".to_string()];
        if nuts.is_some() {
            header.extend(SAMPLER_COLUMNS.map(String::from));
        }
        header.extend(self.layout().flat_names());
        writeln!(w, "{}", header.join(","))?;
        let d = self.layout().dim();
        for &c in &chains {
            let chain = &self.chains()[c];
            if let Some(nd) = nuts.filter(|_| only.is_some()) {
                if let Some(cd) = nd.chains.get(c) {
                    writeln!(w, "# Adaptation terminated")?;
                    writeln!(w, "# Step size = {}", f64_str(cd.step_size))?;
                    match (&cd.inv_metric_matrix, cd.metric) {
                        (Some(m), super::nuts::Metric::Dense) => {
                            writeln!(w, "# Elements of inverse mass matrix:")?;
                            for row in m.row_iter() {
                                let r: Vec<String> = row.iter().map(|x| f64_str(*x)).collect();
                                writeln!(w, "# {}", r.join(", "))?;
                            }
                        }
                        _ => {
                            writeln!(w, "# Diagonal elements of inverse mass matrix:")?;
                            let m: Vec<String> =
                                cd.inv_metric.iter().map(|x| f64_str(*x)).collect();
                            writeln!(w, "# {}", m.join(", "))?;
                        }
                    }
                }
            }
            let stats = nuts.and_then(|nd| nd.chains.get(c)).map(|cd| &cd.sampler);
            let mut line = String::new();
            for k in 0..chain.len() {
                line.clear();
                line.push_str(&f64_str(chain.lp[k]));
                if nuts.is_some() {
                    let s = stats.and_then(|s| s.get(k)).copied().unwrap_or_default();
                    for x in [
                        f64_str(s.accept_stat),
                        f64_str(s.step_size),
                        s.tree_depth.to_string(),
                        s.n_leapfrog.to_string(),
                        u8::from(s.divergent).to_string(),
                        f64_str(s.energy),
                    ] {
                        line.push(',');
                        line.push_str(&x);
                    }
                }
                for x in &chain.draws[k * d..(k + 1) * d] {
                    line.push(',');
                    line.push_str(&f64_str(*x));
                }
                writeln!(w, "{line}")?;
            }
        }
        // CmdStan's timing block: three lines, the first with the "Elapsed Time:" label.
        if let Some(nd) = nuts {
            let (warm, samp) = match only.and_then(|c| nd.chains.get(c)) {
                Some(cd) => (cd.warmup_time, cd.sampling_time),
                None => (
                    nd.chains.iter().map(|c| c.warmup_time).sum(),
                    nd.chains.iter().map(|c| c.sampling_time).sum(),
                ),
            };
            let secs = |d: std::time::Duration| format!("{:.6}", d.as_secs_f64());
            writeln!(w, "# ")?;
            writeln!(w, "#  Elapsed Time: {} seconds (Warm-up)", secs(warm))?;
            writeln!(w, "#                {} seconds (Sampling)", secs(samp))?;
            writeln!(w, "#                {} seconds (Total)", secs(warm + samp))?;
        }
        Ok(())
    }
}

/// CmdStan's method name.
fn csv_method(method: &str) -> &'static str {
    match method {
        "NUTS" => "sample",
        "VI" => "variational",
        _ => "laplace",
    }
}
