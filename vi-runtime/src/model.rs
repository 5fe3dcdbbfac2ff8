//! The [`Model`] trait every engine drives, and the parameter layout it describes.

use crate::error::UnknownName;
use crate::transform::vector::VectorTransform;
use crate::transform::{OutsideSupport, Transform};

/// One named parameter: a block of the unconstrained vector with a shape and a transform.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The parameter's name as written in the model (`w`, `sigma`).
    pub name: String,
    /// Its shape: `[]` for a scalar, `[n]` for a vector, `[r, c]` for a matrix.
    pub shape: Vec<usize>,
    /// Where its first element sits in the unconstrained vector.
    pub offset: usize,
    /// How its support maps to the real line (the same for every element).
    pub transform: Transform,
    /// A transform of whole blocks instead (a simplex, an ordered vector, a Cholesky factor
    /// of a correlation matrix, ...), set by [`ParamLayout::push_vector`]; `transform` is
    /// then `Identity`.
    pub vector: Option<VectorTransform>,
}

impl Param {
    /// The number of scalar elements.
    pub fn size(&self) -> usize {
        // Scalars and vectors without a loop over the shape (NUTS constrains every draw).
        match self.shape.as_slice() {
            [] => 1,
            [n] => *n,
            s => s.iter().product(),
        }
    }

    /// The range of this parameter's elements in the flat vector.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.size()
    }

    /// For a parameter with a [`vector`](Param::vector) transform `t`: maps its block of
    /// the unconstrained vector `y` to the constrained values `x` (flat, row-major like the
    /// layout), and returns `(ln |J|, ln p_aux)`.
    ///
    /// The value is `size / t.constrained_len()` independent blocks: the rows of a `[j, K]`
    /// parameter (a simplex per row), or the one `[K]` vector or `[K, K]` matrix. Each block
    /// has as many unconstrained coordinates as values, so the layout's dimension is the
    /// number of values: the first `t.unconstrained_len()` go through `t`, and the rest
    /// (`K - (K - 1)` for a simplex, the upper triangle and diagonal of a correlation
    /// matrix's Cholesky factor, ...) are auxiliary coordinates with an independent
    /// standard normal density `ln p_aux`, which the model's density includes. They leave the
    /// value's posterior and the evidence unchanged (the density of each integrates to 1).
    pub fn constrain_blocks(&self, t: &VectorTransform, y: &[f64], x: &mut [f64]) -> (f64, f64) {
        let c = t.constrained_len();
        let u = t.unconstrained_len();
        let matrix = is_matrix(t);
        let mut cm = vec![0.0; c];
        let (mut lj, mut aux) = (0.0, 0.0);
        for (yb, xb) in y.chunks_exact(c.max(1)).zip(x.chunks_exact_mut(c.max(1))) {
            lj += t.constrain(&yb[..u], &mut cm);
            aux += yb[u..].iter().map(|a| -0.5 * a * a).sum::<f64>()
                - 0.5 * (c - u) as f64 * crate::math::LN_2PI;
            block_out(&cm, xb, matrix);
        }
        (lj, aux)
    }

    /// The chain rule back through [`constrain_blocks`](Param::constrain_blocks): given the
    /// gradient `gx` with respect to the constrained values (row-major), *writes* the
    /// gradient in `y` into `gy`: through the transform, plus the log-Jacobian's gradient
    /// when `jacobian` is set, plus the auxiliary coordinates' `-y`.
    pub fn grad_blocks(
        &self,
        t: &VectorTransform,
        y: &[f64],
        gx: &[f64],
        jacobian: bool,
        gy: &mut [f64],
    ) {
        let c = t.constrained_len().max(1);
        let u = t.unconstrained_len();
        let matrix = is_matrix(t);
        let mut gcm = vec![0.0; c];
        for ((yb, gxb), gyb) in y
            .chunks_exact(c)
            .zip(gx.chunks_exact(c))
            .zip(gy.chunks_exact_mut(c))
        {
            block_in(gxb, &mut gcm, matrix);
            gyb.fill(0.0);
            t.grad_back(&yb[..u], &gcm, jacobian, &mut gyb[..u]);
            for (g, a) in gyb[u..].iter_mut().zip(&yb[u..]) {
                *g = -a;
            }
        }
    }

    /// The unconstrained coordinates of constrained values `x` (row-major): the inverse of
    /// [`constrain_blocks`](Param::constrain_blocks), auxiliary coordinates at 0.
    ///
    /// # Errors
    /// [`OutsideSupport`] with the first offending value when a block is outside the
    /// transform's set.
    pub fn unconstrain_blocks(
        &self,
        t: &VectorTransform,
        x: &[f64],
        y: &mut [f64],
    ) -> Result<(), OutsideSupport> {
        let c = t.constrained_len().max(1);
        let u = t.unconstrained_len();
        let matrix = is_matrix(t);
        let mut cm = vec![0.0; c];
        for (xb, yb) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
            block_in(xb, &mut cm, matrix);
            let v = t.unconstrain(&cm).map_err(|e| OutsideSupport {
                value: cm.get(e.index).copied().unwrap_or(f64::NAN),
                transform: Transform::Identity,
            })?;
            yb[..u].copy_from_slice(&v);
            yb[u..].fill(0.0);
        }
        Ok(())
    }

    /// CmdStan-style names of the elements, row-major, 1-based: `sigma`, `w.1`, `w.2`,
    /// `m.1.1`, `m.1.2`, ...
    pub fn flat_names(&self) -> Vec<String> {
        match self.shape.as_slice() {
            [] => vec![self.name.clone()],
            [n] => (1..=*n).map(|i| format!("{}.{i}", self.name)).collect(),
            dims => {
                let mut out = Vec::with_capacity(self.size());
                let mut idx = vec![0usize; dims.len()];
                for _ in 0..self.size() {
                    let parts: Vec<String> = idx.iter().map(|i| (i + 1).to_string()).collect();
                    out.push(format!("{}.{}", self.name, parts.join(".")));
                    for d in (0..dims.len()).rev() {
                        idx[d] += 1;
                        if idx[d] < dims[d] {
                            break;
                        }
                        idx[d] = 0;
                    }
                }
                out
            }
        }
    }
}

