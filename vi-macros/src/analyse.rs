//! The syntax tree -> the analysed model: names and scopes, latent vs observed vs
//! deterministic vs data, which values are active (depend on a latent), shapes of latents,
//! constraints from the priors' supports, and every mistake reported at the user's token.
//!
//! Assignments to active `let mut` state are put in SSA form: each assignment makes a new
//! version of the variable, and a `for` or `if` that assigns state declared outside it
//! makes one new version at its exit ([`Carried`]). The differentiation stage relies on
//! this: every active value is written once.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;
use syn::{Expr, Ident, Pat, Type};

use crate::catalogue::{self, Rule, Support};
use crate::catalogue::{Binary, DistInfo, Unary, WithData};
use crate::ctxt::Ctxt;
use crate::parse::{self, AssignOp, ModelDef};

// ---------------------------------------------------------------------------------------
// The analysed model
// ---------------------------------------------------------------------------------------

/// One version of an active value: `__v{id}_{name}` holds it, `__g{id}_{name}` its adjoint.
#[derive(Clone, Debug)]
pub struct Binding {
    /// Unique in the model.
    pub id: usize,
    /// The user's name (and span).
    pub name: Ident,
}

/// An expression on a latent's path, in terms of the differentiation rules.
#[derive(Clone, Debug)]
pub enum AExpr {
    /// An active value.
    Var(Binding),
    /// A data-only operand (any Rust).
    Data(Expr),
    /// A one-argument rule.
    Unary(Unary, Box<AExpr>, Span),
    /// A two-argument rule (at least one side active).
    Binary(Binary, Box<AExpr>, Box<AExpr>, Span),
    /// A rule with data parameters.
    WithData(WithData, Box<AExpr>, Vec<Expr>, Span),
    /// `v` with the element at the data index replaced by a value: `v[i] = x`.
    Set(Box<AExpr>, Vec<Expr>, Box<AExpr>, Span),
}

/// An argument: data (evaluated as written) or active.
#[derive(Clone, Debug)]
pub enum Operand {
    /// Data only.
    Data(Expr),
    /// Depends on a latent.
    Active(AExpr),
}

/// The shape of a latent.
#[derive(Clone, Debug)]
pub enum Shape {
    /// No `.iid`.
    Scalar,
    /// `.iid(n)`.
    Vector(Expr),
    /// `.iid((r, c))`.
    Matrix(Expr, Expr),
}

/// The constraint of a latent.
#[derive(Clone, Debug)]
pub enum Constraint {
    /// All reals.
    Identity,
    /// `(0, inf)`.
    Positive,
    /// `(0, 1)`.
    Unit,
    /// `(a, b)` with data bounds.
    Interval(Box<Expr>, Box<Expr>),
}

/// A latent variable.
#[derive(Clone, Debug)]
pub struct Latent {
    /// Its value binding.
    pub binding: Binding,
    /// Its shape.
    pub shape: Shape,
    /// Its transform.
    pub constraint: Constraint,
}

/// A variable a `for` loop carries across iterations.
#[derive(Clone, Debug)]
pub struct Carried {
    /// The version before the loop.
    pub outer: Binding,
    /// The version at the start of each iteration.
    pub entry: Binding,
    /// The version at the end of the body.
    pub last: Binding,
    /// The version after the loop.
    pub exit: Binding,
}

/// A variable an `if` assigns.
#[derive(Clone, Debug)]
pub struct Joined {
    /// The version at the end of the `then` block.
    pub then_last: Binding,
    /// The version at the end of the `else` block (`outer` when it does not assign).
    pub else_last: Binding,
    /// The version after the `if`.
    pub exit: Binding,
}

/// An analysed statement.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// A latent's prior: `latent` indexes [`Model::latents`].
    Latent {
        /// Which latent.
        latent: usize,
        /// The prior.
        dist: &'static DistInfo,
        /// The prior's arguments.
        args: Vec<Operand>,
        /// Index into [`Model::srcs`].
        src: usize,
    },
    /// An observation.
    Observe {
        /// The observed data.
        lhs: Expr,
        /// The distribution.
        dist: &'static DistInfo,
        /// Its arguments.
        args: Vec<Operand>,
        /// Index into [`Model::srcs`].
        src: usize,
        /// Index into [`Model::observed`].
        obs: usize,
    },
    /// `target += value;`
    Target {
        /// The term.
        value: Operand,
        /// Index into [`Model::srcs`].
        src: usize,
    },
    /// A new active version: `let` with an active value, or an assignment to active state.
    Let {
        /// The version defined.
        binding: Binding,
        /// The user's type annotation.
        ty: Option<Type>,
        /// The value.
        init: AExpr,
        /// Index into [`Model::srcs`].
        src: usize,
    },
    /// A data-only statement, emitted as written.
    Data(TokenStream),
    /// A `for` loop over data.
    For {
        /// The pattern.
        pat: Pat,
        /// What is iterated over.
        iter: Expr,
        /// The body.
        body: Vec<Stmt>,
        /// Active state carried across iterations.
        carried: Vec<Carried>,
        /// Data `let mut` variables declared outside and assigned inside.
        data_carried: Vec<Ident>,
        /// Index into [`Model::srcs`].
        src: usize,
    },
    /// An `if` over data.
    If {
        /// The condition.
        cond: Expr,
        /// The `then` block.
        then: Vec<Stmt>,
        /// The `else` block (empty when absent).
        els: Vec<Stmt>,
        /// Active state assigned in a branch.
        joined: Vec<Joined>,
        /// Index into [`Model::srcs`].
        src: usize,
    },
}

/// How a data argument is stored in the model struct and bound inside its methods.
#[derive(Clone, Debug)]
pub enum Stored {
    /// `x: &T`: stored as `<T as ToOwned>::Owned`, bound as `&T`.
    Ref(Box<Type>),
    /// A primitive (`usize`, `f64`, `bool`, ...): stored and bound by copy.
    Copy,
    /// Any other owned type: stored as is, bound as a reference.
    Owned,
}

/// A data argument.
#[derive(Clone, Debug)]
pub struct Arg {
    /// Its name.
    pub name: Ident,
    /// Its type as written.
    pub ty: Type,
    /// How it is stored.
    pub stored: Stored,
}

/// The analysed model.
pub struct Model {
    /// Attributes and docs of the model.
    pub attrs: Vec<syn::Attribute>,
    /// Visibility.
    pub vis: syn::Visibility,
    /// The model's name.
    pub name: Ident,
    /// The data arguments.
    pub args: Vec<Arg>,
    /// The statements.
    pub body: Vec<Stmt>,
    /// The latents in declaration order (the layout's order).
    pub latents: Vec<Latent>,
    /// Source text of each statement, for errors and `log_density_terms`.
    pub srcs: Vec<String>,
    /// Source text of the observed expression of each observation, for `simulate`.
    pub observed: Vec<String>,
    /// Which `srcs` are density terms (latent, observation, `target +=`), in order.
    pub terms: Vec<usize>,
    /// Data operands that depend only on the model's arguments, as (statement, expression's
    /// tokens as text): their conversions to `f64`s are made once and kept with the model.
    pub cached: Vec<(usize, String)>,
}

// ---------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Entry {
    Data {
        mutable: bool,
        decl: usize,
        arg: bool,
    },
    Active {
        b: Binding,
        mutable: bool,
        decl: usize,
        latent: bool,
        decl_frame: usize,
    },
}

#[derive(Default)]
struct Frame {
    names: HashMap<String, Entry>,
    /// Active state declared outside this frame and assigned in it: (name, decl).
    assigned: Vec<(String, usize)>,
    /// Data `let mut` declared outside this frame and assigned in it.
    data_assigned: Vec<Ident>,
    data_decl_frame: HashMap<String, usize>,
}

struct Analyser {
    errors: Vec<syn::Error>,
    frames: Vec<Frame>,
    next_id: usize,
    next_decl: usize,
    active_decls: HashSet<usize>,
    changed: bool,
    latents: Vec<Latent>,
    latent_names: HashMap<String, Span>,
    /// Latents declared anywhere at the top level, with their statement index, for
    /// "used before declared".
    all_latents: HashSet<String>,
    srcs: Vec<String>,
    observed: Vec<String>,
    terms: Vec<usize>,
    depth: usize,
    cached: Vec<(usize, String)>,
    /// Versions of `let mut` state, to find vectors written in place.
    state: StateVersions,
}

