//! Error types shared by the whole runtime.

use std::fmt;

/// An invalid parameter given to a distribution, or an observation outside its support.
///
/// Every variant carries the offending value, so a message can show it.
#[derive(Debug, Clone, PartialEq)]
pub enum DistError {
    /// A scale-like parameter (`sigma`, `b`, `rate`, `scale`, ...) that is not strictly positive.
    NotPositive {
        /// The distribution, e.g. `"Normal"`.
        dist: &'static str,
        /// The parameter's name, e.g. `"sigma"`.
        param: &'static str,
        /// The value given.
        value: f64,
    },
    /// A parameter that is NaN or infinite.
    NotFinite {
        /// The distribution.
        dist: &'static str,
        /// The parameter's name.
        param: &'static str,
        /// The value given.
        value: f64,
    },
    /// A parameter outside its allowed range (a probability of 1.5, a negative count).
    OutOfRange {
        /// The distribution.
        dist: &'static str,
        /// The parameter's name.
        param: &'static str,
        /// The value given.
        value: f64,
        /// The allowed range, in words (`"[0, 1]"`).
        range: &'static str,
    },
    /// `Uniform(lower, upper)` with `lower >= upper`.
    EmptyInterval {
        /// The distribution.
        dist: &'static str,
        /// Lower bound given.
        lower: f64,
        /// Upper bound given.
        upper: f64,
    },
    /// An observed value outside the distribution's support (a 2 for a Bernoulli).
    OutsideSupport {
        /// The distribution.
        dist: &'static str,
        /// The value observed.
        value: f64,
        /// The support, in words (`"{0, 1}"`).
        support: &'static str,
    },
    /// Arguments whose lengths cannot be broadcast together.
    LengthMismatch {
        /// The distribution.
        dist: &'static str,
        /// The lengths of the arguments, in order (the observation first).
        lengths: Vec<usize>,
    },
}

impl fmt::Display for DistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistError::NotPositive { dist, param, value } => {
                write!(f, "{dist}: `{param}` must be positive, got {value}")
            }
            DistError::NotFinite { dist, param, value } => {
                write!(f, "{dist}: `{param}` must be finite, got {value}")
            }
            DistError::OutOfRange {
                dist,
                param,
                value,
                range,
            } => write!(f, "{dist}: `{param}` must be in {range}, got {value}"),
            DistError::EmptyInterval { dist, lower, upper } => write!(
                f,
                "{dist}: lower bound {lower} must be below upper bound {upper}"
            ),
            DistError::OutsideSupport {
                dist,
                value,
                support,
            } => write!(f, "{dist}: value {value} is outside the support {support}"),
            DistError::LengthMismatch { dist, lengths } => write!(
                f,
                "{dist}: argument lengths {lengths:?} cannot be broadcast (each must be 1 or the same N)"
            ),
        }
    }
}

impl std::error::Error for DistError {}

/// An error found while building a model from its data: it names the statement (its source
/// text), the argument and, for vectors, the index.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    /// A data value that is NaN or infinite.
    NonFiniteData {
        /// The data argument's name.
        name: String,
        /// The bad element's index as it is written in Rust: `[3]`, `[3][1]` for nested
        /// containers, `[(2, 1)]` for a matrix, empty for a scalar.
        index: String,
        /// The value found.
        value: f64,
    },
    /// A distribution statement whose arguments or observation are invalid.
    Statement {
        /// The statement's source text, e.g. `y ~ Bernoulli(p)`.
        statement: String,
        /// The argument involved (`"y"`, `"sigma"`, ...), if one is to blame.
        argument: Option<String>,
        /// The flat index of the offending element, for vector arguments.
        index: Option<usize>,
        /// What was wrong.
        source: DistError,
    },
    /// Shapes that cannot agree (x has 100 rows, y has 99).
    Shape {
        /// The statement's source text.
        statement: String,
        /// What did not agree, in words.
        message: String,
    },
    /// Any other problem, in words.
    Invalid {
        /// The statement's source text, if the problem belongs to one.
        statement: Option<String>,
        /// What was wrong.
        message: String,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::NonFiniteData { name, index, value } => {
                write!(f, "data `{name}{index}` is {value}: data must be finite")
            }
            ModelError::Statement {
                statement,
                argument,
                index,
                source,
            } => {
                write!(f, "in `{statement}`")?;
                if let Some(a) = argument {
                    write!(f, ", argument `{a}`")?;
                }
                if let Some(i) = index {
                    write!(f, " at index {i}")?;
                }
                write!(f, ": {source}")
            }
            ModelError::Shape { statement, message } => {
                write!(f, "in `{statement}`: shapes do not agree: {message}")
            }
            ModelError::Invalid { statement, message } => match statement {
                Some(s) => write!(f, "in `{s}`: {message}"),
                None => write!(f, "{message}"),
            },
        }
    }
}

