// Longer than 800 lines: the DSL's vocabulary as tables, one row per distribution and
// function, with the few lookups over them; a reader looks up one row.
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
//! A support other than those of [`Support`] is a new constraint: a variant here, its
//! transform in `vi-runtime/src/transform.rs` (or `transform/vector.rs`), its case in the
//! analyser's `latent` (which maps supports to constraints) and in the generated code's
//! latent reads (see `ARCHITECTURE.md`). A multivariate distribution (its kernel on whole
//! flat slices) is a row of [`MULTI_DISTS`] and of [`MULTI`] instead of `dists!`.
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
//! A function of three values is a [`Ternary`] variant (`log_mix`); a name with rows of two
//! arities (`log_sum_exp(v)`, `log_sum_exp(a, b)`) resolves by the number of operands, its
//! two-operand rule named `name2` in the runtime.
//!
//! # Densities as values
//!
//! `Dist(args).lpdf(x)` (`.lpmf` for a discrete one) needs nothing more than the row; `.lcdf`
//! and `.lccdf` need the distribution's module in `vi_runtime::dist::cdf` and its name in
//! [`CDFS`]. A distribution whose kernel takes a whole vector parameter (no one-element
//! kernel) is listed in [`SLICE_KERNELS`] with the positions of those parameters.
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
    /// `(first argument, inf)` (Pareto's `y_min`): a latent's lower bound, which must be data.
    AboveFirst,
    /// Vectors of `R^K` (a multivariate normal): no transform.
    RealVector,
    /// Simplexes (Dirichlet): stick-breaking.
    Simplex,
    /// Cholesky factors of correlation matrices (LkjCholesky).
    CholeskyCorr,
    /// Correlation matrices (LkjCorr).
    CorrMatrix,
    /// Covariance matrices (Wishart, InvWishart).
    CovMatrix,
    /// Vectors of counts (Multinomial): cannot be a latent's prior.
    CountVector,
    /// All reals with no density (an improper prior): only a latent's prior, which then adds
    /// nothing to the density.
    Flat,
}

impl Support {
    /// Whether a draw is a vector or a matrix (a multivariate distribution, see [`MULTI`]).
    pub fn multivariate(self) -> bool {
        matches!(
            self,
            Support::RealVector
                | Support::Simplex
                | Support::CholeskyCorr
                | Support::CorrMatrix
                | Support::CovMatrix
                | Support::CountVector
        )
    }
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
    // Issue 17's scalar distributions.
    "Weibull"          "weibull"            ["alpha", "sigma"]         Positive    [];
    "Gumbel"           "gumbel"             ["mu", "beta"]             Real        [];
    "Logistic"         "logistic"           ["mu", "sigma"]            Real        [];
    "Pareto"           "pareto"             ["y_min", "alpha"]         AboveFirst  [];
    "BetaBinomial"     "beta_binomial"      ["n", "alpha", "beta"]     Discrete    [0];
    "NegBinomial2"     "neg_binomial_2"     ["mu", "phi"]              Discrete    [];
    "NegBinomial2Log"  "neg_binomial_2_log" ["eta", "phi"]             Discrete    [];
    "Categorical"      "categorical"        ["theta"]                  Discrete    [];
    "CategoricalLogit" "categorical_logit"  ["eta"]                    Discrete    [];
    "OrderedLogistic"  "ordered_logistic"   ["eta", "c"]               Discrete    [];
    // An improper uniform over the reals, only a latent's prior (`let h ~ Flat.iid(n);`, its
    // density then given by `~` statements on it); no runtime module: no kernel is called.
    "Flat"           "flat"            []                      Flat       [];
}

/// The distributions with log CDF kernels (`vi_runtime::dist::cdf::<module>`), for
/// `.lcdf(x)` and `.lccdf(x)`.
pub static CDFS: &[&str] = &[
    "Normal",
    "LogNormal",
    "HalfNormal",
    "Cauchy",
    "HalfCauchy",
    "Laplace",
    "Logistic",
    "Gumbel",
    "Exponential",
    "Weibull",
    "Pareto",
    "Gamma",
    "InverseGamma",
    "Uniform",
    "Poisson",
    "PoissonLog",
    "Bernoulli",
    "BernoulliLogit",
    "StudentT",
    "HalfStudentT",
    "Beta",
    "Binomial",
    "BinomialLogit",
    "NegBinomial2",
    "NegBinomial2Log",
    "BetaBinomial",
];