/// Analyses a parsed model. Errors go to `cx`; the returned model is only meaningful when
/// `cx` has none.
pub fn analyse(cx: &Ctxt, def: &ModelDef) -> Model {
    let args: Vec<Arg> = def
        .args
        .iter()
        .map(|a| Arg {
            name: a.name.clone(),
            ty: a.ty.clone(),
            stored: stored_of(&a.ty),
        })
        .collect();
    let mut all_latents = HashSet::new();
    for s in &def.body.stmts {
        if let parse::Stmt::Latent(l) = s {
            all_latents.insert(l.name.to_string());
        }
    }
    let mut active_decls = HashSet::new();
    // Activity of `let mut` state is a fixed point: an assignment later in the body (or in
    // a later loop iteration) can make a variable active. Iterate until stable.
    for round in 0..16 {
        let mut a = Analyser {
            errors: Vec::new(),
            frames: vec![Frame::default()],
            next_id: 0,
            next_decl: 0,
            active_decls: active_decls.clone(),
            changed: false,
            latents: Vec::new(),
            latent_names: HashMap::new(),
            all_latents: all_latents.clone(),
            srcs: Vec::new(),
            observed: Vec::new(),
            terms: Vec::new(),
            depth: 0,
            cached: Vec::new(),
            state: StateVersions::default(),
        };
        for arg in &args {
            let decl = a.new_decl();
            if a.frames[0].names.contains_key(&arg.name.to_string()) {
                a.err(
                    arg.name.span(),
                    format!("data argument `{}` is declared twice", arg.name),
                );
            }
            a.frames[0].names.insert(
                arg.name.to_string(),
                Entry::Data {
                    mutable: false,
                    decl,
                    arg: true,
                },
            );
        }
        let mut body = a.block(&def.body.stmts);
        if a.changed && round < 15 {
            active_decls = a.active_decls;
            continue;
        }
        for e in a.errors {
            cx.syn_error(e);
        }
        a.state.write_in_place(&mut body);
        return Model {
            attrs: def.attrs.clone(),
            vis: def.vis.clone(),
            name: def.name.clone(),
            args,
            body,
            latents: a.latents,
            srcs: a.srcs,
            observed: a.observed,
            terms: a.terms,
            cached: a.cached,
        };
    }
    unreachable_model(cx, def, args)
}

fn unreachable_model(cx: &Ctxt, def: &ModelDef, args: Vec<Arg>) -> Model {
    cx.error_at(
        def.name.span(),
        "the model's state does not settle (internal limit)",
    );
    Model {
        attrs: def.attrs.clone(),
        vis: def.vis.clone(),
        name: def.name.clone(),
        args,
        body: Vec::new(),
        latents: Vec::new(),
        srcs: Vec::new(),
        observed: Vec::new(),
        terms: Vec::new(),
        cached: Vec::new(),
    }
}

fn stored_of(ty: &Type) -> Stored {
    match ty {
        Type::Reference(r) => Stored::Ref(r.elem.clone()),
        Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            let id = p.path.segments[0].ident.to_string();
            let prim = [
                "f64", "f32", "usize", "isize", "u8", "u16", "u32", "u64", "i8", "i16", "i32",
                "i64", "bool",
            ];
            if prim.contains(&id.as_str()) {
                Stored::Copy
            } else {
                Stored::Owned
            }
        }
        _ => Stored::Owned,
    }
}

