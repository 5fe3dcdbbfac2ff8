// Longer than 800 lines: the inliner of user functions is one pass (renaming a body's names
// per call, checking its signature and the statements a body may hold, then splicing it
// before the calling statement); its parts share the renaming tables, and its tests are here.
//! User functions, Stan's functions block: `fn` items written inside `model! { .. }` before
//! the model's function, inlined at each call before the model is analysed, so a body is
//! differentiated by the same source transformation as the model, on data and on latent
//! paths alike, and a mistake inside it (an unknown function, a branch on a latent) is
//! reported at its token inside the body.
//!
//! A body is the DSL's statements (`let`, `let mut` and assignments, `for` loops, `if` over
//! data, `target +=`) followed by the value it returns: an expression, an `if` over data
//! whose branches end with the value (a piecewise function), or a `match` on data whose arms
//! are the values (see [`conditional`]). A call inside a statement becomes, just before that
//! statement:
//!
//! - one `let` per argument that is not a name, a literal or an element (`x[i]`), so an
//!   argument is evaluated once however often the body reads it;
//! - the body's statements, each name it binds renamed for this call (`r` of the third call
//!   of `hill` is `r_hill3`), so it neither captures the caller's names nor shadows them;
//!
//! and the call is replaced by the returned value. Each of those statements is reported
//! under the calling statement: a panic in one (`t - 1` at `t = 0`) gives "in `let p =
//! before(y, t) (inside before: let k = t - 1)`: ..". The inlined `let`s follow the DSL's
//! arithmetic on data as on latents (`LetStmt::inlined`), so a function means the same on
//! either. A call inside a closure (Rust the user wrote on data) is substituted as one
//! expression, which needs a body of plain `let`s and a value.
//!
//! Before a call is inlined, its arguments are checked against the signature: the number of
//! arguments, and the shape of an argument whose shape is known here (a literal, a data
//! argument of the model by its declared type, a latent by its `.iid(..)`, an element, a
//! call of a user function by its return type) against the parameter's declared type (a
//! scalar `f64`, a vector `DVector<f64>`/`&[f64]`/`Vec<f64>`, a matrix `DMatrix<f64>`).
//! Functions may call functions written before them.

use std::collections::{HashMap, HashSet};

use quote::{format_ident, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{Expr, Ident, Pat, Type};

use crate::catalogue;
use crate::ctxt::Ctxt;
use crate::parse::{self, ModelDef, Stmt};

mod conditional;
#[cfg(test)]
mod tests;

fn error(cx: &Ctxt, tokens: impl ToTokens, msg: impl std::fmt::Display) {
    cx.syn_error(syn::Error::new_spanned(tokens, msg));
}

/// The shape of a value, where the macro can tell it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    Scalar,
    Vector,
    Matrix,
}

impl Shape {
    fn describe(self) -> &'static str {
        match self {
            Shape::Scalar => "a scalar",
            Shape::Vector => "a vector",
            Shape::Matrix => "a matrix",
        }
    }
}

