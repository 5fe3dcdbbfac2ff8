//! Latents through their transforms: [`Latent`] builds a latent's entry in the
//! [`ParamLayout`](crate::ParamLayout), reads its constrained value from the unconstrained
//! vector (with the log-Jacobian) and takes its adjoint back to the unconstrained gradient;
//! [`bounded`] and [`build_blocks`] make the transforms of data bounds and vector
//! transforms.

use super::Fail;
use crate::{ad, ModelError, Param, ParamLayout, Transform, VectorTransform};
use nalgebra::{DMatrix, DVector};

/// A bound of `Uniform` given as data, as `f64` (NaN when it is not one number).
pub fn bound<T: ad::ToF64s + ?Sized>(x: &T) -> f64 {
    let v = x.to_f64s();
    if v.len() == 1 {
        v[0]
    } else {
        f64::NAN
    }
}

/// The transform of a latent with data bounds (`.lower(a)`, `.upper(b)`, `.bounds(a, b)`,
/// `Uniform(a, b)`): NaN, infinite where not allowed, or `lower >= upper` is an error
/// naming the statement.
pub fn bounded(stmt: &str, lower: Option<f64>, upper: Option<f64>) -> Result<Transform, Fail> {
    Transform::bounded(lower, upper).map_err(|e| {
        Fail::Model(Box::new(ModelError::Invalid {
            statement: Some(stmt.to_string()),
            message: format!("invalid bounds of a latent variable: {e}"),
        }))
    })
}

/// Adds a latent whose blocks go through the vector transform `t` (a simplex, an ordered
/// vector, a Cholesky factor, ...; see `ParamLayout::push_vector`) and returns its value at
/// theta = 0. `shape` is the value's; a shape whose last side does not fit `t` is an error
/// naming the statement.
pub fn build_blocks<T: Latent>(
    stmt: &str,
    layout: &mut ParamLayout,
    name: &str,
    shape: Vec<usize>,
    t: VectorTransform,
) -> Result<T, Fail> {
    let size: usize = shape.iter().product();
    let c = t.constrained_len();
    if c == 0 || size % c != 0 {
        return Err(Fail::Model(Box::new(ModelError::Shape {
            statement: stmt.to_string(),
            message: format!("`{name}` has shape {shape:?}, which does not hold a {t}"),
        })));
    }
    let offset = layout.push_vector(name, shape, t);
    let theta = vec![0.0; offset + size];
    let p = &layout.params()[layout.params().len() - 1];
    let mut lp = 0.0;
    Ok(T::read(&theta, p, &mut lp, true))
}

/// A latent's value type: read from the unconstrained vector through its transform.
pub trait Latent: Sized {
    /// Adds the parameter to the layout and returns its value at theta = 0.
    fn build(layout: &mut ParamLayout, name: &str, shape: Vec<usize>, t: Transform) -> Self;
    /// The constrained value, adding the log-Jacobian to `lp` when `jacobian` is set.
    fn read(theta: &[f64], p: &Param, lp: &mut f64, jacobian: bool) -> Self;
    /// The value from a vector already on the constrained scale.
    fn read_constrained(x: &[f64], p: &Param) -> Self;
    /// Writes the gradient with respect to theta, given the adjoint of the value.
    fn grad_back(&self, theta: &[f64], p: &Param, grad: &mut [f64], jacobian: bool);
}

#[inline]
fn read_flat(theta: &[f64], p: &Param, lp: &mut f64, jacobian: bool, out: &mut [f64]) {
    let t = p.transform;
    let src = &theta[p.range()];
    if let Some(v) = &p.vector {
        // A simplex, ordered vector, Cholesky factor ...: whole blocks, with the auxiliary
        // coordinates' density (see `Param::constrain_blocks`).
        let (lj, aux) = p.constrain_blocks(v, src, out);
        *lp += aux + if jacobian { lj } else { 0.0 };
        return;
    }
    match t {
        Transform::Identity => out.copy_from_slice(src),
        _ => {
            let mut j = 0.0;
            for (o, &y) in out.iter_mut().zip(src) {
                *o = t.constrain_lp(y, &mut j, jacobian);
            }
            *lp += j;
        }
    }
}

#[inline]
fn grad_flat(theta: &[f64], p: &Param, g: &[f64], grad: &mut [f64], jacobian: bool) {
    let t = p.transform;
    let r = p.range();
    if let Some(v) = &p.vector {
        p.grad_blocks(v, &theta[r.clone()], g, jacobian, &mut grad[r]);
        return;
    }
    match t {
        Transform::Identity => grad[r].copy_from_slice(g),
        _ => {
            for ((o, &y), &dx) in grad[r.clone()].iter_mut().zip(&theta[r]).zip(g) {
                *o = t.grad_back(y, dx, jacobian);
            }
        }
    }
}