/// The distributions whose kernel takes a whole vector parameter (the categories'
/// probabilities, the cutpoints) and so has no one-element kernel: their statements call
/// the module's `lpdf` on flat slices. With each, the positions (in `params`) of its whole
/// vectors, which do not broadcast against the observations.
pub static SLICE_KERNELS: &[(&str, &[usize])] = &[
    ("Categorical", &[0]),
    ("CategoricalLogit", &[0]),
    ("OrderedLogistic", &[1]),
];

impl DistInfo {
    /// Whether `.lcdf(x)` and `.lccdf(x)` exist (see [`CDFS`]).
    pub fn has_cdf(&self) -> bool {
        CDFS.contains(&self.name)
    }

    /// Whether the kernel is called on slices only (see [`SLICE_KERNELS`]).
    pub fn slice_kernel(&self) -> bool {
        SLICE_KERNELS.iter().any(|(n, _)| *n == self.name)
    }

    /// The positions (in `params`) of whole-vector parameters (see [`SLICE_KERNELS`]).
    pub fn whole_vectors(&self) -> &'static [usize] {
        SLICE_KERNELS
            .iter()
            .find(|(n, _)| *n == self.name)
            .map_or(&[], |(_, w)| w)
    }

    /// Whether the distribution is over counts or categories (`.lpmf`, not `.lpdf`).
    pub fn discrete(&self) -> bool {
        self.support == Support::Discrete
    }
}

/// Which function of a distribution an expression `Dist(args).f(x)` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Density {
    /// `.lpdf(x)` (`.lpmf(x)` for a discrete distribution): the log density.
    Lpdf,
    /// `.lcdf(x)`: ln P(X <= x).
    Lcdf,
    /// `.lccdf(x)`: ln P(X > x).
    Lccdf,
}

impl Density {
    /// The method named `name`, if it is one (`lpmf` is `Lpdf`).
    pub fn from_method(name: &str) -> Option<Density> {
        match name {
            "lpdf" | "lpmf" => Some(Density::Lpdf),
            "lcdf" => Some(Density::Lcdf),
            "lccdf" => Some(Density::Lccdf),
            _ => None,
        }
    }
}

/// The distribution called `name`.
pub fn dist_named(name: &str) -> Option<&'static DistInfo> {
    all_dists().find(|d| d.name == name)
}

/// The known distribution closest to `name`, if one is close.
pub fn suggest_dist(name: &str) -> Option<&'static str> {
    closest(name, all_dists().map(|d| d.name))
}

/// Every distribution's name, for "known: ..." messages.
pub fn dist_names() -> String {
    all_dists().map(|d| d.name).collect::<Vec<_>>().join(", ")
}

/// The scalar rows, then the multivariate ones.
fn all_dists() -> impl Iterator<Item = &'static DistInfo> {
    DISTS.iter().chain(MULTI_DISTS.iter())
}

/// The modifier after a latent's prior closest to `name` (`ordred` -> `ordered`).
pub fn suggest_modifier(name: &str) -> Option<&'static str> {
    closest(name, crate::parse::MODIFIERS.iter().map(|(m, _)| *m))
}

// ---------------------------------------------------------------------------------------
// Multivariate distributions
// ---------------------------------------------------------------------------------------

/// Where a multivariate distribution's dimension `K` comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    /// The length of parameter `i` (Dirichlet's `alpha`, Multinomial's `theta`).
    Len(usize),
    /// The side of the square matrix parameter `i` (MultiNormal's `Sigma`).
    Side(usize),
    /// The value of the data parameter `i` (LkjCholesky's `K`).
    Value(usize),
}