/// Whether `t`'s value is a `K x K` matrix (column-major from the transform, row-major in
/// the layout).
fn is_matrix(t: &VectorTransform) -> bool {
    matches!(
        t,
        VectorTransform::CholeskyCorr(_)
            | VectorTransform::CorrMatrix(_)
            | VectorTransform::CovMatrix(_)
    )
}

/// A transform's block (column-major for a matrix) into the layout's row-major order.
fn block_out(cm: &[f64], out: &mut [f64], matrix: bool) {
    if matrix {
        let k = (cm.len() as f64).sqrt().round() as usize;
        for r in 0..k {
            for c in 0..k {
                out[r * k + c] = cm[r + c * k];
            }
        }
    } else {
        out.copy_from_slice(cm);
    }
}

/// The layout's row-major block into a transform's order.
fn block_in(rm: &[f64], cm: &mut [f64], matrix: bool) {
    if matrix {
        let k = (rm.len() as f64).sqrt().round() as usize;
        for r in 0..k {
            for c in 0..k {
                cm[r + c * k] = rm[r * k + c];
            }
        }
    } else {
        cm.copy_from_slice(rm);
    }
}

/// The parameters of a model, in the order of the unconstrained vector.
///
/// Matrices are stored row-major in the flat vector, as in CmdStan's output.
///
/// ```
/// use vi_runtime::{ParamLayout, Transform};
/// let mut layout = ParamLayout::new();
/// layout.push("w", vec![3], Transform::Identity);
/// layout.push("sigma", vec![], Transform::POSITIVE);
/// assert_eq!(layout.dim(), 4);
/// assert_eq!(layout.flat_names(), ["w.1", "w.2", "w.3", "sigma"]);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParamLayout {
    params: Vec<Param>,
    dim: usize,
    /// How many of the last parameters are derived quantities ([`ParamLayout::push_derived`]).
    derived: usize,
}

impl ParamLayout {
    /// An empty layout.
    pub const fn new() -> Self {
        ParamLayout {
            params: Vec::new(),
            dim: 0,
            derived: 0,
        }
    }

    /// Appends a derived quantity (a `#[keep]` value of `model!`, Stan's transformed
    /// parameters and generated quantities): a value computed from the parameters, on the
    /// real line, not a coordinate of the unconstrained space. Derived quantities come after
    /// every parameter: a posterior's layout is its model's followed by the model's
    /// [`Model::derived_layout`]. Returns the offset.
    pub fn push_derived(&mut self, name: impl Into<String>, shape: Vec<usize>) -> usize {
        let offset = self.push(name, shape, Transform::Identity);
        self.derived += 1;
        offset
    }

