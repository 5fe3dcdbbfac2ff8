//! Every value's shape, as far as the macro can tell: a scalar, a column (`DVector`), a row
//! (`RowDVector`) or a matrix. Recorded in the IR ([`Model::shapes`]) at the end of the
//! analysis, for every binding of the body; `hoist` records the bindings it makes, and
//! `vectorise` reads them (and the shapes of the arguments) instead of working them out.
//!
//! Shapes come from the latents' declarations (`.iid(n)` is a column, `.iid((r, c))` a
//! matrix), the arguments' types (`f64`, `&[f64]`, `&DVector<_>`, `&DMatrix<_>`, ...) and
//! the rules' own shapes (`transpose`, `sum`, matrix products). An argument a data
//! statement shadows has no known shape. State a loop carries keeps a shape only when the
//! loop does not change it; state an `if` joins, when both branches agree.

use std::collections::{HashMap, HashSet};

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Expr, Ident, Type};

use crate::analyse::pat_names;
use crate::catalogue::{Binary, Out, Unary, WithData};
use crate::ir::{AExpr, Binding, BindingId, Model, Shape, Stmt};

/// The shapes of a model's values.
#[derive(Clone, Debug, Default)]
pub struct Shapes {
    /// The arguments no data statement shadows, with their shapes when known.
    pub args: HashMap<String, Option<Ty>>,
    /// The vector arguments of `usize`s no data statement shadows (index vectors a gather
    /// may read through): `&[usize]`, `&Vec<usize>`, `&DVector<usize>`.
    pub codes: HashSet<String>,
    /// The shapes of the bindings (latents and the body's values), where known.
    pub bindings: HashMap<BindingId, Ty>,
    /// The latent vectors, with their lengths as written (`x.ncols()` in `.iid(x.ncols())`).
    pub lengths: HashMap<BindingId, String>,
}

impl Shapes {
    /// The shapes of `m`'s arguments, latents and the bindings of its body.
    pub fn record(m: &Model) -> Shapes {
        let mut shadowed = HashSet::new();
        shadows(&m.body, &mut shadowed);
        let args = m
            .args
            .iter()
            .filter(|a| !shadowed.contains(&a.name.to_string()))
            .map(|a| (a.name.to_string(), arg_ty(&a.ty)))
            .collect();
        let codes = m
            .args
            .iter()
            .filter(|a| !shadowed.contains(&a.name.to_string()))
            .filter(|a| {
                let t = a.ty.to_token_stream().to_string().replace(' ', "");
                arg_ty(&a.ty) == Some(Ty::Col) && (t.ends_with("[usize]") || t.ends_with("<usize>"))
            })
            .map(|a| a.name.to_string())
            .collect();
        let mut s = Shapes {
            args,
            codes,
            bindings: HashMap::new(),
            lengths: m
                .latents
                .iter()
                .filter_map(|l| match &l.shape {
                    Shape::Vector(n) => Some((l.binding.id, n.to_token_stream().to_string())),
                    _ => None,
                })
                .collect(),
        };
        for l in &m.latents {
            let t = match l.shape {
                Shape::Scalar => Ty::Scalar,
                Shape::Vector(_) => Ty::Col,
                Shape::Matrix(..) => Ty::Mat,
                Shape::Multi {
                    rows: None,
                    matrix: false,
                    ..
                } => Ty::Col,
                Shape::Multi { .. } => Ty::Mat,
            };
            s.bindings.insert(l.binding.id, t);
        }
        s.note(&m.body);
        s
    }

    /// The shape of a binding, when known.
    pub fn of(&self, b: BindingId) -> Option<Ty> {
        self.bindings.get(&b).copied()
    }

    /// Records the shape of a `let` a later stage makes (`b` = `init`), after the
    /// bindings `init` reads.
    pub fn note_let(&mut self, b: &Binding, init: &AExpr) {
        let t = self.expr(init);
        self.set(b, t);
    }