/// How a multivariate distribution's row of [`MULTI_DISTS`] reaches its kernel.
#[derive(Debug)]
pub struct MultiInfo {
    /// The distribution's name (a row of [`MULTI_DISTS`]).
    pub name: &'static str,
    /// Where `K` comes from.
    pub dim: Dim,
    /// Whether one draw is a `K x K` matrix (else a length-`K` vector).
    pub matrix: bool,
    /// Parameters that only give the size and are not passed to the kernel (LkjCholesky's
    /// `K`).
    pub size_only: &'static [usize],
}

/// The multivariate distributions: their kernels take flat slices, an `N x K` value (one
/// draw per row, column-major) and `K x K` matrix parameters (`vi_runtime::dist::multi`), and
/// `dist::<module>::lpdf(values.., partials..)` is called directly.
pub static MULTI_DISTS: &[DistInfo] = &[
    DistInfo {
        name: "Dirichlet",
        module: "dirichlet",
        params: &["alpha"],
        support: Support::Simplex,
        data_params: &[],
    },
    DistInfo {
        name: "Multinomial",
        module: "multinomial",
        params: &["theta"],
        support: Support::CountVector,
        data_params: &[],
    },
    DistInfo {
        name: "MultiNormal",
        module: "multi_normal",
        params: &["mu", "Sigma"],
        support: Support::RealVector,
        data_params: &[],
    },
    DistInfo {
        name: "MultiNormalCholesky",
        module: "multi_normal_cholesky",
        params: &["mu", "L"],
        support: Support::RealVector,
        data_params: &[],
    },
    DistInfo {
        name: "LkjCorr",
        module: "lkj_corr",
        params: &["K", "eta"],
        support: Support::CorrMatrix,
        data_params: &[0],
    },
    DistInfo {
        name: "LkjCholesky",
        module: "lkj_corr_cholesky",
        params: &["K", "eta"],
        support: Support::CholeskyCorr,
        data_params: &[0],
    },
    DistInfo {
        name: "Wishart",
        module: "wishart",
        params: &["nu", "S"],
        support: Support::CovMatrix,
        data_params: &[],
    },
    DistInfo {
        name: "InvWishart",
        module: "inv_wishart",
        params: &["nu", "S"],
        support: Support::CovMatrix,
        data_params: &[],
    },
];

/// How each row of [`MULTI_DISTS`] reaches its kernel.
pub static MULTI: &[MultiInfo] = &[
    MultiInfo {
        name: "Dirichlet",
        dim: Dim::Len(0),
        matrix: false,
        size_only: &[],
    },
    MultiInfo {
        name: "Multinomial",
        dim: Dim::Len(0),
        matrix: false,
        size_only: &[],
    },
    MultiInfo {
        name: "MultiNormal",
        dim: Dim::Side(1),
        matrix: false,
        size_only: &[],
    },
    MultiInfo {
        name: "MultiNormalCholesky",
        dim: Dim::Side(1),
        matrix: false,
        size_only: &[],
    },
    MultiInfo {
        name: "LkjCorr",
        dim: Dim::Value(0),
        matrix: true,
        size_only: &[0],
    },
    MultiInfo {
        name: "LkjCholesky",
        dim: Dim::Value(0),
        matrix: true,
        size_only: &[0],
    },
    MultiInfo {
        name: "Wishart",
        dim: Dim::Side(1),
        matrix: true,
        size_only: &[],
    },
    MultiInfo {
        name: "InvWishart",
        dim: Dim::Side(1),
        matrix: true,
        size_only: &[],
    },
];

/// The kernel information of a multivariate distribution.
pub fn multi_of(d: &DistInfo) -> Option<&'static MultiInfo> {
    MULTI.iter().find(|m| m.name == d.name)
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
    /// `log_sum_exp(a, b)`
    LogSumExp2,
    /// `log_diff_exp(a, b)`
    LogDiffExp,
    /// `lbeta(a, b)`
    Lbeta,
    /// `lchoose(n, k)`
    Lchoose,
    /// `fmin(a, b)`
    Fmin,
    /// `fmax(a, b)`
    Fmax,
    /// `add_diag(m, d)`: `m + d I`, or `m + diag(d)` for a vector `d`.
    AddDiag,
    /// `diag_pre_multiply(v, m)`: `diag(v) m`.
    DiagPreMultiply,
    /// `diag_post_multiply(m, v)`: `m diag(v)`.
    DiagPostMultiply,
    /// `quad_form(a, b)`: `b' a b` (a number) for a vector `b`, `B' A B` for a matrix.
    QuadForm,
    /// `columns_dot_product(a, b)`: a row of the columns' dot products.
    ColumnsDotProduct,
    /// `rows_dot_product(a, b)`: a column of the rows' dot products.
    RowsDotProduct,
    /// `mdivide_left_tri_low(l, b)`: `l^-1 b` for the lower triangle of `l` (`b` a vector
    /// or a matrix).
    MdivideLeftTriLow,
}

