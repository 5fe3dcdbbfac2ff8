// Longer than 800 lines: the figure builder and the fit figures split into `src/plot/`,
// and kde and quantile bands move to the runtime, in a later step of issue 12.
//! Figures of fits, written as SVG files (the `plot` cargo feature).
//!
//! The functions here draw what a user wants to see of their own model: the ELBO trace of a
//! VI fit ([`elbo_trace`]), the posterior densities of one parameter under several methods
//! overlaid ([`posterior_densities`]), NUTS trace plots one line per chain ([`trace_plots`]),
//! and posterior predictive means with central bands over a 1-D grid of inputs
//! ([`predictive_bands`]). [`Figure`] is the small line/scatter/band plot they are built on;
//! use it for figures of your own.
//!
//! Figures are SVG only, drawn with [`plotters`](https://docs.rs/plotters) without its font
//! libraries, so the feature needs no system library. Every function returns a
//! [`PlotError`] on failure (an unwritable path, no finite data, an unknown parameter) and
//! never panics.
//!
//! ```no_run
//! # fn demo(fit: &vi::Posterior) -> Result<(), vi::plot::PlotError> {
//! vi::plot::elbo_trace(fit, "target/plots/elbo.svg")?;
//! vi::plot::Figure::new("Monte Carlo error")
//!     .x_label("n")
//!     .y_label("|error|")
//!     .log_log()
//!     .line("1/sqrt(n)", &[10.0, 100.0, 1000.0], &[0.3, 0.1, 0.03])
//!     .save("target/plots/mc.svg")?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{Diagnostics, Posterior, UnknownName};

/// Why a figure could not be made or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum PlotError {
    /// The file (or its directory) could not be written.
    Io {
        /// The path that was being written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The drawing library failed.
    Draw {
        /// Its message.
        message: String,
    },
    /// There was nothing finite to draw.
    NoData {
        /// What was empty.
        what: String,
    },
    /// The figure needs a fit of another method (an ELBO trace needs a VI fit).
    WrongMethod {
        /// The method the figure needs.
        expected: &'static str,
        /// The method of the posterior given.
        found: &'static str,
    },
    /// No parameter of that name.
    UnknownName(UnknownName),
    /// An element index past the end of a parameter.
    ElementOutOfRange {
        /// The parameter.
        name: String,
        /// The index asked for (0-based).
        index: usize,
        /// The parameter's number of elements.
        size: usize,
    },
    /// Two inputs that must have the same length do not.
    LengthMismatch {
        /// What was being compared.
        what: String,
        /// The length expected.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A setting outside its range (a band level outside (0, 1)).
    InvalidSetting {
        /// Which setting and why.
        what: String,
    },
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::Io { path, source } => {
                write!(f, "cannot write figure `{}`: {source}", path.display())
            }
            PlotError::Draw { message } => write!(f, "drawing failed: {message}"),
            PlotError::NoData { what } => write!(f, "nothing finite to draw: {what}"),
            PlotError::WrongMethod { expected, found } => {
                write!(f, "this figure needs a {expected} fit, got a {found} fit")
            }
            PlotError::UnknownName(e) => e.fmt(f),
            PlotError::ElementOutOfRange { name, index, size } => write!(
                f,
                "element {index} of `{name}` does not exist: it has {size} element(s)"
            ),
            PlotError::LengthMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected length {expected}, found {found}"),
            PlotError::InvalidSetting { what } => write!(f, "invalid setting: {what}"),
        }
    }
}

impl std::error::Error for PlotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlotError::Io { source, .. } => Some(source),
            PlotError::UnknownName(e) => Some(e),
            _ => None,
        }
    }
}

impl From<UnknownName> for PlotError {
    fn from(e: UnknownName) -> Self {
        PlotError::UnknownName(e)
    }
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Draw {
        message: e.to_string(),
    }
}

/// Colour-blind-safe categorical palette (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Where a figure's legend sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Corner {
    /// Top left.
    UpperLeft,
    /// Top right (the default).
    #[default]
    UpperRight,
    /// Bottom left.
    LowerLeft,
    /// Bottom right.
    LowerRight,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Line,
    Dashed,
    Points,
    Band,
}