impl Analyser {
    fn err(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, msg));
    }

    fn err_spanned(&mut self, tokens: impl ToTokens, msg: impl std::fmt::Display) {
        self.errors.push(syn::Error::new_spanned(tokens, msg));
    }

    fn new_decl(&mut self) -> usize {
        self.next_decl += 1;
        self.next_decl
    }

    fn binding(&mut self, name: &Ident) -> Binding {
        self.next_id += 1;
        Binding {
            id: self.next_id,
            name: name.clone(),
        }
    }

    fn src(&mut self, s: &str) -> usize {
        self.srcs.push(s.to_string());
        self.srcs.len() - 1
    }

    fn lookup(&self, name: &str) -> Option<&Entry> {
        self.frames.iter().rev().find_map(|f| f.names.get(name))
    }

    fn declare(&mut self, name: &Ident, entry: Entry) {
        if let Some(f) = self.frames.last_mut() {
            f.names.insert(name.to_string(), entry);
        }
    }

    fn block(&mut self, stmts: &[parse::Stmt]) -> Vec<Stmt> {
        let mut out = Vec::new();
        for s in stmts {
            self.stmt(s, &mut out);
        }
        out
    }

    fn stmt(&mut self, s: &parse::Stmt, out: &mut Vec<Stmt>) {
        match s {
            parse::Stmt::Error(e) => self.errors.push(e.clone()),
            parse::Stmt::Latent(l) => self.latent(l, out),
            parse::Stmt::Observe(o) => self.observe(o, out),
            parse::Stmt::Let(l) => self.let_stmt(l, out),
            parse::Stmt::Assign(a) => self.assign(a, out),
            parse::Stmt::Target(t) => {
                let src = self.src(&t.src);
                self.terms.push(src);
                let value = self.operand(&t.expr);
                out.push(Stmt::Target { value, src });
            }
            parse::Stmt::For(f) => self.for_stmt(f, out),
            parse::Stmt::If(i) => self.if_stmt(i, out),
            parse::Stmt::Expr(e) => {
                if let Some(name) = self.first_active(&e.expr) {
                    self.err_spanned(
                        &e.expr,
                        format!(
                            "this statement uses `{name}`, which depends on a latent variable, but adds \
                             nothing to the density; use it in a `~` statement, a `let` or `target +=`"
                        ),
                    );
                } else {
                    self.check_names(&e.expr);
                    let expr = &e.expr;
                    let semi = e.semi.then(|| quote::quote!(;));
                    out.push(Stmt::Data(quote::quote!(#expr #semi)));
                }
            }
        }
    }

    fn dist(&mut self, call: &parse::DistCall) -> Option<&'static DistInfo> {
        let name = call.name.to_string();
        let Some(d) = catalogue::dist_named(&name) else {
            let msg = match catalogue::suggest_dist(&name) {
                Some(s) => format!("unknown distribution `{name}`, did you mean `{s}`?"),
                None => format!(
                    "unknown distribution `{name}`; known: {}",
                    catalogue::dist_names()
                ),
            };
            self.err(call.name.span(), msg);
            return None;
        };
        if call.args.len() != d.params.len() {
            let plural = if d.params.len() == 1 { "" } else { "s" };
            self.err(
                call.paren_span,
                format!(
                    "`{}` takes {} argument{plural} ({}), found {}",
                    d.name,
                    d.params.len(),
                    d.params.join(", "),
                    call.args.len()
                ),
            );
            return None;
        }
        Some(d)
    }

    fn dist_args(&mut self, d: &'static DistInfo, call: &parse::DistCall) -> Vec<Operand> {
        let mut args = Vec::new();
        for (k, a) in call.args.iter().enumerate() {
            let op = self.operand(a);
            if d.data_params.contains(&k) {
                if let Operand::Active(_) = op {
                    self.err_spanned(
                        a,
                        format!(
                            "argument `{}` of `{}` must be data: it cannot depend on a latent variable",
                            d.params[k], d.name
                        ),
                    );
                }
            }
            args.push(op);
        }
        args
    }

    fn latent(&mut self, l: &parse::LatentStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&l.src);
        self.terms.push(src);
        let name = l.name.to_string();
        if let Some(m) = &l.mutability {
            self.err(
                m.span,
                format!("a latent variable cannot be `mut`: remove `mut` from `{name}`"),
            );
        }
        if self.depth > 0 {
            self.err(
                l.name.span(),
                format!(
                    "latent `{name}` is declared inside a loop or `if`; declare latents at the top \
                     level of the model, with `.iid(n)` for one per iteration"
                ),
            );
        }
        match self.lookup(&name) {
            Some(Entry::Data { arg: true, .. }) => {
                self.err(
                    l.name.span(),
                    format!("`{name}` is data and cannot be a latent variable"),
                );
            }
            _ if self.latent_names.contains_key(&name) => {
                self.err(l.name.span(), format!("latent `{name}` is declared twice"));
            }
            _ => {}
        }
        let dist = self.dist(&l.dist);
        let args = match dist {
            Some(d) => self.dist_args(d, &l.dist),
            None => l.dist.args.iter().map(|a| self.operand(a)).collect(),
        };
        let shape = match &l.iid {
            None => Shape::Scalar,
            Some(e) => {
                self.data_expr(e, "a shape");
                match e {
                    Expr::Tuple(t) if t.elems.len() == 2 => {
                        Shape::Matrix(t.elems[0].clone(), t.elems[1].clone())
                    }
                    Expr::Tuple(t) => {
                        self.err_spanned(
                            t,
                            "`.iid` takes `n` for a vector or `(rows, cols)` for a matrix",
                        );
                        Shape::Scalar
                    }
                    e => Shape::Vector(e.clone()),
                }
            }
        };
        let mut constraint = Constraint::Identity;
        if let Some(d) = dist {
            constraint = match d.support {
                Support::Real => Constraint::Identity,
                Support::Positive => Constraint::Positive,
                Support::Unit => Constraint::Unit,
                Support::Bounds => {
                    match (&args[0], &args[1]) {
                        (Operand::Data(a), Operand::Data(b)) => {
                            Constraint::Interval(Box::new(a.clone()), Box::new(b.clone()))
                        }
                        _ => {
                            self.err(
                            l.dist.paren_span,
                            format!("the bounds of the latent `{name}`'s `Uniform` prior must be data"),
                        );
                            Constraint::Identity
                        }
                    }
                }
                Support::Discrete => {
                    self.err(
                        l.dist.name.span(),
                        format!(
                            "`{}` is discrete: the latent `{name}` must be marginalised out (sum over its \
                             values with `target += ...`); latent variables must be continuous",
                            d.name
                        ),
                    );
                    Constraint::Identity
                }
            };
        }
        let binding = self.binding(&l.name);
        let decl = self.new_decl();
        self.latent_names.insert(name, l.name.span());
        let frame = self.frames.len() - 1;
        self.declare(
            &l.name,
            Entry::Active {
                b: binding.clone(),
                mutable: false,
                decl,
                latent: true,
                decl_frame: frame,
            },
        );
        self.latents.push(Latent {
            binding,
            shape,
            constraint,
        });
        if let Some(d) = dist {
            out.push(Stmt::Latent {
                latent: self.latents.len() - 1,
                dist: d,
                args,
                src,
            });
        }
    }

    /// Checks that `e`, which serves as `what` ("a shape", "an index"), touches no latent.
    fn data_expr(&mut self, e: &Expr, what: &str) {
        if let Some(name) = self.first_active(e) {
            self.err_spanned(
                e,
                format!("{what} must be data, but this depends on the latent variable `{name}`"),
            );
        } else {
            self.check_names(e);
        }
    }

    fn observe(&mut self, o: &parse::ObserveStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&o.src);
        self.terms.push(src);
        if let Some(iid) = &o.iid {
            self.err_spanned(iid, "`.iid` declares the shape of a latent; an observation takes its shape from the data");
        }
        if let Some(name) = self.first_active(&o.lhs) {
            self.err_spanned(
                &o.lhs,
                format!(
                    "cannot observe an expression that depends on the latent variable `{name}`: the \
                     left of `~` must be data (to declare a latent, write `let name ~ ...`)"
                ),
            );
        } else {
            self.check_names(&o.lhs);
            self.note_data(&o.lhs);
        }
        let dist = self.dist(&o.dist);
        let args = match dist {
            Some(d) => self.dist_args(d, &o.dist),
            None => o.dist.args.iter().map(|a| self.operand(a)).collect(),
        };
        let text = parse::pretty(o.lhs.to_token_stream());
        self.observed.push(text);
        if let Some(d) = dist {
            out.push(Stmt::Observe {
                lhs: o.lhs.clone(),
                dist: d,
                args,
                src,
                obs: self.observed.len() - 1,
            });
        }
    }

    fn let_stmt(&mut self, l: &parse::LetStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&l.src);
        let decl = self.new_decl();
        let init = self.operand(&l.init);
        let simple = match &l.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                Some((p.ident.clone(), p.mutability.is_some()))
            }
            _ => None,
        };
        let frame = self.frames.len() - 1;
        match (init, simple) {
            (Operand::Active(init), Some((name, mutable))) => {
                let b = self.binding(&name);
                if mutable {
                    self.state.root(&b);
                }
                self.declare(
                    &name,
                    Entry::Active {
                        b: b.clone(),
                        mutable,
                        decl,
                        latent: false,
                        decl_frame: frame,
                    },
                );
                out.push(Stmt::Let {
                    binding: b,
                    ty: l.ty.clone(),
                    init,
                    src,
                });
            }
            (Operand::Active(_), None) => {
                self.err_spanned(
                    &l.pat,
                    "a value that depends on a latent variable must be bound to a plain name",
                );
            }
            (Operand::Data(init), Some((name, mutable)))
                if mutable && self.active_decls.contains(&decl) =>
            {
                // State that becomes active later: its first version holds the data value.
                let b = self.binding(&name);
                self.state.root(&b);
                self.declare(
                    &name,
                    Entry::Active {
                        b: b.clone(),
                        mutable,
                        decl,
                        latent: false,
                        decl_frame: frame,
                    },
                );
                out.push(Stmt::Let {
                    binding: b,
                    ty: l.ty.clone(),
                    init: AExpr::Data(init),
                    src,
                });
            }
            (Operand::Data(init), _) => {
                let mut names = Vec::new();
                pat_names(&l.pat, &mut names);
                let mutable = matches!(&l.pat, Pat::Ident(p) if p.mutability.is_some());
                for n in &names {
                    self.declare(
                        n,
                        Entry::Data {
                            mutable,
                            decl,
                            arg: false,
                        },
                    );
                    if let Some(f) = self.frames.last_mut() {
                        f.data_decl_frame.insert(n.to_string(), frame);
                    }
                }
                let pat = &l.pat;
                let ty = l.ty.as_ref().map(|t| quote::quote!(: #t));
                out.push(Stmt::Data(quote::quote!(let #pat #ty = #init;)));
            }
        }
    }

    fn assign(&mut self, a: &parse::AssignStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&a.src);
        // The target: a name, or an element `v[i]` / `m[(i, j)]`.
        let (name_ident, index) = match &a.lhs {
            Expr::Path(p) if p.path.get_ident().is_some() => (p.path.get_ident().cloned(), None),
            Expr::Index(ix) => match &*ix.expr {
                Expr::Path(p) if p.path.get_ident().is_some() => {
                    (p.path.get_ident().cloned(), Some(ix))
                }
                _ => (None, Some(ix)),
            },
            _ => (None, None),
        };
        let Some(name_ident) = name_ident else {
            // A data place such as `v[i][j]` or a field: any Rust, provided it is data.
            if let Some(n) = self
                .first_active(&a.rhs)
                .or_else(|| self.first_active(&a.lhs))
            {
                self.err_spanned(
                    &a.lhs,
                    format!("only a variable or one element `v[i]` can be assigned a value depending on `{n}`"),
                );
            } else {
                self.check_names(&a.lhs);
                self.check_names(&a.rhs);
                let (l, r) = (&a.lhs, &a.rhs);
                let op = assign_op_tokens(a.op, a.op_span);
                out.push(Stmt::Data(quote::quote!(#l #op #r;)));
            }
            return;
        };
        let name = name_ident.to_string();
        let entry = self.lookup(&name).cloned();
        match entry {
            None => {
                if self.all_latents.contains(&name) {
                    self.err(
                        name_ident.span(),
                        format!("`{name}` is a latent variable and cannot be assigned to"),
                    );
                } else {
                    self.err(
                        name_ident.span(),
                        format!("cannot find `{name}` in this model"),
                    );
                }
            }
            Some(Entry::Data { arg: true, .. }) => {
                self.err(
                    name_ident.span(),
                    format!("`{name}` is data and cannot be assigned to"),
                );
            }
            Some(Entry::Active { latent: true, .. }) => {
                self.err(
                    name_ident.span(),
                    format!("`{name}` is a latent variable and cannot be assigned to"),
                );
            }
            Some(Entry::Data { mutable: false, .. })
            | Some(Entry::Active { mutable: false, .. }) => {
                self.err(
                    name_ident.span(),
                    format!("cannot assign twice to `{name}`: declare it with `let mut {name}`"),
                );
            }
            Some(Entry::Data {
                mutable: true,
                decl,
                ..
            }) => {
                let rhs_active = self.first_active(&a.rhs).is_some()
                    || index.is_some_and(|ix| self.first_active(&ix.index).is_some());
                if rhs_active {
                    // Becomes active: analyse again with this variable active from the start.
                    if self.active_decls.insert(decl) {
                        self.changed = true;
                    }
                    // Report the problem with the index now if there is one.
                    if let Some(ix) = index {
                        self.data_expr(&ix.index, "an index");
                    }
                    return;
                }
                self.check_names(&a.lhs);
                self.check_names(&a.rhs);
                let cur = self.frames.len() - 1;
                let decl_frame = self
                    .frames
                    .iter()
                    .rposition(|f| f.data_decl_frame.contains_key(&name))
                    .unwrap_or(0);
                if decl_frame < cur {
                    let f = &mut self.frames[cur];
                    if !f.data_assigned.iter().any(|i| *i == name) {
                        f.data_assigned.push(name_ident.clone());
                    }
                }
                let (l, r) = (&a.lhs, &a.rhs);
                let op = assign_op_tokens(a.op, a.op_span);
                out.push(Stmt::Data(quote::quote!(#l #op #r;)));
            }
            Some(Entry::Active {
                b,
                mutable: true,
                decl,
                decl_frame,
                ..
            }) => {
                let rhs = self.sub(&a.rhs);
                let init = match index {
                    None => compound_value(a.op, AExpr::Var(b.clone()), rhs, a.op_span),
                    Some(ix) => {
                        // `v[i] op= e`: a new version of `v` with one element replaced.
                        self.data_expr(&ix.index, "an index");
                        let span = ix.bracket_token.span.join();
                        let old = index_of(AExpr::Var(b.clone()), &ix.index, span);
                        let value = compound_value(a.op, old, rhs, a.op_span);
                        let params = index_params(&ix.index);
                        AExpr::Set(
                            Box::new(AExpr::Var(b.clone())),
                            params,
                            Box::new(value),
                            span,
                        )
                    }
                };
                let nb = self.binding(&name_ident);
                if index.is_some() {
                    self.state.element(&nb, &b);
                } else {
                    self.state.root(&nb);
                }
                let cur = self.frames.len() - 1;
                if decl_frame < cur {
                    let f = &mut self.frames[cur];
                    if !f.assigned.iter().any(|(n, d)| *n == name && *d == decl) {
                        f.assigned.push((name.clone(), decl));
                    }
                }
                self.declare(
                    &name_ident,
                    Entry::Active {
                        b: nb.clone(),
                        mutable: true,
                        decl,
                        latent: false,
                        decl_frame,
                    },
                );
                out.push(Stmt::Let {
                    binding: nb,
                    ty: None,
                    init,
                    src,
                });
            }
        }
    }

    fn for_stmt(&mut self, f: &parse::ForStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&f.src);
        if let Some(name) = self.first_active(&f.iter) {
            self.err_spanned(
                &f.iter,
                format!("a loop range is a shape and must be data, but this depends on the latent variable `{name}`"),
            );
        } else {
            self.check_names(&f.iter);
        }
        self.depth += 1;
        self.frames.push(Frame::default());
        let decl = self.new_decl();
        let mut names = Vec::new();
        pat_names(&f.pat, &mut names);
        for n in &names {
            self.declare(
                n,
                Entry::Data {
                    mutable: false,
                    decl,
                    arg: false,
                },
            );
        }
        // State assigned in the body gets a fresh version at the start of each iteration.
        let mut assigned = Vec::new();
        assigned_names(&f.body.stmts, &mut assigned);
        let mut entries: Vec<(Binding, Binding, usize, usize)> = Vec::new();
        for name in assigned {
            if let Some(Entry::Active {
                b,
                mutable: true,
                decl,
                decl_frame,
                latent: false,
            }) = self.lookup(&name).cloned()
            {
                let entry_b = self.binding(&b.name);
                entries.push((b.clone(), entry_b.clone(), decl, decl_frame));
                self.declare(
                    &b.name,
                    Entry::Active {
                        b: entry_b,
                        mutable: true,
                        decl,
                        latent: false,
                        decl_frame,
                    },
                );
            }
        }
        let body = self.block(&f.body.stmts);
        let frame = self.frames.pop().unwrap_or_default();
        self.depth -= 1;
        let mut carried = Vec::new();
        for (outer, entry_b, decl, decl_frame) in entries {
            let last = match frame.names.get(&outer.name.to_string()) {
                Some(Entry::Active { b, decl: d, .. }) if *d == decl => b.clone(),
                _ => entry_b.clone(),
            };
            let exit = self.binding(&outer.name);
            self.state.alias(&[&outer, &entry_b, &last, &exit]);
            self.reassign(&outer.name, decl, decl_frame, exit.clone());
            carried.push(Carried {
                outer,
                entry: entry_b,
                last,
                exit,
            });
        }
        let data_carried = frame
            .data_assigned
            .iter()
            .filter(|n| self.lookup(&n.to_string()).is_some())
            .cloned()
            .collect::<Vec<_>>();
        for n in &data_carried {
            let cur = self.frames.len() - 1;
            let decl_frame = self
                .frames
                .iter()
                .rposition(|f| f.data_decl_frame.contains_key(&n.to_string()))
                .unwrap_or(0);
            if decl_frame < cur {
                let f = &mut self.frames[cur];
                if !f.data_assigned.iter().any(|i| i == n) {
                    f.data_assigned.push(n.clone());
                }
            }
        }
        out.push(Stmt::For {
            pat: f.pat.clone(),
            iter: f.iter.clone(),
            body,
            carried,
            data_carried,
            src,
        });
    }

    /// Makes `b` the current version of state `decl` in the current frame.
    fn reassign(&mut self, name: &Ident, decl: usize, decl_frame: usize, b: Binding) {
        let cur = self.frames.len() - 1;
        if decl_frame < cur {
            let f = &mut self.frames[cur];
            let key = name.to_string();
            if !f.assigned.iter().any(|(n, d)| *n == key && *d == decl) {
                f.assigned.push((key, decl));
            }
        }
        self.declare(
            name,
            Entry::Active {
                b,
                mutable: true,
                decl,
                latent: false,
                decl_frame,
            },
        );
    }

    fn if_stmt(&mut self, i: &parse::IfStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&i.src);
        if let Some(name) = self.first_active(&i.cond) {
            self.err_spanned(
                &i.cond,
                format!(
                    "cannot branch on the latent variable `{name}`: an `if` condition must be data \
                     (a density must be smooth in the latents)"
                ),
            );
        } else {
            self.check_names(&i.cond);
        }
        self.depth += 1;
        self.frames.push(Frame::default());
        let then = self.block(&i.then.stmts);
        let then_frame = self.frames.pop().unwrap_or_default();
        self.frames.push(Frame::default());
        let els = match &i.els {
            Some(b) => self.block(&b.stmts),
            None => Vec::new(),
        };
        let else_frame = self.frames.pop().unwrap_or_default();
        self.depth -= 1;
        let mut joined = Vec::new();
        let mut names: Vec<(String, usize)> = then_frame.assigned.clone();
        for a in &else_frame.assigned {
            if !names.contains(a) {
                names.push(a.clone());
            }
        }
        for (name, decl) in names {
            let Some(Entry::Active {
                b: outer,
                decl_frame,
                ..
            }) = self.lookup(&name).cloned()
            else {
                continue;
            };
            let last_in = |f: &Frame| match f.names.get(&name) {
                Some(Entry::Active { b, decl: d, .. }) if *d == decl => b.clone(),
                _ => outer.clone(),
            };
            let then_last = last_in(&then_frame);
            let else_last = last_in(&else_frame);
            let exit = self.binding(&outer.name);
            self.state.alias(&[&then_last, &else_last, &exit]);
            self.reassign(&outer.name, decl, decl_frame, exit.clone());
            joined.push(Joined {
                then_last,
                else_last,
                exit,
            });
        }
        for f in [&then_frame, &else_frame] {
            for n in &f.data_assigned {
                let cur = self.frames.len() - 1;
                let decl_frame = self
                    .frames
                    .iter()
                    .rposition(|fr| fr.data_decl_frame.contains_key(&n.to_string()))
                    .unwrap_or(0);
                if decl_frame < cur {
                    let fr = &mut self.frames[cur];
                    if !fr.data_assigned.iter().any(|i| i == n) {
                        fr.data_assigned.push(n.clone());
                    }
                }
            }
        }
        out.push(Stmt::If {
            cond: i.cond.clone(),
            then,
            els,
            joined,
            src,
        });
    }

    // -----------------------------------------------------------------------------------
    // Expressions
    // -----------------------------------------------------------------------------------

    /// The first free name of `e` that is active, if any.
    fn first_active(&self, e: &Expr) -> Option<String> {
        let mut fv = FreeVars::default();
        fv.visit_expr(e);
        let all = fv.names.into_iter().map(|(n, _)| n).chain(fv.macro_names);
        all.into_iter()
            .find_map(|n| match self.lookup(&n.to_string()) {
                Some(Entry::Active { .. }) => Some(n.to_string()),
                _ => None,
            })
    }

    /// Reports free names of a data expression that are not defined (lower-case names only:
    /// upper-case ones may be constants from outside the model).
    fn check_names(&mut self, e: &Expr) {
        let mut fv = FreeVars::default();
        fv.visit_expr(e);
        for (n, _) in fv.names {
            let s = n.to_string();
            if self.lookup(&s).is_some() || fv.bound.contains(&s) {
                continue;
            }
            if self.all_latents.contains(&s) {
                self.err(
                    n.span(),
                    format!("latent `{s}` is used before it is declared"),
                );
            } else if s.starts_with(|c: char| c.is_lowercase() || c == '_') && s != "self" {
                self.err(n.span(), format!("cannot find `{s}` in this model"));
            }
        }
    }

    fn operand(&mut self, e: &Expr) -> Operand {
        if self.first_active(e).is_none() {
            self.check_names(e);
            self.note_data(e);
            return Operand::Data(e.clone());
        }
        Operand::Active(self.lower(e))
    }

    /// Records a data operand of the current statement whose value depends only on the
    /// model's arguments (and constants): its conversion can be made once for the model.
    fn note_data(&mut self, e: &Expr) {
        let mut uses_arg = false;
        if !self.invariant(e, &mut uses_arg) || !uses_arg {
            return;
        }
        let key = (
            self.srcs.len().saturating_sub(1),
            e.to_token_stream().to_string(),
        );
        if !self.cached.contains(&key) {
            self.cached.push(key);
        }
    }

    /// Whether `e` is built only from the model's arguments, constants and literals (see
    /// [`built_from_arguments`]), names resolved in the current scope.
    fn invariant(&self, e: &Expr, uses_arg: &mut bool) -> bool {
        let name = |n: &str| {
            self.lookup(n)
                .map(|entry| matches!(entry, Entry::Data { arg: true, .. }))
        };
        built_from_arguments(e, &name, uses_arg)
    }

    fn sub(&mut self, e: &Expr) -> AExpr {
        match self.operand(e) {
            Operand::Data(d) => AExpr::Data(d),
            Operand::Active(a) => a,
        }
    }

    fn non_diff(&mut self, tokens: impl ToTokens, what: &str) -> AExpr {
        self.err_spanned(
            tokens,
            format!(
                "{what} has no derivative and cannot be applied to a value that depends on a latent \
                 variable; on a latent's path use only {}",
                catalogue::known_fns()
            ),
        );
        AExpr::Data(syn::parse_quote!(0.0))
    }

    /// An active expression in terms of the rules (`e` mentions an active name).
    fn lower(&mut self, e: &Expr) -> AExpr {
        match e {
            Expr::Path(p) => match p
                .path
                .get_ident()
                .map(|i| (i, self.lookup(&i.to_string()).cloned()))
            {
                Some((_, Some(Entry::Active { b, .. }))) => AExpr::Var(b),
                _ => {
                    self.note_data(e);
                    AExpr::Data(e.clone())
                }
            },
            Expr::Paren(p) => self.lower(&p.expr),
            Expr::Group(g) => self.lower(&g.expr),
            Expr::Reference(r) => self.lower(&r.expr),
            Expr::Unary(u) => match u.op {
                syn::UnOp::Neg(t) => AExpr::Unary(Unary::Neg, Box::new(self.sub(&u.expr)), t.span),
                syn::UnOp::Deref(_) => self.lower(&u.expr),
                _ => self.non_diff(u.op, "`!`"),
            },
            Expr::Cast(c) => match &*c.ty {
                Type::Path(p) if p.path.is_ident("f64") => self.lower(&c.expr),
                _ => self.non_diff(c, "a cast"),
            },
            Expr::Binary(b) => {
                let f = match b.op {
                    syn::BinOp::Add(_) => Binary::Add,
                    syn::BinOp::Sub(_) => Binary::Sub,
                    syn::BinOp::Mul(_) => Binary::Mul,
                    syn::BinOp::Div(_) => Binary::Div,
                    op => {
                        let what = format!("`{}`", op.to_token_stream());
                        return self.non_diff(op, &what);
                    }
                };
                let span = op_span(&b.op);
                let l = self.sub(&b.left);
                let r = self.sub(&b.right);
                AExpr::Binary(f, Box::new(l), Box::new(r), span)
            }
            Expr::Index(ix) => {
                self.data_expr(&ix.index, "an index");
                let x = self.sub(&ix.expr);
                index_of(x, &ix.index, ix.bracket_token.span.join())
            }
            Expr::MethodCall(m) => {
                let name = m.method.to_string();
                let args: Vec<&Expr> = m.args.iter().collect();
                self.call(&name, m.method.span(), Some(&m.receiver), &args, &m.method)
            }
            Expr::Call(c) => {
                let name = match &*c.func {
                    Expr::Path(p) if p.qself.is_none() => {
                        let segs: Vec<String> = p
                            .path
                            .segments
                            .iter()
                            .map(|s| s.ident.to_string())
                            .collect();
                        match segs.as_slice() {
                            [n] => Some(n.clone()),
                            [t, n] if t == "f64" => Some(n.clone()),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                let Some(name) = name else {
                    return self.non_diff(&c.func, "this function");
                };
                let args: Vec<&Expr> = c.args.iter().collect();
                self.call(&name, crate::diff::span_of(&c.func), None, &args, &c.func)
            }
            Expr::If(i) => {
                self.err_spanned(
                    &i.cond,
                    "cannot branch on a value that depends on a latent variable inside an expression; \
                     use an `if` statement over data",
                );
                AExpr::Data(syn::parse_quote!(0.0))
            }
            Expr::Macro(m) => {
                let what = format!("the macro `{}!`", m.mac.path.to_token_stream());
                self.non_diff(&m.mac.path, &what)
            }
            Expr::Lit(_) => AExpr::Data(e.clone()),
            other => self.non_diff(other, "this expression"),
        }
    }

    fn call(
        &mut self,
        name: &str,
        span: Span,
        recv: Option<&Expr>,
        args: &[&Expr],
        tokens: &dyn ToTokens,
    ) -> AExpr {
        // All operands: the receiver first for method calls.
        let mut all: Vec<&Expr> = Vec::new();
        if let Some(r) = recv {
            all.push(r);
        }
        all.extend_from_slice(args);
        let Some(f) = catalogue::fn_called(name) else {
            let what = format!("`{name}`");
            return self.non_diff(tokens.to_token_stream(), &what);
        };
        let name = f.name;
        if all.len() != f.arity {
            if f.rule == Rule::Identity {
                // `x.clone(y)` is not the value itself.
                let what = format!("`{name}`");
                return self.non_diff(tokens.to_token_stream(), &what);
            }
            let n = f.arity;
            self.err(
                span,
                format!(
                    "`{name}` takes {n} argument{}",
                    if n == 1 { "" } else { "s" }
                ),
            );
            return AExpr::Data(syn::parse_quote!(0.0));
        }
        match f.rule {
            Rule::Identity => {
                let x = self.sub(all[0]);
                AExpr::Unary(Unary::Identity, Box::new(x), span)
            }
            Rule::Unary => {
                let x = self.sub(all[0]);
                AExpr::Unary(Unary::Named(name), Box::new(x), span)
            }
            Rule::Binary(b) => {
                let a = self.sub(all[0]);
                let c = self.sub(all[1]);
                AExpr::Binary(b, Box::new(a), Box::new(c), span)
            }
            Rule::WithData(w) => {
                for p in &all[1..] {
                    if let Some(n) = self.first_active(p) {
                        self.err_spanned(
                            p,
                            format!("the argument of `{name}` must be data, but it depends on the latent variable `{n}`"),
                        );
                    }
                }
                let x = self.sub(all[0]);
                let ps = all[1..].iter().map(|p| (*p).clone()).collect();
                AExpr::WithData(w, Box::new(x), ps, span)
            }
            Rule::Syntax => {
                let what = format!("`{name}`");
                self.non_diff(tokens.to_token_stream(), &what)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Vectors written in place
// ---------------------------------------------------------------------------------------

/// The versions of every `let mut` state, recorded while analysing, to find the vectors and
/// matrices written element by element (`v[i] = e`, `m[(i, j)] += e`) that can be written in
/// place.
///
/// A version is made by a `let mut` or a whole assignment (`v = e`: a new value, a *root*), by
/// an element write (from the version it writes into), or stands for another across a loop
/// (`outer`, `entry`, `last`, `exit` of [`Carried`]) or an `if` (the versions of [`Joined`]).
/// Versions linked by the last two kinds form one piece of state; a piece with one root and
/// at least one element write lives in one vector from its root on, so
/// [`StateVersions::write_in_place`] renames all its versions to the root: a write is then
/// `Let { binding: v, init: Set(Var(v), ..) }` with one binding on both sides, a loop
/// carrying it has all four versions `v`, an `if` joining it all three. The expansion writes
/// such a `Set` into the one vector (with an undo log for the reverse sweep) and carries
/// nothing for it across iterations or branches. A piece with two roots (a loop whose body
/// assigns the whole vector, an `if` assigning it whole in one branch) keeps its versions.
#[derive(Default)]
struct StateVersions {
    /// Every version recorded, by id.
    bindings: HashMap<usize, Binding>,
    /// Union-find over versions: the pieces of state.
    parent: HashMap<usize, usize>,
    /// Versions made by a `let mut` or a whole assignment.
    roots: HashSet<usize>,
    /// Versions made by an element write.
    elements: HashSet<usize>,
}

impl StateVersions {
    fn add(&mut self, b: &Binding) {
        self.bindings.entry(b.id).or_insert_with(|| b.clone());
    }

    fn find(&self, mut id: usize) -> usize {
        while let Some(&p) = self.parent.get(&id) {
            if p == id {
                break;
            }
            id = p;
        }
        id
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent.insert(rb, ra);
        }
    }

    /// `let mut v = e` or `v = e`: a new value.
    fn root(&mut self, b: &Binding) {
        self.add(b);
        self.roots.insert(b.id);
    }

    /// `v[i] = e`: version `b` is `prev` with one element replaced.
    fn element(&mut self, b: &Binding, prev: &Binding) {
        self.add(b);
        self.add(prev);
        self.elements.insert(b.id);
        self.union(prev.id, b.id);
    }

    /// Versions that stand for one another (across a loop or an `if`).
    fn alias(&mut self, bs: &[&Binding]) {
        for b in bs {
            self.add(b);
            self.union(bs[0].id, b.id);
        }
    }

    /// Renames every version of each piece of state written in place to the piece's root.
    fn write_in_place(&self, body: &mut [Stmt]) {
        let mut pieces: HashMap<usize, Vec<usize>> = HashMap::new();
        for &id in self.bindings.keys() {
            pieces.entry(self.find(id)).or_default().push(id);
        }
        let mut rename: HashMap<usize, Binding> = HashMap::new();
        for ids in pieces.values() {
            let roots: Vec<usize> = ids
                .iter()
                .copied()
                .filter(|i| self.roots.contains(i))
                .collect();
            let written = ids.iter().any(|i| self.elements.contains(i));
            if let ([root], true) = (roots.as_slice(), written) {
                let r = &self.bindings[root];
                for &id in ids {
                    rename.insert(id, r.clone());
                }
            }
        }
        if !rename.is_empty() {
            rename_stmts(body, &rename);
        }
    }
}

fn rename_binding(b: &mut Binding, map: &HashMap<usize, Binding>) {
    if let Some(r) = map.get(&b.id) {
        *b = r.clone();
    }
}

fn rename_aexpr(e: &mut AExpr, map: &HashMap<usize, Binding>) {
    match e {
        AExpr::Var(b) => rename_binding(b, map),
        AExpr::Data(_) => {}
        AExpr::Unary(_, x, _) | AExpr::WithData(_, x, _, _) => rename_aexpr(x, map),
        AExpr::Binary(_, a, b, _) | AExpr::Set(a, _, b, _) => {
            rename_aexpr(a, map);
            rename_aexpr(b, map);
        }
    }
}

fn rename_operand(o: &mut Operand, map: &HashMap<usize, Binding>) {
    if let Operand::Active(a) = o {
        rename_aexpr(a, map);
    }
}

fn rename_stmts(stmts: &mut [Stmt], map: &HashMap<usize, Binding>) {
    for s in stmts {
        match s {
            Stmt::Latent { args, .. } | Stmt::Observe { args, .. } => {
                args.iter_mut().for_each(|a| rename_operand(a, map));
            }
            Stmt::Target { value, .. } => rename_operand(value, map),
            Stmt::Let { binding, init, .. } => {
                rename_binding(binding, map);
                rename_aexpr(init, map);
            }
            Stmt::Data(_) => {}
            Stmt::For { body, carried, .. } => {
                rename_stmts(body, map);
                for c in carried {
                    for b in [&mut c.outer, &mut c.entry, &mut c.last, &mut c.exit] {
                        rename_binding(b, map);
                    }
                }
            }
            Stmt::If {
                then, els, joined, ..
            } => {
                rename_stmts(then, map);
                rename_stmts(els, map);
                for j in joined {
                    for b in [&mut j.then_last, &mut j.else_last, &mut j.exit] {
                        rename_binding(b, map);
                    }
                }
            }
        }
    }
}

fn compound_value(op: AssignOp, cur: AExpr, rhs: AExpr, span: Span) -> AExpr {
    let f = match op {
        AssignOp::Set => return rhs,
        AssignOp::Add => Binary::Add,
        AssignOp::Sub => Binary::Sub,
        AssignOp::Mul => Binary::Mul,
        AssignOp::Div => Binary::Div,
    };
    AExpr::Binary(f, Box::new(cur), Box::new(rhs), span)
}

fn index_params(index: &Expr) -> Vec<Expr> {
    match index {
        Expr::Tuple(t) if t.elems.len() == 2 => t.elems.iter().cloned().collect(),
        Expr::Paren(p) => index_params(&p.expr),
        e => vec![e.clone()],
    }
}

fn index_of(x: AExpr, index: &Expr, span: Span) -> AExpr {
    match index {
        Expr::Tuple(t) if t.elems.len() == 2 => AExpr::WithData(
            WithData::Index2,
            Box::new(x),
            t.elems.iter().cloned().collect(),
            span,
        ),
        Expr::Paren(p) => index_of(x, &p.expr, span),
        e => AExpr::WithData(WithData::Index, Box::new(x), vec![e.clone()], span),
    }
}

fn op_span(op: &syn::BinOp) -> Span {
    op.to_token_stream()
        .into_iter()
        .next()
        .map(|t| t.span())
        .unwrap_or_else(Span::call_site)
}

fn assign_op_tokens(op: AssignOp, span: Span) -> TokenStream {
    match op {
        AssignOp::Set => quote::quote_spanned!(span=> =),
        AssignOp::Add => quote::quote_spanned!(span=> +=),
        AssignOp::Sub => quote::quote_spanned!(span=> -=),
        AssignOp::Mul => quote::quote_spanned!(span=> *=),
        AssignOp::Div => quote::quote_spanned!(span=> /=),
    }
}

/// Base names of every place assigned in `stmts`, nested blocks included, sorted.
fn assigned_names(stmts: &[parse::Stmt], out: &mut Vec<String>) {
    for s in stmts {
        match s {
            parse::Stmt::Assign(a) => {
                let mut e = &a.lhs;
                while let Expr::Index(ix) = e {
                    e = &ix.expr;
                }
                if let Expr::Path(p) = e {
                    if let Some(i) = p.path.get_ident() {
                        let n = i.to_string();
                        if !out.contains(&n) {
                            out.push(n);
                        }
                    }
                }
            }
            parse::Stmt::For(f) => assigned_names(&f.body.stmts, out),
            parse::Stmt::If(i) => {
                assigned_names(&i.then.stmts, out);
                if let Some(b) = &i.els {
                    assigned_names(&b.stmts, out);
                }
            }
            _ => {}
        }
    }
    out.sort();
}

/// Names bound by a pattern.
pub fn pat_names(p: &Pat, out: &mut Vec<Ident>) {
    match p {
        Pat::Ident(i) => {
            out.push(i.ident.clone());
            if let Some((_, sub)) = &i.subpat {
                pat_names(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|e| pat_names(e, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|e| pat_names(e, out)),
        Pat::Slice(s) => s.elems.iter().for_each(|e| pat_names(e, out)),
        Pat::Reference(r) => pat_names(&r.pat, out),
        Pat::Paren(p) => pat_names(&p.pat, out),
        Pat::Type(t) => pat_names(&t.pat, out),
        Pat::Struct(s) => s.fields.iter().for_each(|f| pat_names(&f.pat, out)),
        Pat::Or(o) => o.cases.iter().for_each(|c| pat_names(c, out)),
        _ => {}
    }
}

/// Free single-segment names of an expression (names bound inside it by closures, blocks
/// or match arms are collected in `bound`).
#[derive(Default)]
struct FreeVars {
    names: Vec<(Ident, ())>,
    /// Identifiers inside macro calls: they may be names (for activity) or not.
    macro_names: Vec<Ident>,
    bound: HashSet<String>,
}

impl<'ast> Visit<'ast> for FreeVars {
    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        if p.qself.is_none() {
            if let Some(i) = p.path.get_ident() {
                if !self.bound.contains(&i.to_string()) {
                    self.names.push((i.clone(), ()));
                }
            }
        }
    }
    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        // A called name may be a function from outside the model: only its arguments count,
        // unless it is a local name.
        match &*c.func {
            Expr::Path(p) if p.path.get_ident().is_some() => {}
            f => self.visit_expr(f),
        }
        for a in &c.args {
            self.visit_expr(a);
        }
    }
    fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
        let mut names = Vec::new();
        for i in &c.inputs {
            pat_names(i, &mut names);
        }
        self.bound.extend(names.iter().map(|n| n.to_string()));
        self.visit_expr(&c.body);
    }
    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let Some(init) = &l.init {
            self.visit_expr(&init.expr);
        }
        let mut names = Vec::new();
        pat_names(&l.pat, &mut names);
        self.bound.extend(names.iter().map(|n| n.to_string()));
    }
    fn visit_arm(&mut self, a: &'ast syn::Arm) {
        let mut names = Vec::new();
        pat_names(&a.pat, &mut names);
        self.bound.extend(names.iter().map(|n| n.to_string()));
        if let Some((_, g)) = &a.guard {
            self.visit_expr(g);
        }
        self.visit_expr(&a.body);
    }
    fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
        self.visit_expr(&f.expr);
        let mut names = Vec::new();
        pat_names(&f.pat, &mut names);
        self.bound.extend(names.iter().map(|n| n.to_string()));
        self.visit_block(&f.body);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // Names inside a macro's tokens (`format!("{}", w)`), best effort.
        fn idents(ts: TokenStream, out: &mut Vec<Ident>) {
            for t in ts {
                match t {
                    TokenTree::Ident(i) => out.push(i),
                    TokenTree::Group(g) => idents(g.stream(), out),
                    _ => {}
                }
            }
        }
        let mut ids = Vec::new();
        idents(m.tokens.clone(), &mut ids);
        for i in ids {
            if !self.bound.contains(&i.to_string()) {
                self.macro_names.push(i);
            }
        }
    }
    fn visit_expr_struct(&mut self, s: &'ast syn::ExprStruct) {
        for f in &s.fields {
            self.visit_expr(&f.expr);
        }
        if let Some(r) = &s.rest {
            self.visit_expr(r);
        }
    }
}

/// Whether `e` is built only from the model's arguments, constants and literals by
/// operators, fields, indexing, casts and method calls (no function calls, closures,
/// blocks or macros, whose results need not be the same on every call). `name` says what a
/// name is: `Some(true)` an argument, `Some(false)` another binding, `None` unknown (then a
/// constant when it starts with a capital). `uses_arg` is set when an argument is read.
pub fn built_from_arguments(
    e: &Expr,
    name: &dyn Fn(&str) -> Option<bool>,
    uses_arg: &mut bool,
) -> bool {
    match e {
        Expr::Path(p) => match p.path.get_ident() {
            Some(i) => match name(&i.to_string()) {
                Some(true) => {
                    *uses_arg = true;
                    true
                }
                Some(false) => false,
                None => i.to_string().starts_with(|c: char| c.is_uppercase()),
            },
            // `f64::MAX`, `std::f64::consts::PI`.
            None => p.qself.is_none() && p.path.segments.len() > 1,
        },
        Expr::Lit(_) => true,
        Expr::Paren(x) => built_from_arguments(&x.expr, name, uses_arg),
        Expr::Group(x) => built_from_arguments(&x.expr, name, uses_arg),
        Expr::Reference(x) => {
            x.mutability.is_none() && built_from_arguments(&x.expr, name, uses_arg)
        }
        Expr::Unary(x) => built_from_arguments(&x.expr, name, uses_arg),
        Expr::Cast(x) => built_from_arguments(&x.expr, name, uses_arg),
        Expr::Field(x) => built_from_arguments(&x.base, name, uses_arg),
        Expr::Binary(b) => {
            use syn::BinOp::*;
            let pure = matches!(
                b.op,
                Add(_)
                    | Sub(_)
                    | Mul(_)
                    | Div(_)
                    | Rem(_)
                    | And(_)
                    | Or(_)
                    | BitXor(_)
                    | BitAnd(_)
                    | BitOr(_)
                    | Shl(_)
                    | Shr(_)
                    | Eq(_)
                    | Lt(_)
                    | Le(_)
                    | Ne(_)
                    | Ge(_)
                    | Gt(_)
            );
            pure && built_from_arguments(&b.left, name, uses_arg)
                && built_from_arguments(&b.right, name, uses_arg)
        }
        Expr::Index(x) => {
            built_from_arguments(&x.expr, name, uses_arg)
                && built_from_arguments(&x.index, name, uses_arg)
        }
        Expr::MethodCall(m) => {
            built_from_arguments(&m.receiver, name, uses_arg)
                && m.args
                    .iter()
                    .all(|a| built_from_arguments(a, name, uses_arg))
        }
        Expr::Tuple(t) => t
            .elems
            .iter()
            .all(|a| built_from_arguments(a, name, uses_arg)),
        Expr::Range(r) => {
            r.start
                .iter()
                .all(|a| built_from_arguments(a, name, uses_arg))
                && r.end
                    .iter()
                    .all(|a| built_from_arguments(a, name, uses_arg))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn run(ts: TokenStream) -> (Model, Vec<String>) {
        let def: ModelDef = syn::parse2(ts).expect("parses");
        let cx = Ctxt::new();
        let m = analyse(&cx, &def);
        let errors = match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (m, errors)
    }

    fn errors(ts: TokenStream) -> Vec<String> {
        run(ts).1
    }

    fn one_error(ts: TokenStream) -> String {
        let e = errors(ts);
        assert_eq!(e.len(), 1, "{e:?}");
        e[0].clone()
    }

    #[test]
    fn a_correct_model_has_latents_constraints_and_terms() {
        let (m, e) = run(quote! {
            fn m(x: &DMatrix<f64>, y: &DVector<f64>, lo: f64) {
                let w ~ Normal(0.0, 1.0).iid(x.ncols());
                let s ~ HalfNormal(1.0);
                let p ~ Beta(2.0, 2.0);
                let u ~ Uniform(lo, lo + 1.0);
                let z ~ Normal(0.0, 1.0).iid((2, 3));
                let mu = x * w;
                y ~ Normal(mu, s);
                target += p.ln() + u;
            }
        });
        assert!(e.is_empty(), "{e:?}");
        let names: Vec<String> = m
            .latents
            .iter()
            .map(|l| l.binding.name.to_string())
            .collect();
        assert_eq!(names, ["w", "s", "p", "u", "z"]);
        assert!(matches!(m.latents[0].shape, Shape::Vector(_)));
        assert!(matches!(m.latents[4].shape, Shape::Matrix(..)));
        assert!(matches!(m.latents[0].constraint, Constraint::Identity));
        assert!(matches!(m.latents[1].constraint, Constraint::Positive));
        assert!(matches!(m.latents[2].constraint, Constraint::Unit));
        assert!(matches!(m.latents[3].constraint, Constraint::Interval(..)));
        // Terms: five priors, one observation, one target.
        assert_eq!(m.terms.len(), 7);
        assert_eq!(m.observed, ["y"]);
        // `mu` is active: it becomes a Let with a rule call.
        assert!(m
            .body
            .iter()
            .any(|s| matches!(s, Stmt::Let { binding, .. } if binding.name == "mu")));
    }

    #[test]
    fn state_assigned_in_a_loop_is_carried_and_active() {
        let (m, e) = run(quote! {
            fn m(y: &[f64]) {
                let phi ~ Normal(0.0, 1.0);
                let mut s = 0.0;
                let mut count = 0;
                for t in 1..y.len() {
                    s = phi * s + y[t - 1];
                    count += 1;
                    y[t] ~ Normal(s, 1.0);
                }
            }
        });
        assert!(e.is_empty(), "{e:?}");
        let Some(Stmt::For {
            carried,
            data_carried,
            ..
        }) = m.body.iter().find(|s| matches!(s, Stmt::For { .. }))
        else {
            panic!("no loop")
        };
        assert_eq!(carried.len(), 1);
        assert_eq!(carried[0].outer.name, "s");
        assert_eq!(data_carried.len(), 1);
        assert_eq!(data_carried[0], "count");
        // `let mut s = 0.0` became active (its first version holds the data value).
        assert!(m.body.iter().any(
            |s| matches!(s, Stmt::Let { binding, init: AExpr::Data(_), .. } if binding.name == "s")
        ));
    }

    #[test]
    fn unknown_distribution_suggests() {
        let e = one_error(quote! { fn m(y: f64) { y ~ Nomral(0.0, 1.0); } });
        assert_eq!(e, "unknown distribution `Nomral`, did you mean `Normal`?");
        let e = one_error(quote! { fn m(y: f64) { y ~ halfnormal(1.0); } });
        assert_eq!(
            e,
            "unknown distribution `halfnormal`, did you mean `HalfNormal`?"
        );
        let e = one_error(quote! { fn m(y: f64) { y ~ Wishart(1.0); } });
        assert!(
            e.starts_with("unknown distribution `Wishart`; known: Normal"),
            "{e}"
        );
    }

    #[test]
    fn wrong_arity() {
        let e = one_error(quote! { fn m(y: f64) { y ~ Normal(0.0); } });
        assert_eq!(e, "`Normal` takes 2 arguments (mu, sigma), found 1");
        let e = one_error(quote! { fn m() { let s ~ HalfNormal(1.0, 2.0); } });
        assert_eq!(e, "`HalfNormal` takes 1 argument (sigma), found 2");
    }

    #[test]
    fn names() {
        let e =
            one_error(quote! { fn m() { let a ~ Normal(0.0, 1.0); let a ~ Normal(0.0, 1.0); } });
        assert_eq!(e, "latent `a` is declared twice");
        let e = one_error(quote! { fn m(y: f64) { y ~ Normal(muu, 1.0); } });
        assert_eq!(e, "cannot find `muu` in this model");
        let e =
            one_error(quote! { fn m(y: f64) { y ~ Normal(mu, 1.0); let mu ~ Normal(0.0, 1.0); } });
        assert_eq!(e, "latent `mu` is used before it is declared");
        let e = one_error(quote! { fn m(y: f64) { let y ~ Normal(0.0, 1.0); } });
        assert_eq!(e, "`y` is data and cannot be a latent variable");
        // Upper-case names may be constants from outside the model.
        assert!(errors(quote! { fn m(y: f64) { y ~ Normal(0.0, SCALE); } }).is_empty());
    }

    #[test]
    fn observing_a_latent_expression() {
        let e = one_error(
            quote! { fn m() { let mu ~ Normal(0.0, 1.0); mu * 2.0 ~ Normal(0.0, 1.0); } },
        );
        assert!(
            e.starts_with("cannot observe an expression that depends on the latent variable `mu`"),
            "{e}"
        );
    }

    #[test]
    fn non_differentiable_calls() {
        let e = one_error(
            quote! { fn m(y: f64) { let mu ~ Normal(0.0, 1.0); y ~ Normal(mu.floor(), 1.0); } },
        );
        assert!(e.starts_with("`floor` has no derivative"), "{e}");
        let e = one_error(
            quote! { fn m(y: f64) { let mu ~ Normal(0.0, 1.0); y ~ Normal(my_fn(mu), 1.0); } },
        );
        assert!(e.starts_with("`my_fn` has no derivative"), "{e}");
        // The same call on data is fine.
        assert!(errors(
            quote! { fn m(y: f64) { let mu ~ Normal(0.0, 1.0); y ~ Normal(mu + y.floor(), 1.0); } }
        )
        .is_empty());
    }

    #[test]
    fn branching_and_shapes_on_latents() {
        let e = one_error(
            quote! { fn m(y: f64) { let mu ~ Normal(0.0, 1.0); if mu > 0.0 { y ~ Normal(mu, 1.0); } } },
        );
        assert!(
            e.starts_with("cannot branch on the latent variable `mu`"),
            "{e}"
        );
        let e = one_error(
            quote! { fn m() { let k ~ HalfNormal(3.0); let w ~ Normal(0.0, 1.0).iid(k); } },
        );
        assert!(
            e.starts_with("a shape must be data, but this depends on the latent variable `k`"),
            "{e}"
        );
        let e = one_error(
            quote! { fn m(y: &[f64]) { let k ~ HalfNormal(3.0); for i in 0..k { y[i] ~ Normal(0.0, 1.0); } } },
        );
        assert!(
            e.starts_with("a loop range is a shape and must be data"),
            "{e}"
        );
    }

    #[test]
    fn discrete_latent_and_latent_in_loop() {
        let e = one_error(quote! { fn m() { let k ~ Poisson(3.0); } });
        assert!(
            e.starts_with("`Poisson` is discrete: the latent `k` must be marginalised out"),
            "{e}"
        );
        let e =
            one_error(quote! { fn m(n: usize) { for i in 0..n { let z ~ Normal(0.0, 1.0); } } });
        assert!(e.starts_with("latent `z` is declared inside a loop"), "{e}");
    }

    #[test]
    fn assignments() {
        let e = one_error(quote! { fn m(y: f64) { y = 1.0; } });
        assert_eq!(e, "`y` is data and cannot be assigned to");
        let e = one_error(quote! { fn m() { let a ~ Normal(0.0, 1.0); a += 1.0; } });
        assert_eq!(e, "`a` is a latent variable and cannot be assigned to");
        let e = one_error(quote! { fn m() { let a ~ Normal(0.0, 1.0); let b = a; b = 2.0; } });
        assert_eq!(e, "cannot assign twice to `b`: declare it with `let mut b`");
    }

    /// The `Let`s of `stmts` (nested blocks included) that write an element of `name`: the
    /// binding written and the binding written into.
    fn element_writes(stmts: &[Stmt], name: &str, out: &mut Vec<(usize, usize)>) {
        for s in stmts {
            match s {
                Stmt::Let {
                    binding,
                    init: AExpr::Set(v, ..),
                    ..
                } if binding.name == name => {
                    if let AExpr::Var(b) = &**v {
                        out.push((binding.id, b.id));
                    }
                }
                Stmt::For { body, .. } => element_writes(body, name, out),
                Stmt::If { then, els, .. } => {
                    element_writes(then, name, out);
                    element_writes(els, name, out);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn state_written_only_by_elements_is_one_binding() {
        let (m, e) = run(quote! {
            fn m(y: &[f64], flag: &[bool]) {
                let s ~ HalfNormal(1.0);
                let mut z = DVector::zeros(y.len());
                let mut w = DVector::zeros(y.len());
                for t in 1..y.len() {
                    z[t] = z[t - 1] + s;
                    if flag[t] {
                        z[t] *= 2.0;
                    }
                    w[t] = s;
                    w = w * 0.5;
                }
                y ~ Normal(z + w, s);
            }
        });
        assert!(e.is_empty(), "{e:?}");
        let root = m
            .body
            .iter()
            .find_map(|s| match s {
                Stmt::Let { binding, .. } if binding.name == "z" => Some(binding.id),
                _ => None,
            })
            .expect("z declared");
        // Every write of `z` writes into its first version and makes no new one.
        let mut writes = Vec::new();
        element_writes(&m.body, "z", &mut writes);
        assert_eq!(writes, [(root, root), (root, root)]);
        let Some(Stmt::For { carried, body, .. }) =
            m.body.iter().find(|s| matches!(s, Stmt::For { .. }))
        else {
            panic!("no loop")
        };
        let cz = carried
            .iter()
            .find(|c| c.outer.name == "z")
            .expect("z carried");
        assert_eq!(
            [cz.entry.id, cz.last.id, cz.exit.id],
            [root, root, root],
            "{carried:?}"
        );
        let Some(Stmt::If { joined, .. }) = body.iter().find(|s| matches!(s, Stmt::If { .. }))
        else {
            panic!("no if")
        };
        assert_eq!(joined[0].exit.id, root);
        // `w` is also assigned as a whole in the loop that writes its elements: it keeps one
        // version per assignment.
        let mut writes = Vec::new();
        element_writes(&m.body, "w", &mut writes);
        assert_eq!(writes.len(), 1);
        assert_ne!(writes[0].0, writes[0].1);
    }

    #[test]
    fn a_whole_assignment_starts_a_new_vector_written_in_place() {
        let (m, e) = run(quote! {
            fn m(y: &[f64], flag: bool) {
                let s ~ HalfNormal(1.0);
                let mut z = DVector::zeros(y.len());
                for t in 0..y.len() {
                    z[t] = s;
                }
                z = z - mean(z);
                z[0] = s;
                let mut u = DVector::zeros(2);
                u[0] = s;
                if flag {
                    u = u * 2.0;
                }
                u[1] = s;
                y ~ Normal(z + sum(u), s);
            }
        });
        assert!(e.is_empty(), "{e:?}");
        let lets: Vec<(String, usize)> = m
            .body
            .iter()
            .filter_map(|s| match s {
                Stmt::Let { binding, .. } => Some((binding.name.to_string(), binding.id)),
                _ => None,
            })
            .collect();
        // z: the `let mut`, the loop's exit, the whole assignment, the write after it.
        let mut writes = Vec::new();
        element_writes(&m.body, "z", &mut writes);
        let (z0, z1) = (lets[0].1, lets[1].1);
        assert_eq!(writes, [(z0, z0), (z1, z1)], "{lets:?}");
        // u: the `if` joins a whole value and an element-written one: copied, not in place.
        let mut writes = Vec::new();
        element_writes(&m.body, "u", &mut writes);
        assert_eq!(writes.len(), 2);
        assert!(writes.iter().all(|(a, b)| a != b), "{writes:?}");
    }

    #[test]
    fn every_mistake_is_reported() {
        let e = errors(quote! {
            fn m(y: &[f64]) {
                let mu ~ Nomral(0.0, 1.0);
                let k ~ Poisson(2.0);
                y ~ Normal(mu, 1.0, 2.0);
                y = 3.0;
            }
        });
        assert_eq!(e.len(), 4, "{e:?}");
    }

    #[test]
    fn data_depending_only_on_arguments_is_cached() {
        let (m, errors) = run(quote! {
            fn m(ks: &[i64], x: &DMatrix<f64>, n: usize) {
                let w ~ Normal(0.0, 1.0).iid(x.ncols());
                ks ~ PoissonLog(x.column(0) * w[0] + ks.len() as f64);
                for i in 0..n {
                    ks[i] ~ PoissonLog(dot(x.row(i), w));
                }
                target += sum(w * f(ks)) + sum(w * (2.0 * MEAN));
                let x = x * 2.0;
                target += dot(x.column(1), w);
            }
        });
        assert!(errors.is_empty(), "{errors:?}");
        let key = |src: usize, e: TokenStream| (src, e.to_string());
        // Statements: 0 the latent, 1 the first observation, 2 the loop, 3 its observation,
        // 4 and 6 the targets, 5 the data `let`.
        for cached in [
            key(1, quote!(ks)),
            key(1, quote!(x.column(0))),
            key(1, quote!(ks.len() as f64)),
        ] {
            assert!(m.cached.contains(&cached), "{cached:?} in {:?}", m.cached);
        }
        for not in [
            // The loop's variable, a function's result, a constant alone, a shadowed argument.
            key(3, quote!(ks[i])),
            key(3, quote!(x.row(i))),
            key(4, quote!(f(ks))),
            key(4, quote!((2.0 * MEAN))),
            key(6, quote!(x.column(1))),
        ] {
            assert!(!m.cached.contains(&not), "{not:?} in {:?}", m.cached);
        }
    }
}