impl Binary {
    /// Whether the rule works element by element with broadcasting (not `dot`).
    pub fn elementwise(self) -> bool {
        self != Binary::Dot
    }

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
            Binary::LogSumExp2 => "log_sum_exp2",
            Binary::LogDiffExp => "log_diff_exp",
            Binary::Lbeta => "lbeta",
            Binary::Lchoose => "lchoose",
            Binary::Fmin => "fmin",
            Binary::Fmax => "fmax",
            Binary::AddDiag => "add_diag",
            Binary::DiagPreMultiply => "diag_pre_multiply",
            Binary::DiagPostMultiply => "diag_post_multiply",
            Binary::QuadForm => "quad_form",
            Binary::ColumnsDotProduct => "columns_dot_product",
            Binary::RowsDotProduct => "rows_dot_product",
            Binary::MdivideLeftTriLow => "mdivide_left_tri_low",
        }
    }
}

/// A rule of three values: `ad::name(&a, &b, &c)?`,
/// `ad::name_back(&a, &b, &c, &y, &gy, ga, gb, gc)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ternary {
    /// `log_mix(theta, lp1, lp2)`
    LogMix,
}

impl Ternary {
    /// The rule's name in `ad`.
    pub fn name(self) -> &'static str {
        match self {
            Ternary::LogMix => "log_mix",
        }
    }
}