#[derive(Debug, Clone)]
struct Series {
    name: String,
    kind: Kind,
    x: Vec<f64>,
    y: Vec<f64>,
    /// The upper edge of a band (`y` is its lower edge).
    upper: Vec<f64>,
    /// `None`: black (reference curves).
    colour: Option<usize>,
    /// Series added by one call share a group (a line and its band).
    group: usize,
}

/// A line, scatter and band plot with a legend: several named series on one pair of axes,
/// optionally logarithmic.
///
/// Series are drawn in the order they were added; each takes the next colour of a
/// colour-blind-safe palette, except [`Figure::reference`] curves, which are black and
/// dashed. A series with an empty name has no legend entry. Points with a non-finite coordinate (or a non-positive one on a log axis) are
/// left out. Build it with the chained methods, then [`Figure::save`] it.
#[derive(Debug, Clone)]
pub struct Figure {
    title: String,
    x_label: String,
    y_label: String,
    log_x: bool,
    log_y: bool,
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
    size: (u32, u32),
    legend: Corner,
    line_width: u32,
    series: Vec<Series>,
    next_colour: usize,
}

impl Figure {
    /// An empty figure with a title, 800 x 500 pixels.
    pub fn new(title: impl Into<String>) -> Self {
        Figure {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            log_x: false,
            log_y: false,
            x_range: None,
            y_range: None,
            size: (800, 500),
            legend: Corner::UpperRight,
            line_width: 2,
            series: Vec::new(),
            next_colour: 0,
        }
    }

