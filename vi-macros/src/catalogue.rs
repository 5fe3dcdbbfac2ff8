//! The DSL's vocabulary: every distribution and every function a model may apply to a
//! value that depends on a latent, one row each. Every other stage reads the rows: the
//! analyser resolves names, aliases and arities and checks data parameters against them,
//! the error messages list them ("known: ...", "did you mean ...?", "on a latent's path use
//! only ..."), vectorisation reads each function's shape, and code generation calls the
//! runtime items the rows name.
//!
//! # Adding a distribution
//!
//! Add a row to the `dists!` table below: its name as written in a model (Stan's, CamelCase),
//! the runtime module under `vi_runtime::dist`, the parameters' names in order, the support
//! (which decides a latent's constraint transform) and the positions of parameters that must
//! be data (Binomial's `n`). That is all the macro needs when the runtime module follows the
//! kernel convention of `vi-runtime/src/dist/mod.rs`: `lpdf(y, params.., partials..)` with one
//! `Option<&mut [f64]>` partial per argument, `check(..)` with one `Option<&[f64]>` per
//! argument, `sample(rng, params.., n)`, and `Scalar`, a `Default` value implementing
//! `scalar::Kernel<N>` for `N` = 1 + the number of parameters (at most five parameters: the
//! generated code dispatches kernels through `__private::Ops2` to `Ops6`). Then, outside this
//! crate, the runtime module itself in `vi-runtime/src/dist/` (declared and its type
//! re-exported in `dist/mod.rs`); and for users, the value type in the facade's prelude
//! (`src/lib.rs`), tests in `vi-runtime/tests/it/dist.rs`, and the row of the README's table.
//!
//! A support other than the five of [`Support`] (a simplex, a lower bound from the
//! arguments, ...) is a new constraint: a variant here, its transform in
//! `vi-runtime/src/transform.rs`, its case in the analyser's `latent` (which maps supports to
//! constraints) and in the generated code's latent reads (see `ARCHITECTURE.md`).
//!
//! # Adding a function
//!
//! Add a row to the `fns!` table below: its name (the runtime rule's name in
//! `vi_runtime::ad`, Stan's spelling, snake_case), other spellings accepted (`log` for `ln`),
//! its number of operands (the receiver of a method call counts), its [`Out`] shape and its
//! [`Rule`]. For a one-operand rule ([`Rule::Unary`]) the runtime must have
//! `ad::name(&x) -> Result<X, ShapeError>` and `ad::name_back(&x, &out, &g, &mut gx)`: one line
//! of the `unary!` table in `vi-runtime/src/ad/unary.rs` and its re-export in
//! `vi-runtime/src/ad/mod.rs`. An elementwise row ([`Out::Same`]) is then also vectorised
//! inside loops over observations. A function of two values or with data parameters needs a
//! variant of [`Binary`] or [`WithData`] (their `name` is the runtime rule's).
//!
//! The order of the rows is the order of the error messages' lists.

// ---------------------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------------------

/// How a latent's support maps to the real line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// All reals: no transform.
    Real,
    /// `(0, inf)`: log transform.
    Positive,
    /// `(0, 1)`: logit transform.
    Unit,
    /// `(lower, upper)` from the first two arguments (Uniform).
    Bounds,
    /// A discrete support: cannot be a latent's prior.
    Discrete,
    /// All reals with no density (an improper prior): only a latent's prior, which then adds
    /// nothing to the density.
    Flat,
}

/// One distribution the DSL knows.
#[derive(Debug)]
pub struct DistInfo {
    /// The name as written in a model, `HalfNormal`.
    pub name: &'static str,
    /// The runtime module, `half_normal` (`vi_runtime::dist::half_normal`).
    pub module: &'static str,
    /// The parameters' names, in order.
    pub params: &'static [&'static str],
    /// The support of the distribution.
    pub support: Support,
    /// Positions (in `params`) of the parameters that must be data (a Binomial's trials).
    pub data_params: &'static [usize],
}

