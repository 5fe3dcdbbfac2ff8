//! The analysed model: what `analyse` makes and every later stage reads and rewrites
//! (`hoist`, `vectorise`, code generation). Statements in SSA form over [`Binding`]s, each
//! binding a version of an active value with a [`BindingId`] unique in the model, made by
//! the model's one allocator [`Ids`]; [`walk`] visits every statement, nested ones
//! included, for passes that only read.

use proc_macro2::{Span, TokenStream};
use syn::{Expr, Ident, Pat, Type};

use crate::catalogue::{Binary, DistInfo, Nary, Unary, WithData};

/// The id of a [`Binding`], unique in the model: `__v{id}_{name}` holds its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BindingId(pub usize);

impl std::fmt::Display for BindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl quote::IdentFragment for BindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The model's allocator of binding ids: every binding of every stage is made by
/// [`Ids::binding`], so ids never collide across stages.
#[derive(Clone, Debug, Default)]
pub struct Ids {
    next: usize,
}

impl Ids {
    /// An allocator whose first id is `first`.
    pub fn from(first: usize) -> Ids {
        Ids { next: first }
    }

    /// A new binding named `name`.
    pub fn binding(&mut self, name: &Ident) -> Binding {
        let id = BindingId(self.next);
        self.next += 1;
        Binding {
            id,
            name: name.clone(),
        }
    }

    /// The id the next binding will have: bindings with ids from here on are made later.
    pub fn peek(&self) -> BindingId {
        BindingId(self.next)
    }
}

/// One version of an active value: `__v{id}_{name}` holds it, `__g{id}_{name}` its adjoint.
#[derive(Clone, Debug)]
pub struct Binding {
    /// Unique in the model.
    pub id: BindingId,
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
    /// A rule of any number of operands (`log_mix`, `Dist(..).lpdf(x)`).
    Nary(Nary, Vec<AExpr>, Span),
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
    /// A multivariate prior's draw: a length-`K` vector, `j` of them as the rows of a
    /// `j x K` matrix with `.iid(j)`, or one `K x K` matrix (`matrix`). `K` comes from the
    /// prior's arguments ([`crate::catalogue::Dim`]).
    Multi {
        /// `.iid(j)`.
        rows: Option<Expr>,
        /// Whether one draw is a `K x K` matrix.
        matrix: bool,
    },
}

/// A constraint on whole blocks of a latent (a vector, each row of a matrix, or a square
/// matrix): `vi_runtime::VectorTransform`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocks {
    /// Dirichlet's support.
    Simplex,
    /// `.ordered()`.
    Ordered,
    /// `.positive_ordered()`.
    PositiveOrdered,
    /// LkjCholesky's support.
    CholeskyCorr,
    /// LkjCorr's support.
    CorrMatrix,
    /// Wishart's and InvWishart's support.
    CovMatrix,
}

