// Longer than 800 lines: the writer and the reader of one file format, with their tests,
// kept together so that what one writes the other reads.
//! CmdStan CSV files written draw by draw as a fit makes them, and read back into a
//! [`Posterior`].
//!
//! A file holds one chain: comment lines (`#`) with the configuration as CmdStan writes it
//! (`method`, `id`, and whatever the engine adds), one header line (`lp__`, for NUTS the
//! sampler columns `accept_stat__, stepsize__, treedepth__, n_leapfrog__, divergent__,
//! energy__`, then the flat parameter names `w.1`, `w.2`, `sigma`, `m.1.2`), then one line per
//! draw on the constrained scale. [`CsvWriter`] flushes after every draw (or every
//! [`CsvWriter::flush_every`] draws), so a fit that is stopped leaves a valid file of what it
//! drew, at most a last line cut short, which [`read_csv`] drops.
//!
//! # Writing from an engine
//!
//! ```
//! use vi_runtime::infer::csv::{CsvMethod, CsvWriter};
//! use vi_runtime::{read_csv, ParamLayout, SamplerStats, Transform};
//!
//! let mut layout = ParamLayout::new();
//! layout.push("w", vec![2], Transform::Identity);
//! let dir = std::env::temp_dir().join(format!("vi-csv-doc-{}", std::process::id()));
//! // Chain 0 of a NUTS run: `dir/nuts-1.csv`.
//! let mut w = CsvWriter::create_in(&dir, CsvMethod::Nuts, 0, &layout, &["seed = 7".into()])?;
//! let stats = SamplerStats { accept_stat: 0.9, step_size: 0.5, tree_depth: 2, n_leapfrog: 3,
//!     divergent: false, energy: 1.5 };
//! w.write_draw(-1.25, Some(&stats), &[0.5, -0.5])?;
//! w.write_draw(-1.5, Some(&stats), &[0.25, 1.0])?;
//! let path = w.finish()?;
//! let post = read_csv([&path])?;
//! assert_eq!(post.draws("w")?, [vec![0.5, -0.5], vec![0.25, 1.0]]);
//! assert_eq!(post.method(), "NUTS");
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::laplace::LaplaceDiagnostics;
use super::nuts::{e_bfmi, ChainDiagnostics, NutsDiagnostics, ParamDiagnostics, SamplerStats};
use super::posterior::{Chain, Diagnostics, Posterior};
use super::psis::{pareto_k, Reliability};
use super::vi::{ViDiagnostics, ViMethod};
use crate::error::ReadCsvError;
use crate::model::ParamLayout;
use crate::transform::Transform;

/// The sampler columns of a NUTS file, in CmdStan's order.
pub const SAMPLER_COLUMNS: [&str; 6] = [
    "accept_stat__",
    "stepsize__",
    "treedepth__",
    "n_leapfrog__",
    "divergent__",
    "energy__",
];

/// The columns of a VI or Laplace file after `lp__`: the model's log density `log p` (with
/// the Jacobian, as the fit used it) and the approximation's `log q` at each draw, as
/// CmdStan's `log_p__` and `log_g__`; [`read_csv`] gets Pareto k-hat back from them.
pub const APPROX_COLUMNS: [&str; 2] = ["log_p__", "log_g__"];

/// The method a file's draws come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvMethod {
    /// NUTS: CmdStan's `method = sample`, with the sampler columns.
    Nuts,
    /// Variational inference: `method = variational`.
    Vi,
    /// The Laplace approximation: `method = laplace`.
    Laplace,
}

impl CsvMethod {
    /// CmdStan's name of the method.
    pub fn cmdstan_name(self) -> &'static str {
        match self {
            CsvMethod::Nuts => "sample",
            CsvMethod::Vi => "variational",
            CsvMethod::Laplace => "laplace",
        }
    }

    /// The file-name prefix: `nuts`, `vi`, `laplace`.
    pub fn prefix(self) -> &'static str {
        match self {
            CsvMethod::Nuts => "nuts",
            CsvMethod::Vi => "vi",
            CsvMethod::Laplace => "laplace",
        }
    }
}

