//! A guard around a user's [`Model`]: a panic inside the model's code becomes a rejected point
//! (a non-finite log density), not an unwinding out of `fit`, and nothing is printed.
//!
//! Stan rejects a proposal whose log density throws and carries on; [`Guarded`] gives every
//! engine the same behaviour. It catches the panic with [`std::panic::catch_unwind`], returns
//! `-inf` with a NaN gradient (which every engine already treats as "outside the model": a
//! failed line-search trial for Laplace, a divergence for NUTS, a skipped step for VI),
//! counts the faults and keeps the first one's message, with the statement the model names
//! when it can ([`Model::log_density_terms`]).
//!
//! # The panic hook
//!
//! The panic hook is global, so it is never swapped around a call (two threads doing that
//! would race: one restores the default hook while the other still relies on silence).
//! Instead a hook is installed once per process that forwards to the hook that was there
//! before, except on a thread that is inside [`catch_silently`] at that moment (a
//! thread-local counter). Panics elsewhere, and on the same thread outside a guarded call,
//! print as they always do. If the program later installs its own hook, guarded panics are
//! printed again by it, and are still caught.
//!
//! With `panic = "abort"` in the build profile nothing can be caught; the process aborts as
//! it would without the guard.
//!
//! # How the engines use it
//!
//! ```
//! use vi_runtime::infer::guard::Guarded;
//! use vi_runtime::{Model, ParamLayout, Transform};
//!
//! /// A model whose code indexes past its data for x > 1.
//! struct Buggy(ParamLayout, Vec<f64>);
//! impl Model for Buggy {
//!     fn layout(&self) -> &ParamLayout { &self.0 }
//!     fn log_density_grad_jac(&self, t: &[f64], g: &mut [f64], _: bool) -> f64 {
//!         let i = if t[0] > 1.0 { 5 } else { 0 };
//!         g[0] = -t[0];
//!         self.1[i] - 0.5 * t[0] * t[0]
//!     }
//! }
//! let mut layout = ParamLayout::new();
//! layout.push("x", vec![], Transform::Identity);
//! let model = Buggy(layout, vec![0.0]);
//!
//! let guarded = Guarded::new(&model);
//! let mut g = [0.0];
//! assert_eq!(guarded.log_density_grad(&[0.5], &mut g), -0.125);
//! assert_eq!(guarded.log_density_grad(&[2.0], &mut g), f64::NEG_INFINITY); // rejected
//! assert!(g[0].is_nan());
//! assert_eq!(guarded.faults(), 1);
//! assert!(guarded.first_fault().unwrap().message.contains("index out of bounds"));
//! ```
//!
//! An engine wraps the user's model once at the start of `fit` (`let model =
//! Guarded::new(model);`), drives `&model` exactly as it drove the user's model, and at the
//! end reports [`Guarded::faults`] and [`Guarded::first_fault`] in its diagnostics. When
//! nothing finite was ever found (initialisation failed) and the guard saw faults, the error
//! to return is [`Guarded::error`]'s ([`FitError::ModelPanicked`]), which names the panic and
//! the statement.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

use crate::error::FitError;
use crate::model::{Model, ParamLayout};
use crate::transform::OutsideSupport;

thread_local! {
    /// How many [`catch_silently`] calls this thread is inside.
    static SILENT: Cell<usize> = const { Cell::new(0) };
    /// Where the last silenced panic on this thread happened (`file:line:column`).
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs, once per process, the hook that stays quiet on threads inside
/// [`catch_silently`] and forwards to the previous hook everywhere else.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let silent = SILENT.try_with(Cell::get).unwrap_or(0) > 0;
            if silent {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                let _ = LOCATION.try_with(|l| *l.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

/// Runs `f`, catching a panic without printing anything, and returns its value or the
/// panic's message with where it happened (`"index out of bounds: ... (at src/m.rs:3:9)"`).
///
/// Safe to call from many threads at once and nested; other threads' panics still print.
///
/// ```
/// use vi_runtime::infer::guard::catch_silently;
/// assert_eq!(catch_silently(|| 2 + 2), Ok(4));
/// let e = catch_silently(|| -> i32 { panic!("bad data") }).unwrap_err();
/// assert!(e.starts_with("bad data (at "));
/// ```
///
/// # Errors
/// The panic's message, when `f` panicked.
pub fn catch_silently<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_hook();
    catch_hooked(f)
}

/// [`catch_silently`] once the hook is installed: what a [`Guarded`] model runs per call
/// ([`Guarded::new`] installed the hook, and it is never removed), so the per-call cost is
/// one thread-local counter up and down around [`panic::catch_unwind`], without the
/// [`Once`] check, whose line the model's own data may have evicted from the cache.
#[inline]
fn catch_hooked<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    SILENT.with(|s| s.set(s.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    SILENT.with(|s| s.set(s.get() - 1));
    result.map_err(panic_message)
}

/// The message of a caught panic with where it happened, [`catch_silently`]'s error (out of
/// line: the path of every call that did not panic stays short).
#[cold]
#[inline(never)]
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let message = payload_message(payload.as_ref());
    // Dropping a payload can itself panic; forget it instead.
    std::mem::forget(payload);
    match LOCATION.with(|l| l.borrow_mut().take()) {
        Some(at) => format!("{message} (at {at})"),
        None => message,
    }
}

/// The first fault a [`Guarded`] model saw.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFault {
    /// The panic's message and location.
    pub message: String,
    /// The statement whose term was not finite (or could not be computed) at that point,
    /// if the model names its statements.
    pub statement: Option<String>,
    /// The unconstrained point where it happened.
    pub theta: Vec<f64>,
}

/// A [`Model`] whose panics are caught and turned into rejected points; see the
/// [module documentation](self).
pub struct Guarded<'a, M: ?Sized> {
    model: &'a M,
    faults: AtomicUsize,
    first: Mutex<Option<ModelFault>>,
}