/// The shape of a declared type: numbers are scalars; slices, arrays, `Vec`s and
/// `DVector`s of numbers are vectors; `DMatrix`es are matrices; anything else is unknown.
fn shape_of_type(ty: &Type) -> Option<Shape> {
    match ty {
        Type::Reference(r) => shape_of_type(&r.elem),
        Type::Paren(p) => shape_of_type(&p.elem),
        Type::Group(g) => shape_of_type(&g.elem),
        Type::Slice(s) => (shape_of_type(&s.elem)? == Shape::Scalar).then_some(Shape::Vector),
        Type::Array(a) => (shape_of_type(&a.elem)? == Shape::Scalar).then_some(Shape::Vector),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            let elem = || match &last.arguments {
                syn::PathArguments::AngleBracketed(a) => match a.args.first()? {
                    syn::GenericArgument::Type(t) => shape_of_type(t),
                    _ => None,
                },
                _ => None,
            };
            match last.ident.to_string().as_str() {
                "f64" | "f32" | "i64" | "i32" | "u64" | "u32" | "usize" | "isize" | "bool" => {
                    Some(Shape::Scalar)
                }
                "DVector" | "RowDVector" | "Vec" => {
                    (elem()? == Shape::Scalar).then_some(Shape::Vector)
                }
                "DMatrix" => (elem()? == Shape::Scalar).then_some(Shape::Matrix),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The zero of a scalar type other than `f64`, which a variable set by the branch taken
/// starts with: `(0 as usize)`, `false`; `None` for `f64` (whose zero is `0.0`) and for a
/// type that is not a scalar.
fn zero_of(ty: &Type) -> Option<Expr> {
    let Type::Path(p) = ty else { return None };
    let name = p.path.get_ident()?.to_string();
    match name.as_str() {
        "bool" => Some(syn::parse_quote!(false)),
        "f32" | "i64" | "i32" | "u64" | "u32" | "usize" | "isize" => {
            Some(syn::parse_quote!((0 as #ty)))
        }
        _ => None,
    }
}

/// `DVector < f64 >` as written: `DVector<f64>`.
fn type_text(ty: &Type) -> String {
    ty.to_token_stream()
        .to_string()
        .replace(" < ", "<")
        .replace(" >", ">")
        .replace("& ", "&")
        .replace(" ,", ",")
        .replace("[ ", "[")
        .replace(" ]", "]")
}

/// Elementwise functions of the catalogue: the value has its argument's shape.
const ELEMENTWISE: &[&str] = &[
    "exp",
    "ln",
    "log1p",
    "expm1",
    "sqrt",
    "powi",
    "powf",
    "tanh",
    "sigmoid",
    "softplus",
    "log_sigmoid",
    "sin",
    "cos",
    "abs",
    "log1m",
    "log1m_exp",
    "log1p_exp",
    "logit",
    "lgamma",
    "digamma",
    "Phi",
    "erf",
    "erfc",
    "square",
    "inv",
    "atan",
    "tan",
];

/// Functions whose value is a scalar whatever their argument.
const REDUCING: &[&str] = &[
    "sum",
    "mean",
    "dot",
    "norm",
    "len",
    "nrows",
    "ncols",
    "dot_self",
    "log_sum_exp",
    "sd",
    "variance",
];

/// One parameter of a user function.
struct Param {
    name: Ident,
    ty: Type,
    shape: Option<Shape>,
    mutable: bool,
}

/// A user function ready to inline.
struct UserFn {
    name: Ident,
    params: Vec<Param>,
    ret: Option<Shape>,
    /// The declared return type.
    ret_ty: Option<Type>,
    /// The body's statements, calls of earlier functions inlined, `let`s marked inlined.
    stmts: Vec<Stmt>,
    /// The returned value.
    tail: Expr,
}

impl UserFn {
    /// Whether the body is plain `let name = ..;`s and a value, which a closure can hold
    /// as one expression.
    fn simple(&self) -> bool {
        self.stmts.iter().all(|s| {
            matches!(s, Stmt::Let(l) if matches!(&l.pat, Pat::Ident(p)
                if p.mutability.is_none() && p.by_ref.is_none() && p.subpat.is_none()))
        })
    }
}

/// `def`'s body with every call of a user function inlined (see the module's docs). Errors
/// (a body that does not end with a value, a wrong number of arguments, an argument of the
/// wrong shape) go to `cx`.
pub fn inline(cx: &Ctxt, def: &ModelDef) -> Option<parse::Block> {
    if def.fns.is_empty() {
        return None;
    }
    let mut fns: HashMap<String, UserFn> = HashMap::new();
    let mut counter = 0usize;
    for f in &def.fns {
        let Some(uf) = define(cx, f, &fns, &mut counter) else {
            continue;
        };
        let name = uf.name.to_string();
        if fns.contains_key(&name) {
            error(cx, &uf.name, format!("function `{name}` is written twice"));
        }
        fns.insert(name, uf);
    }
    // The shapes the model's names have where the macro can tell them: data arguments by
    // their types here; latents by their `.iid(..)` and `let`s by their values (a user
    // function's by its return type) as the inliner meets them, in order.
    let mut names = HashMap::new();
    for a in &def.args {
        if let Some(s) = shape_of_type(&a.ty) {
            names.insert(a.name.to_string(), s);
        }
    }
    let mut body = def.body.clone();
    let mut inliner = Inliner {
        fns: &fns,
        cx,
        counter: &mut counter,
        names,
        results: HashMap::new(),
        hoisted: Vec::new(),
        closure: 0,
        caller: String::new(),
    };
    inliner.block(&mut body);
    Some(body)
}

/// The shape of a univariate latent, by its `.iid(..)`.
fn latent_shape(l: &parse::LatentStmt) -> Option<Shape> {
    let univariate =
        catalogue::dist_named(&l.dist.name.to_string()).is_some_and(|d| !d.support.multivariate());
    if !univariate {
        return None;
    }
    Some(match &l.iid {
        None => Shape::Scalar,
        Some(Expr::Tuple(t)) if t.elems.len() == 2 => Shape::Matrix,
        Some(_) => Shape::Vector,
    })
}

fn pat_idents(p: &Pat, out: &mut HashSet<String>) {
    struct Names<'a>(&'a mut HashSet<String>);
    impl<'ast> syn::visit::Visit<'ast> for Names<'_> {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.insert(p.ident.to_string());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    syn::visit::Visit::visit_pat(&mut Names(out), p);
}

/// A user function's signature and body, calls of earlier functions inlined.
fn define(
    cx: &Ctxt,
    f: &syn::ItemFn,
    fns: &HashMap<String, UserFn>,
    counter: &mut usize,
) -> Option<UserFn> {
    if !f.sig.generics.params.is_empty() {
        error(
            cx,
            &f.sig.generics,
            "a user function cannot be generic: its parameters are values of the model",
        );
    }
    let mut params = Vec::new();
    for a in &f.sig.inputs {
        match a {
            syn::FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => params.push(Param {
                    name: p.ident.clone(),
                    ty: (*t.ty).clone(),
                    shape: shape_of_type(&t.ty),
                    mutable: p.mutability.is_some(),
                }),
                other => error(cx, other, "a user function's parameter is a plain name"),
            },
            syn::FnArg::Receiver(r) => error(cx, r, "a user function takes no `self`"),
        }
    }
    let ret_ty = match &f.sig.output {
        syn::ReturnType::Type(_, t) => Some((**t).clone()),
        syn::ReturnType::Default => None,
    };
    let ret = ret_ty.as_ref().and_then(shape_of_type);
    // `return` is not a statement of the DSL: the value is the body's last expression.
    struct Returns<'a>(&'a Ctxt, bool);
    impl<'ast> syn::visit::Visit<'ast> for Returns<'_> {
        fn visit_expr_return(&mut self, r: &'ast syn::ExprReturn) {
            self.1 = true;
            error(
                self.0,
                r.return_token,
                "a user function returns the value of its last expression; write it there \
                 without `return` (an `if` over data may choose it: `if c { a } else { b }`)",
            );
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    }
    let mut returns = Returns(cx, false);
    syn::visit::Visit::visit_block(&mut returns, &f.block);
    let failed = |params| UserFn {
        name: f.sig.ident.clone(),
        params,
        ret,
        ret_ty: ret_ty.clone(),
        stmts: Vec::new(),
        tail: syn::parse_quote!(0.0),
    };
    if returns.1 {
        return Some(failed(params));
    }
    // The value: the body's last expression, or an `if` over data whose branches end with
    // one (each branch then sets a result declared before it).
    let mut body = f.block.stmts.clone();
    let no_value = "a user function's body ends with the value it returns";
    let tail: Expr = match body.pop() {
        Some(syn::Stmt::Expr(Expr::If(mut i), None)) => {
            if !value_if(&i) {
                error(
                    cx,
                    &i.cond,
                    "an `if` that gives the function's value has an `else`, and each branch \
                     ends with a value",
                );
                return Some(failed(params));
            }
            let var = format_ident!("{}_value", f.sig.ident, span = f.sig.ident.span());
            let init: Expr = match ret {
                Some(Shape::Scalar) => ret_ty
                    .as_ref()
                    .and_then(zero_of)
                    .unwrap_or_else(|| syn::parse_quote!(0.0)),
                Some(Shape::Vector) => syn::parse_quote!(DVector::<f64>::zeros(0)),
                Some(Shape::Matrix) => syn::parse_quote!(DMatrix::<f64>::zeros(0, 0)),
                None => {
                    error(
                        cx,
                        &f.sig.output,
                        "a value chosen by `if` is returned as `f64`, `DVector<f64>` or \
                         `DMatrix<f64>`",
                    );
                    return Some(failed(params));
                }
            };
            assign_tail(&mut i, &var);
            body.push(syn::parse_quote!(let mut #var = #init;));
            body.push(syn::Stmt::Expr(Expr::If(i), None));
            syn::parse_quote!(#var)
        }
        Some(syn::Stmt::Expr(e, None)) => e,
        Some(other) => {
            error(cx, other, no_value);
            return Some(failed(params));
        }
        None => {
            error(cx, &f.block, no_value);
            return Some(failed(params));
        }
    };
    let body: parse::Block = match syn::parse2(quote::quote!({ #(#body)* })) {
        Ok(b) => b,
        Err(e) => {
            cx.syn_error(e);
            return Some(failed(params));
        }
    };
    let mut stmts = body.stmts;
    // Statements that did not parse as the DSL's.
    for s in &stmts {
        if let Stmt::Error(e) = s {
            cx.syn_error(e.clone());
        }
    }
    // Scalars stay Rust where no latent is involved (an `if` may then branch on them); other
    // values follow the DSL's arithmetic.
    let declared: HashMap<String, Shape> = params
        .iter()
        .filter_map(|p| Some((p.name.to_string(), p.shape?)))
        .collect();
    mark_inlined(&mut stmts, &mut declared.clone(), fns);
    // Calls of functions written before this one, with the parameters' declared shapes (the
    // body's `let`s recorded in order by the inliner).
    let names = declared;
    let mut block = parse::Block { stmts };
    let mut tail = tail;
    let mut inliner = Inliner {
        fns,
        cx,
        counter,
        names,
        results: HashMap::new(),
        hoisted: Vec::new(),
        closure: 0,
        caller: String::new(),
    };
    inliner.block(&mut block);
    inliner.caller = parse::pretty(tail.to_token_stream());
    match &tail {
        // A value chosen by `match` on data: each arm's value set in its branch, as an `if`
        // that gives the value is.
        Expr::Match(m) => tail = inliner.select_match(m),
        _ => inliner.visit_expr_mut(&mut tail),
    }
    let hoisted = std::mem::take(&mut inliner.hoisted);
    block.stmts.extend(hoisted);
    Some(UserFn {
        name: f.sig.ident.clone(),
        params,
        ret,
        ret_ty,
        stmts: block.stmts,
        tail,
    })
}

/// Whether an `if` has an `else` and every branch ends with a value (an expression with no
/// `;`, or such an `if`).
fn value_if(i: &syn::ExprIf) -> bool {
    fn ends_with_value(b: &syn::Block) -> bool {
        match b.stmts.last() {
            Some(syn::Stmt::Expr(Expr::If(i), None)) => value_if(i),
            Some(syn::Stmt::Expr(_, None)) => true,
            _ => false,
        }
    }
    ends_with_value(&i.then_branch)
        && match i.else_branch.as_ref().map(|e| &*e.1) {
            Some(Expr::Block(b)) => ends_with_value(&b.block),
            Some(Expr::If(i)) => value_if(i),
            _ => false,
        }
}

/// Replaces the value ending each branch by `var = value;`.
fn assign_tail(i: &mut syn::ExprIf, var: &Ident) {
    fn block(b: &mut syn::Block, var: &Ident) {
        match b.stmts.last_mut() {
            Some(syn::Stmt::Expr(Expr::If(i), None)) => assign_tail(i, var),
            Some(last @ syn::Stmt::Expr(_, None)) => {
                let syn::Stmt::Expr(e, None) = &*last else {
                    return;
                };
                let e = e.clone();
                *last = syn::parse_quote_spanned!(crate::codegen::span_of(&e)=> #var = #e;);
            }
            _ => {}
        }
    }
    block(&mut i.then_branch, var);
    match i.else_branch.as_mut().map(|e| &mut *e.1) {
        Some(Expr::Block(b)) => block(&mut b.block, var),
        Some(Expr::If(i)) => assign_tail(i, var),
        _ => {}
    }
}

/// Marks the `let`s of a body whose value is not known to be a scalar as inlined (the DSL's
/// arithmetic on data too); `names` holds the shapes known so far, in order.
fn mark_inlined(
    stmts: &mut [Stmt],
    names: &mut HashMap<String, Shape>,
    fns: &HashMap<String, UserFn>,
) {
    for s in stmts {
        match s {
            Stmt::Let(l) => {
                let shape = shape_of(&l.init, names, fns);
                l.inlined = shape != Some(Shape::Scalar);
                let mut bound = HashSet::new();
                pat_idents(&l.pat, &mut bound);
                for n in bound {
                    match (&l.pat, shape) {
                        (Pat::Ident(_), Some(s)) => names.insert(n, s),
                        _ => names.remove(&n),
                    };
                }
            }
            Stmt::For(f) => {
                let mut bound = HashSet::new();
                pat_idents(&f.pat, &mut bound);
                let mut inner = names.clone();
                for n in bound {
                    match &f.pat {
                        Pat::Ident(_) => inner.insert(n, Shape::Scalar),
                        _ => inner.remove(&n),
                    };
                }
                mark_inlined(&mut f.body.stmts, &mut inner, fns);
            }
            Stmt::If(i) => {
                mark_inlined(&mut i.then.stmts, &mut names.clone(), fns);
                if let Some(e) = &mut i.els {
                    mark_inlined(&mut e.stmts, &mut names.clone(), fns);
                }
            }
            _ => {}
        }
    }
}

/// The source text of a statement, when it has one.
fn src_of(s: &Stmt) -> Option<&str> {
    Some(match s {
        Stmt::Latent(l) => &l.src,
        Stmt::Observe(o) => &o.src,
        Stmt::Let(l) => &l.src,
        Stmt::Assign(a) => &a.src,
        Stmt::Target(t) => &t.src,
        Stmt::For(f) => &f.src,
        Stmt::If(i) => &i.src,
        Stmt::Expr(_) | Stmt::Error(_) => return None,
    })
}

/// Rewrites the source text of `stmts` and of the statements inside them with `with`.
fn set_srcs(stmts: &mut [Stmt], with: &mut dyn FnMut(&str) -> String) {
    for s in stmts {
        match s {
            Stmt::Latent(l) => l.src = with(&l.src),
            Stmt::Observe(o) => o.src = with(&o.src),
            Stmt::Let(l) => l.src = with(&l.src),
            Stmt::Assign(a) => a.src = with(&a.src),
            Stmt::Target(t) => t.src = with(&t.src),
            Stmt::For(f) => {
                f.src = with(&f.src);
                set_srcs(&mut f.body.stmts, with);
            }
            Stmt::If(i) => {
                i.src = with(&i.src);
                set_srcs(&mut i.then.stmts, with);
                if let Some(e) = &mut i.els {
                    set_srcs(&mut e.stmts, with);
                }
            }
            Stmt::Expr(_) | Stmt::Error(_) => {}
        }
    }
}

/// Whether an argument is cheap and pure enough to be read in place of its parameter: a
/// name, a literal, a field or an element of one.
fn trivial(e: &Expr) -> bool {
    match e {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Unary(u) => matches!(u.op, syn::UnOp::Neg(_)) && matches!(&*u.expr, Expr::Lit(_)),
        Expr::Paren(p) => trivial(&p.expr),
        Expr::Group(g) => trivial(&g.expr),
        Expr::Reference(r) => trivial(&r.expr),
        Expr::Field(f) => trivial(&f.base),
        Expr::Index(ix) => trivial(&ix.expr) && trivial_index(&ix.index),
        _ => false,
    }
}

fn trivial_index(e: &Expr) -> bool {
    match e {
        Expr::Tuple(t) => t.elems.iter().all(trivial_index),
        Expr::Binary(b) => trivial_index(&b.left) && trivial_index(&b.right),
        other => trivial(other),
    }
}

/// A float literal argument is an `f64` (`hill(1.0, 10.0, 2.0)` on data: a method of the
/// body must not meet an ambiguous `{float}`).
fn typed(a: &Expr) -> Expr {
    let float = |e: &Expr| matches!(e, Expr::Lit(syn::ExprLit { lit: syn::Lit::Float(f), .. }) if f.suffix().is_empty());
    match a {
        Expr::Unary(u) if float(&u.expr) => syn::parse_quote!((#a as f64)),
        e if float(e) => syn::parse_quote!((#a as f64)),
        _ => a.clone(),
    }
}

/// The shape of an expression where it can be told (see the module's docs).
fn shape_of(
    e: &Expr,
    names: &HashMap<String, Shape>,
    fns: &HashMap<String, UserFn>,
) -> Option<Shape> {
    use Shape::*;
    match e {
        Expr::Lit(l) => matches!(l.lit, syn::Lit::Int(_) | syn::Lit::Float(_)).then_some(Scalar),
        Expr::Paren(p) => shape_of(&p.expr, names, fns),
        Expr::Group(g) => shape_of(&g.expr, names, fns),
        Expr::Reference(r) => shape_of(&r.expr, names, fns),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => shape_of(&u.expr, names, fns),
        Expr::Cast(c) => shape_of_type(&c.ty),
        Expr::Block(b) => match b.block.stmts.last() {
            Some(syn::Stmt::Expr(t, None)) => shape_of(t, names, fns),
            _ => None,
        },
        Expr::If(i) => match i.then_branch.stmts.last() {
            Some(syn::Stmt::Expr(t, None)) => shape_of(t, names, fns),
            _ => None,
        }
        .or_else(|| shape_of(&i.else_branch.as_ref()?.1, names, fns)),
        Expr::Path(p) => names.get(&p.path.get_ident()?.to_string()).copied(),
        Expr::Index(ix) => {
            let ranged = |e: &Expr| matches!(e, Expr::Range(_));
            match (shape_of(&ix.expr, names, fns)?, &*ix.index) {
                (Vector, i) if !ranged(i) && !matches!(i, Expr::Tuple(_)) => Some(Scalar),
                (Matrix, Expr::Tuple(t)) if t.elems.len() == 2 && !t.elems.iter().any(ranged) => {
                    Some(Scalar)
                }
                _ => None,
            }
        }
        Expr::Binary(b) => {
            let arith = matches!(
                b.op,
                syn::BinOp::Add(_) | syn::BinOp::Sub(_) | syn::BinOp::Mul(_) | syn::BinOp::Div(_)
            );
            if !arith {
                return None;
            }
            match (
                shape_of(&b.left, names, fns)?,
                shape_of(&b.right, names, fns)?,
            ) {
                (Scalar, s) | (s, Scalar) => Some(s),
                (Vector, Vector) if !matches!(b.op, syn::BinOp::Mul(_)) => Some(Vector),
                _ => None,
            }
        }
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            if REDUCING.contains(&name.as_str()) {
                Some(Scalar)
            } else if ELEMENTWISE.contains(&name.as_str()) {
                shape_of(&m.receiver, names, fns)
            } else {
                None
            }
        }
        Expr::Call(c) => {
            let Expr::Path(p) = &*c.func else { return None };
            let name = p.path.get_ident()?.to_string();
            if let Some(f) = fns.get(&name) {
                f.ret
            } else if REDUCING.contains(&name.as_str()) {
                Some(Scalar)
            } else if ELEMENTWISE.contains(&name.as_str()) && c.args.len() == 1 {
                shape_of(&c.args[0], names, fns)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Inlines calls of user functions in statements, hoisting the bodies before the statement
/// that holds the call.
struct Inliner<'a> {
    fns: &'a HashMap<String, UserFn>,
    cx: &'a Ctxt,
    counter: &'a mut usize,
    /// Shapes of the names in scope where known (see [`inline`]).
    names: HashMap<String, Shape>,
    /// The names in scope bound by a `let` to a call of a user function: that function.
    results: HashMap<String, Ident>,
    /// Statements for the calls of the statement being rewritten.
    hoisted: Vec<Stmt>,
    /// Depth inside closures.
    closure: usize,
    /// The source text of the statement being rewritten: the statements placed before it
    /// for its calls are reported under it (a panic in an inlined body names the caller).
    caller: String,
}

impl Inliner<'_> {
    fn block(&mut self, b: &mut parse::Block) {
        let old = std::mem::take(&mut b.stmts);
        let outer_caller = self.caller.clone();
        for mut s in old {
            self.caller = match (&s, src_of(&s)) {
                (_, Some(src)) => src.to_string(),
                (Stmt::Expr(e), None) => parse::pretty(e.expr.to_token_stream()),
                (_, None) => self.caller.clone(),
            };
            // A `let`'s shape from its value as written (a call by its function's return
            // type), before its calls are inlined.
            let let_shape = match &s {
                Stmt::Let(l) => Some(self.let_shape(l)),
                _ => None,
            };
            // A `let` of a call of a user function: the function.
            let mut let_call = match &s {
                Stmt::Let(l) => self.user_call(&l.init).map(|f| f.name.clone()),
                _ => None,
            };
            match &mut s {
                Stmt::Latent(l) => {
                    l.dist.args.iter_mut().for_each(|a| self.visit_expr_mut(a));
                    if let Some(e) = &mut l.iid {
                        self.visit_expr_mut(e);
                    }
                    for m in &mut l.mods {
                        m.args.iter_mut().for_each(|a| self.visit_expr_mut(a));
                    }
                }
                Stmt::Observe(o) => {
                    self.visit_expr_mut(&mut o.lhs);
                    o.dist.args.iter_mut().for_each(|a| self.visit_expr_mut(a));
                }
                Stmt::Let(l) => self.visit_expr_mut(&mut l.init),
                Stmt::Assign(a) => {
                    self.visit_expr_mut(&mut a.lhs);
                    self.visit_expr_mut(&mut a.rhs);
                }
                Stmt::Target(t) => self.visit_expr_mut(&mut t.expr),
                Stmt::For(f) => self.visit_expr_mut(&mut f.iter),
                Stmt::If(i) => self.visit_expr_mut(&mut i.cond),
                Stmt::Expr(e) => self.visit_expr_mut(&mut e.expr),
                Stmt::Error(_) => {}
            }
            b.stmts.append(&mut self.hoisted);
            match &mut s {
                Stmt::For(f) => {
                    let outer = self.names.clone();
                    let results = self.results.clone();
                    let mut bound = HashSet::new();
                    pat_idents(&f.pat, &mut bound);
                    for n in bound {
                        self.results.remove(&n);
                        match (&f.pat, &f.iter) {
                            (Pat::Ident(_), Expr::Range(_)) => self.names.insert(n, Shape::Scalar),
                            _ => self.names.remove(&n),
                        };
                    }
                    self.block(&mut f.body);
                    self.names = outer;
                    self.results = results;
                }
                Stmt::If(i) => {
                    let outer = (self.names.clone(), self.results.clone());
                    self.block(&mut i.then);
                    (self.names, self.results) = outer.clone();
                    if let Some(e) = &mut i.els {
                        self.block(e);
                    }
                    (self.names, self.results) = outer;
                }
                Stmt::Latent(l) => match latent_shape(l) {
                    _ if self.results.remove(&l.name.to_string()).is_some() => {}
                    Some(shape) => {
                        self.names.insert(l.name.to_string(), shape);
                    }
                    None => {
                        self.names.remove(&l.name.to_string());
                    }
                },
                Stmt::Let(l) => {
                    let mut bound = HashSet::new();
                    pat_idents(&l.pat, &mut bound);
                    for n in &bound {
                        self.results.remove(n);
                    }
                    if let (Pat::Ident(p), Some(f)) = (&l.pat, let_call.take()) {
                        self.results.insert(p.ident.to_string(), f);
                    }
                    for n in bound {
                        match (&l.pat, let_shape.flatten()) {
                            (Pat::Ident(_), Some(shape)) => self.names.insert(n, shape),
                            _ => self.names.remove(&n),
                        };
                    }
                }
                _ => {}
            }
            b.stmts.push(s);
        }
        self.caller = outer_caller;
    }

    fn shape(&self, e: &Expr) -> Option<Shape> {
        shape_of(e, &self.names, self.fns)
    }

    /// The user function `e` calls, when it is such a call.
    fn user_call(&self, e: &Expr) -> Option<&UserFn> {
        match e {
            Expr::Paren(p) => self.user_call(&p.expr),
            Expr::Group(g) => self.user_call(&g.expr),
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) => self.fns.get(&p.path.get_ident()?.to_string()),
                _ => None,
            },
            _ => None,
        }
    }

    /// `v[i]` where `v` is bound to the scalar value of a user function: an error naming
    /// the function (rustc would name the generated code).
    fn check_index(&self, ix: &syn::ExprIndex) {
        let Expr::Path(p) = &*ix.expr else { return };
        let Some(name) = p.path.get_ident() else {
            return;
        };
        let n = name.to_string();
        let (Some(f), Some(Shape::Scalar)) = (self.results.get(&n), self.names.get(&n)) else {
            return;
        };
        let ty = self
            .fns
            .get(&f.to_string())
            .and_then(|f| f.ret_ty.as_ref().map(type_text))
            .unwrap_or_else(|| "a scalar".to_string());
        error(
            self.cx,
            ix,
            format!("`{n}` is a scalar (`{f}` returns `{ty}`), so it cannot be indexed"),
        );
    }

    /// The shape of a `let`'s value: its declared type's, else its value's where known. A
    /// declared type that disagrees with a value whose shape is known is an error.
    fn let_shape(&self, l: &parse::LetStmt) -> Option<Shape> {
        let value = self.shape(&l.init);
        let Some(ty) = &l.ty else { return value };
        let declared = shape_of_type(ty);
        if let (Some(d), Some(v)) = (declared, value) {
            if d != v {
                error(
                    self.cx,
                    &l.init,
                    format!(
                        "`{}` is declared `{}`, {}, but its value is {}",
                        l.pat.to_token_stream(),
                        type_text(ty),
                        d.describe(),
                        v.describe()
                    ),
                );
            }
        }
        declared.or(value)
    }

    /// Checks the arguments of a call of `f` against its signature; false on a mistake.
    fn check_call(&self, f: &UserFn, c: &syn::ExprCall) -> bool {
        let name = &f.name;
        if c.args.len() != f.params.len() {
            error(
                self.cx,
                &c.func,
                format!(
                    "`{name}` takes {} argument{}, found {}",
                    f.params.len(),
                    if f.params.len() == 1 { "" } else { "s" },
                    c.args.len()
                ),
            );
            return false;
        }
        let mut ok = true;
        for (p, a) in f.params.iter().zip(&c.args) {
            let (Some(want), Some(got)) = (p.shape, self.shape(a)) else {
                continue;
            };
            if want != got {
                error(
                    self.cx,
                    a,
                    format!(
                        "`{name}`'s parameter `{}` is `{}`, {}, but this argument is {}",
                        p.name,
                        type_text(&p.ty),
                        want.describe(),
                        got.describe()
                    ),
                );
                ok = false;
            }
        }
        ok
    }

    /// The value of a call of `f` (arguments checked, inner calls inlined); its body goes
    /// to `hoisted`.
    fn expand(&mut self, f: &UserFn, c: &syn::ExprCall) -> Expr {
        *self.counter += 1;
        let k = *self.counter;
        let mut scope: HashMap<String, Option<Expr>> = HashMap::new();
        if self.closure > 0 {
            // Inside a closure: one expression, the arguments substituted.
            if !f.simple() {
                error(
                    self.cx,
                    &c.func,
                    format!(
                        "`{}` has statements other than `let`s (a loop, an `if`, `let mut`), \
                         so it is called in a statement of the model, not inside a closure",
                        f.name
                    ),
                );
                return syn::parse_quote!(0.0);
            }
            for (p, a) in f.params.iter().zip(&c.args) {
                scope.insert(p.name.to_string(), Some(typed(a)));
            }
            let mut r = Renamer {
                cx: self.cx,
                scopes: vec![scope],
                suffix: None,
            };
            for s in &f.stmts {
                let Stmt::Let(l) = s else { continue };
                let Pat::Ident(p) = &l.pat else { continue };
                let mut init = l.init.clone();
                r.visit_expr_mut(&mut init);
                r.scopes[0].insert(p.ident.to_string(), Some(init));
            }
            let mut tail = f.tail.clone();
            r.visit_expr_mut(&mut tail);
            return syn::parse_quote!((#tail));
        }
        for (p, a) in f.params.iter().zip(&c.args) {
            if !p.mutable && trivial(a) {
                scope.insert(p.name.to_string(), Some(typed(a)));
                continue;
            }
            let var = format_ident!("{}_{}{}", p.name, f.name, k, span = p.name.span());
            self.cx.rename(var.to_string(), p.name.to_string());
            let mutability = p.mutable.then(<syn::Token![mut]>::default);
            self.hoisted.push(Stmt::Let(parse::LetStmt {
                pat: syn::parse_quote!(#mutability #var),
                ty: None,
                init: typed(a),
                src: format!(
                    "{} (inside {}: {} = {})",
                    self.caller,
                    f.name,
                    p.name,
                    parse::pretty(a.to_token_stream()),
                ),
                keep: None,
                inlined: p.shape != Some(Shape::Scalar),
            }));
            scope.insert(p.name.to_string(), Some(syn::parse_quote!(#var)));
        }
        let mut r = Renamer {
            cx: self.cx,
            scopes: vec![scope],
            suffix: Some(format!("_{}{}", f.name, k)),
        };
        let mut stmts = f.stmts.clone();
        r.stmts(&mut stmts);
        // Reported under the calling statement, naming the function.
        let caller = &self.caller;
        let name = &f.name;
        set_srcs(&mut stmts, &mut |own| {
            format!("{caller} (inside {name}: {own})")
        });
        let mut tail = f.tail.clone();
        r.visit_expr_mut(&mut tail);
        self.hoisted.extend(stmts);
        syn::parse_quote!((#tail))
    }
}

impl VisitMut for Inliner<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if let Expr::Closure(_) = e {
            self.closure += 1;
            syn::visit_mut::visit_expr_mut(self, e);
            self.closure -= 1;
            return;
        }
        if let Expr::Index(ix) = &*e {
            self.check_index(ix);
        }
        if self.closure == 0 {
            if let Some(v) = self.conditional(e) {
                *e = v;
                return;
            }
        }
        let fns = self.fns;
        let user = match &*e {
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) => p
                    .path
                    .get_ident()
                    .and_then(|name| fns.get(&name.to_string())),
                _ => None,
            },
            _ => None,
        };
        let Some(f) = user else {
            syn::visit_mut::visit_expr_mut(self, e);
            return;
        };
        let Expr::Call(c) = e else { return };
        if !self.check_call(f, c) {
            *e = syn::parse_quote!(0.0);
            return;
        }
        // Arguments first (their calls' bodies come before this one's).
        for a in &mut c.args {
            self.visit_expr_mut(a);
        }
        let c = c.clone();
        *e = self.expand(f, &c);
    }
}

/// Renames the names a body binds (with `suffix`) and replaces its parameters by their
/// arguments, scope by scope.
struct Renamer<'a> {
    cx: &'a Ctxt,
    scopes: Vec<HashMap<String, Option<Expr>>>,
    /// `None` inside a closure, where only `let`s of plain names are substituted.
    suffix: Option<String>,
}

impl Renamer<'_> {
    /// What a name stands for: `Some(None)` for a closure's parameter, which stays.
    fn lookup(&self, n: &str) -> Option<&Option<Expr>> {
        self.scopes.iter().rev().find_map(|s| s.get(n))
    }

    /// Renames the names `p` binds, in the innermost scope.
    fn bind(&mut self, p: &mut Pat) {
        struct Bind<'a>(&'a mut HashMap<String, Option<Expr>>, &'a str, &'a Ctxt);
        impl VisitMut for Bind<'_> {
            fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
                let new = format_ident!("{}{}", p.ident, self.1, span = p.ident.span());
                self.2.rename(new.to_string(), p.ident.to_string());
                self.0
                    .insert(p.ident.to_string(), Some(syn::parse_quote!(#new)));
                p.ident = new;
                syn::visit_mut::visit_pat_ident_mut(self, p);
            }
        }
        let suffix = self.suffix.clone().unwrap_or_default();
        if let Some(scope) = self.scopes.last_mut() {
            Bind(scope, &suffix, self.cx).visit_pat_mut(p);
        }
    }

    fn block(&mut self, b: &mut parse::Block) {
        self.scopes.push(HashMap::new());
        self.stmts(&mut b.stmts);
        self.scopes.pop();
    }

    fn stmts(&mut self, stmts: &mut [Stmt]) {
        for s in stmts {
            match s {
                Stmt::Let(l) => {
                    self.visit_expr_mut(&mut l.init);
                    self.bind(&mut l.pat);
                }
                Stmt::Assign(a) => {
                    self.visit_expr_mut(&mut a.lhs);
                    self.visit_expr_mut(&mut a.rhs);
                }
                Stmt::Target(t) => self.visit_expr_mut(&mut t.expr),
                Stmt::Expr(e) => self.visit_expr_mut(&mut e.expr),
                Stmt::For(f) => {
                    self.visit_expr_mut(&mut f.iter);
                    self.scopes.push(HashMap::new());
                    self.bind(&mut f.pat);
                    self.stmts(&mut f.body.stmts);
                    self.scopes.pop();
                }
                Stmt::If(i) => {
                    self.visit_expr_mut(&mut i.cond);
                    self.block(&mut i.then);
                    if let Some(e) = &mut i.els {
                        self.block(e);
                    }
                }
                Stmt::Latent(l) => {
                    l.dist.args.iter_mut().for_each(|a| self.visit_expr_mut(a));
                }
                Stmt::Observe(o) => {
                    self.visit_expr_mut(&mut o.lhs);
                    o.dist.args.iter_mut().for_each(|a| self.visit_expr_mut(a));
                }
                Stmt::Error(_) => {}
            }
        }
    }
}

impl VisitMut for Renamer<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            Expr::Path(p) if p.qself.is_none() => {
                let Some(name) = p.path.get_ident() else {
                    return;
                };
                if let Some(with) = self.lookup(&name.to_string()) {
                    let with = with.clone();
                    // At the name's token (a renamed name, or the argument in parentheses),
                    // so a mistake found there is reported inside the function's body.
                    *e = match with {
                        Some(Expr::Path(w)) => match w.path.get_ident() {
                            Some(id) => {
                                let id = Ident::new(&id.to_string(), name.span());
                                syn::parse_quote!(#id)
                            }
                            None => Expr::Path(w),
                        },
                        Some(with) => syn::parse_quote_spanned!(name.span()=> (#with)),
                        None => return,
                    };
                }
            }
            Expr::Call(c) => {
                // A function's name is not a value.
                if !matches!(&*c.func, Expr::Path(_)) {
                    self.visit_expr_mut(&mut c.func);
                }
                c.args.iter_mut().for_each(|a| self.visit_expr_mut(a));
            }
            Expr::Closure(c) => {
                // The closure's parameters shadow the body's names.
                let mut scope = HashMap::new();
                for p in &c.inputs {
                    let mut names = HashSet::new();
                    pat_idents(p, &mut names);
                    scope.extend(names.into_iter().map(|n| (n, None)));
                }
                self.scopes.push(scope);
                self.visit_expr_mut(&mut c.body);
                self.scopes.pop();
            }
            _ => syn::visit_mut::visit_expr_mut(self, e),
        }
    }
}
