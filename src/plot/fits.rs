//! The figures of fits: the ELBO trace of a VI fit, posterior densities of several methods
//! overlaid, NUTS trace plots and posterior predictive bands.

use std::path::Path;

use vi_runtime::stats::{kde, quantile, quantile_band, BandError};

use super::figure::{linspace, padded, save_stacked, Figure};
use super::PlotError;
use crate::{Diagnostics, Posterior};

/// The ELBO estimate at each iteration of a VI fit.
///
/// Non-finite estimates (skipped steps) are left out. The y axis starts at the trace's 5%
/// quantile, so the first few very negative values do not flatten the approach to
/// convergence; they are drawn at the bottom edge.
///
/// # Errors
/// [`PlotError::WrongMethod`] if `posterior` is not from `Vi`, [`PlotError::NoData`] if the
/// trace has no finite value, and the errors of [`Figure::save`].
pub fn elbo_trace(posterior: &Posterior, path: impl AsRef<Path>) -> Result<(), PlotError> {
    let Diagnostics::Vi(d) = posterior.diagnostics() else {
        return Err(PlotError::WrongMethod {
            expected: "VI",
            found: posterior.method(),
        });
    };
    let mut finite: Vec<f64> = d
        .elbo_trace
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if finite.is_empty() {
        return Err(PlotError::NoData {
            what: "the ELBO trace has no finite value".into(),
        });
    }
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = quantile(&mut finite, 0.05);
    let (lo, hi) = padded(&[lo, hi], false);
    let iter: Vec<f64> = (1..=d.elbo_trace.len()).map(|i| i as f64).collect();
    let clipped: Vec<f64> = d.elbo_trace.iter().map(|&v| v.max(lo)).collect();
    Figure::new("ELBO trace")
        .x_label("iteration")
        .y_label("ELBO")
        .y_range(lo, hi)
        .line("ELBO", &iter, &clipped)
        .save(path)
}

/// The flat index of element `element` of parameter `name`, and its CmdStan name.
fn element_index(
    posterior: &Posterior,
    name: &str,
    element: usize,
) -> Result<(usize, String), PlotError> {
    let p = posterior.layout().get(name)?;
    if element >= p.size() {
        return Err(PlotError::ElementOutOfRange {
            name: name.to_string(),
            index: element,
            size: p.size(),
        });
    }
    Ok((p.offset + element, p.flat_names()[element].clone()))
}

/// Densities of element `element` (0-based, row-major) of parameter `name` under each fit,
/// overlaid: one kernel density estimate per fit, labelled with the name given, plus
/// the exact density as a black dashed curve when given.
///
/// The kernel is Gaussian with Silverman's bandwidth, reflected at the bounds of the
/// parameter's support (so a probability near 0 or a scale near 0 is not smeared across
/// the boundary). The x axis spans the 0.5% to 99.5% quantiles of all draws.
///
/// # Errors
/// [`PlotError::UnknownName`] or [`PlotError::ElementOutOfRange`] if a fit has no such
/// element, [`PlotError::NoData`] if there are no fits or no finite draws, and the errors
/// of [`Figure::save`].
pub fn posterior_densities(
    fits: &[(&str, &Posterior)],
    name: &str,
    element: usize,
    exact: Option<&dyn Fn(f64) -> f64>,
    path: impl AsRef<Path>,
) -> Result<(), PlotError> {
    if fits.is_empty() {
        return Err(PlotError::NoData {
            what: "no posterior to draw".into(),
        });
    }
    let mut samples = Vec::with_capacity(fits.len());
    let mut label = String::new();
    let mut bounds = (f64::NEG_INFINITY, f64::INFINITY);
    for (method, post) in fits {
        let (i, flat) = element_index(post, name, element)?;
        label = flat;
        if let Some(t) = post.layout().transform_of(i) {
            bounds = support(t);
        }
        let xs: Vec<f64> = post
            .flat_draws(i)
            .into_iter()
            .filter(|v| v.is_finite())
            .collect();
        samples.push((*method, xs));
    }
    let mut all: Vec<f64> = samples
        .iter()
        .flat_map(|(_, x)| x.iter().copied())
        .collect();
    if all.is_empty() {
        return Err(PlotError::NoData {
            what: format!("no finite draw of `{label}`"),
        });
    }
    let q_lo = quantile(&mut all, 0.005);
    let q_hi = quantile(&mut all, 0.995);
    let (mut lo, mut hi) = padded(&[q_lo, q_hi], false);
    lo = lo.max(bounds.0);
    hi = hi.min(bounds.1);
    let grid = linspace(lo, hi, 300);
    let mut fig = Figure::new(format!("Posterior of {label}"))
        .x_label(label.as_str())
        .y_label("density");
    for (method, xs) in &samples {
        if xs.is_empty() {
            continue;
        }
        let dens = kde(xs, &grid, bounds);
        fig = fig.line(method, &grid, &dens);
    }
    if let Some(f) = exact {
        let ys: Vec<f64> = grid.iter().map(|&x| f(x)).collect();
        fig = fig.reference("exact", &grid, &ys);
    }
    fig.save(path)
}