impl<'a, M: Model + ?Sized> Guarded<'a, M> {
    /// Wraps `model`.
    pub fn new(model: &'a M) -> Self {
        install_hook();
        Guarded {
            model,
            faults: AtomicUsize::new(0),
            first: Mutex::new(None),
        }
    }

    /// How many calls panicked so far.
    pub fn faults(&self) -> usize {
        self.faults.load(Ordering::Relaxed)
    }

    /// The first panic seen, if any.
    pub fn first_fault(&self) -> Option<ModelFault> {
        self.first.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The error for a fit that found no usable point while the model panicked:
    /// [`FitError::ModelPanicked`] with the first fault, or `None` if the model never
    /// panicked (the caller's own error then stands).
    pub fn error(&self) -> Option<FitError> {
        self.first_fault().map(|f| FitError::ModelPanicked {
            message: f.message,
            statement: f.statement,
            faults: self.faults(),
        })
    }

    /// The diagnostics line for faults during a fit that succeeded anyway, e.g.
    /// "the model panicked at 3 points, which were rejected; the first: `..`".
    pub fn summary(&self) -> Option<String> {
        let f = self.first_fault()?;
        let n = self.faults();
        let mut s = format!(
            "the model panicked at {n} point{}, which {} rejected; the first: {}",
            if n == 1 { "" } else { "s" },
            if n == 1 { "was" } else { "were" },
            f.message
        );
        if let Some(st) = f.statement {
            s.push_str(&format!(", in `{st}`"));
        }
        Some(s)
    }

    fn record(&self, theta: &[f64], message: String) {
        self.faults.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            // The statement to blame: the first term that is not finite, or the first one
            // after the last that could be computed when computing them panics too.
            let statement = catch_silently(|| self.model.log_density_terms(theta))
                .ok()
                .and_then(|terms| {
                    terms
                        .into_iter()
                        .find(|(_, v)| !v.is_finite())
                        .map(|(s, _)| s)
                });
            *first = Some(ModelFault {
                message,
                statement,
                theta: theta.to_vec(),
            });
        }
    }
}

impl<M: Model + ?Sized> Model for Guarded<'_, M> {
    fn layout(&self) -> &ParamLayout {
        self.model.layout()
    }

    #[inline]
    fn log_density_grad(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        self.log_density_grad_jac(theta, grad, true)
    }

    #[inline]
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], jacobian: bool) -> f64 {
        match catch_hooked(|| self.model.log_density_grad_jac(theta, grad, jacobian)) {
            Ok(v) => v,
            Err(message) => {
                self.record(theta, message);
                grad.fill(f64::NAN);
                f64::NEG_INFINITY
            }
        }
    }

    fn log_density_jac(&self, theta: &[f64], jacobian: bool) -> f64 {
        match catch_hooked(|| self.model.log_density_jac(theta, jacobian)) {
            Ok(v) => v,
            Err(message) => {
                self.record(theta, message);
                f64::NEG_INFINITY
            }
        }
    }

    fn dim(&self) -> usize {
        self.model.dim()
    }

    fn log_density_terms(&self, theta: &[f64]) -> Vec<(String, f64)> {
        catch_silently(|| self.model.log_density_terms(theta)).unwrap_or_default()
    }

    fn constrain(&self, theta: &[f64], out: &mut [f64]) {
        if let Err(message) = catch_hooked(|| self.model.constrain(theta, out)) {
            self.record(theta, message);
            out.fill(f64::NAN);
        }
    }

    fn unconstrain(&self, x: &[f64], out: &mut [f64]) -> Result<(), OutsideSupport> {
        self.model.unconstrain(x, out)
    }

    fn derived_layout(&self) -> &ParamLayout {
        self.model.derived_layout()
    }

    fn derive(&self, x: &[f64], out: &mut [f64]) {
        if let Err(message) = catch_silently(|| self.model.derive(x, out)) {
            self.record(x, message);
            out.fill(f64::NAN);
        }
    }
}