/// A float as CmdStan readers parse it: shortest round-trip decimal, `nan`, `inf`, `-inf`.
pub(crate) fn f64_str(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{x:?}")
    }
}

/// One chain's CSV file, written a draw at a time.
#[derive(Debug)]
pub struct CsvWriter {
    out: BufWriter<File>,
    path: PathBuf,
    dim: usize,
    sampler: bool,
    approx: bool,
    flush_every: usize,
    pending: usize,
    line: String,
}

impl CsvWriter {
    /// The file of chain `chain` (0-based) of `method` in `dir`: `dir/nuts-1.csv`,
    /// `dir/vi-1.csv`, `dir/laplace-1.csv`.
    pub fn path_in(dir: &Path, method: CsvMethod, chain: usize) -> PathBuf {
        dir.join(format!("{}-{}.csv", method.prefix(), chain + 1))
    }

    /// Creates `dir` if needed and the file [`CsvWriter::path_in`] names, and writes its
    /// comments and header. `config` lines are written as comments (`# seed = 7`) before the
    /// header, after `# model`, `# method` and `# id`.
    ///
    /// # Errors
    /// The I/O error, in words with the path.
    pub fn create_in(
        dir: &Path,
        method: CsvMethod,
        chain: usize,
        layout: &ParamLayout,
        config: &[String],
    ) -> Result<CsvWriter, String> {
        fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the directory {}: {e}", dir.display()))?;
        Self::create(
            &Self::path_in(dir, method, chain),
            method,
            chain,
            layout,
            config,
        )
    }

    /// As [`CsvWriter::create_in`], at the path given.
    ///
    /// # Errors
    /// The I/O error, in words with the path.
    pub fn create(
        path: &Path,
        method: CsvMethod,
        chain: usize,
        layout: &ParamLayout,
        config: &[String],
    ) -> Result<CsvWriter, String> {
        let file =
            File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut w = CsvWriter {
            out: BufWriter::new(file),
            path: path.to_path_buf(),
            dim: layout.dim(),
            sampler: method == CsvMethod::Nuts,
            approx: method != CsvMethod::Nuts,
            flush_every: 1,
            pending: 0,
            line: String::new(),
        };
        let mut head = format!(
            "# model = vi_model\n# method = {}\n# id = {}\n",
            method.cmdstan_name(),
            chain + 1
        );
        for c in config {
            head.push_str("# ");
            head.push_str(c);
            head.push('\n');
        }
        // Derived quantities (`#[keep]`) come after the parameters; `read_csv` marks them.
        let derived: Vec<&str> = layout
            .params()
            .iter()
            .filter(|p| layout.is_derived(&p.name))
            .map(|p| p.name.as_str())
            .collect();
        if !derived.is_empty() {
            head.push_str(&format!("# {DERIVED_KEY} = {}\n", derived.join(", ")));
        }
        let mut cols = vec!["lp__".to_string()];
        if w.sampler {
            cols.extend(SAMPLER_COLUMNS.map(String::from));
        }
        if w.approx {
            cols.extend(APPROX_COLUMNS.map(String::from));
        }
        cols.extend(layout.flat_names());
        head.push_str(&cols.join(","));
        head.push('\n');
        w.write_str(&head)?;
        w.flush()?;
        Ok(w)
    }