    /// Records the shapes of the bindings of `stmts` (at any depth), in order.
    fn note(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            match s {
                Stmt::Let { binding, init, .. } => {
                    let t = self.expr(init);
                    self.set(binding, t);
                }
                Stmt::For { body, carried, .. } => {
                    for c in carried {
                        let t = self.bindings.get(&c.outer.id).copied();
                        self.set(&c.entry, t);
                    }
                    self.note(body);
                    let mut again = false;
                    for c in carried {
                        if self.bindings.get(&c.last.id) != self.bindings.get(&c.entry.id) {
                            self.set(&c.entry, None);
                            again = true;
                        }
                    }
                    if again {
                        self.note(body);
                    }
                    for c in carried {
                        let (e, l) = (
                            self.bindings.get(&c.entry.id),
                            self.bindings.get(&c.last.id),
                        );
                        let t = if e == l { e.copied() } else { None };
                        self.set(&c.exit, t);
                    }
                }
                Stmt::If {
                    then, els, joined, ..
                } => {
                    self.note(then);
                    self.note(els);
                    for j in joined {
                        let (a, b) = (
                            self.bindings.get(&j.then_last.id),
                            self.bindings.get(&j.else_last.id),
                        );
                        let t = if a == b { a.copied() } else { None };
                        self.set(&j.exit, t);
                    }
                }
                _ => {}
            }
        }
    }

    fn set(&mut self, b: &Binding, t: Option<Ty>) {
        match t {
            Some(t) => self.bindings.insert(b.id, t),
            None => self.bindings.remove(&b.id),
        };
    }

    /// The shape of an expression of the model, given its bindings' shapes.
    pub fn expr(&self, e: &AExpr) -> Option<Ty> {
        match e {
            AExpr::Var(b) => self.bindings.get(&b.id).copied(),
            AExpr::Data(d) => self.data(d),
            AExpr::Unary(u, x, _) => unary_ty(*u, self.expr(x)?),
            AExpr::Binary(op, a, b, _) => binary_ty(*op, self.expr(a), self.expr(b)),
            AExpr::WithData(w, x, _, _) => with_data_ty(*w, self.expr(x)?),
            AExpr::Set(v, ..) => self.expr(v),
            // `log_mix` broadcasts its operands; a density is a number.
            AExpr::Nary(crate::catalogue::Nary::Ternary(_), xs, _) => xs
                .iter()
                .map(|x| self.expr(x))
                .try_fold(Ty::Scalar, |acc, t| Some(broadcast(acc, t?))),
            AExpr::Nary(crate::catalogue::Nary::Density(..), ..) => Some(Ty::Scalar),
        }
    }

    /// The shape of a data expression: literals, arguments, their elements.
    pub fn data(&self, e: &Expr) -> Option<Ty> {
        match e {
            Expr::Lit(l) => {
                matches!(l.lit, syn::Lit::Float(_) | syn::Lit::Int(_)).then_some(Ty::Scalar)
            }
            Expr::Paren(p) => self.data(&p.expr),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => self.data(&u.expr),
            Expr::Path(_) => *self.args.get(&ident_of(e)?.to_string())?,
            Expr::Index(ix) => {
                let t = (*self.args.get(&ident_of(&ix.expr)?.to_string())?)?;
                match (&*ix.index, t) {
                    (Expr::Tuple(_), Ty::Mat) => Some(Ty::Scalar),
                    (Expr::Tuple(_) | Expr::Range(_), _) => None,
                    (_, Ty::Col | Ty::Row) => Some(Ty::Scalar),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// A value's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Scalar,
    Col,
    Row,
    Mat,
}

/// The number types an argument's elements may have.
const NUMBERS: &[&str] = &[
    "f64", "i8", "i16", "i32", "i64", "isize", "u8", "u16", "u32", "u64", "usize", "bool",
];

/// The names data statements and loops bind, anywhere in the model.
fn shadows(stmts: &[Stmt], out: &mut HashSet<String>) {
    crate::ir::walk(stmts, &mut |s| match s {
        Stmt::Data(ts) => match syn::parse2::<syn::Stmt>(ts.clone()) {
            Ok(syn::Stmt::Local(l)) => {
                let mut names = Vec::new();
                pat_names(&l.pat, &mut names);
                out.extend(names.iter().map(|n| n.to_string()));
            }
            Ok(_) => {}
            // Not one statement: every name in it counts as bound.
            Err(_) => idents(ts.clone(), &mut |i| {
                out.insert(i.to_string());
            }),
        },
        Stmt::For { pat, .. } => {
            let mut names = Vec::new();
            pat_names(pat, &mut names);
            out.extend(names.iter().map(|n| n.to_string()));
        }
        _ => {}
    });
}

/// Calls `f` on every identifier of `ts`, at any depth.
pub fn idents(ts: TokenStream, f: &mut dyn FnMut(&Ident)) {
    for t in ts {
        match t {
            TokenTree::Ident(i) => f(&i),
            TokenTree::Group(g) => idents(g.stream(), f),
            _ => {}
        }
    }
}

/// The shape of an argument's type, when it is a number or a vector or matrix of numbers.
fn arg_ty(t: &Type) -> Option<Ty> {
    fn number(t: &Type) -> bool {
        matches!(t, Type::Path(p) if p.qself.is_none()
            && p.path.get_ident().is_some_and(|i| NUMBERS.contains(&i.to_string().as_str())))
    }
    match t {
        Type::Reference(r) => arg_ty(&r.elem),
        Type::Paren(p) => arg_ty(&p.elem),
        Type::Group(g) => arg_ty(&g.elem),
        Type::Slice(s) => number(&s.elem).then_some(Ty::Col),
        Type::Path(p) if p.qself.is_none() => {
            if number(t) {
                return (p.path.get_ident()? != "bool").then_some(Ty::Scalar);
            }
            let seg = p.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(a) = &seg.arguments else {
                return None;
            };
            let [syn::GenericArgument::Type(elem)] = a.args.iter().collect::<Vec<_>>()[..] else {
                return None;
            };
            if !number(elem) {
                return None;
            }
            match seg.ident.to_string().as_str() {
                "Vec" | "DVector" => Some(Ty::Col),
                "RowDVector" => Some(Ty::Row),
                "DMatrix" => Some(Ty::Mat),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The shape after an elementwise operation with broadcasting.
pub fn broadcast(a: Ty, b: Ty) -> Ty {
    match (a, b) {
        (Ty::Scalar, t) | (t, Ty::Scalar) => t,
        (a, b) if a == b => a,
        _ => Ty::Mat,
    }
}

pub fn unary_ty(u: Unary, t: Ty) -> Option<Ty> {
    match u.out() {
        Out::Same => Some(t),
        Out::Scalar => Some(Ty::Scalar),
        Out::Transposed => Some(match t {
            Ty::Col => Ty::Row,
            Ty::Row => Ty::Col,
            t => t,
        }),
        Out::Other => None,
    }
}

pub fn binary_ty(op: Binary, a: Option<Ty>, b: Option<Ty>) -> Option<Ty> {
    match op {
        Binary::Dot | Binary::QuadForm => return Some(Ty::Scalar),
        Binary::AddDiag | Binary::DiagPreMultiply | Binary::DiagPostMultiply => {
            return Some(Ty::Mat)
        }
        Binary::ColumnsDotProduct => return Some(Ty::Row),
        Binary::RowsDotProduct | Binary::MdivideLeftTriLow => return Some(Ty::Col),
        _ => {}
    }
    let (a, b) = (a?, b?);
    Some(match (op, a, b) {
        (Binary::Mul, Ty::Mat, Ty::Col) => Ty::Col,
        (Binary::Mul, Ty::Mat, Ty::Mat) => Ty::Mat,
        (Binary::Mul, Ty::Row, Ty::Mat) => Ty::Row,
        _ => broadcast(a, b),
    })
}

pub fn with_data_ty(w: WithData, t: Ty) -> Option<Ty> {
    match w {
        WithData::Powi => Some(t),
        WithData::Index | WithData::Index2 => Some(Ty::Scalar),
        WithData::Row => Some(Ty::Row),
        WithData::Col => Some(Ty::Col),
        WithData::GpExpQuad => Some(Ty::Mat),
        WithData::Gather | WithData::Segment => Some(Ty::Col),
    }
}

/// The identifier a path expression is, if it is one.
pub fn ident_of(e: &Expr) -> Option<&Ident> {
    match e {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        Expr::Paren(p) => ident_of(&p.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctxt::Ctxt;
    use crate::parse::ModelDef;
    use proc_macro2::TokenStream;
    use quote::quote;

    /// The recorded shapes of the model's bindings named `name` (every version), in order,
    /// after the analysis and, with `hoisted`, `hoist`.
    fn shapes_of(
        ts: TokenStream,
        hoisted: bool,
    ) -> (Model, impl Fn(&Model, &str) -> Vec<Option<Ty>>) {
        let def: ModelDef = syn::parse2(ts).expect("parses");
        let cx = Ctxt::new();
        let mut m = crate::analyse::analyse(&cx, &def);
        assert!(cx.check().is_ok());
        if hoisted {
            m = crate::hoist::hoist(m);
        }
        let get = |m: &Model, name: &str| {
            let mut out = Vec::new();
            crate::ir::walk(&m.body, &mut |s| {
                if let Stmt::Let { binding, .. } = s {
                    if binding.name == name {
                        out.push(m.shapes.of(binding.id));
                    }
                }
            });
            out
        };
        (m, get)
    }

    #[test]
    fn values_take_the_shapes_of_latents_arguments_and_rules() {
        let (m, get) = shapes_of(
            quote! {
                fn m(x: &DMatrix<f64>, y: &DVector<f64>, v: &[f64], k: usize, g: &[usize]) {
                    let w ~ Normal(0.0, 1.0).iid(x.ncols());
                    let s ~ HalfNormal(1.0);
                    let mu = x * w;
                    let r = mu.transpose();
                    let t = mu.sum();
                    let u = s * 2.0;
                    y ~ Normal(mu + r.transpose() + t + u, s);
                }
            },
            false,
        );
        assert_eq!(get(&m, "mu"), [Some(Ty::Col)]);
        assert_eq!(get(&m, "r"), [Some(Ty::Row)]);
        assert_eq!(get(&m, "t"), [Some(Ty::Scalar)]);
        assert_eq!(get(&m, "u"), [Some(Ty::Scalar)]);
        assert_eq!(m.shapes.args["x"], Some(Ty::Mat));
        assert_eq!(m.shapes.args["v"], Some(Ty::Col));
        assert_eq!(m.shapes.args["k"], Some(Ty::Scalar));
        assert!(m.shapes.codes.contains("g") && !m.shapes.codes.contains("v"));
        let w = &m.latents[0].binding;
        assert_eq!(m.shapes.of(w.id), Some(Ty::Col));
        assert_eq!(m.shapes.lengths[&w.id], "x . ncols ()");
    }

    #[test]
    fn carried_state_whose_shape_changes_and_shadowed_arguments_have_none() {
        let (m, get) = shapes_of(
            quote! {
                fn m(x: &DMatrix<f64>, y: &DVector<f64>, n: usize) {
                    let w ~ Normal(0.0, 1.0).iid(x.ncols());
                    let s ~ HalfNormal(1.0);
                    // A scalar that becomes a column in the loop: unknown at its exit.
                    let mut a = s;
                    let mut b = s;
                    for i in 0..n {
                        a = a + x * w;
                        b = b * 2.0;
                    }
                    let c = a;
                    let d = b;
                    let x = 1.0;
                    y ~ Normal(c + d + x, s);
                }
            },
            false,
        );
        assert_eq!(get(&m, "c"), [None]);
        assert_eq!(get(&m, "d"), [Some(Ty::Scalar)]);
        assert!(!m.shapes.args.contains_key("x"));
    }

    #[test]
    fn the_lets_hoist_makes_are_recorded() {
        let (m, _) = shapes_of(
            quote! {
                fn m(x: &DMatrix<f64>, y: &DVector<f64>) {
                    let w ~ Normal(0.0, 1.0).iid(x.ncols());
                    let s ~ HalfNormal(1.0);
                    for i in 0..x.nrows() {
                        y[i] ~ Normal(x.row(i).dot(&w.transpose()) * s.exp(), s);
                    }
                }
            },
            true,
        );
        let mut hoisted = Vec::new();
        crate::ir::walk(&m.body, &mut |s| {
            if let Stmt::Let { binding, .. } = s {
                if binding.name == "inv" {
                    hoisted.push(m.shapes.of(binding.id));
                }
            }
        });
        // `w.transpose()` (a row) and `s.exp()` (a scalar) move out of the loop.
        assert_eq!(hoisted, [Some(Ty::Row), Some(Ty::Scalar)]);
    }
}