macro_rules! dists {
    ($($name:literal $module:literal [$($p:literal),*] $support:ident [$($d:literal),*];)*) => {
        /// Every distribution the DSL knows.
        pub static DISTS: &[DistInfo] = &[$(DistInfo {
            name: $name,
            module: $module,
            params: &[$($p),*],
            support: Support::$support,
            data_params: &[$($d),*],
        }),*];
    };
}

dists! {
    // name          runtime module    parameters              support    data parameters
    "Normal"         "normal"          ["mu", "sigma"]         Real       [];
    "HalfNormal"     "half_normal"     ["sigma"]               Positive   [];
    "LogNormal"      "log_normal"      ["mu", "sigma"]         Positive   [];
    "StudentT"       "student_t"       ["nu", "mu", "sigma"]   Real       [];
    "HalfStudentT"   "half_student_t"  ["nu", "sigma"]         Positive   [];
    "Cauchy"         "cauchy"          ["mu", "sigma"]         Real       [];
    "HalfCauchy"     "half_cauchy"     ["sigma"]               Positive   [];
    "Laplace"        "laplace"         ["mu", "b"]             Real       [];
    "Exponential"    "exponential"     ["rate"]                Positive   [];
    "Gamma"          "gamma"           ["shape", "rate"]       Positive   [];
    "InverseGamma"   "inverse_gamma"   ["shape", "scale"]      Positive   [];
    "Beta"           "beta"            ["alpha", "beta"]       Unit       [];
    "Uniform"        "uniform"         ["lower", "upper"]      Bounds     [];
    "Bernoulli"      "bernoulli"       ["p"]                   Discrete   [];
    "BernoulliLogit" "bernoulli_logit" ["alpha"]               Discrete   [];
    "Binomial"       "binomial"        ["n", "p"]              Discrete   [0];
    "BinomialLogit"  "binomial_logit"  ["n", "alpha"]          Discrete   [0];
    "Poisson"        "poisson"         ["lambda"]              Discrete   [];
    "PoissonLog"     "poisson_log"     ["alpha"]               Discrete   [];
    // An improper uniform over the reals, only a latent's prior (`let h ~ Flat.iid(n);`, its
    // density then given by `~` statements on it); no runtime module: no kernel is called.
    "Flat"           "flat"            []                      Flat       [];
}

/// The distribution called `name`.
pub fn dist_named(name: &str) -> Option<&'static DistInfo> {
    DISTS.iter().find(|d| d.name == name)
}

/// The known distribution closest to `name`, if one is close.
pub fn suggest_dist(name: &str) -> Option<&'static str> {
    closest(name, DISTS.iter().map(|d| d.name))
}

/// Every distribution's name, for "known: ..." messages.
pub fn dist_names() -> String {
    DISTS.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
}

/// The name in `names` closest to `name` (ignoring case), if one is close.
fn closest(name: &str, names: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    let lower = name.to_lowercase();
    names
        .map(|n| (edit_distance(&lower, &n.to_lowercase()), n))
        .filter(|(dist, n)| *dist <= 2.max(n.len() / 3))
        .min_by_key(|(dist, _)| *dist)
        .map(|(_, n)| n)
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------------------
// Differentiation rules
// ---------------------------------------------------------------------------------------

/// A one-argument rule: `ad::name(&x)?`, `ad::name_back(&x, &y, &gy, &mut gx)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    /// `-x`
    Neg,
    /// A row of [`FNS`] with [`Rule::Unary`], by its name (the `ad` rule's).
    Named(&'static str),
    /// `x.clone()`, `x as f64`: the value itself.
    Identity,
}

impl Unary {
    /// The shape of the result relative to the operand's.
    pub fn out(self) -> Out {
        match self {
            Unary::Neg | Unary::Identity => Out::Same,
            Unary::Named(f) => fn_named(f).map_or(Out::Other, |row| row.out),
        }
    }

    /// Whether the rule works element by element (and so may be vectorised).
    pub fn elementwise(self) -> bool {
        self.out() == Out::Same
    }
}

/// A two-argument rule: `ad::name(&a, &b)?`, `ad::name_back(&a, &b, &y, &gy, ga, gb)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `dot(a, b)`
    Dot,
    /// `x.powf(p)`
    Powf,
}