    /// The number of scalars of the parameters proper, derived quantities left out: the
    /// dimension of the model's unconstrained space.
    pub fn latent_dim(&self) -> usize {
        self.params[..self.params.len() - self.derived]
            .iter()
            .map(Param::size)
            .sum()
    }

    /// Whether the parameter called `name` is a derived quantity.
    pub fn is_derived(&self, name: &str) -> bool {
        let first = self.params.len() - self.derived;
        self.params[first..].iter().any(|p| p.name == name)
    }

    /// Appends a parameter and returns its offset.
    pub fn push(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        transform: Transform,
    ) -> usize {
        let offset = self.dim;
        let p = Param {
            name: name.into(),
            shape,
            offset,
            transform,
            vector: None,
        };
        self.dim += p.size();
        self.params.push(p);
        offset
    }

    /// Appends a parameter whose blocks go through the vector transform `t` (see
    /// [`Param::constrain_blocks`]) and returns its offset. `shape` is the constrained
    /// value's: `[K]`, `[j, K]` (a block per row) or `[K, K]`.
    ///
    /// ```
    /// use vi_runtime::{ParamLayout, VectorTransform};
    /// let mut layout = ParamLayout::new();
    /// layout.push_vector("theta", vec![3], VectorTransform::Simplex(3));
    /// let mut x = [0.0; 3];
    /// layout.constrain(&[0.0, 0.0, 0.0], &mut x);
    /// assert!(x.iter().all(|v| (v - 1.0 / 3.0).abs() < 1e-15));
    /// ```
    pub fn push_vector(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        t: VectorTransform,
    ) -> usize {
        let offset = self.push(name, shape, Transform::Identity);
        if let Some(p) = self.params.last_mut() {
            p.vector = Some(t);
        }
        offset
    }

    /// The total number of unconstrained scalars.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The parameters in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The names of the parameters in order.
    pub fn names(&self) -> Vec<String> {
        self.params.iter().map(|p| p.name.clone()).collect()
    }

    /// The parameter called `name`.
    ///
    /// # Errors
    /// [`UnknownName`], listing the known names, when there is none.
    pub fn get(&self, name: &str) -> Result<&Param, UnknownName> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| UnknownName {
                name: name.to_string(),
                known: self.names(),
            })
    }

    /// CmdStan-style names of every scalar, in flat order.
    pub fn flat_names(&self) -> Vec<String> {
        self.params.iter().flat_map(|p| p.flat_names()).collect()
    }

    /// The transform that applies to flat element `i`.
    pub fn transform_of(&self, i: usize) -> Option<Transform> {
        self.params
            .iter()
            .find(|p| p.range().contains(&i))
            .map(|p| p.transform)
    }

    /// Maps an unconstrained vector to the constrained scale, element by element.
    ///
    /// Each parameter's block is cut once and its transform chosen once per parameter, not
    /// per element (an unconstrained block is copied as it is); every element is
    /// [`Transform::constrain`] of its value, so the numbers are those of an element-wise
    /// loop to the bit. (NUTS constrains every draw it keeps.)
    pub fn constrain(&self, theta: &[f64], out: &mut [f64]) {
        for p in &self.params {
            let r = p.range();
            if r.is_empty() {
                continue;
            }
            let (y, x) = (&theta[r.clone()], &mut out[r]);
            if let Some(t) = &p.vector {
                p.constrain_blocks(t, y, x);
                continue;
            }
            let x = &mut x[..y.len()];
            match p.transform {
                // (A scalar goes through the loop: one move, not a `memcpy` call.)
                Transform::Identity if y.len() > 1 => x.copy_from_slice(y),
                t => {
                    for (x, y) in x.iter_mut().zip(y) {
                        *x = t.constrain(*y);
                    }
                }
            }
        }
    }

    /// Maps a constrained vector to the unconstrained scale.
    ///
    /// # Errors
    /// The first element outside its parameter's support.
    pub fn unconstrain(&self, x: &[f64], out: &mut [f64]) -> Result<(), OutsideSupport> {
        for p in &self.params {
            if let Some(t) = &p.vector {
                p.unconstrain_blocks(t, &x[p.range()], &mut out[p.range()])?;
                continue;
            }
            for i in p.range() {
                out[i] = p.transform.unconstrain(x[i])?;
            }
        }
        Ok(())
    }

    /// The total log-Jacobian of [`ParamLayout::constrain`] at `theta` (a vector
    /// transform's auxiliary coordinates' density not included).
    pub fn log_jacobian(&self, theta: &[f64]) -> f64 {
        self.params
            .iter()
            .map(|p| {
                if let Some(t) = &p.vector {
                    let mut x = vec![0.0; p.size()];
                    return p.constrain_blocks(t, &theta[p.range()], &mut x).0;
                }
                p.range()
                    .map(|i| p.transform.log_jacobian(theta[i]))
                    .sum::<f64>()
            })
            .sum()
    }
}