    /// The label of the x axis.
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// The label of the y axis.
    pub fn y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    /// A logarithmic x axis.
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }

    /// A logarithmic y axis.
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// Both axes logarithmic.
    pub fn log_log(self) -> Self {
        self.log_x().log_y()
    }

    /// Fixes the x range instead of fitting it to the data; values outside are clipped.
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }

    /// Fixes the y range instead of fitting it to the data; values outside are clipped.
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// Where the legend sits (default: upper right).
    pub fn legend(mut self, corner: Corner) -> Self {
        self.legend = corner;
        self
    }

    /// The width of lines in pixels (default 2; 1 suits long noisy traces).
    pub fn line_width(mut self, width: u32) -> Self {
        self.line_width = width.max(1);
        self
    }

    /// The size in pixels (default 800 x 500).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width.max(100), height.max(100));
        self
    }

    fn push(mut self, name: &str, kind: Kind, x: &[f64], y: &[f64], upper: &[f64]) -> Self {
        let colour = Some(self.next_colour);
        self.next_colour += 1;
        self.series.push(Series {
            name: name.to_string(),
            kind,
            x: x.to_vec(),
            y: y.to_vec(),
            upper: upper.to_vec(),
            colour,
            group: self.series.len(),
        });
        self
    }

    /// A solid line through `(x[i], y[i])` (the shorter of the two lengths is used).
    pub fn line(self, name: &str, x: &[f64], y: &[f64]) -> Self {
        self.push(name, Kind::Line, x, y, &[])
    }

    /// A dashed line.
    pub fn dashed(self, name: &str, x: &[f64], y: &[f64]) -> Self {
        self.push(name, Kind::Dashed, x, y, &[])
    }

    /// Points, unconnected.
    pub fn points(self, name: &str, x: &[f64], y: &[f64]) -> Self {
        self.push(name, Kind::Points, x, y, &[])
    }

    /// A shaded band between `lower` and `upper` over `x`.
    pub fn band(self, name: &str, x: &[f64], lower: &[f64], upper: &[f64]) -> Self {
        self.push(name, Kind::Band, x, lower, upper)
    }

    /// A line and a band around it in one colour, with legend entries `line_name` and
    /// `band_name`.
    pub fn line_and_band(
        mut self,
        line_name: &str,
        band_name: &str,
        x: &[f64],
        y: &[f64],
        lower: &[f64],
        upper: &[f64],
    ) -> Self {
        let colour = Some(self.next_colour);
        self.next_colour += 1;
        let group = self.series.len();
        self.series.push(Series {
            name: band_name.to_string(),
            kind: Kind::Band,
            x: x.to_vec(),
            y: lower.to_vec(),
            upper: upper.to_vec(),
            colour,
            group,
        });
        self.series.push(Series {
            name: line_name.to_string(),
            kind: Kind::Line,
            x: x.to_vec(),
            y: y.to_vec(),
            upper: Vec::new(),
            colour,
            group,
        });
        self
    }

    /// Gives the series added by the last call (both parts of a [`Figure::line_and_band`])
    /// palette colour `index` (0 to 9, wrapping), so that related series can share a
    /// colour; later series continue after it.
    pub fn colour(mut self, index: usize) -> Self {
        if let Some(group) = self.series.last().map(|s| s.group) {
            for s in self.series.iter_mut().filter(|s| s.group == group) {
                s.colour = Some(index);
            }
            self.next_colour = index + 1;
        }
        self
    }

    /// A black dashed reference curve (an exact answer, a closed form).
    pub fn reference(mut self, name: &str, x: &[f64], y: &[f64]) -> Self {
        self.series.push(Series {
            name: name.to_string(),
            kind: Kind::Dashed,
            x: x.to_vec(),
            y: y.to_vec(),
            upper: Vec::new(),
            colour: None,
            group: self.series.len(),
        });
        self
    }

    /// Renders the figure as an SVG document.
    ///
    /// # Errors
    /// [`PlotError::NoData`] when no series has a finite point; [`PlotError::Draw`] if the
    /// drawing library fails.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        render_svg(self.size, std::slice::from_ref(self))
    }

    /// Writes the figure as an SVG file, creating the directory if needed.
    ///
    /// # Errors
    /// [`PlotError::Io`] when the file cannot be written, and the errors of
    /// [`Figure::to_svg`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        write_file(path.as_ref(), &self.to_svg()?)
    }

    /// Points of series `s` that can be drawn on these axes.
    fn finite_points(&self, s: &Series) -> Vec<(f64, f64, f64)> {
        let ok_x = |x: f64| x.is_finite() && (!self.log_x || x > 0.0);
        let ok_y = |y: f64| y.is_finite() && (!self.log_y || y > 0.0);
        let n = s.x.len().min(s.y.len());
        (0..n)
            .filter_map(|i| {
                let (x, y) = (s.x[i], s.y[i]);
                let u = if s.kind == Kind::Band {
                    *s.upper.get(i)?
                } else {
                    y
                };
                (ok_x(x) && ok_y(y) && ok_y(u)).then_some((x, y, u))
            })
            .collect()
    }

    /// The axis ranges: fixed ones, or the data's with 4% padding (in log space on log axes).
    fn ranges(&self) -> Result<[(f64, f64); 2], PlotError> {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for s in &self.series {
            for (x, y, u) in self.finite_points(s) {
                xs.push(x);
                ys.push(y);
                ys.push(u);
            }
        }
        if xs.is_empty() {
            return Err(PlotError::NoData {
                what: format!("figure `{}` has no finite point", self.title),
            });
        }
        let x = match self.x_range {
            Some(r) => r,
            None => padded(&xs, self.log_x),
        };
        let y = match self.y_range {
            Some(r) => r,
            None => padded(&ys, self.log_y),
        };
        for (lo, hi, axis, log) in [(x.0, x.1, "x", self.log_x), (y.0, y.1, "y", self.log_y)] {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) || (log && lo <= 0.0) {
                return Err(PlotError::InvalidSetting {
                    what: format!("{axis} range ({lo}, {hi}) of figure `{}`", self.title),
                });
            }
        }
        Ok([x, y])
    }
}

/// The range of `v` padded by 4% each side (multiplicatively on a log axis); a single value
/// gets a range around it.
fn padded(v: &[f64], log: bool) -> (f64, f64) {
    let t = |a: f64| if log { a.log10() } else { a };
    let back = |a: f64| if log { 10f64.powf(a) } else { a };
    let lo = v.iter().copied().map(t).fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().map(t).fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    let pad = if span > 0.0 {
        0.04 * span
    } else {
        0.5 * lo.abs().max(1.0)
    };
    (back(lo - pad), back(hi + pad))
}

fn write_file(path: &Path, svg: &str) -> Result<(), PlotError> {
    let io = |source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, svg).map_err(io)
}

/// Draws `figures` stacked vertically, one panel each, into one SVG document.
fn render_svg(size: (u32, u32), figures: &[Figure]) -> Result<String, PlotError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let panels = root.split_evenly((figures.len().max(1), 1));
        for (fig, area) in figures.iter().zip(panels.iter()) {
            draw_figure(area, fig)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(buf)
}