impl Binary {
    /// Whether this is `+ - * /` (which have a scalar fast path).
    pub fn arith(self) -> bool {
        matches!(self, Binary::Add | Binary::Sub | Binary::Mul | Binary::Div)
    }

    /// The rule's name in `ad`.
    pub fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Dot => "dot",
            Binary::Powf => "powf",
        }
    }
}

/// A rule with data parameters: `ad::name(&x, p..)?`, `ad::name_back(&x, p.., &y, &gy, &mut gx)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithData {
    /// `x.powi(n)`
    Powi,
    /// `v[i]`
    Index,
    /// `m[(i, j)]`
    Index2,
    /// `m.row(i)`
    Row,
    /// `m.column(j)`
    Col,
}

impl WithData {
    /// The rule's name in `ad`.
    pub fn name(self) -> &'static str {
        match self {
            WithData::Powi => "powi",
            WithData::Index => "index",
            WithData::Index2 => "index2",
            WithData::Row => "row",
            WithData::Col => "col",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------------------

/// What a function's row compiles to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Written as syntax (operators, indexing), not called by name; the row is there for the
    /// list of what may touch a latent.
    Syntax,
    /// The value itself (`x.clone()`); not listed in messages.
    Identity,
    /// `ad::name(&x)` and `ad::name_back`, [`Unary::Named`].
    Unary,
    /// A rule of two values, either of which may be active.
    Binary(Binary),
    /// A rule of one value and data: every operand after the first must be data.
    WithData(WithData),
}

/// The shape of a function's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// Elementwise: the operand's shape (broadcast for two operands).
    Same,
    /// A number (`sum`, `mean`, `dot`).
    Scalar,
    /// The transpose of the operand (a column becomes a row and back).
    Transposed,
    /// Any other (read from the rule's operands where it matters).
    Other,
}

/// One function the DSL can differentiate.
#[derive(Debug)]
pub struct FnInfo {
    /// The name as written, and the runtime rule's.
    pub name: &'static str,
    /// Other spellings accepted (Rust's `ln_1p` for `log1p`).
    pub aliases: &'static [&'static str],
    /// The number of operands, a method call's receiver included.
    pub arity: usize,
    /// The result's shape.
    pub out: Out,
    /// What a call compiles to.
    pub rule: Rule,
}

macro_rules! fns {
    ($($name:literal [$($alias:literal),*] $arity:literal $out:ident $rule:ident $(($arg:expr))?;)*) => {
        /// Every function that may touch a latent, in the order the messages list them.
        pub static FNS: &[FnInfo] = &[$(FnInfo {
            name: $name,
            aliases: &[$($alias),*],
            arity: $arity,
            out: Out::$out,
            rule: Rule::$rule $(($arg))?,
        }),*];
    };
}

fns! {
    // name         aliases     operands  shape       rule
    "arithmetic"    []          2         Same        Syntax;
    "exp"           []          1         Same        Unary;
    "ln"            ["log"]     1         Same        Unary;
    "log1p"         ["ln_1p"]   1         Same        Unary;
    "expm1"         ["exp_m1"]  1         Same        Unary;
    "sqrt"          []          1         Same        Unary;
    "powi"          []          2         Same        WithData(WithData::Powi);
    "powf"          []          2         Same        Binary(Binary::Powf);
    "tanh"          []          1         Same        Unary;
    "sigmoid"       []          1         Same        Unary;
    "softplus"      []          1         Same        Unary;
    "log_sigmoid"   []          1         Same        Unary;
    "sin"           []          1         Same        Unary;
    "cos"           []          1         Same        Unary;
    "abs"           []          1         Same        Unary;
    "sum"           []          1         Scalar      Unary;
    "mean"          []          1         Scalar      Unary;
    "dot"           []          2         Scalar      Binary(Binary::Dot);
    "transpose"     []          1         Transposed  Unary;
    "indexing"      []          2         Other       Syntax;
    "row"           []          2         Other       WithData(WithData::Row);
    "col"           ["column"]  2         Other       WithData(WithData::Col);
    "clone"         []          1         Same        Identity;
}