/// A differentiable log density on an unconstrained space: what every engine drives.
///
/// `theta` is the unconstrained parameter vector of length [`Model::dim`], laid out as
/// [`Model::layout`] says. The log density includes the log-Jacobian of the constraining
/// transforms unless asked otherwise. A non-finite value means "outside the model": engines
/// treat it as a rejected point, never as a crash. Models are `Sync`, so parallel chains can
/// share one.
///
/// Models written with `model!` implement this trait; any hand-written density can too:
///
/// ```
/// use vi_runtime::{Model, ParamLayout, Transform};
///
/// /// A standard normal in two dimensions.
/// struct StdNormal2(ParamLayout);
///
/// impl Model for StdNormal2 {
///     fn layout(&self) -> &ParamLayout { &self.0 }
///     fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _jacobian: bool) -> f64 {
///         for (g, t) in grad.iter_mut().zip(theta) { *g = -t; }
///         -0.5 * theta.iter().map(|t| t * t).sum::<f64>()
///     }
/// }
///
/// let mut layout = ParamLayout::new();
/// layout.push("z", vec![2], Transform::Identity);
/// let m = StdNormal2(layout);
/// let mut g = [0.0; 2];
/// assert_eq!(m.log_density_grad(&[1.0, 2.0], &mut g), -2.5);
/// assert_eq!(g, [-1.0, -2.0]);
/// assert_eq!(m.log_density(&[1.0, 2.0]), -2.5);
/// ```
pub trait Model: Sync {
    /// The parameters: names, shapes, offsets and transforms.
    fn layout(&self) -> &ParamLayout;

    /// The log density at `theta` and its gradient written into `grad` (overwritten, length
    /// [`Model::dim`]), with the log-Jacobian of the transforms when `jacobian` is set.
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], jacobian: bool) -> f64;

    /// The log density alone. The default runs the gradient into a scratch buffer; models
    /// written with `model!` override it with the forward pass alone.
    fn log_density_jac(&self, theta: &[f64], jacobian: bool) -> f64 {
        let mut g = vec![0.0; self.dim()];
        self.log_density_grad_jac(theta, &mut g, jacobian)
    }

    /// The number of unconstrained scalars.
    fn dim(&self) -> usize {
        self.layout().dim()
    }

    /// The log density on the unconstrained space, Jacobian included.
    fn log_density(&self, theta: &[f64]) -> f64 {
        self.log_density_jac(theta, true)
    }

    /// The log density and its gradient on the unconstrained space, Jacobian included.
    fn log_density_grad(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        self.log_density_grad_jac(theta, grad, true)
    }

    /// Each statement's contribution to the log density at `theta`, as (source text, value),
    /// so an engine can say which term is not finite. Models that cannot tell return an
    /// empty list (the default).
    fn log_density_terms(&self, theta: &[f64]) -> Vec<(String, f64)> {
        let _ = theta;
        Vec::new()
    }

    /// Maps `theta` to the constrained scale.
    fn constrain(&self, theta: &[f64], out: &mut [f64]) {
        self.layout().constrain(theta, out)
    }

    /// Maps constrained values to `theta`.
    ///
    /// # Errors
    /// The first value outside its parameter's support.
    fn unconstrain(&self, x: &[f64], out: &mut [f64]) -> Result<(), OutsideSupport> {
        self.layout().unconstrain(x, out)
    }

    /// The model's derived quantities (the `#[keep]` values of `model!`, Stan's transformed
    /// parameters and generated quantities): names and shapes, laid out as
    /// [`Model::derive`] writes them. Every engine reports them in its `Posterior` like
    /// parameters. None by default, so a hand-written model need not say anything.
    fn derived_layout(&self) -> &ParamLayout {
        static NONE: ParamLayout = ParamLayout::new();
        &NONE
    }

    /// Computes the derived quantities at the constrained parameter values `x` (layout
    /// order, as in a posterior draw) into `out`, of length `derived_layout().dim()`; NaN
    /// where one cannot be computed. Does nothing by default.
    fn derive(&self, x: &[f64], out: &mut [f64]) {
        let _ = (x, out);
    }

    /// Data subsampling ([`Vi::minibatch`](crate::Vi::minibatch)): the number of rows of the
    /// observations, `N`, when the log density is a prior plus a sum over `N` rows that
    /// [`Model::subsample`] can take apart.
    ///
    /// # Errors
    /// Why the model cannot be subsampled, in words. The default says that the model does
    /// not implement subsampling; `model!` implements it for observations written as one
    /// whole-vector statement or a loop over rows.
    fn subsample_rows(&self) -> Result<usize, String> {
        Err("the model does not implement `Model::subsample_rows` and `Model::subsample`              (`model!` does, for observations that are a whole-vector statement or a loop              over rows)"
            .into())
    }

    /// The same model on rows `rows` (each below [`Model::subsample_rows`], in any order) of
    /// its observations and of every per-row data value, with the same parameters: its log
    /// density is the prior plus the likelihood of those rows alone.
    ///
    /// # Errors
    /// Why the model cannot be built on those rows.
    fn subsample(&self, rows: &[usize]) -> Result<Box<dyn Model + '_>, String> {
        let _ = rows;
        Err(self
            .subsample_rows()
            .err()
            .unwrap_or_else(|| "the model does not implement `Model::subsample`".into()))
    }
}