/// A rule of any number of operands that is not a catalogue function: a three-operand
/// function, or a distribution's log density or log CDF as a value.
#[derive(Clone, Copy, Debug)]
pub enum Nary {
    /// A [`Ternary`] rule.
    Ternary(Ternary),
    /// `Dist(args).lpdf(x)` and the CDFs: operands `x` then the arguments; a number (the sum
    /// over the broadcast elements).
    Density(&'static DistInfo, Density),
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
    /// `exp(-|x_i - x_j|^2 / (2 rho^2))` of the data points `x`, the unit-scale part of
    /// `gp_exp_quad_cov(x, alpha, rho)` (no row of its own: see `analyse::exprs`).
    GpExpQuad,
    /// `v[g[i] - sub]` for every lane `i` of a vectorised loop: a gather (params: the lanes'
    /// indices, checked, and `sub`).
    Gather,
    /// `v[a..b]`, `segment(v, start, len)`, or `v[t - k]` for every lane `t` of a vectorised
    /// loop: a contiguous segment (params: start, length).
    Segment,
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
            WithData::GpExpQuad => "gp_exp_quad_unit",
            WithData::Gather => "gather",
            WithData::Segment => "segment",
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
    /// A rule of three values.
    Ternary(Ternary),
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
    "powf"          ["pow"]     2         Same        Binary(Binary::Powf);
    "tanh"          []          1         Same        Unary;
    "sigmoid"       ["inv_logit"] 1       Same        Unary;
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
    // Issue 17's functions (Stan's names).
    "log_sum_exp"   []          1         Scalar      Unary;
    "log_sum_exp"   []          2         Same        Binary(Binary::LogSumExp2);
    "log_mix"       []          3         Same        Ternary(Ternary::LogMix);
    "log_diff_exp"  []          2         Same        Binary(Binary::LogDiffExp);
    "log1m"         []          1         Same        Unary;
    "log1m_exp"     []          1         Same        Unary;
    "log1p_exp"     []          1         Same        Unary;
    "logit"         []          1         Same        Unary;
    "lgamma"        []          1         Same        Unary;
    "lbeta"         []          2         Same        Binary(Binary::Lbeta);
    "digamma"       []          1         Same        Unary;
    "lchoose"       []          2         Same        Binary(Binary::Lchoose);
    "Phi"           []          1         Same        Unary;
    "erf"           []          1         Same        Unary;
    "erfc"          []          1         Same        Unary;
    "square"        []          1         Same        Unary;
    "inv"           []          1         Same        Unary;
    "fmin"          []          2         Same        Binary(Binary::Fmin);
    "fmax"          []          2         Same        Binary(Binary::Fmax);
    "atan"          []          1         Same        Unary;
    "tan"           []          1         Same        Unary;
    // Matrix functions (constrained and multivariate latents).
    "cholesky"      ["cholesky_decompose"] 1 Other Unary;
    "dot_self"      []          1         Scalar      Unary;
    "log_determinant" []        1         Scalar      Unary;
    "add_diag"      []          2         Other       Binary(Binary::AddDiag);
    "diag_pre_multiply" []      2         Other       Binary(Binary::DiagPreMultiply);
    "diag_post_multiply" []     2         Other       Binary(Binary::DiagPostMultiply);
    "quad_form"     []          2         Scalar      Binary(Binary::QuadForm);
    "columns_dot_product" []    2         Other       Binary(Binary::ColumnsDotProduct);
    "rows_dot_product" []       2         Other       Binary(Binary::RowsDotProduct);
    "mdivide_left_tri_low" []   2         Other       Binary(Binary::MdivideLeftTriLow);
    "gp_exp_quad_cov" ["cov_exp_quad"] 3  Other       Syntax;
    // A contiguous part of a vector: Stan's `segment(v, start, len)`, the start 0-based as
    // every index of the DSL (`v[a..b]` is the same rule).
    "segment"       []          3         Other       WithData(WithData::Segment);
}

/// The runtime rule's name of a row's name: Stan's `Phi` is `ad::phi`.
pub fn rule_name(name: &str) -> String {
    name.to_lowercase()
}

/// Methods Rust or nalgebra already has on the values (`x.exp()`, `m.transpose()`): a
/// call of one of these on data is Rust's. Any other function of [`FNS`] on data is the
/// DSL's and is compiled by its rule.
pub const RUST_METHODS: &[&str] = &[
    "exp",
    "ln",
    "log",
    "ln_1p",
    "exp_m1",
    "sqrt",
    "powi",
    "powf",
    "tanh",
    "sin",
    "cos",
    "abs",
    "atan",
    "tan",
    "sum",
    "mean",
    "dot",
    "transpose",
    "row",
    "column",
    "clone",
];

/// The row of the function a model calls `name` (by its name or an alias); rows written as
/// syntax are not called by name. With several rows of one name (`log_sum_exp(v)` and
/// `log_sum_exp(a, b)`), the first.
pub fn fn_called(name: &str) -> Option<&'static FnInfo> {
    FNS.iter()
        .filter(|f| f.rule != Rule::Syntax)
        .find(|f| f.name == name || f.aliases.contains(&name))
}

/// The row of the function called `name` with `n` operands: the row of that arity when
/// there is one, else the first of that name ([`fn_called`]).
pub fn fn_called_with(name: &str, n: usize) -> Option<&'static FnInfo> {
    FNS.iter()
        .filter(|f| f.rule != Rule::Syntax && f.arity == n)
        .find(|f| f.name == name || f.aliases.contains(&name))
        .or_else(|| fn_called(name))
}

/// The arities a function's rows take, for messages: "1 or 2 arguments".
pub fn arities(name: &str) -> String {
    let ns: Vec<String> = FNS
        .iter()
        .filter(|f| f.name == name)
        .map(|f| f.arity.to_string())
        .collect();
    let last = ns.last().is_some_and(|n| n == "1") && ns.len() == 1;
    format!(
        "{} argument{}",
        ns.join(" or "),
        if last { "" } else { "s" }
    )
}