    /// Flush to the file after every `n` draws (default 1: every draw). A larger `n` costs
    /// fewer system calls and loses at most `n - 1` draws when the process is killed.
    pub fn flush_every(mut self, n: usize) -> Self {
        self.flush_every = n.max(1);
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_str(&mut self, s: &str) -> Result<(), String> {
        self.out
            .write_all(s.as_bytes())
            .map_err(|e| format!("cannot write to {}: {e}", self.path.display()))
    }

    fn flush(&mut self) -> Result<(), String> {
        self.pending = 0;
        self.out
            .flush()
            .map_err(|e| format!("cannot write to {}: {e}", self.path.display()))
    }

    /// Writes a comment line (`# Step size = 0.5`), as CmdStan does after adaptation.
    ///
    /// # Errors
    /// The I/O error, in words with the path.
    pub fn comment(&mut self, text: &str) -> Result<(), String> {
        let line = format!("# {text}\n");
        self.write_str(&line)?;
        self.flush()
    }

    /// Writes a `# key = value` comment, which [`read_csv`] reads back into the
    /// diagnostics where it knows the key.
    ///
    /// # Errors
    /// The I/O error, in words with the path.
    pub fn comment_value(
        &mut self,
        key: &str,
        value: impl std::fmt::Display,
    ) -> Result<(), String> {
        self.comment(&format!("{key} = {value}"))
    }

    /// Writes a `# key = v1, v2, ...` comment of numbers (empty lists are not written).
    ///
    /// # Errors
    /// The I/O error, in words with the path.
    pub fn comment_list(&mut self, key: &str, values: &[f64]) -> Result<(), String> {
        if values.is_empty() {
            return Ok(());
        }
        let v: Vec<String> = values.iter().map(|x| f64_str(*x)).collect();
        self.comment(&format!("{key} = {}", v.join(", ")))
    }

    /// Writes one draw: `lp` (`lp__`), the sampler's statistics for a NUTS file (`None`
    /// writes zeros there; ignored for VI and Laplace files, whose `log_p__` and `log_g__`
    /// are then NaN: use [`CsvWriter::write_approx_draw`]), and the draw on the constrained
    /// scale in flat order (`dim` values).
    ///
    /// # Errors
    /// The I/O error, in words with the path; a draw of the wrong length.
    pub fn write_draw(
        &mut self,
        lp: f64,
        sampler: Option<&SamplerStats>,
        draw: &[f64],
    ) -> Result<(), String> {
        self.write_row(lp, sampler, (f64::NAN, f64::NAN), draw)
    }

    /// Writes one draw of a VI or Laplace file: `lp__`, the model's `log p` and the
    /// approximation's `log q` there (`log_p__`, `log_g__`), and the draw on the constrained
    /// scale in flat order.
    ///
    /// # Errors
    /// The I/O error, in words with the path; a draw of the wrong length.
    pub fn write_approx_draw(
        &mut self,
        lp: f64,
        log_p: f64,
        log_q: f64,
        draw: &[f64],
    ) -> Result<(), String> {
        self.write_row(lp, None, (log_p, log_q), draw)
    }

    fn write_row(
        &mut self,
        lp: f64,
        sampler: Option<&SamplerStats>,
        approx: (f64, f64),
        draw: &[f64],
    ) -> Result<(), String> {
        if draw.len() != self.dim {
            return Err(format!(
                "a draw of {} values for a model of dimension {} ({})",
                draw.len(),
                self.dim,
                self.path.display()
            ));
        }
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        line.push_str(&f64_str(lp));
        if self.sampler {
            let s = sampler.copied().unwrap_or_default();
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
        if self.approx {
            for x in [approx.0, approx.1] {
                line.push(',');
                line.push_str(&f64_str(x));
            }
        }
        for x in draw {
            line.push(',');
            line.push_str(&f64_str(*x));
        }
        line.push('\n');
        let r = self.write_str(&line);
        self.line = line;
        r?;
        self.pending += 1;
        if self.pending >= self.flush_every {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes what is left and closes the file; returns its path.
    ///
    /// # Errors
    /// The I/O error, in words with the path.
    pub fn finish(mut self) -> Result<PathBuf, String> {
        self.flush()?;
        Ok(self.path)
    }
}

/// The comment CmdStan writes after warmup before the line of the inverse metric's diagonal.
pub const METRIC_COMMENT: &str = "Diagonal elements of inverse mass matrix:";

/// One file's contents.
struct CsvFile {
    path: PathBuf,
    method: Option<String>,
    config: Vec<(String, String)>,
    step_size: Option<f64>,
    names: Vec<String>,
    lp: Vec<f64>,
    sampler: Vec<SamplerStats>,
    /// `log_p__` and `log_g__` of VI and Laplace files.
    log_p: Vec<f64>,
    log_g: Vec<f64>,
    /// The diagonal of the inverse metric NUTS adapted (the comment after warmup).
    inv_metric: Option<Vec<f64>>,
    /// Draws in the file's column order.
    draws: Vec<f64>,
}

impl CsvFile {
    /// The value of the first `# key = value` comment.
    fn get(&self, key: &str) -> Option<&str> {
        self.config
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn num(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(parse_f64)
    }

    fn count(&self, key: &str) -> usize {
        self.num(key).map_or(0, |v| v as usize)
    }

    fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| matches!(v, "true" | "1"))
    }

    /// A `# key = v1, v2, ...` comment's numbers (empty when absent or malformed).
    fn list(&self, key: &str) -> Vec<f64> {
        self.get(key)
            .and_then(|v| v.split(',').map(parse_f64).collect::<Option<Vec<_>>>())
            .unwrap_or_default()
    }

    /// `log p - log q` of each draw, when the file has them.
    fn log_ratios(&self) -> Vec<f64> {
        self.log_p
            .iter()
            .zip(&self.log_g)
            .map(|(p, q)| p - q)
            .collect()
    }

    fn khat(&self) -> f64 {
        let r = self.log_ratios();
        if r.is_empty() || r.iter().all(|x| x.is_nan()) {
            f64::NAN
        } else {
            pareto_k(&r)
        }
    }
}

/// The diagnostics of a Laplace file: what [`crate::infer::laplace::Laplace::fit`] wrote as
/// comments, and k-hat from `log_p__` and `log_g__`.
fn laplace_diagnostics(f: &CsvFile) -> LaplaceDiagnostics {
    let khat = f.khat();
    let distinct_modes = f.count("distinct_modes");
    LaplaceDiagnostics {
        mode: f.list("mode"),
        mode_unconstrained: f.list("mode_unconstrained"),
        log_density_at_mode: f.num("log_density_at_mode").unwrap_or(f64::NAN),
        log_evidence: f.num("log_evidence").unwrap_or(f64::NAN),
        jacobian: f.flag("jacobian").unwrap_or(true),
        iterations: f.count("iterations"),
        newton_steps: f.count("newton_steps"),
        converged: f.flag("converged").unwrap_or(false),
        stop_reason: f.get("stop_reason").unwrap_or_default().to_string(),
        grad_norm: f.num("grad_norm").unwrap_or(f64::NAN),
        min_eigenvalue: f.num("min_eigenvalue").unwrap_or(f64::NAN),
        condition_number: f.num("condition_number").unwrap_or(f64::NAN),
        starts: f.count("starts"),
        starts_converged: f.count("starts_converged"),
        distinct_modes,
        faults: f.count("model_faults"),
        log_p: f.log_p.clone(),
        log_q: f.log_g.clone(),
        khat,
        reliability: if distinct_modes > 1 {
            Reliability::Unreliable
        } else {
            Reliability::from_khat(khat)
        },
        ..LaplaceDiagnostics::default()
    }
}

/// The diagnostics of a VI file: what [`crate::infer::vi::Vi::fit`] wrote as comments, and
/// k-hat from `log_p__` and `log_g__`.
fn vi_diagnostics(f: &CsvFile) -> ViDiagnostics {
    let khat = f.khat();
    let distinct_modes = f.count("distinct_modes");
    ViDiagnostics {
        method: match f.get("vi_method") {
            Some("stochastic") => ViMethod::Stochastic,
            _ => ViMethod::Deterministic,
        },
        elbo: f.num("elbo").unwrap_or(f64::NAN),
        elbo_mcse: f.num("elbo_mcse").unwrap_or(f64::NAN),
        objective: f.num("objective"),
        gradient_evaluations: f.count("gradient_evaluations"),
        iterations: f.count("iterations"),
        newton_steps: f.count("newton_steps"),
        converged: f.flag("converged").unwrap_or(false),
        grad_norm: f.num("grad_norm"),
        stop_reason: f.get("stop_reason").unwrap_or_default().to_string(),
        fixed_draws: f.count("fixed_draws"),
        skipped_steps: f.count("skipped_steps"),
        mean: f.list("mean_unconstrained"),
        sd: f.list("sd_unconstrained"),
        warnings: f
            .config
            .iter()
            .filter(|(k, _)| k == "warning")
            .map(|(_, v)| v.clone())
            .collect(),
        model_faults: f.count("model_faults"),
        distinct_modes,
        khat,
        reliability: if distinct_modes > 1 {
            Reliability::Unreliable
        } else {
            Reliability::from_khat(khat)
        },
        ..ViDiagnostics::default()
    }
}

fn parse_f64(s: &str) -> Option<f64> {
    match s.trim() {
        "nan" | "NaN" => Some(f64::NAN),
        "inf" | "Inf" => Some(f64::INFINITY),
        "-inf" | "-Inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

fn read_one(path: &Path) -> Result<CsvFile, ReadCsvError> {
    let err = |line: Option<usize>, message: String| ReadCsvError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let bytes = fs::read(path).map_err(|e| err(None, format!("cannot read the file: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    // A last line without its newline was cut short by an interrupted write: drop it.
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut file = CsvFile {
        path: path.to_path_buf(),
        method: None,
        config: Vec::new(),
        step_size: None,
        names: Vec::new(),
        lp: Vec::new(),
        sampler: Vec::new(),
        log_p: Vec::new(),
        log_g: Vec::new(),
        inv_metric: None,
        draws: Vec::new(),
    };
    let mut metric_next = false;
    let mut header: Option<Vec<String>> = None;
    let mut lp_col = 0;
    let mut sampler_cols: Vec<Option<usize>> = Vec::new();
    let mut param_cols: Vec<usize> = Vec::new();
    let mut approx_cols: [Option<usize>; 2] = [None, None];
    let lines: Vec<&str> = complete.lines().collect();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lineno = i + 1;
        if let Some(c) = line.strip_prefix('#') {
            let c = c.trim();
            if metric_next {
                metric_next = false;
                file.inv_metric = c.split(',').map(parse_f64).collect();
                continue;
            }
            if c == METRIC_COMMENT {
                metric_next = true;
                continue;
            }
            if let Some((k, v)) = c.split_once('=') {
                // CmdStan appends ` (Default)` to values left at their defaults.
                let v = v.trim();
                let v = v.strip_suffix("(Default)").unwrap_or(v).trim();
                let (k, v) = (k.trim().to_string(), v.to_string());
                if k == "method" && file.method.is_none() {
                    file.method = Some(v.clone());
                }
                if k == "Step size" {
                    file.step_size = parse_f64(&v);
                }
                file.config.push((k, v));
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let Some(cols) = &header else {
            let cols: Vec<String> = line.split(',').map(|s| s.trim().to_string()).collect();
            lp_col = cols
                .iter()
                .position(|c| c == "lp__")
                .ok_or_else(|| err(Some(lineno), "the header has no `lp__` column".to_string()))?;
            sampler_cols = SAMPLER_COLUMNS
                .iter()
                .map(|s| cols.iter().position(|c| c == s))
                .collect();
            approx_cols = APPROX_COLUMNS.map(|s| cols.iter().position(|c| c == s));
            param_cols = (0..cols.len())
                .filter(|&j| !cols[j].ends_with("__"))
                .collect();
            file.names = param_cols.iter().map(|&j| cols[j].clone()).collect();
            header = Some(cols);
            continue;
        };
        let fields: Vec<&str> = line.split(',').collect();
        let last = i + 1 == lines.len();
        let values: Option<Vec<f64>> = if fields.len() == cols.len() {
            fields.iter().map(|f| parse_f64(f)).collect()
        } else {
            None
        };
        let Some(values) = values else {
            if last {
                break; // a draw cut short
            }
            return Err(err(
                Some(lineno),
                format!(
                    "expected {} comma-separated numbers, found `{}`",
                    cols.len(),
                    if line.len() > 80 { &line[..80] } else { line }
                ),
            ));
        };
        file.lp.push(values[lp_col]);
        let get = |k: usize| sampler_cols[k].map_or(0.0, |j| values[j]);
        file.sampler.push(SamplerStats {
            accept_stat: get(0),
            step_size: get(1),
            tree_depth: get(2) as usize,
            n_leapfrog: get(3) as usize,
            divergent: get(4) != 0.0,
            energy: get(5),
        });
        if let [Some(p), Some(g)] = approx_cols {
            file.log_p.push(values[p]);
            file.log_g.push(values[g]);
        }
        file.draws.extend(param_cols.iter().map(|&j| values[j]));
    }
    if header.is_none() {
        return Err(err(None, "no header line (`lp__,...`) found".to_string()));
    }
    Ok(file)
}

/// The layout that flat names (`a`, `w.1`, `w.2`, `m.1.1`, `m.1.2`, ...) describe: one
/// parameter per base name, in order of first appearance, shaped by the largest index, with
/// the identity transform (the values are on the constrained scale already). Returns it
/// with, for each of its flat names, the column that holds it.
/// The comment naming the derived quantities of a file (`# derived = a, theta`).
const DERIVED_KEY: &str = "derived";

/// `derived`: the names a file's `# derived = ..` comment gives; they are derived
/// quantities of the layout when they come after every parameter.
fn layout_from_names(
    names: &[String],
    derived: &[&str],
) -> Result<(ParamLayout, Vec<usize>), String> {
    let mut order: Vec<(String, Vec<usize>)> = Vec::new();
    for n in names {
        let mut parts = n.split('.');
        let base = parts.next().unwrap_or_default().to_string();
        let idx: Vec<usize> = parts
            .map(|p| p.parse::<usize>().ok().filter(|&i| i >= 1))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("the column name `{n}` is not a CmdStan flat name"))?;
        match order.iter_mut().find(|(b, _)| *b == base) {
            Some((_, shape)) => {
                if shape.len() != idx.len() {
                    return Err(format!("`{n}` has a different number of indices"));
                }
                for (s, i) in shape.iter_mut().zip(&idx) {
                    *s = (*s).max(*i);
                }
            }
            None => order.push((base, idx)),
        }
    }
    let first_derived = order
        .iter()
        .rposition(|(b, _)| !derived.contains(&b.as_str()))
        .map_or(0, |i| i + 1);
    let mut layout = ParamLayout::new();
    for (k, (base, shape)) in order.into_iter().enumerate() {
        if k >= first_derived {
            layout.push_derived(base, shape);
        } else {
            layout.push(base, shape, Transform::Identity);
        }
    }
    let flat = layout.flat_names();
    if flat.len() != names.len() {
        return Err(format!(
            "the columns do not make whole arrays: {} columns for {} elements",
            names.len(),
            flat.len()
        ));
    }
    let columns = flat
        .iter()
        .map(|f| {
            names
                .iter()
                .position(|n| n == f)
                .ok_or_else(|| format!("no column `{f}`"))
        })
        .collect::<Result<_, _>>()?;
    Ok((layout, columns))
}

/// Reads CmdStan CSV files, one chain each (as written by [`CsvWriter`], by the engines'
/// `output(dir)`, by [`Posterior::to_csv_chain`], or by CmdStan), into a [`Posterior`].
///
/// A file whose last line was cut short (an interrupted run) is read up to its last complete
/// draw. Parameters come back with their shapes (matrices in CmdStan's column-major order
/// are put row-major) and the identity transform, since the values are on the constrained
/// scale already. NUTS files (`method = sample`) get their sampler statistics, divergences
/// and convergence diagnostics (R-hat, ESS, E-BFMI, step size and inverse metric) back; VI
/// and Laplace files get the optimiser's figures the engine wrote as comments and Pareto
/// k-hat (with its verdict) from their `log_p__` and `log_g__` columns.
///
/// # Errors
/// [`ReadCsvError`], naming the file and the line: a file that cannot be read, has no
/// header or a malformed draw before its last line, files whose columns differ, or no files.
pub fn read_csv<P: AsRef<Path>>(
    paths: impl IntoIterator<Item = P>,
) -> Result<Posterior, ReadCsvError> {
    let files: Vec<CsvFile> = paths
        .into_iter()
        .map(|p| read_one(p.as_ref()))
        .collect::<Result<_, _>>()?;
    let Some(first) = files.first() else {
        return Err(ReadCsvError {
            path: PathBuf::new(),
            line: None,
            message: "no files given".into(),
        });
    };
    for f in &files[1..] {
        if f.names != first.names || f.method != first.method {
            return Err(ReadCsvError {
                path: f.path.clone(),
                line: None,
                message: format!(
                    "its method or columns differ from those of {}",
                    first.path.display()
                ),
            });
        }
    }
    let derived: Vec<&str> = first
        .get(DERIVED_KEY)
        .map(|v| v.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let (layout, columns) =
        layout_from_names(&first.names, &derived).map_err(|message| ReadCsvError {
            path: first.path.clone(),
            line: None,
            message,
        })?;
    let k = first.names.len();
    let chains: Vec<Chain> = files
        .iter()
        .map(|f| Chain {
            draws: f
                .draws
                .chunks_exact(k.max(1))
                .take(f.lp.len())
                .flat_map(|row| columns.iter().map(|&c| row[c]))
                .collect(),
            lp: f.lp.clone(),
        })
        .collect();
    let config = |f: &CsvFile, key: &str| {
        f.config
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse::<f64>().ok())
    };
    let diagnostics = match first.method.as_deref() {
        Some("variational") => Diagnostics::Vi(vi_diagnostics(first)),
        Some("sample") => {
            let chain_diags: Vec<ChainDiagnostics> = files
                .iter()
                .map(|f| ChainDiagnostics {
                    step_size: f.step_size.unwrap_or(f64::NAN),
                    inv_metric: f.inv_metric.clone().unwrap_or_default(),
                    e_bfmi: e_bfmi(&f.sampler.iter().map(|s| s.energy).collect::<Vec<_>>()),
                    sampler: f.sampler.clone(),
                    ..ChainDiagnostics::default()
                })
                .collect();
            let max_depth = config(first, "max_depth").map_or(10, |v| v as usize);
            let tmp = Posterior::new(
                layout.clone(),
                chains.clone(),
                Diagnostics::Vi(ViDiagnostics::default()),
            );
            let params = layout
                .flat_names()
                .into_iter()
                .enumerate()
                .map(|(i, name)| {
                    let x = tmp.flat_draws_by_chain(i);
                    ParamDiagnostics::of(name, &x)
                })
                .collect();
            Diagnostics::Nuts(NutsDiagnostics {
                divergences: files
                    .iter()
                    .map(|f| f.sampler.iter().filter(|s| s.divergent).count())
                    .collect(),
                chains: chain_diags
                    .into_iter()
                    .map(|mut c| {
                        c.max_depth_hits = c
                            .sampler
                            .iter()
                            .filter(|s| s.tree_depth >= max_depth)
                            .count();
                        c
                    })
                    .collect(),
                params,
                max_depth,
                seed: first.get("seed").and_then(|v| v.parse().ok()).unwrap_or(0),
                warmup: config(first, "num_warmup").map_or(0, |v| v as usize),
                draws: first.lp.len(),
                thin: config(first, "thin").map_or(1, |v| v as usize),
                target_accept: config(first, "delta").unwrap_or(0.8),
                ..NutsDiagnostics::default()
            })
        }
        _ => Diagnostics::Laplace(laplace_diagnostics(first)),
    };
    Ok(Posterior::new(layout, chains, diagnostics))
}