impl<M: Model + ?Sized> Model for &M {
    fn layout(&self) -> &ParamLayout {
        (**self).layout()
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], jacobian: bool) -> f64 {
        (**self).log_density_grad_jac(theta, grad, jacobian)
    }
    fn log_density_jac(&self, theta: &[f64], jacobian: bool) -> f64 {
        (**self).log_density_jac(theta, jacobian)
    }
    fn log_density_terms(&self, theta: &[f64]) -> Vec<(String, f64)> {
        (**self).log_density_terms(theta)
    }
    fn constrain(&self, theta: &[f64], out: &mut [f64]) {
        (**self).constrain(theta, out)
    }
    fn unconstrain(&self, x: &[f64], out: &mut [f64]) -> Result<(), OutsideSupport> {
        (**self).unconstrain(x, out)
    }
    fn derived_layout(&self) -> &ParamLayout {
        (**self).derived_layout()
    }
    fn derive(&self, x: &[f64], out: &mut [f64]) {
        (**self).derive(x, out)
    }
    fn subsample_rows(&self) -> Result<usize, String> {
        (**self).subsample_rows()
    }
    fn subsample(&self, rows: &[usize]) -> Result<Box<dyn Model + '_>, String> {
        (**self).subsample(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_offsets_and_names() {
        let mut l = ParamLayout::new();
        assert_eq!(l.push("a", vec![], Transform::Identity), 0);
        assert_eq!(l.push("m", vec![2, 3], Transform::POSITIVE), 1);
        assert_eq!(l.push("b", vec![2], Transform::UNIT), 7);
        assert_eq!(l.dim(), 9);
        assert_eq!(
            l.flat_names(),
            ["a", "m.1.1", "m.1.2", "m.1.3", "m.2.1", "m.2.2", "m.2.3", "b.1", "b.2"]
        );
        assert_eq!(l.transform_of(3), Some(Transform::POSITIVE));
        assert_eq!(l.transform_of(8), Some(Transform::UNIT));
        let e = l.get("c").unwrap_err();
        assert_eq!(e.known, ["a", "m", "b"]);
        assert!(e.to_string().contains("known parameters: a, m, b"));
    }

    #[test]
    fn layout_constrain_round_trip_and_jacobian() {
        let mut l = ParamLayout::new();
        l.push("s", vec![2], Transform::POSITIVE);
        l.push("p", vec![], Transform::UNIT);
        let theta = [0.3, -1.2, 0.5];
        let mut x = [0.0; 3];
        l.constrain(&theta, &mut x);
        assert!((x[0] - 0.3f64.exp()).abs() < 1e-15);
        let mut back = [0.0; 3];
        l.unconstrain(&x, &mut back).unwrap();
        for i in 0..3 {
            assert!((back[i] - theta[i]).abs() < 1e-12);
        }
        // log-Jacobian: y for the log transform; ln s(1-s) for the logit.
        let s = 1.0 / (1.0 + (-0.5f64).exp());
        let expect = 0.3 - 1.2 + (s * (1.0 - s)).ln();
        assert!((l.log_jacobian(&theta) - expect).abs() < 1e-12);
    }
}