fn draw_figure<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let [(x0, x1), (y0, y1)] = fig.ranges()?;
    match (fig.log_x, fig.log_y) {
        (false, false) => draw_on(area, fig, x0..x1, y0..y1),
        (true, false) => draw_on(area, fig, (x0..x1).log_scale(), y0..y1),
        (false, true) => draw_on(area, fig, x0..x1, (y0..y1).log_scale()),
        (true, true) => draw_on(area, fig, (x0..x1).log_scale(), (y0..y1).log_scale()),
    }
}

fn draw_on<DB, X, Y>(
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
    xr: X,
    yr: Y,
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(&fig.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(xr, yr)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc(fig.x_label.as_str())
        .y_desc(fig.y_label.as_str())
        .label_style(("sans-serif", 14))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .x_labels(if fig.log_x { 6 } else { 10 })
        .y_labels(if fig.log_y { 6 } else { 10 })
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(draw_err)?;
    let mut any_legend = false;
    // Bands first, so that no band hides a line or a point.
    let bands = fig.series.iter().filter(|s| s.kind == Kind::Band);
    let others = fig.series.iter().filter(|s| s.kind != Kind::Band);
    for s in bands.chain(others) {
        let pts = fig.finite_points(s);
        if pts.is_empty() {
            continue;
        }
        let colour = s.colour.map_or(BLACK, |c| PALETTE[c % PALETTE.len()]);
        let anno = match s.kind {
            Kind::Line => chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|&(x, y, _)| (x, y)),
                    colour.stroke_width(fig.line_width),
                ))
                .map_err(draw_err)?,
            Kind::Dashed => chart
                .draw_series(DashedLineSeries::new(
                    pts.iter().map(|&(x, y, _)| (x, y)),
                    8,
                    5,
                    colour.stroke_width(fig.line_width),
                ))
                .map_err(draw_err)?,
            Kind::Points => chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, y, _)| Circle::new((x, y), 3, colour.mix(0.8).filled())),
                )
                .map_err(draw_err)?,
            Kind::Band => {
                let poly: Vec<(f64, f64)> = pts
                    .iter()
                    .map(|&(x, y, _)| (x, y))
                    .chain(pts.iter().rev().map(|&(x, _, u)| (x, u)))
                    .collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(poly, colour.mix(0.25))))
                    .map_err(draw_err)?
            }
        };
        if s.name.is_empty() {
            continue;
        }
        any_legend = true;
        let kind = s.kind;
        anno.label(s.name.as_str())
            .legend(move |(x, y)| -> DynElement<'static, DB, (i32, i32)> {
                match kind {
                    Kind::Band => {
                        Rectangle::new([(x, y - 5), (x + 20, y + 5)], colour.mix(0.25).filled())
                            .into_dyn()
                    }
                    Kind::Points => Circle::new((x + 10, y), 3, colour.filled()).into_dyn(),
                    Kind::Line => {
                        PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                            .into_dyn()
                    }
                    Kind::Dashed => PathElement::new(
                        vec![(x, y), (x + 8, y), (x + 8, y), (x + 12, y)],
                        colour.stroke_width(2),
                    )
                    .into_dyn(),
                }
            });
    }
    if any_legend {
        chart
            .configure_series_labels()
            .position(match fig.legend {
                Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
                Corner::UpperRight => SeriesLabelPosition::UpperRight,
                Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
                Corner::LowerRight => SeriesLabelPosition::LowerRight,
            })
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(draw_err)?;
    }
    Ok(())
}