impl Latent for f64 {
    fn build(layout: &mut ParamLayout, name: &str, shape: Vec<usize>, t: Transform) -> Self {
        layout.push(name, shape, t);
        t.constrain(0.0)
    }
    #[inline]
    fn read(theta: &[f64], p: &Param, lp: &mut f64, jacobian: bool) -> Self {
        if p.vector.is_none() {
            // One number through its transform, as `read_flat` computes it (no slice copy,
            // which is a `memcpy` call for one element).
            let y = theta[p.offset];
            return match p.transform {
                Transform::Identity => y,
                t => {
                    let mut j = 0.0;
                    let x = t.constrain_lp(y, &mut j, jacobian);
                    *lp += j;
                    x
                }
            };
        }
        let mut x = 0.0;
        read_flat(theta, p, lp, jacobian, std::slice::from_mut(&mut x));
        x
    }
    fn read_constrained(x: &[f64], p: &Param) -> Self {
        x[p.offset]
    }
    #[inline]
    fn grad_back(&self, theta: &[f64], p: &Param, grad: &mut [f64], jacobian: bool) {
        if p.vector.is_none() {
            // As `grad_flat` computes it, for one number.
            let k = p.offset;
            grad[k] = match p.transform {
                Transform::Identity => *self,
                t => t.grad_back(theta[k], *self, jacobian),
            };
            return;
        }
        grad_flat(theta, p, std::slice::from_ref(self), grad, jacobian);
    }
}

impl Latent for DVector<f64> {
    fn build(layout: &mut ParamLayout, name: &str, shape: Vec<usize>, t: Transform) -> Self {
        let n = shape.first().copied().unwrap_or(0);
        layout.push(name, shape, t);
        DVector::from_element(n, t.constrain(0.0))
    }
    #[inline]
    fn read(theta: &[f64], p: &Param, lp: &mut f64, jacobian: bool) -> Self {
        // An elementwise transform writes every element: no zeros first.
        let v = if p.vector.is_none() {
            crate::ad::pool::scratch(p.size())
        } else {
            crate::ad::pool::zeroed(p.size())
        };
        let mut x = DVector::from_vec(v);
        read_flat(theta, p, lp, jacobian, x.as_mut_slice());
        x
    }
    fn read_constrained(x: &[f64], p: &Param) -> Self {
        DVector::from_column_slice(&x[p.range()])
    }
    #[inline]
    fn grad_back(&self, theta: &[f64], p: &Param, grad: &mut [f64], jacobian: bool) {
        grad_flat(theta, p, self.as_slice(), grad, jacobian);
    }
}

impl Latent for DMatrix<f64> {
    fn build(layout: &mut ParamLayout, name: &str, shape: Vec<usize>, t: Transform) -> Self {
        let (r, c) = (shape[0], shape[1]);
        layout.push(name, shape, t);
        DMatrix::from_element(r, c, t.constrain(0.0))
    }
    fn read(theta: &[f64], p: &Param, lp: &mut f64, jacobian: bool) -> Self {
        // Row-major in theta; nalgebra stores column-major.
        use crate::ad::pool;
        let (r, c) = (p.shape[0], p.shape[1]);
        let mut rm = pool::zeroed(p.size());
        read_flat(theta, p, lp, jacobian, &mut rm);
        let mut cm = pool::zeroed(p.size());
        for (i, row) in rm.chunks_exact(c.max(1)).enumerate().take(r) {
            for (j, &v) in row.iter().enumerate() {
                cm[i + j * r] = v;
            }
        }
        pool::give(rm);
        DMatrix::from_vec(r, c, cm)
    }
    fn read_constrained(x: &[f64], p: &Param) -> Self {
        DMatrix::from_row_slice(p.shape[0], p.shape[1], &x[p.range()])
    }
    fn grad_back(&self, theta: &[f64], p: &Param, grad: &mut [f64], jacobian: bool) {
        use crate::ad::pool;
        let (r, c) = self.shape();
        let mut rm = pool::zeroed(r * c);
        for (j, col) in self.as_slice().chunks_exact(r.max(1)).enumerate().take(c) {
            for (i, &v) in col.iter().enumerate() {
                rm[i * c + j] = v;
            }
        }
        grad_flat(theta, p, &rm, grad, jacobian);
        pool::give(rm);
    }
}