/// The known function closest to `name` (its name or an alias), if one is close.
pub fn suggest_fn(name: &str) -> Option<&'static str> {
    closest(
        name,
        FNS.iter()
            .filter(|f| f.rule != Rule::Syntax && f.rule != Rule::Identity)
            .flat_map(|f| std::iter::once(f.name).chain(f.aliases.iter().copied())),
    )
    .filter(|n| *n != name)
}

/// The row named `name` (the canonical name only).
pub fn fn_named(name: &str) -> Option<&'static FnInfo> {
    FNS.iter().find(|f| f.name == name)
}

/// What may touch a latent, for messages: every row but the value itself.
pub fn known_fns() -> String {
    let mut names: Vec<&str> = Vec::new();
    for f in FNS.iter().filter(|f| f.rule != Rule::Identity) {
        if !names.contains(&f.name) {
            names.push(f.name);
        }
    }
    names.join(", ")
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
             log_sigmoid, sin, cos, abs, sum, mean, dot, transpose, indexing, row, col, \
             log_sum_exp, log_mix, log_diff_exp, log1m, log1m_exp, log1p_exp, logit, lgamma, \
             lbeta, digamma, lchoose, Phi, erf, erfc, square, inv, fmin, fmax, atan, tan, \
             cholesky, dot_self, log_determinant, add_diag, diag_pre_multiply, \
             diag_post_multiply, quad_form, columns_dot_product, rows_dot_product, \
             mdivide_left_tri_low, gp_exp_quad_cov, segment"
        );
    }

    #[test]
    fn every_spelling_names_one_row() {
        // A name may have one row per arity (`log_sum_exp(v)`, `log_sum_exp(a, b)`).
        let mut seen = HashSet::new();
        for f in FNS {
            for n in std::iter::once(&f.name).chain(f.aliases) {
                assert!(seen.insert((*n, f.arity)), "`{n}` names two rows");
            }
        }
        assert_eq!(fn_called_with("log_sum_exp", 2).map(|f| f.arity), Some(2));
        assert_eq!(fn_called_with("log_sum_exp", 1).map(|f| f.arity), Some(1));
        assert_eq!(fn_called("inv_logit").map(|f| f.name), Some("sigmoid"));
        assert_eq!(fn_called("pow").map(|f| f.name), Some("powf"));
        assert_eq!(arities("log_sum_exp"), "1 or 2 arguments");
        assert_eq!(arities("log_mix"), "3 arguments");
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
                    // The two-operand row of a name that also has a one-operand one is the
                    // rule `name2` (`log_sum_exp2`).
                    let two = format!("{}2", f.name);
                    assert!(b.name() == f.name || b.name() == two, "{}", f.name);
                }
                Rule::Ternary(t) => {
                    assert_eq!(f.arity, 3, "{}", f.name);
                    assert_eq!(t.name(), f.name);
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
            // The runtime module is the snake_case of the name (a digit is a word:
            // `NegBinomial2Log` is `neg_binomial_2_log`).
            let mut snake = String::new();
            let mut prev_digit = false;
            for (i, c) in d.name.chars().enumerate() {
                let digit = c.is_ascii_digit();
                if i > 0 && (c.is_uppercase() || (digit && !prev_digit)) {
                    snake.push('_');
                }
                prev_digit = digit;
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
        assert_eq!(suggest_dist("Weibul"), Some("Weibull"));
        assert_eq!(suggest_fn("log_sum_ex"), Some("log_sum_exp"));
        assert_eq!(suggest_fn("lgama"), Some("lgamma"));
        assert_eq!(suggest_fn("max"), Some("fmax"));
    }

    #[test]
    fn cdf_and_slice_lists_name_rows() {
        for n in CDFS.iter().chain(SLICE_KERNELS.iter().map(|(n, _)| n)) {
            assert!(dist_named(n).is_some(), "{n}");
        }
        assert!(dist_named("Weibull").is_some_and(DistInfo::has_cdf));
        assert!(dist_named("Beta").is_some_and(DistInfo::has_cdf));
        assert!(!dist_named("CategoricalLogit").is_some_and(DistInfo::has_cdf));
        assert!(dist_named("Categorical").is_some_and(DistInfo::slice_kernel));
    }
}