impl std::error::Error for ModelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ModelError::Statement { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a fit failed.
#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    /// No initial point with a finite log density and gradient was found.
    NoFiniteStart {
        /// How many random points were tried.
        tries: usize,
        /// The statement whose term was not finite at the last point tried, if the model
        /// can tell (models written with `model!` can).
        statement: Option<String>,
    },
    /// The model has no parameters to fit.
    NoParameters,
    /// The optimisation or sampling diverged (NaN ELBO, non-finite gradient everywhere).
    Diverged {
        /// What happened, in words.
        message: String,
    },
    /// The point the optimiser stopped at is not a maximum: the Hessian of the log density
    /// there has a positive eigenvalue (the density curves upwards in that direction).
    NotNegativeDefinite {
        /// The parameter (flat name, e.g. `w.2`) most involved in the worst direction.
        parameter: String,
        /// The eigenvalue of the negative Hessian in that direction (negative; a maximum
        /// needs every one positive). The message shows the Hessian's, `-eigenvalue`.
        eigenvalue: f64,
    },
    /// The mode is numerically singular: the curvature in some direction is too small,
    /// relative to the largest, to be told apart from rounding error (an unidentified
    /// direction: a flat ridge, a parameter the data does not inform and the prior leaves
    /// flat).
    SingularMode {
        /// The parameter (flat name) most involved in the flattest direction.
        parameter: String,
        /// The condition number of the negative Hessian (largest over smallest eigenvalue;
        /// about 1e16 or more when the smallest is zero to rounding).
        condition_number: f64,
    },
    /// The model's code panicked at every point the fit tried, so nothing finite was found.
    ModelPanicked {
        /// The first panic's message and where it happened in the code.
        message: String,
        /// The statement whose term could not be computed, if the model names its
        /// statements.
        statement: Option<String>,
        /// How many evaluations panicked.
        faults: usize,
    },
    /// The draws could not be written to the output files the engine was asked for.
    Output {
        /// What failed, with the path.
        message: String,
    },
    /// The settings are invalid (zero draws, a step size of -1, ...).
    InvalidSettings {
        /// What was wrong.
        message: String,
    },
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::NoFiniteStart { tries, statement } => {
                write!(
                    f,
                    "no initial point with a finite log density found after {tries} tries"
                )?;
                if let Some(s) = statement {
                    write!(f, "; the term of `{s}` is not finite")?;
                }
                Ok(())
            }
            FitError::NoParameters => write!(f, "the model has no parameters to fit"),
            FitError::Diverged { message } => write!(f, "the fit diverged: {message}"),
            FitError::NotNegativeDefinite {
                parameter,
                eigenvalue,
            } => write!(
                f,
                "not a maximum: the Hessian has a positive eigenvalue +{:.3e} along \
                 `{parameter}`",
                -eigenvalue
            ),
            FitError::SingularMode {
                parameter,
                condition_number,
            } => write!(
                f,
                "the mode is numerically singular (condition number {condition_number:.1e}): \
                 the direction dominated by `{parameter}` is not identified by the model"
            ),
            FitError::ModelPanicked {
                message,
                statement,
                faults,
            } => {
                write!(
                    f,
                    "the model's code panicked at every point tried ({faults} evaluations): \
                     {message}"
                )?;
                if let Some(s) = statement {
                    write!(f, "; in `{s}`")?;
                }
                Ok(())
            }
            FitError::InvalidSettings { message } => write!(f, "invalid settings: {message}"),
            FitError::Output { message } => write!(f, "could not write the draws: {message}"),
        }
    }
}

impl std::error::Error for FitError {}

/// A CmdStan CSV file that cannot be read back into a posterior.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadCsvError {
    /// The file.
    pub path: std::path::PathBuf,
    /// The line (1-based) at fault, if one is.
    pub line: Option<usize>,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ReadCsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(l) = self.line {
            write!(f, ", line {l}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ReadCsvError {}

/// A name that is not a parameter of the posterior.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// The name asked for.
    pub name: String,
    /// The names the posterior knows.
    pub known: Vec<String>,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no parameter named `{}`; known parameters: {}",
            self.name,
            self.known.join(", ")
        )
    }
}

impl std::error::Error for UnknownName {}
