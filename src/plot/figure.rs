//! [`Figure`]: a line, scatter and band plot with a legend, drawn to SVG with plotters;
//! [`save_stacked`] puts several into one file.

use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::PlotError;

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
pub(super) fn padded(v: &[f64], log: bool) -> (f64, f64) {
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
pub(super) fn tick(v: f64) -> String {
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