/// The support `(lower, upper)` of a transform.
fn support(t: crate::Transform) -> (f64, f64) {
    match t {
        crate::Transform::Identity => (f64::NEG_INFINITY, f64::INFINITY),
        crate::Transform::LowerBound(a) => (a, f64::INFINITY),
        crate::Transform::UpperBound(b) => (f64::NEG_INFINITY, b),
        crate::Transform::Interval(a, b) => (a, b),
    }
}

/// Trace plots of every element of parameter `name`: one panel per element, one line per
/// chain, draw number on the x axis.
///
/// # Errors
/// [`PlotError::UnknownName`] if there is no such parameter, [`PlotError::NoData`] if the
/// posterior has no draws, and the errors of [`Figure::save`].
pub fn trace_plots(
    posterior: &Posterior,
    name: &str,
    path: impl AsRef<Path>,
) -> Result<(), PlotError> {
    let p = posterior.layout().get(name)?;
    if posterior.num_draws() == 0 || p.size() == 0 {
        return Err(PlotError::NoData {
            what: format!("no draws of `{name}`"),
        });
    }
    let figures: Vec<Figure> = p
        .flat_names()
        .iter()
        .enumerate()
        .map(|(k, flat)| {
            let mut fig = Figure::new(format!("{} trace of {flat}", posterior.method()))
                .x_label("draw")
                .y_label(flat.as_str())
                .line_width(1)
                .size(900, 260);
            for (c, chain) in posterior
                .flat_draws_by_chain(p.offset + k)
                .iter()
                .enumerate()
            {
                let x: Vec<f64> = (1..=chain.len()).map(|i| i as f64).collect();
                fig = fig.line(&format!("chain {}", c + 1), &x, chain);
            }
            fig
        })
        .collect();
    save_stacked(&figures, path)
}

/// The pointwise mean and central `level` interval of predictive draws:
/// `draws[d][g]` is draw `d` at grid point `g`. Returns `(mean, lower, upper)`.
///
/// # Errors
/// [`PlotError::NoData`] without draws, [`PlotError::LengthMismatch`] if the draws differ
/// in length, [`PlotError::InvalidSetting`] unless `0 < level < 1`.
pub fn band_summary(draws: &[Vec<f64>], level: f64) -> Result<[Vec<f64>; 3], PlotError> {
    let band = quantile_band(draws, level).map_err(|e| match e {
        BandError::Level(level) => PlotError::InvalidSetting {
            what: format!("band level {level} must lie in (0, 1)"),
        },
        BandError::NoDraws => PlotError::NoData {
            what: "no predictive draws".into(),
        },
        BandError::Ragged {
            expected, found, ..
        } => PlotError::LengthMismatch {
            what: "predictive draws".into(),
            expected,
            found,
        },
    })?;
    Ok([band.mean, band.lower, band.upper])
}

/// Posterior predictive mean and central `level` band (e.g. 0.95) over a 1-D grid of
/// inputs, one mean line and band per fit, with the data as points.
///
/// `fits` pairs a label with predictive draws at the grid: `draws[d][g]` is draw `d` at
/// `grid[g]`. `data` is `(x, y)` of the observations.
///
/// # Errors
/// The errors of [`band_summary`], [`PlotError::LengthMismatch`] if a fit's draws or the
/// data do not match the grid, and the errors of [`Figure::save`].
pub fn predictive_bands(
    title: &str,
    grid: &[f64],
    fits: &[(&str, &[Vec<f64>])],
    level: f64,
    data: (&[f64], &[f64]),
    path: impl AsRef<Path>,
) -> Result<(), PlotError> {
    if data.0.len() != data.1.len() {
        return Err(PlotError::LengthMismatch {
            what: "data y against data x".into(),
            expected: data.0.len(),
            found: data.1.len(),
        });
    }
    let band_label = format!("{}% band", fmt_level(level));
    let mut fig = Figure::new(title).x_label("x").y_label("y");
    for (name, draws) in fits {
        let [mean, lo, hi] = band_summary(draws, level)?;
        if mean.len() != grid.len() {
            return Err(PlotError::LengthMismatch {
                what: format!("predictive draws of `{name}` against the grid"),
                expected: grid.len(),
                found: mean.len(),
            });
        }
        fig = fig.line_and_band(
            &format!("{name} mean"),
            &format!("{name} {band_label}"),
            grid,
            &mean,
            &lo,
            &hi,
        );
    }
    fig.points("data", data.0, data.1).save(path)
}

/// `95` for 0.95, `99.5` for 0.995.
pub(super) fn fmt_level(level: f64) -> String {
    let pct = (level * 1000.0).round() / 10.0;
    if pct.fract() == 0.0 {
        format!("{pct:.0}")
    } else {
        format!("{pct}")
    }
}
