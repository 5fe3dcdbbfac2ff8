//! Which body is being written ([`Pass`]), and where in it ([`Mode`]).
//!
//! The emitter writes every body of the generated model from the one analysed model: the
//! five bodies of `impl Model` and the constructor (the log density, the per-statement
//! terms, the constructor's checking run, the posterior-predictive run and the `#[keep]`
//! values of a draw), the gradient, and inside the gradient's sweeps the recomputation of a
//! loop iteration or branch, its sweep, and values recomputed with no adjoint at all. A
//! statement asks its [`Pass`] what to write (`m.pass.adjoints()`, `m.pass == Pass::Build`,
//! or a `match`).

/// One generated body.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Pass {
    /// `log_density`: the density summed into `__lp`.
    Density,
    /// `log_density_terms`: each statement's term into its slot of `__terms`.
    Terms,
    /// The constructor's run: builds the layout, checks the data, sums the density.
    Build,
    /// `simulate`: samples each observation.
    Simulate,
    /// `derive`: the `#[keep]` values of a draw, no observation sampled.
    Derive,
    /// The gradient: the density, adjoints, immediate sweeps and deferred sweeps at the
    /// ends of blocks.
    Gradient,
    /// Inside a sweep: a loop iteration or a branch recomputed before it is swept, its
    /// values and adjoints declared, no density.
    Recompute,
    /// Inside a sweep: a loop without carried state or an `if` without joined state, run
    /// forward and swept at once, no density.
    Sweep,
    /// Values only, no adjoint and no density: the body of a loop or branch inside a
    /// recomputation or a sweep that no sweep needs.
    Values,
}

impl Pass {
    /// Writes adjoints, immediate sweeps, and deferred sweeps at block ends.
    pub(super) fn adjoints(self) -> bool {
        matches!(self, Pass::Gradient | Pass::Sweep)
    }

    /// Sums the log density (calls the kernels for their value), into `__lp` or, in
    /// [`Pass::Terms`], `__terms`.
    pub(super) fn density(self) -> bool {
        matches!(
            self,
            Pass::Density | Pass::Terms | Pass::Build | Pass::Gradient
        )
    }

    /// Declares adjoints of values and saves the state of carried loops (a later sweep
    /// needs them); every pass with [`Pass::adjoints`] does.
    pub(super) fn saves(self) -> bool {
        matches!(self, Pass::Gradient | Pass::Recompute | Pass::Sweep)
    }

    /// Runs the posterior predictive ([`Pass::Simulate`] or [`Pass::Derive`]): reads the
    /// latents constrained, sums no density.
    pub(super) fn simulates(self) -> bool {
        matches!(self, Pass::Simulate | Pass::Derive)
    }

    /// The same body without adjoints nor saves (a loop's or branch's body that no sweep
    /// needs): the gradient's is the density's, a recomputation's or sweep's is values.
    pub(super) fn forward_only(self) -> Pass {
        match self {
            Pass::Gradient => Pass::Density,
            Pass::Recompute | Pass::Sweep => Pass::Values,
            p => p,
        }
    }
}

/// A [`Pass`] and the regions of it whose element writes into state written in place keep
/// nothing or replay their log.
#[derive(Clone, Copy)]
pub(super) struct Mode {
    /// The body being written.
    pub(super) pass: Pass,
    /// Element writes into state written in place whose root (the `let mut` or whole
    /// assignment it starts from) is inside this region (a loop's or an `if`'s statement
    /// index, [`ALL`] for the whole body) keep nothing: this run is recomputed before it is
    /// swept.
    pub(super) plain_inside: Option<usize>,
    /// Element writes into state whose root is outside this region (a loop or `if` being
    /// recomputed for its sweep) replay writes already logged.
    pub(super) redo_outside: Option<usize>,
}

/// The whole body, as a region of [`Mode`].
pub(super) const ALL: usize = usize::MAX;

impl Mode {
    /// The whole body of `pass`: a pass that saves nothing for a sweep keeps nothing of its
    /// writes in place.
    pub(super) fn whole(pass: Pass) -> Mode {
        Mode {
            pass,
            plain_inside: if pass.saves() { None } else { Some(ALL) },
            redo_outside: None,
        }
    }

    /// A pass inside a sweep, on all of a block.
    pub(super) fn in_sweep(pass: Pass) -> Mode {
        Mode {
            pass,
            plain_inside: None,
            redo_outside: None,
        }
    }

    /// The recomputation of region `src` before its sweep: element writes into state from
    /// outside it replay their log.
    pub(super) fn recompute(src: usize) -> Mode {
        Mode {
            redo_outside: Some(src),
            ..Mode::in_sweep(Pass::Recompute)
        }
    }

    /// This mode without adjoints nor saves ([`Pass::forward_only`]).
    pub(super) fn forward_only(self) -> Mode {
        Mode {
            pass: self.pass.forward_only(),
            ..self
        }
    }

    /// The mode of a body run without adjoints (nor saves) inside region `src`: writes into
    /// state declared from there on keep nothing.
    pub(super) fn plain_in(self, src: usize) -> Mode {
        if self.pass.saves() || self.plain_inside.is_some() {
            self
        } else {
            Mode {
                plain_inside: Some(src),
                ..self
            }
        }
    }
}