/// A tick label: at most four significant digits, scientific for very large or small values.
fn tick(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        s.replace(".0e", "e")
    } else {
        let digits = (3 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Writes several figures stacked vertically into one SVG file, one panel each (the size
/// is the first figure's width and the sum of their heights).
///
/// # Errors
/// As [`Figure::save`]; [`PlotError::NoData`] when `figures` is empty.
pub fn save_stacked(figures: &[Figure], path: impl AsRef<Path>) -> Result<(), PlotError> {
    let first = figures.first().ok_or_else(|| PlotError::NoData {
        what: "no figure to stack".into(),
    })?;
    let height = figures.iter().map(|f| f.size.1).sum();
    write_file(path.as_ref(), &render_svg((first.size.0, height), figures)?)
}

// ---------------------------------------------------------------------------------------
// Figures of fits.
// ---------------------------------------------------------------------------------------

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
    if !(level > 0.0 && level < 1.0) {
        return Err(PlotError::InvalidSetting {
            what: format!("band level {level} must lie in (0, 1)"),
        });
    }
    let first = draws.first().ok_or_else(|| PlotError::NoData {
        what: "no predictive draws".into(),
    })?;
    let g = first.len();
    if let Some(bad) = draws.iter().find(|d| d.len() != g) {
        return Err(PlotError::LengthMismatch {
            what: "predictive draws".into(),
            expected: g,
            found: bad.len(),
        });
    }
    let mut out = [vec![0.0; g], vec![0.0; g], vec![0.0; g]];
    let mut col = Vec::with_capacity(draws.len());
    for j in 0..g {
        col.clear();
        col.extend(draws.iter().map(|d| d[j]).filter(|v| v.is_finite()));
        if col.is_empty() {
            out[0][j] = f64::NAN;
            out[1][j] = f64::NAN;
            out[2][j] = f64::NAN;
            continue;
        }
        out[0][j] = col.iter().sum::<f64>() / col.len() as f64;
        out[1][j] = quantile(&mut col, 0.5 - level / 2.0);
        out[2][j] = quantile(&mut col, 0.5 + level / 2.0);
    }
    Ok(out)
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
fn fmt_level(level: f64) -> String {
    let pct = (level * 1000.0).round() / 10.0;
    if pct.fract() == 0.0 {
        format!("{pct:.0}")
    } else {
        format!("{pct}")
    }
}

/// `n` evenly spaced points from `lo` to `hi` inclusive.
pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![lo],
        _ => (0..n)
            .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}

/// Linear-interpolation quantile (NumPy's default); sorts `xs`. NaN when empty.
fn quantile(xs: &mut [f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let h = (xs.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    xs[lo] + (h - lo as f64) * (xs[hi] - xs[lo])
}

/// Gaussian kernel density estimate of `xs` at `grid`, with Silverman's bandwidth
/// `0.9 min(sd, IQR / 1.34) n^(-1/5)`, reflected at finite `bounds`.
pub fn kde(xs: &[f64], grid: &[f64], bounds: (f64, f64)) -> Vec<f64> {
    let n = xs.len();
    if n == 0 {
        return vec![f64::NAN; grid.len()];
    }
    let nf = n as f64;
    let mean = xs.iter().sum::<f64>() / nf;
    let sd = if n > 1 {
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt()
    } else {
        0.0
    };
    let mut sorted = xs.to_vec();
    let iqr = quantile(&mut sorted, 0.75) - quantile(&mut sorted, 0.25);
    let spread = if iqr > 0.0 { sd.min(iqr / 1.34) } else { sd };
    let mut h = 0.9 * spread * nf.powf(-0.2);
    if h.is_nan() || h <= 0.0 {
        h = 1e-3 * (mean.abs() + 1.0);
    }
    let norm = 1.0 / (nf * h * (2.0 * std::f64::consts::PI).sqrt());
    let k = |u: f64| (-0.5 * u * u).exp();
    grid.iter()
        .map(|&g| {
            if g < bounds.0 || g > bounds.1 {
                return 0.0;
            }
            let mut s = 0.0;
            for &x in xs {
                s += k((g - x) / h);
                if bounds.0.is_finite() {
                    s += k((g - (2.0 * bounds.0 - x)) / h);
                }
                if bounds.1.is_finite() {
                    s += k((g - (2.0 * bounds.1 - x)) / h);
                }
            }
            s * norm
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::laplace::LaplaceDiagnostics;
    use crate::infer::nuts::NutsDiagnostics;
    use crate::infer::vi::ViDiagnostics;
    use crate::{Chain, ParamLayout, Transform};

    /// A fresh scratch directory under the system's temp dir, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn join(&self, p: &str) -> PathBuf {
            self.0.join(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("vi-plot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }

    /// `mu` (real) and `p` (in (0, 1)), two chains of deterministic draws.
    fn posterior(diagnostics: Diagnostics) -> Posterior {
        let mut layout = ParamLayout::new();
        layout.push("mu", vec![], Transform::Identity);
        layout.push("p", vec![], Transform::UNIT);
        let chain = |shift: f64| {
            let n = 200;
            let mut draws = Vec::with_capacity(2 * n);
            for i in 0..n {
                let u = (i as f64 + 0.5) / n as f64;
                draws.push(shift + (u - 0.5) * 3.0);
                draws.push(u * u);
            }
            Chain {
                draws,
                lp: vec![0.0; n],
            }
        };
        Posterior::new(layout, vec![chain(0.0), chain(0.2)], diagnostics)
    }

    fn read(path: &Path) -> String {
        let svg = std::fs::read_to_string(path).expect("figure written");
        assert!(
            svg.starts_with("<svg"),
            "not an SVG document: {}",
            &svg[..40]
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        svg
    }

    #[test]
    // `ViDiagnostics` grows fields as VI does; setting the one we need keeps this test stable.
    #[allow(clippy::field_reassign_with_default)]
    fn elbo_trace_writes_the_trace_and_needs_vi() {
        let dir = scratch("elbo");
        let trace: Vec<f64> = (0..300)
            .map(|i| -10.0 - 1000.0 * (-(i as f64) / 20.0).exp())
            .chain([f64::NAN])
            .collect();
        let mut d = ViDiagnostics::default();
        d.elbo_trace = trace;
        let vi = posterior(Diagnostics::Vi(d));
        let path = dir.join("nested/elbo.svg");
        elbo_trace(&vi, &path).unwrap();
        let svg = read(&path);
        assert!(svg.contains("ELBO trace") && svg.contains("iteration"));
        let laplace = posterior(Diagnostics::Laplace(LaplaceDiagnostics::default()));
        assert!(matches!(
            elbo_trace(&laplace, dir.join("x.svg")),
            Err(PlotError::WrongMethod {
                expected: "VI",
                found: "Laplace"
            })
        ));
        let empty = posterior(Diagnostics::Vi(ViDiagnostics::default()));
        assert!(matches!(
            elbo_trace(&empty, dir.join("y.svg")),
            Err(PlotError::NoData { .. })
        ));
    }

    #[test]
    fn densities_overlay_every_method_and_the_exact_curve() {
        let dir = scratch("dens");
        let a = posterior(Diagnostics::Nuts(NutsDiagnostics::default()));
        let b = posterior(Diagnostics::Laplace(LaplaceDiagnostics::default()));
        let path = dir.join("p.svg");
        let exact = |x: f64| 2.0 * x;
        posterior_densities(
            &[("NUTS", &a), ("Laplace", &b)],
            "p",
            0,
            Some(&exact),
            &path,
        )
        .unwrap();
        let svg = read(&path);
        for name in ["NUTS", "Laplace", "exact", "Posterior of p"] {
            assert!(svg.contains(name), "`{name}` missing");
        }
        assert!(matches!(
            posterior_densities(&[("NUTS", &a)], "sigma", 0, None, &path),
            Err(PlotError::UnknownName(_))
        ));
        assert!(matches!(
            posterior_densities(&[("NUTS", &a)], "mu", 1, None, &path),
            Err(PlotError::ElementOutOfRange {
                index: 1,
                size: 1,
                ..
            })
        ));
    }

    #[test]
    fn trace_plots_have_one_line_per_chain() {
        let dir = scratch("trace");
        let post = posterior(Diagnostics::Nuts(NutsDiagnostics::default()));
        let path = dir.join("mu.svg");
        trace_plots(&post, "mu", &path).unwrap();
        let svg = read(&path);
        assert!(svg.contains("chain 1") && svg.contains("chain 2") && !svg.contains("chain 3"));
        assert!(svg.contains("NUTS trace of mu"));
    }

    #[test]
    fn predictive_bands_summarise_the_draws() {
        // Draw d at grid point g is g + (d - 49.5) / 10: the mean is g, and the 95% interval
        // (numpy.quantile(range(100), [0.025, 0.975]) = [2.475, 96.525]) is g -/+ 4.7025.
        let grid = linspace(0.0, 4.0, 5);
        let draws: Vec<Vec<f64>> = (0..100)
            .map(|d| grid.iter().map(|g| g + (d as f64 - 49.5) / 10.0).collect())
            .collect();
        let [mean, lo, hi] = band_summary(&draws, 0.95).unwrap();
        for j in 0..5 {
            assert!((mean[j] - grid[j]).abs() < 1e-12);
            assert!((lo[j] - (grid[j] - 4.7025)).abs() < 1e-12);
            assert!((hi[j] - (grid[j] + 4.7025)).abs() < 1e-12);
        }
        let dir = scratch("band");
        let path = dir.join("band.svg");
        predictive_bands(
            "Predictive",
            &grid,
            &[("VI", &draws)],
            0.95,
            (&[1.0, 2.0], &[1.5, 2.5]),
            &path,
        )
        .unwrap();
        let svg = read(&path);
        for name in ["VI mean", "VI 95% band", "data", "Predictive"] {
            assert!(svg.contains(name), "`{name}` missing");
        }
        assert!(matches!(
            band_summary(&draws, 1.5),
            Err(PlotError::InvalidSetting { .. })
        ));
        let ragged = vec![vec![1.0, 2.0], vec![1.0]];
        assert!(matches!(
            band_summary(&ragged, 0.9),
            Err(PlotError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn figure_log_axes_and_errors() {
        let dir = scratch("fig");
        let n: Vec<f64> = (1..=4).map(|k| 10f64.powi(k)).collect();
        let err: Vec<f64> = n.iter().map(|n| 1.0 / n.sqrt()).collect();
        let fig = Figure::new("Monte Carlo error")
            .x_label("n")
            .y_label("error")
            .log_log()
            .points("estimate", &n, &err)
            .reference("1/sqrt(n)", &n, &err);
        let path = dir.join("mc.svg");
        fig.save(&path).unwrap();
        let svg = read(&path);
        assert!(svg.contains("estimate") && svg.contains("1/sqrt(n)"));
        // A directory that is a file cannot be created: an error, not a panic.
        let file = dir.join("plain-file");
        std::fs::write(&file, "x").unwrap();
        let bad = file.join("fig.svg");
        assert!(matches!(fig.save(&bad), Err(PlotError::Io { .. })));
        // Nothing positive on a log axis: nothing to draw.
        let empty = Figure::new("none").log_y().line("zero", &[1.0], &[0.0]);
        assert!(matches!(empty.to_svg(), Err(PlotError::NoData { .. })));
        let bad_range = Figure::new("r").line("a", &[1.0], &[1.0]).x_range(2.0, 1.0);
        assert!(matches!(
            bad_range.to_svg(),
            Err(PlotError::InvalidSetting { .. })
        ));
    }

    #[test]
    fn kde_integrates_to_one_and_reflects_at_bounds() {
        let xs: Vec<f64> = (0..400).map(|i| (i as f64 + 0.5) / 400.0).collect();
        let grid = linspace(0.0, 1.0, 2001);
        let dens = kde(&xs, &grid, (0.0, 1.0));
        let dx = grid[1] - grid[0];
        let mass: f64 = dens.windows(2).map(|w| 0.5 * (w[0] + w[1]) * dx).sum();
        assert!((mass - 1.0).abs() < 1e-3, "mass {mass}");
        // Uniform draws on (0, 1): with reflection the density at the edge stays near 1.
        assert!((dens[0] - 1.0).abs() < 0.1, "edge density {}", dens[0]);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick(0.300_000_000_000_000_04), "0.3");
        assert_eq!(tick(10.0), "10");
        assert_eq!(tick(1e6), "1e6");
        assert_eq!(tick(-2.5e-5), "-2.5e-5");
        assert_eq!(tick(1234.5678), "1235");
        assert_eq!(tick(0.012_345_6), "0.01235");
    }

    #[test]
    fn fmt_level_reads_as_percent() {
        assert_eq!(fmt_level(0.95), "95");
        assert_eq!(fmt_level(0.995), "99.5");
    }

    #[test]
    fn padded_range_of_one_value_is_not_empty() {
        let (lo, hi) = padded(&[3.0], false);
        assert!(lo < 3.0 && hi > 3.0);
        let (lo, hi) = padded(&[10.0, 1000.0], true);
        assert!(lo < 10.0 && lo > 0.0 && hi > 1000.0);
    }
}