/// The row of the function a model calls `name` (by its name or an alias); rows written as
/// syntax are not called by name.
pub fn fn_called(name: &str) -> Option<&'static FnInfo> {
    FNS.iter()
        .filter(|f| f.rule != Rule::Syntax)
        .find(|f| f.name == name || f.aliases.contains(&name))
}

/// The row named `name` (the canonical name only).
pub fn fn_named(name: &str) -> Option<&'static FnInfo> {
    FNS.iter().find(|f| f.name == name)
}

/// What may touch a latent, for messages: every row but the value itself.
pub fn known_fns() -> String {
    FNS.iter()
        .filter(|f| f.rule != Rule::Identity)
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The most parameters a distribution may have: the runtime dispatches kernel calls of
    /// up to six operands, the value included (`__private::Ops2` to `Ops6`).
    const MAX_PARAMS: usize = 5;

    #[test]
    fn the_message_lists_every_function_in_table_order() {
        // The message the trybuild case `tests/ui/analyse/non_differentiable` shows.
        assert_eq!(
            known_fns(),
            "arithmetic, exp, ln, log1p, expm1, sqrt, powi, powf, tanh, sigmoid, softplus, \
             log_sigmoid, sin, cos, abs, sum, mean, dot, transpose, indexing, row, col"
        );
    }

    #[test]
    fn every_spelling_names_one_row() {
        let mut seen = HashSet::new();
        for f in FNS {
            for n in std::iter::once(&f.name).chain(f.aliases) {
                assert!(seen.insert(*n), "`{n}` names two rows");
            }
        }
        assert_eq!(fn_called("log").map(|f| f.name), Some("ln"));
        assert_eq!(fn_called("column").map(|f| f.name), Some("col"));
        assert!(fn_called("indexing").is_none());
    }

    #[test]
    fn rows_agree_with_their_rules() {
        for f in FNS {
            match f.rule {
                Rule::Unary | Rule::Identity => assert_eq!(f.arity, 1, "{}", f.name),
                Rule::Binary(b) => {
                    assert_eq!(f.arity, 2, "{}", f.name);
                    assert_eq!(b.name(), f.name);
                }
                Rule::WithData(w) => {
                    assert!(f.arity >= 2, "{}", f.name);
                    assert_eq!(w.name(), f.name);
                }
                Rule::Syntax => {}
            }
        }
    }

    #[test]
    fn distribution_rows_are_consistent() {
        let mut names = HashSet::new();
        let mut modules = HashSet::new();
        for d in DISTS {
            assert!(names.insert(d.name), "{} twice", d.name);
            assert!(modules.insert(d.module), "{} twice", d.module);
            assert!(
                d.data_params.iter().all(|&k| k < d.params.len()),
                "{}",
                d.name
            );
            // The generated code dispatches kernels of up to six operands (`__private::Ops6`).
            assert!(d.params.len() <= MAX_PARAMS, "{}", d.name);
            // The runtime module is the snake_case of the name.
            let mut snake = String::new();
            for (i, c) in d.name.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            assert_eq!(snake, d.module);
        }
    }

    #[test]
    fn suggestions_come_from_the_rows() {
        assert_eq!(suggest_dist("normal"), Some("Normal"));
        assert_eq!(suggest_dist("HalfNormel"), Some("HalfNormal"));
        assert_eq!(suggest_dist("Zzzzzzzzzz"), None);
        assert!(dist_names().starts_with("Normal, HalfNormal, "));
    }
}
