//! Which body is being written: the forward pass alone, with per-statement terms, the
//! constructor's checking run, the posterior-predictive run, or the gradient.

#[derive(Clone, Copy, Default)]
pub(super) struct Mode {
    /// Gradient: adjoints, immediate sweeps, deferred sweeps at block ends.
    pub(super) grad: bool,
    /// Accumulate the log density (call the kernels for their value).
    pub(super) lp: bool,
    /// Declare adjoints of values and save the state of carried loops (a later sweep needs them).
    pub(super) save: bool,
    /// Accumulate per-statement terms.
    pub(super) terms: bool,
    /// The constructor's run: build the layout, check the data.
    pub(super) build: bool,
    /// Posterior predictive: sample each observation.
    pub(super) sim: bool,
    /// With `sim`: compute the `#[keep]` values of a draw instead of sampling observations.
    pub(super) keep: bool,
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
    /// The mode of a body run without adjoints (nor saves) inside region `src`: writes into
    /// state declared from there on keep nothing.
    pub(super) fn plain_in(self, src: usize) -> Mode {
        if self.grad || self.save || self.plain_inside.is_some() {
            self
        } else {
            Mode {
                plain_inside: Some(src),
                ..self
            }
        }
    }
}