impl Blocks {
    /// The `VectorTransform` variant's name.
    pub fn transform(self) -> &'static str {
        match self {
            Blocks::Simplex => "Simplex",
            Blocks::Ordered => "Ordered",
            Blocks::PositiveOrdered => "PositiveOrdered",
            Blocks::CholeskyCorr => "CholeskyCorr",
            Blocks::CorrMatrix => "CorrMatrix",
            Blocks::CovMatrix => "CovMatrix",
        }
    }
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
    /// `.lower(a)`, `.upper(b)`, `.bounds(a, b)`: data bounds, checked when the model is
    /// built.
    Bounded(Option<Box<Expr>>, Option<Box<Expr>>),
    /// A transform of whole blocks.
    Blocks(Blocks),
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
    /// `value ~ Dist(..)` with a left side that depends on a latent: the density of the
    /// value is added as written (Stan's `~` on a parameter's expression), with no Jacobian.
    Density {
        /// The left side.
        value: AExpr,
        /// The distribution.
        dist: &'static DistInfo,
        /// Its arguments.
        args: Vec<Operand>,
        /// Index into [`Model::srcs`].
        src: usize,
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
    /// The data statements that follow belong to statement `.0` (index into
    /// [`Model::srcs`]): the constructor's run records it, so that a panic in them (an
    /// index past the data, `t - 1` at `t = 0`) names that statement; other passes emit
    /// nothing.
    At(usize),
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
    /// The allocator of binding ids, for the stages that make bindings.
    pub ids: Ids,
    /// Warnings for the user, at their token: `~` on a nonlinear function of a latent, whose
    /// Jacobian is not added.
    pub warnings: Vec<(Span, String)>,
    /// The `#[keep]` values, in declaration order: each top-level `let` binding's value is
    /// reported by the posterior under its name (the derived layout's order).
    pub kept: Vec<Binding>,
    /// Distribution statements that `vectorise` made from a loop over observations: (the
    /// statement, the name of its lane range, which operands are one number per lane, the
    /// value first). An error about an element of such an operand names the loop's index,
    /// the lane's position plus the range's start.
    pub lane_stmts: Vec<(usize, Ident, Vec<bool>)>,
    /// Gathers of vectorised loops whose codes, offset and lanes are the same on every call
    /// (`a[county[i]]`, `county` an argument): each checks its codes once per model, its
    /// check kept in slot `Self::__GATHERS + k` of the model's `DataCache`
    /// (`__private::gather_index_kept`). Their number.
    pub gathers: usize,
    /// Every value's shape, as far as the macro can tell (`shape.rs`): recorded at the end
    /// of the analysis, by `hoist` for the `let`s it makes, read by `vectorise`.
    pub shapes: crate::shape::Shapes,
}

/// Calls `f` on every statement of `stmts`, a loop's or branch's own statements right
/// after it, in order.
pub fn walk<'a>(stmts: &'a [Stmt], f: &mut impl FnMut(&'a Stmt)) {
    for s in stmts {
        f(s);
        match s {
            Stmt::For { body, .. } => walk(body, f),
            Stmt::If { then, els, .. } => {
                walk(then, f);
                walk(els, f);
            }
            _ => {}
        }
    }
}

/// Calls `f` on every binding `stmts` define or read: a `let`'s, the variables of its value,
/// and the versions loops and branches carry.
pub fn bindings<'a>(stmts: &'a [Stmt], f: &mut impl FnMut(&'a Binding)) {
    walk(stmts, &mut |s| match s {
        Stmt::Let { binding, init, .. } => {
            f(binding);
            aexpr_vars(init, f);
        }
        Stmt::Density { value, .. } => aexpr_vars(value, f),
        Stmt::For { carried, .. } => {
            for c in carried {
                for b in [&c.outer, &c.entry, &c.last, &c.exit] {
                    f(b);
                }
            }
        }
        Stmt::If { joined, .. } => {
            for j in joined {
                for b in [&j.then_last, &j.else_last, &j.exit] {
                    f(b);
                }
            }
        }
        _ => {}
    });
}

/// Calls `f` on `e` and on every expression inside it, each before its operands, operands
/// left to right.
pub fn aexpr_nodes<'a>(e: &'a AExpr, f: &mut impl FnMut(&'a AExpr)) {
    f(e);
    match e {
        AExpr::Var(_) | AExpr::Data(_) => {}
        AExpr::Unary(_, x, _) | AExpr::WithData(_, x, _, _) => aexpr_nodes(x, f),
        AExpr::Binary(_, a, b, _) | AExpr::Set(a, _, b, _) => {
            aexpr_nodes(a, f);
            aexpr_nodes(b, f);
        }
        AExpr::Nary(_, xs, _) => xs.iter().for_each(|x| aexpr_nodes(x, f)),
    }
}

/// Calls `f` on every variable `e` reads.
pub fn aexpr_vars<'a>(e: &'a AExpr, f: &mut impl FnMut(&'a Binding)) {
    aexpr_nodes(e, &mut |x| {
        if let AExpr::Var(b) = x {
            f(b)
        }
    });
}
