// Longer than 800 lines: one self-contained section per distribution (values against scipy,
// partials against finite differences, the sampler against its CDF); a reader looks up one
// distribution, never reads the file through. The vocabulary's distributions are in
// `dist/vocab.rs`.
//! Distributions: log densities and CDFs against scipy.stats, every partial against central
//! finite differences, samplers against their CDFs (Kolmogorov-Smirnov / DKW), vector
//! kernels against sums of scalar densities, and invalid arguments as errors naming the value.

use rand::distr::Distribution;
use vi_runtime::check::gradient_mismatch;
use vi_runtime::dist::{self, *};
use vi_runtime::infer::{rng_for, Rng};
use vi_runtime::DistError;

mod cdf_beta;
mod scalar;
mod scipy_refs;
mod vocab;

/// Every tolerance of this file.
mod tol {
    /// Relative error of a log density against scipy.
    pub const LPDF: f64 = 1e-12;
    /// Relative error of a CDF against scipy (statrs' continued fractions, libm's erf): the
    /// lower tail to 1e-12 of its value, values near 1 to 1e-12 absolute.
    pub const CDF: f64 = 1e-12;
    /// Analytic partial against the central finite difference, relative to max(1, |fd|)
    /// (the harness's step is 1e-6, so the difference itself is good to ~1e-9).
    pub const GRAD: f64 = 1e-6;
    /// A vector kernel against the sum of scalar densities, relative to max(1, |sum|).
    pub const SUM: f64 = 1e-12;
    /// Significance level of each Kolmogorov-Smirnov / DKW test (fixed seeds: the outcome
    /// is deterministic; a false alarm would have had this probability).
    pub const KS_ALPHA: f64 = 1e-3;
    /// Draws per sampler test.
    pub const KS_DRAWS: usize = 4000;
}

type Buf<'a> = Option<&'a mut [f64]>;
type Fn1 = fn(&[f64], &[f64], Buf, Buf) -> f64;
type Fn2 = fn(&[f64], &[f64], &[f64], Buf, Buf, Buf) -> f64;
type Fn3 = fn(&[f64], &[f64], &[f64], &[f64], Buf, Buf, Buf, Buf) -> f64;

/// A kernel of any arity (the observation plus 1, 2 or 3 parameters).
#[derive(Clone, Copy)]
enum Kernel {
    K1(Fn1),
    K2(Fn2),
    K3(Fn3),
}

/// The value type behind a `dyn`: density, support, CDF and one draw.
trait Value: LogDensity + Cdf {
    fn draw(&self, rng: &mut Rng) -> f64;
}

impl<T: LogDensity + Cdf + Distribution<f64>> Value for T {
    fn draw(&self, rng: &mut Rng) -> f64 {
        self.sample(rng)
    }
}

fn bx<T: Value + 'static>(r: Result<T, DistError>) -> Result<Box<dyn Value>, DistError> {
    r.map(|v| Box::new(v) as Box<dyn Value>)
}

type MakeValue = fn(&[f64]) -> Result<Box<dyn Value>, DistError>;
type Check = fn(&[Option<&[f64]>]) -> Result<(), ArgError>;

/// One distribution, as the tests drive it.
struct Spec {
    name: &'static str,
    kernel: Kernel,
    /// Which arguments (the observation first) are real, i.e. have partials.
    real: &'static [bool],
    /// A random valid parameter vector (one value per parameter).
    params: fn(&mut Rng) -> Vec<f64>,
    /// A random observation in the support, given the parameters.
    obs: fn(&mut Rng, &[f64]) -> f64,
    /// The value type for scalar parameters.
    value: MakeValue,
    /// The kernel's sampler: parameters of length 1 or n, n draws.
    sample: fn(&mut Rng, &[&[f64]], usize) -> Vec<f64>,
    /// The kernel's data check, one optional slice per argument.
    check: Check,
    /// Parameters for the sampler tests.
    ks_params: &'static [f64],
    discrete: bool,
}

fn u(rng: &mut Rng, a: f64, b: f64) -> f64 {
    use rand::Rng as _;
    a + (b - a) * rng.random::<f64>()
}

fn int(rng: &mut Rng, lo: u64, hi: u64) -> f64 {
    use rand::Rng as _;
    rng.random_range(lo..=hi) as f64
}

fn specs() -> Vec<Spec> {
    use Kernel::*;
    const C2: &[bool] = &[true, true];
    const C3: &[bool] = &[true, true, true];
    vec![
        Spec {
            name: "Normal",
            kernel: K2(dist::normal::lpdf),
            real: C3,
            params: |r| vec![u(r, -2.0, 2.0), u(r, 0.5, 2.0)],
            obs: |r, p| p[0] + p[1] * u(r, -2.0, 2.0),
            value: |p| bx(Normal::new(p[0], p[1])),
            sample: |r, p, n| dist::normal::sample(r, p[0], p[1], n),
            check: |a| dist::normal::check(a[0], a[1], a[2]),
            ks_params: &[1.0, 2.0],
            discrete: false,
        },
        Spec {
            name: "HalfNormal",
            kernel: K1(dist::half_normal::lpdf),
            real: C2,
            params: |r| vec![u(r, 0.5, 2.0)],
            obs: |r, p| p[0] * u(r, 0.05, 2.5),
            value: |p| bx(HalfNormal::new(p[0])),
            sample: |r, p, n| dist::half_normal::sample(r, p[0], n),
            check: |a| dist::half_normal::check(a[0], a[1]),
            ks_params: &[1.5],
            discrete: false,
        },
        Spec {
            name: "LogNormal",
            kernel: K2(dist::log_normal::lpdf),
            real: C3,
            params: |r| vec![u(r, -1.0, 1.0), u(r, 0.5, 1.5)],
            obs: |r, p| (p[0] + p[1] * u(r, -2.0, 2.0)).exp(),
            value: |p| bx(LogNormal::new(p[0], p[1])),
            sample: |r, p, n| dist::log_normal::sample(r, p[0], p[1], n),
            check: |a| dist::log_normal::check(a[0], a[1], a[2]),
            ks_params: &[0.5, 0.8],
            discrete: false,
        },
        Spec {
            name: "StudentT",
            kernel: K3(dist::student_t::lpdf),
            real: &[true, true, true, true],
            params: |r| vec![u(r, 1.0, 10.0), u(r, -2.0, 2.0), u(r, 0.5, 2.0)],
            obs: |r, p| p[1] + p[2] * u(r, -3.0, 3.0),
            value: |p| bx(StudentT::new(p[0], p[1], p[2])),
            sample: |r, p, n| dist::student_t::sample(r, p[0], p[1], p[2], n),
            check: |a| dist::student_t::check(a[0], a[1], a[2], a[3]),
            ks_params: &[3.0, 1.0, 2.0],
            discrete: false,
        },
        Spec {
            name: "HalfStudentT",
            kernel: K2(dist::half_student_t::lpdf),
            real: C3,
            params: |r| vec![u(r, 1.0, 10.0), u(r, 0.5, 2.0)],
            obs: |r, p| p[1] * u(r, 0.05, 3.0),
            value: |p| bx(HalfStudentT::new(p[0], p[1])),
            sample: |r, p, n| dist::half_student_t::sample(r, p[0], p[1], n),
            check: |a| dist::half_student_t::check(a[0], a[1], a[2]),
            ks_params: &[4.0, 1.5],
            discrete: false,
        },
        Spec {
            name: "Cauchy",
            kernel: K2(dist::cauchy::lpdf),
            real: C3,
            params: |r| vec![u(r, -2.0, 2.0), u(r, 0.5, 2.0)],
            obs: |r, p| p[0] + p[1] * u(r, -5.0, 5.0),
            value: |p| bx(Cauchy::new(p[0], p[1])),
            sample: |r, p, n| dist::cauchy::sample(r, p[0], p[1], n),
            check: |a| dist::cauchy::check(a[0], a[1], a[2]),
            ks_params: &[-1.0, 0.5],
            discrete: false,
        },
        Spec {
            name: "HalfCauchy",
            kernel: K1(dist::half_cauchy::lpdf),
            real: C2,
            params: |r| vec![u(r, 0.5, 2.0)],
            obs: |r, p| p[0] * u(r, 0.05, 5.0),
            value: |p| bx(HalfCauchy::new(p[0])),
            sample: |r, p, n| dist::half_cauchy::sample(r, p[0], n),
            check: |a| dist::half_cauchy::check(a[0], a[1]),
            ks_params: &[2.0],
            discrete: false,
        },
        Spec {
            name: "Laplace",
            kernel: K2(dist::laplace::lpdf),
            real: C3,
            params: |r| vec![u(r, -2.0, 2.0), u(r, 0.5, 2.0)],
            // Away from the kink at y = mu, where there is no derivative.
            obs: |r, p| {
                let side = if u(r, 0.0, 1.0) < 0.5 { -1.0 } else { 1.0 };
                p[0] + side * p[1] * u(r, 0.1, 3.0)
            },
            value: |p| bx(Laplace::new(p[0], p[1])),
            sample: |r, p, n| dist::laplace::sample(r, p[0], p[1], n),
            check: |a| dist::laplace::check(a[0], a[1], a[2]),
            ks_params: &[1.0, 0.7],
            discrete: false,
        },
        Spec {
            name: "Exponential",
            kernel: K1(dist::exponential::lpdf),
            real: C2,
            params: |r| vec![u(r, 0.5, 3.0)],
            obs: |r, p| u(r, 0.05, 3.0) / p[0],
            value: |p| bx(Exponential::new(p[0])),
            sample: |r, p, n| dist::exponential::sample(r, p[0], n),
            check: |a| dist::exponential::check(a[0], a[1]),
            ks_params: &[2.5],
            discrete: false,
        },
        Spec {
            name: "Gamma",
            kernel: K2(dist::gamma::lpdf),
            real: C3,
            params: |r| vec![u(r, 0.5, 5.0), u(r, 0.5, 3.0)],
            obs: |r, p| u(r, 0.1, 3.0) * p[0] / p[1],
            value: |p| bx(Gamma::new(p[0], p[1])),
            sample: |r, p, n| dist::gamma::sample(r, p[0], p[1], n),
            check: |a| dist::gamma::check(a[0], a[1], a[2]),
            ks_params: &[2.5, 1.5],
            discrete: false,
        },
        Spec {
            name: "InverseGamma",
            kernel: K2(dist::inverse_gamma::lpdf),
            real: C3,
            params: |r| vec![u(r, 0.5, 5.0), u(r, 0.5, 3.0)],
            obs: |r, p| u(r, 0.1, 3.0) * p[1] / p[0],
            value: |p| bx(InverseGamma::new(p[0], p[1])),
            sample: |r, p, n| dist::inverse_gamma::sample(r, p[0], p[1], n),
            check: |a| dist::inverse_gamma::check(a[0], a[1], a[2]),
            ks_params: &[3.0, 2.0],
            discrete: false,
        },
        Spec {
            name: "Beta",
            kernel: K2(dist::beta::lpdf),
            real: C3,
            params: |r| vec![u(r, 0.5, 5.0), u(r, 0.5, 5.0)],
            obs: |r, _| u(r, 0.05, 0.95),
            value: |p| bx(Beta::new(p[0], p[1])),
            sample: |r, p, n| dist::beta::sample(r, p[0], p[1], n),
            check: |a| dist::beta::check(a[0], a[1], a[2]),
            ks_params: &[2.5, 0.7],
            discrete: false,
        },
        Spec {
            name: "Uniform",
            kernel: K2(dist::uniform::lpdf),
            real: C3,
            params: |r| {
                let l = u(r, -2.0, 0.0);
                vec![l, l + u(r, 1.0, 3.0)]
            },
            obs: |r, p| p[0] + (p[1] - p[0]) * u(r, 0.1, 0.9),
            value: |p| bx(Uniform::new(p[0], p[1])),
            sample: |r, p, n| dist::uniform::sample(r, p[0], p[1], n),
            check: |a| dist::uniform::check(a[0], a[1], a[2]),
            ks_params: &[-1.0, 3.0],
            discrete: false,
        },
        Spec {
            name: "Bernoulli",
            kernel: K1(dist::bernoulli::lpdf),
            real: &[false, true],
            params: |r| vec![u(r, 0.05, 0.95)],
            obs: |r, _| int(r, 0, 1),
            value: |p| bx(Bernoulli::new(p[0])),
            sample: |r, p, n| dist::bernoulli::sample(r, p[0], n),
            check: |a| dist::bernoulli::check(a[0], a[1]),
            ks_params: &[0.3],
            discrete: true,
        },
        Spec {
            name: "BernoulliLogit",
            kernel: K1(dist::bernoulli_logit::lpdf),
            real: &[false, true],
            params: |r| vec![u(r, -3.0, 3.0)],
            obs: |r, _| int(r, 0, 1),
            value: |p| bx(BernoulliLogit::new(p[0])),
            sample: |r, p, n| dist::bernoulli_logit::sample(r, p[0], n),
            check: |a| dist::bernoulli_logit::check(a[0], a[1]),
            ks_params: &[2.0],
            discrete: true,
        },
        Spec {
            name: "Binomial",
            kernel: K2(dist::binomial::lpdf),
            real: &[false, false, true],
            params: |r| vec![int(r, 1, 30), u(r, 0.05, 0.95)],
            obs: |r, p| int(r, 0, p[0] as u64),
            value: |p| bx(Binomial::new(p[0] as u64, p[1])),
            sample: |r, p, n| dist::binomial::sample(r, p[0], p[1], n),
            check: |a| dist::binomial::check(a[0], a[1], a[2]),
            ks_params: &[20.0, 0.3],
            discrete: true,
        },
        Spec {
            name: "BinomialLogit",
            kernel: K2(dist::binomial_logit::lpdf),
            real: &[false, false, true],
            params: |r| vec![int(r, 1, 30), u(r, -3.0, 3.0)],
            obs: |r, p| int(r, 0, p[0] as u64),
            value: |p| bx(BinomialLogit::new(p[0] as u64, p[1])),
            sample: |r, p, n| dist::binomial_logit::sample(r, p[0], p[1], n),
            check: |a| dist::binomial_logit::check(a[0], a[1], a[2]),
            ks_params: &[20.0, -0.5],
            discrete: true,
        },
        Spec {
            name: "Poisson",
            kernel: K1(dist::poisson::lpdf),
            real: &[false, true],
            params: |r| vec![u(r, 0.5, 10.0)],
            obs: |r, _| int(r, 0, 20),
            value: |p| bx(Poisson::new(p[0])),
            sample: |r, p, n| dist::poisson::sample(r, p[0], n),
            check: |a| dist::poisson::check(a[0], a[1]),
            ks_params: &[3.5],
            discrete: true,
        },
        Spec {
            name: "PoissonLog",
            kernel: K1(dist::poisson_log::lpdf),
            real: &[false, true],
            params: |r| vec![u(r, -1.0, 2.0)],
            obs: |r, _| int(r, 0, 20),
            value: |p| bx(PoissonLog::new(p[0])),
            sample: |r, p, n| dist::poisson_log::sample(r, p[0], n),
            check: |a| dist::poisson_log::check(a[0], a[1]),
            ks_params: &[1.2],
            discrete: true,
        },
    ]
}

fn spec(name: &str) -> Spec {
    specs()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no spec named {name}"))
}

/// The kernel at `args` (observation first), with a partial buffer for each argument whose
/// `want` is true: `(log density, partials)` (zeros where not wanted).
fn eval(k: Kernel, args: &[Vec<f64>], want: &[bool]) -> (f64, Vec<Vec<f64>>) {
    let mut grads: Vec<Vec<f64>> = args.iter().map(|a| vec![0.0; a.len()]).collect();
    let lp = {
        let mut bufs =
            grads
                .iter_mut()
                .zip(want)
                .map(|(g, &w)| if w { Some(g.as_mut_slice()) } else { None });
        let mut b = || bufs.next().expect("one buffer per argument");
        match k {
            Kernel::K1(f) => f(&args[0], &args[1], b(), b()),
            Kernel::K2(f) => f(&args[0], &args[1], &args[2], b(), b(), b()),
            Kernel::K3(f) => f(&args[0], &args[1], &args[2], &args[3], b(), b(), b(), b()),
        }
    };
    (lp, grads)
}

fn rel_close(a: f64, e: f64, tol: f64) -> bool {
    if e == 0.0 {
        a == 0.0
    } else {
        (a - e).abs() <= tol * e.abs()
    }
}

const LPDF_REF: &[(&str, &[f64], f64, f64)] = &[
    ("Normal", &[1.0, 2.0], 0.0, -1.737085713764618), // scipy.stats.norm(loc=1, scale=2).logpdf(0.0)
    ("Normal", &[1.0, 2.0], 3.5, -2.393335713764618), // scipy.stats.norm(loc=1, scale=2).logpdf(3.5)
    ("Normal", &[1.0, 2.0], 40.0, -191.73708571376463), // scipy.stats.norm(loc=1, scale=2).logpdf(40.0)
    ("Normal", &[-3.0, 0.1], -3.0, 1.3836465597893728), // scipy.stats.norm(loc=-3, scale=0.1).logpdf(-3.0)
    ("HalfNormal", &[1.5], 0.3, -0.6512564607528918), // scipy.stats.halfnorm(scale=1.5).logpdf(0.3)
    ("HalfNormal", &[1.5], 2.0, -1.5201453496417807), // scipy.stats.halfnorm(scale=1.5).logpdf(2.0)
    ("HalfNormal", &[1.5], 30.0, -200.6312564607529), // scipy.stats.halfnorm(scale=1.5).logpdf(30.0)
    ("HalfNormal", &[1.5], 0.0, -0.6312564607528918), // scipy.stats.halfnorm(scale=1.5).logpdf(0.0)
    ("LogNormal", &[0.5, 0.8], 1.2, -0.9569599709327117), // scipy.stats.lognorm(s=0.8, scale=np.exp(0.5)).logpdf(1.2)
    ("LogNormal", &[0.5, 0.8], 0.01, -16.452158098950562), // scipy.stats.lognorm(s=0.8, scale=np.exp(0.5)).logpdf(0.01)
    ("LogNormal", &[0.5, 0.8], 500.0, -32.42348567293179), // scipy.stats.lognorm(s=0.8, scale=np.exp(0.5)).logpdf(500.0)
    ("StudentT", &[3.0, 1.0, 2.0], 0.0, -1.8541214455305277), // scipy.stats.t(df=3, loc=1, scale=2).logpdf(0.0)
    ("StudentT", &[3.0, 1.0, 2.0], 1.5, -1.7352746045889265), // scipy.stats.t(df=3, loc=1, scale=2).logpdf(1.5)
    ("StudentT", &[3.0, 1.0, 2.0], 10000.0, -33.565184438558845), // scipy.stats.t(df=3, loc=1, scale=2).logpdf(10000.0)
    ("StudentT", &[30.0, -1.0, 0.5], 2.0, -12.45521223046509), // scipy.stats.t(df=30, loc=-1, scale=0.5).logpdf(2.0)
    ("StudentT", &[0.7, 0.0, 1.0], -50.0, -8.175864359885438), // scipy.stats.t(df=0.7).logpdf(-50.0)
    ("HalfStudentT", &[4.0, 1.5], 0.5, -0.7616446160302314), // np.log(2) + scipy.stats.t(df=4, scale=1.5).logpdf(0.5)
    ("HalfStudentT", &[4.0, 1.5], 3.0, -2.426015131959809), // np.log(2) + scipy.stats.t(df=4, scale=1.5).logpdf(3.0)
    ("HalfStudentT", &[4.0, 1.5], 1000.0, -29.738884632028835), // np.log(2) + scipy.stats.t(df=4, scale=1.5).logpdf(1000.0)
    ("Cauchy", &[-1.0, 0.5], 0.0, -2.061020617723555), // scipy.stats.cauchy(loc=-1, scale=0.5).logpdf(0.0)
    ("Cauchy", &[-1.0, 0.5], -1.0, -0.4515827052894549), // scipy.stats.cauchy(loc=-1, scale=0.5).logpdf(-1.0)
    ("Cauchy", &[-1.0, 0.5], 1000000.0, -29.468900182337144), // scipy.stats.cauchy(loc=-1, scale=0.5).logpdf(1000000.0)
    ("HalfCauchy", &[2.0], 0.1, -1.1472267660479873), // scipy.stats.halfcauchy(scale=2).logpdf(0.1)
    ("HalfCauchy", &[2.0], 2.0, -1.8378770664093453), // scipy.stats.halfcauchy(scale=2).logpdf(2.0)
    ("HalfCauchy", &[2.0], 100000000.0, -36.59979701263424), // scipy.stats.halfcauchy(scale=2).logpdf(100000000.0)
    ("Laplace", &[1.0, 0.7], 1.0, -0.33647223662121284), // scipy.stats.laplace(loc=1, scale=0.7).logpdf(1.0)
    ("Laplace", &[1.0, 0.7], -2.0, -4.6221865223354985), // scipy.stats.laplace(loc=1, scale=0.7).logpdf(-2.0)
    ("Laplace", &[1.0, 0.7], 100.0, -141.76504366519265), // scipy.stats.laplace(loc=1, scale=0.7).logpdf(100.0)
    ("Exponential", &[2.5], 0.1, 0.666290731874155), // scipy.stats.expon(scale=1/2.5).logpdf(0.1)
    ("Exponential", &[2.5], 1.0, -1.583709268125845), // scipy.stats.expon(scale=1/2.5).logpdf(1.0)
    ("Exponential", &[2.5], 300.0, -749.0837092681259), // scipy.stats.expon(scale=1/2.5).logpdf(300.0)
    ("Exponential", &[2.5], 0.0, 0.916290731874155), // scipy.stats.expon(scale=1/2.5).logpdf(0.0)
    ("Gamma", &[2.5, 1.5], 0.5, -1.0607408710424262), // scipy.stats.gamma(a=2.5, scale=1/1.5).logpdf(0.5)
    ("Gamma", &[2.5, 1.5], 3.0, -2.1231016672003435), // scipy.stats.gamma(a=2.5, scale=1/1.5).logpdf(3.0)
    ("Gamma", &[2.5, 1.5], 200.0, -291.32354405038046), // scipy.stats.gamma(a=2.5, scale=1/1.5).logpdf(200.0)
    ("Gamma", &[2.5, 1.5], 1e-08, -26.902041231131058), // scipy.stats.gamma(a=2.5, scale=1/1.5).logpdf(1e-08)
    ("Gamma", &[0.3, 4.0], 0.02, 1.9785064173175937), // scipy.stats.gamma(a=0.3, scale=1/4).logpdf(0.02)
    ("InverseGamma", &[3.0, 2.0], 0.5, 0.1588830833596716), // scipy.stats.invgamma(a=3, scale=2).logpdf(0.5)
    ("InverseGamma", &[3.0, 2.0], 2.0, -2.386294361119891), // scipy.stats.invgamma(a=3, scale=2).logpdf(2.0)
    ("InverseGamma", &[3.0, 2.0], 10000.0, -35.45526712678485), // scipy.stats.invgamma(a=3, scale=2).logpdf(10000.0)
    ("InverseGamma", &[3.0, 2.0], 0.01, -180.19302489492776), // scipy.stats.invgamma(a=3, scale=2).logpdf(0.01)
    ("Beta", &[2.5, 0.7], 0.3, -1.3591020131569618), // scipy.stats.beta(a=2.5, b=0.7).logpdf(0.3)
    ("Beta", &[2.5, 0.7], 0.999999, 4.484506377530229), // scipy.stats.beta(a=2.5, b=0.7).logpdf(0.999999)
    ("Beta", &[2.5, 0.7], 1e-09, -30.745044044969294), // scipy.stats.beta(a=2.5, b=0.7).logpdf(1e-09)
    ("Beta", &[0.5, 0.5], 0.5, -0.45158270528945466),  // scipy.stats.beta(a=0.5, b=0.5).logpdf(0.5)
    ("Beta", &[200.0, 300.0], 0.9, -371.45957235566254), // scipy.stats.beta(a=200, b=300).logpdf(0.9)
    ("Uniform", &[-1.0, 3.0], 0.0, -1.3862943611198906), // scipy.stats.uniform(loc=-1, scale=4).logpdf(0.0)
    ("Uniform", &[-1.0, 3.0], 2.9, -1.3862943611198906), // scipy.stats.uniform(loc=-1, scale=4).logpdf(2.9)
    ("Uniform", &[-1.0, 3.0], -1.0, -1.3862943611198906), // scipy.stats.uniform(loc=-1, scale=4).logpdf(-1.0)
    ("Uniform", &[-1.0, 3.0], 3.0, -1.3862943611198906), // scipy.stats.uniform(loc=-1, scale=4).logpdf(3.0)
    ("Bernoulli", &[0.3], 0.0, -0.35667494393873245),    // scipy.stats.bernoulli(p=0.3).logpmf(0)
    ("Bernoulli", &[0.3], 1.0, -1.2039728043259361),     // scipy.stats.bernoulli(p=0.3).logpmf(1)
    ("Bernoulli", &[1e-12], 1.0, -27.631021115928547),   // scipy.stats.bernoulli(p=1e-12).logpmf(1)
    ("Bernoulli", &[1e-12], 0.0, -1.0000000000005e-12),  // scipy.stats.bernoulli(p=1e-12).logpmf(0)
    ("BernoulliLogit", &[2.0], 0.0, -2.1269280110429714), // scipy.stats.bernoulli(p=scipy.special.expit(2.0)).logpmf(0)
    ("BernoulliLogit", &[2.0], 1.0, -0.12692801104297263), // scipy.stats.bernoulli(p=scipy.special.expit(2.0)).logpmf(1)
    ("BernoulliLogit", &[-40.0], 1.0, -40.0), // scipy.stats.bernoulli(p=scipy.special.expit(-40.0)).logpmf(1)
    ("BernoulliLogit", &[40.0], 0.0, -40.0), // scipy.special.log_expit(-40.0) (= bernoulli(expit(40)).logpmf(0) without cancellation)
    ("Binomial", &[20.0, 0.3], 0.0, -7.133498878774649), // scipy.stats.binom(n=20, p=0.3).logpmf(0)
    ("Binomial", &[20.0, 0.3], 6.0, -1.6521419750931727), // scipy.stats.binom(n=20, p=0.3).logpmf(6)
    ("Binomial", &[20.0, 0.3], 20.0, -24.07945608651872), // scipy.stats.binom(n=20, p=0.3).logpmf(20)
    ("Binomial", &[1000.0, 0.01], 100.0, -147.649033433695), // scipy.stats.binom(n=1000, p=0.01).logpmf(100)
    ("Binomial", &[5.0, 0.0], 0.0, 0.0), // scipy.stats.binom(n=5, p=0).logpmf(0)
    ("Binomial", &[5.0, 1.0], 5.0, 0.0), // scipy.stats.binom(n=5, p=1).logpmf(5)
    ("BinomialLogit", &[20.0, -0.5], 3.0, -3.942756142213594), // scipy.stats.binom(n=20, p=scipy.special.expit(-0.5)).logpmf(3)
    ("BinomialLogit", &[20.0, -0.5], 15.0, -7.332686349471593), // scipy.stats.binom(n=20, p=scipy.special.expit(-0.5)).logpmf(15)
    ("BinomialLogit", &[20.0, 30.0], 0.0, -600.0000000000018), // 20 * scipy.special.log_expit(-30.0) (= binom(20, expit(30)).logpmf(0) without cancellation)
    ("BinomialLogit", &[50.0, -3.0], 7.0, -5.00984350341812), // scipy.stats.binom(n=50, p=scipy.special.expit(-3.0)).logpmf(7)
    ("Poisson", &[3.5], 0.0, -3.5), // scipy.stats.poisson(mu=3.5).logpmf(0)
    ("Poisson", &[3.5], 4.0, -1.6670019563664735), // scipy.stats.poisson(mu=3.5).logpmf(4)
    ("Poisson", &[3.5], 60.0, -116.96239531394954), // scipy.stats.poisson(mu=3.5).logpmf(60)
    ("Poisson", &[0.001], 5.0, -39.32726813769273), // scipy.stats.poisson(mu=1e-3).logpmf(5)
    ("PoissonLog", &[1.2], 0.0, -3.3201169227365472), // scipy.stats.poisson(mu=np.exp(1.2)).logpmf(0)
    ("PoissonLog", &[1.2], 3.0, -1.5118763919646026), // scipy.stats.poisson(mu=np.exp(1.2)).logpmf(3)
    ("PoissonLog", &[1.2], 80.0, -180.9932412084303), // scipy.stats.poisson(mu=np.exp(1.2)).logpmf(80)
    ("PoissonLog", &[-20.0], 2.0, -40.693147182621104), // scipy.stats.poisson(mu=np.exp(-20.0)).logpmf(2)
];
const CDF_REF: &[(&str, &[f64], f64, f64)] = &[
    // Tails.
    ("StudentT", &[3.0, 1.0, 2.0], -1e4, 8.818615207611516e-12), // scipy.stats.t(df=3, loc=1, scale=2).cdf(-1e4)
    ("StudentT", &[3.0, 1.0, 2.0], 1e4, 0.9999999999911761), // scipy.stats.t(df=3, loc=1, scale=2).cdf(1e4)
    ("Beta", &[2.5, 0.7], 1e-6, 5.618975127135476e-16), // scipy.stats.beta(a=2.5, b=0.7).cdf(1e-6)
    ("Beta", &[2.5, 0.7], 0.999999999, 0.9999989942293076), // scipy.stats.beta(a=2.5, b=0.7).cdf(1-1e-9)
    ("Binomial", &[1000.0, 0.01], 30.0, 0.999999935800714), // scipy.stats.binom(n=1000, p=0.01).cdf(30)
    ("LogNormal", &[0.5, 0.8], 1e-3, 1.0250936527460275e-20), // scipy.stats.lognorm(s=0.8, scale=np.exp(0.5)).cdf(1e-3)
    ("Normal", &[1.0, 2.0], -30.0, 1.7344607917938203e-54), // scipy.stats.norm(loc=1, scale=2).cdf(-30)
    ("HalfNormal", &[1.5], 1e-9, 5.319230405352436e-10), // scipy.stats.halfnorm(scale=1.5).cdf(1e-9)
    ("Cauchy", &[-1.0, 0.5], -1e6, 1.5915510224698432e-07), // scipy.stats.cauchy(loc=-1, scale=0.5).cdf(-1e6)
    ("Normal", &[1.0, 2.0], -1.0, 0.15865525393145707), // scipy.stats.norm(loc=1, scale=2).cdf(-1.0)
    ("Normal", &[1.0, 2.0], 2.5, 0.7733726476231317),   // scipy.stats.norm(loc=1, scale=2).cdf(2.5)
    ("HalfNormal", &[1.5], 0.5, 0.26111731963647267),   // scipy.stats.halfnorm(scale=1.5).cdf(0.5)
    ("HalfNormal", &[1.5], 4.0, 0.9923392388648206),    // scipy.stats.halfnorm(scale=1.5).cdf(4.0)
    ("LogNormal", &[0.5, 0.8], 0.7, 0.1421198615089455), // scipy.stats.lognorm(s=0.8, scale=np.exp(0.5)).cdf(0.7)
    ("LogNormal", &[0.5, 0.8], 5.0, 0.9172482234787089), // scipy.stats.lognorm(s=0.8, scale=np.exp(0.5)).cdf(5.0)
    ("StudentT", &[3.0, 1.0, 2.0], -3.0, 0.06966298427942152), // scipy.stats.t(df=3, loc=1, scale=2).cdf(-3.0)
    ("StudentT", &[3.0, 1.0, 2.0], 1.5, 0.5906353887855852), // scipy.stats.t(df=3, loc=1, scale=2).cdf(1.5)
    ("StudentT", &[3.0, 1.0, 2.0], 8.0, 0.9802594811903587), // scipy.stats.t(df=3, loc=1, scale=2).cdf(8.0)
    ("HalfStudentT", &[4.0, 1.5], 0.5, 0.24437687302147704), // 2 * scipy.stats.t(df=4, scale=1.5).cdf(0.5) - 1
    ("HalfStudentT", &[4.0, 1.5], 6.0, 0.9838699100999075), // 2 * scipy.stats.t(df=4, scale=1.5).cdf(6.0) - 1
    ("Cauchy", &[-1.0, 0.5], -3.0, 0.07797913037736932), // scipy.stats.cauchy(loc=-1, scale=0.5).cdf(-3.0)
    ("Cauchy", &[-1.0, 0.5], 0.0, 0.8524163823495667), // scipy.stats.cauchy(loc=-1, scale=0.5).cdf(0.0)
    ("HalfCauchy", &[2.0], 0.5, 0.15595826075473865),  // scipy.stats.halfcauchy(scale=2).cdf(0.5)
    ("HalfCauchy", &[2.0], 10.0, 0.8743340836219977),  // scipy.stats.halfcauchy(scale=2).cdf(10.0)
    ("Laplace", &[1.0, 0.7], 0.0, 0.1198255182208879), // scipy.stats.laplace(loc=1, scale=0.7).cdf(0.0)
    ("Laplace", &[1.0, 0.7], 2.5, 0.9413404169528746), // scipy.stats.laplace(loc=1, scale=0.7).cdf(2.5)
    ("Exponential", &[2.5], 0.01, 0.02469008797166733), // scipy.stats.expon(scale=1/2.5).cdf(0.01)
    ("Exponential", &[2.5], 1.0, 0.9179150013761012),  // scipy.stats.expon(scale=1/2.5).cdf(1.0)
    ("Gamma", &[2.5, 1.5], 0.5, 0.08693018545560456), // scipy.stats.gamma(a=2.5, scale=1/1.5).cdf(0.5)
    ("Gamma", &[2.5, 1.5], 3.0, 0.8909358420502275), // scipy.stats.gamma(a=2.5, scale=1/1.5).cdf(3.0)
    ("Gamma", &[0.1, 1.0], 1e-16, 0.02640336783309775), // scipy.stats.gamma(a=0.1).cdf(1e-16)
    ("Gamma", &[0.5, 2.0], 1e-5, 0.005046231402475212), // scipy.stats.gamma(a=0.5, scale=1/2).cdf(1e-5)
    ("Gamma", &[2.0, 10.0], 1e308, 1.0), // scipy.stats.gamma(a=2, scale=1/10).cdf(1e308)
    ("InverseGamma", &[3.0, 2.0], 0.5, 0.23810330555354436), // scipy.stats.invgamma(a=3, scale=2).cdf(0.5)
    ("InverseGamma", &[3.0, 2.0], 2.0, 0.9196986029286058), // scipy.stats.invgamma(a=3, scale=2).cdf(2.0)
    ("InverseGamma", &[0.1, 1.0], 1e16, 0.9735966321669023), // scipy.stats.invgamma(a=0.1, scale=1).cdf(1e16)
    ("InverseGamma", &[3.0, 2.0], 1e-308, 0.0), // scipy.stats.invgamma(a=3, scale=2).cdf(1e-308)
    ("Beta", &[2.5, 0.7], 0.3, 0.029814024845250465), // scipy.stats.beta(a=2.5, b=0.7).cdf(0.3)
    ("Beta", &[2.5, 0.7], 0.9, 0.6239321729007935), // scipy.stats.beta(a=2.5, b=0.7).cdf(0.9)
    ("Uniform", &[-1.0, 3.0], 0.0, 0.25),       // scipy.stats.uniform(loc=-1, scale=4).cdf(0.0)
    ("Uniform", &[-1.0, 3.0], 2.9, 0.975),      // scipy.stats.uniform(loc=-1, scale=4).cdf(2.9)
    ("Bernoulli", &[0.3], 0.0, 0.7),            // scipy.stats.bernoulli(p=0.3).cdf(0.0)
    ("Bernoulli", &[0.3], 0.5, 0.7),            // scipy.stats.bernoulli(p=0.3).cdf(0.5)
    ("Bernoulli", &[0.3], 1.0, 1.0),            // scipy.stats.bernoulli(p=0.3).cdf(1.0)
    ("BernoulliLogit", &[2.0], 0.0, 0.11920292202211769), // scipy.stats.bernoulli(p=scipy.special.expit(2.0)).cdf(0.0)
    ("Binomial", &[20.0, 0.3], 3.0, 0.10708680450373087), // scipy.stats.binom(n=20, p=0.3).cdf(3.0)
    ("Binomial", &[20.0, 0.3], 6.0, 0.6080098122009244),  // scipy.stats.binom(n=20, p=0.3).cdf(6.0)
    ("Binomial", &[20.0, 0.3], 6.5, 0.6080098122009244),  // scipy.stats.binom(n=20, p=0.3).cdf(6.5)
    ("Binomial", &[20.0, 0.3], 12.0, 0.9987211203957798), // scipy.stats.binom(n=20, p=0.3).cdf(12.0)
    ("BinomialLogit", &[20.0, -0.5], 3.0, 0.025725254520777355), // scipy.stats.binom(n=20, p=scipy.special.expit(-0.5)).cdf(3.0)
    ("BinomialLogit", &[20.0, -0.5], 10.0, 0.9114770332509914), // scipy.stats.binom(n=20, p=scipy.special.expit(-0.5)).cdf(10.0)
    ("Poisson", &[3.5], 0.0, 0.0301973834223185), // scipy.stats.poisson(mu=3.5).cdf(0.0)
    ("Poisson", &[3.5], 2.0, 0.32084719886213414), // scipy.stats.poisson(mu=3.5).cdf(2.0)
    ("Poisson", &[3.5], 7.0, 0.9732610779086803), // scipy.stats.poisson(mu=3.5).cdf(7.0)
    ("Poisson", &[1e-5], 0.0, 0.9999900000499998), // scipy.stats.poisson(mu=1e-5).cdf(0)
    ("PoissonLog", &[1.2], 1.0, 0.15616619981855429), // scipy.stats.poisson(mu=np.exp(1.2)).cdf(1.0)
    ("PoissonLog", &[1.2], 4.0, 0.7589162798129552), // scipy.stats.poisson(mu=np.exp(1.2)).cdf(4.0)
];

/// Element `i` of a broadcast argument.
fn at(xs: &[f64], i: usize) -> f64 {
    if xs.len() == 1 {
        xs[0]
    } else {
        xs[i]
    }
}

/// The parameters of element `i` (arguments 1..) as scalars.
fn params_at(args: &[Vec<f64>], i: usize) -> Vec<f64> {
    args[1..].iter().map(|a| at(a, i)).collect()
}

/// Random arguments for `n` elements: argument `j` is a broadcast scalar when bit `j` of
/// `mask` is set, else a vector of length `n`. Every element's observation lies in the
/// support of that element's parameters.
fn random_args(s: &Spec, rng: &mut Rng, n: usize, mask: u32) -> Vec<Vec<f64>> {
    let k = s.real.len();
    'retry: loop {
        let points: Vec<Vec<f64>> = (0..n).map(|_| (s.params)(rng)).collect();
        let mut args = vec![Vec::new(); k];
        for (j, arg) in args.iter_mut().enumerate().skip(1) {
            *arg = if mask >> j & 1 == 1 {
                vec![points[0][j - 1]]
            } else {
                points.iter().map(|p| p[j - 1]).collect()
            };
        }
        let m = if mask & 1 == 1 { 1 } else { n };
        args[0] = (0..m).map(|i| (s.obs)(rng, &params_at(&args, i))).collect();
        for i in 0..n {
            let v = (s.value)(&params_at(&args, i)).expect("valid random parameters");
            if !v.ln_density(at(&args[0], i)).is_finite() {
                continue 'retry;
            }
        }
        return args;
    }
}

#[test]
fn log_densities_match_scipy() {
    for &(name, params, y, expected) in LPDF_REF {
        let s = spec(name);
        let v = (s.value)(params).unwrap();
        let got = v.ln_density(y);
        assert!(
            rel_close(got, expected, tol::LPDF),
            "{name}{params:?} at {y}: {got} vs scipy {expected}"
        );
        let mut args = vec![vec![y]];
        args.extend(params.iter().map(|&p| vec![p]));
        let (lp, _) = eval(s.kernel, &args, &vec![false; args.len()]);
        assert!(
            rel_close(lp, expected, tol::LPDF),
            "{name}{params:?} kernel at {y}: {lp} vs scipy {expected}"
        );
    }
    // Every distribution has at least three reference points.
    for s in specs() {
        let n = LPDF_REF.iter().filter(|r| r.0 == s.name).count();
        assert!(n >= 3, "{} has {n} reference points", s.name);
    }
}

#[test]
fn cdfs_match_scipy() {
    for &(name, params, y, expected) in CDF_REF {
        let got = (spec(name).value)(params).unwrap().cdf(y);
        assert!(
            rel_close(got, expected, tol::CDF),
            "{name}{params:?} cdf at {y}: {got} vs scipy {expected}"
        );
    }
    for s in specs() {
        assert!(
            CDF_REF.iter().any(|r| r.0 == s.name),
            "{} has no CDF reference",
            s.name
        );
    }
}

/// Every broadcast pattern (each argument scalar or vector) of every kernel: the partials
/// against finite differences, partial subsets against the full call, integer arguments'
/// buffers untouched, and the value against the sum of scalar densities.
#[test]
fn kernels_partials_and_broadcasting() {
    const N: usize = 7;
    for (si, s) in specs().into_iter().enumerate() {
        let k = s.real.len();
        let mut rng = rng_for(11, si as u64);
        for mask in 0..(1u32 << k) {
            for _rep in 0..3 {
                let args = random_args(&s, &mut rng, N, mask);
                let all = vec![true; k];
                let (lp, grads) = eval(s.kernel, &args, &all);
                let ctx = format!("{} mask {mask:#b} at {args:?}", s.name);
                assert!(lp.is_finite(), "{ctx}: {lp}");

                // The value equals the sum of scalar densities.
                let n_eff = args.iter().map(Vec::len).max().unwrap();
                let sum: f64 = (0..n_eff)
                    .map(|i| {
                        let v = (s.value)(&params_at(&args, i)).unwrap();
                        v.ln_density(at(&args[0], i))
                    })
                    .sum();
                assert!(
                    (lp - sum).abs() <= tol::SUM * sum.abs().max(1.0),
                    "{ctx}: kernel {lp} vs sum of scalar densities {sum}"
                );

                // Integer arguments have no partial: their buffers stay zero.
                for j in (0..k).filter(|&j| !s.real[j]) {
                    assert!(grads[j].iter().all(|&g| g == 0.0), "{ctx}: arg {j} touched");
                }

                // The real arguments' partials against finite differences.
                let real: Vec<usize> = (0..k).filter(|&j| s.real[j]).collect();
                let x: Vec<f64> = real.iter().flat_map(|&j| args[j].clone()).collect();
                let g: Vec<f64> = real.iter().flat_map(|&j| grads[j].clone()).collect();
                let f = |x: &[f64]| {
                    let mut a = args.clone();
                    let mut off = 0;
                    for &j in &real {
                        let len = a[j].len();
                        a[j].copy_from_slice(&x[off..off + len]);
                        off += len;
                    }
                    eval(s.kernel, &a, &vec![false; k]).0
                };
                if let Some((i, an, fd)) = gradient_mismatch(f, &g, &x, tol::GRAD) {
                    panic!("{ctx}: partial {i} is {an}, finite difference {fd}");
                }

                // Asking for one partial (or none) gives the same value and that partial.
                for &j in &real {
                    let mut want = vec![false; k];
                    want[j] = true;
                    let (lp_j, grads_j) = eval(s.kernel, &args, &want);
                    assert!((lp_j - lp).abs() <= tol::SUM * lp.abs().max(1.0), "{ctx}");
                    for (a, b) in grads_j[j].iter().zip(&grads[j]) {
                        assert!(
                            (a - b).abs() <= tol::SUM * b.abs().max(1.0),
                            "{ctx}: arg {j}"
                        );
                    }
                }
                let (lp_none, _) = eval(s.kernel, &args, &vec![false; k]);
                assert!(
                    (lp_none - lp).abs() <= tol::SUM * lp.abs().max(1.0),
                    "{ctx}"
                );
            }
        }
    }
}

/// The largest gap between the empirical CDF of `draws` and `cdf`: the Kolmogorov-Smirnov
/// statistic for a continuous distribution; for a discrete one, the largest gap at the
/// integers from 0 to the largest draw.
fn ecdf_gap(mut draws: Vec<f64>, cdf: impl Fn(f64) -> f64, discrete: bool) -> f64 {
    assert!(draws.iter().all(|x| !x.is_nan()), "NaN draw");
    draws.sort_by(f64::total_cmp);
    let n = draws.len() as f64;
    if discrete {
        let top = draws[draws.len() - 1] as u64;
        (0..=top + 1)
            .map(|k| {
                let k = k as f64;
                let below = draws.partition_point(|&x| x <= k) as f64 / n;
                (below - cdf(k)).abs()
            })
            .fold(0.0, f64::max)
    } else {
        draws
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = cdf(x);
                (f - i as f64 / n).max((i + 1) as f64 / n - f)
            })
            .fold(0.0, f64::max)
    }
}

/// The Dvoretzky-Kiefer-Wolfowitz-Massart bound: P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2)
/// = alpha. It holds for discrete distributions too, and for a continuous one it is the
/// Kolmogorov-Smirnov critical value's asymptotic form.
fn dkw_bound(n: usize, alpha: f64) -> f64 {
    ((2.0 / alpha).ln() / (2.0 * n as f64)).sqrt()
}

fn assert_matches_cdf(what: &str, draws: Vec<f64>, v: &dyn Value, discrete: bool) {
    let n = draws.len();
    for &x in &draws {
        let inside = v.support().contains(x) || (!discrete && x == 0.0);
        assert!(inside, "{what}: draw {x} outside {:?}", v.support());
    }
    let gap = ecdf_gap(draws, |x| v.cdf(x), discrete);
    let bound = dkw_bound(n, tol::KS_ALPHA);
    assert!(gap <= bound, "{what}: ECDF gap {gap} > {bound}");
}

#[test]
fn samplers_match_their_cdfs() {
    let n = tol::KS_DRAWS;
    for (si, s) in specs().into_iter().enumerate() {
        let p = s.ks_params;
        let v = (s.value)(p).unwrap();
        let mut rng = rng_for(2024, si as u64);

        // The kernel's sampler with scalar parameters.
        let scalars: Vec<&[f64]> = p.iter().map(std::slice::from_ref).collect();
        let draws = (s.sample)(&mut rng, &scalars, n);
        assert_eq!(draws.len(), n);
        assert_matches_cdf(
            &format!("{} kernel sampler", s.name),
            draws,
            &*v,
            s.discrete,
        );

        // The value type's rand::distr::Distribution.
        let draws: Vec<f64> = (0..n).map(|_| v.draw(&mut rng)).collect();
        assert_matches_cdf(&format!("{} Distribution", s.name), draws, &*v, s.discrete);

        // Vector parameters: even draws from `p`, odd ones from another point.
        let q = (s.params)(&mut rng);
        let columns: Vec<Vec<f64>> = (0..p.len())
            .map(|j| {
                (0..n)
                    .map(|i| if i % 2 == 0 { p[j] } else { q[j] })
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let draws = (s.sample)(&mut rng, &refs, n);
        let vq = (s.value)(&q).unwrap();
        let even: Vec<f64> = draws.iter().step_by(2).copied().collect();
        let odd: Vec<f64> = draws.iter().skip(1).step_by(2).copied().collect();
        assert_matches_cdf(&format!("{} vector, even", s.name), even, &*v, s.discrete);
        assert_matches_cdf(
            &format!("{} vector {q:?}, odd", s.name),
            odd,
            &*vq,
            s.discrete,
        );

        // Lengths that do not broadcast to n: NaN draws, no panic.
        let bad: Vec<Vec<f64>> = p.iter().map(|&x| vec![x; 3]).collect();
        let refs: Vec<&[f64]> = bad.iter().map(Vec::as_slice).collect();
        assert!((s.sample)(&mut rng, &refs, 5).iter().all(|x| x.is_nan()));
    }
}

#[test]
fn same_seed_same_draws() {
    for s in specs() {
        let scalars: Vec<&[f64]> = s.ks_params.iter().map(std::slice::from_ref).collect();
        let a = (s.sample)(&mut rng_for(5, 0), &scalars, 50);
        let b = (s.sample)(&mut rng_for(5, 0), &scalars, 50);
        assert_eq!(a, b, "{}", s.name);
    }
}

#[test]
fn supports() {
    use Support::*;
    let expected = [
        ("Normal", Real),
        ("HalfNormal", GreaterThan(0.0)),
        ("LogNormal", GreaterThan(0.0)),
        ("StudentT", Real),
        ("HalfStudentT", GreaterThan(0.0)),
        ("Cauchy", Real),
        ("HalfCauchy", GreaterThan(0.0)),
        ("Laplace", Real),
        ("Exponential", GreaterThan(0.0)),
        ("Gamma", GreaterThan(0.0)),
        ("InverseGamma", GreaterThan(0.0)),
        ("Beta", Interval(0.0, 1.0)),
        ("Uniform", Interval(-1.0, 3.0)),
        ("Bernoulli", Boolean),
        ("BernoulliLogit", Boolean),
        ("Binomial", IntegerInterval(0, 20)),
        ("BinomialLogit", IntegerInterval(0, 20)),
        ("Poisson", NonNegativeInteger),
        ("PoissonLog", NonNegativeInteger),
    ];
    assert_eq!(expected.len(), specs().len());
    for (name, support) in expected {
        let s = spec(name);
        let v = (s.value)(s.ks_params).unwrap();
        assert_eq!(v.support(), support, "{name}");
        assert_eq!(v.support().is_discrete(), s.discrete, "{name}");
    }
}

/// `DistError::NotPositive` for `param` of `dist` with `value`.
fn not_positive(dist: &'static str, param: &'static str, value: f64) -> DistError {
    DistError::NotPositive { dist, param, value }
}

#[test]
fn constructors_reject_invalid_parameters_naming_the_value() {
    let cases: Vec<(&str, Vec<f64>, DistError)> = vec![
        (
            "Normal",
            vec![0.0, -1.0],
            not_positive("Normal", "sigma", -1.0),
        ),
        (
            "Normal",
            vec![0.0, 0.0],
            not_positive("Normal", "sigma", 0.0),
        ),
        (
            "HalfNormal",
            vec![-2.0],
            not_positive("HalfNormal", "sigma", -2.0),
        ),
        (
            "LogNormal",
            vec![0.0, 0.0],
            not_positive("LogNormal", "sigma", 0.0),
        ),
        (
            "StudentT",
            vec![-1.0, 0.0, 1.0],
            not_positive("StudentT", "nu", -1.0),
        ),
        (
            "StudentT",
            vec![3.0, 0.0, -0.5],
            not_positive("StudentT", "sigma", -0.5),
        ),
        (
            "HalfStudentT",
            vec![3.0, 0.0],
            not_positive("HalfStudentT", "sigma", 0.0),
        ),
        (
            "Cauchy",
            vec![0.0, -3.0],
            not_positive("Cauchy", "sigma", -3.0),
        ),
        (
            "HalfCauchy",
            vec![0.0],
            not_positive("HalfCauchy", "sigma", 0.0),
        ),
        (
            "Laplace",
            vec![1.0, -0.7],
            not_positive("Laplace", "b", -0.7),
        ),
        (
            "Exponential",
            vec![0.0],
            not_positive("Exponential", "rate", 0.0),
        ),
        ("Gamma", vec![0.0, 1.0], not_positive("Gamma", "shape", 0.0)),
        (
            "Gamma",
            vec![2.0, -1.0],
            not_positive("Gamma", "rate", -1.0),
        ),
        (
            "InverseGamma",
            vec![3.0, 0.0],
            not_positive("InverseGamma", "scale", 0.0),
        ),
        ("Beta", vec![0.0, 1.0], not_positive("Beta", "a", 0.0)),
        ("Beta", vec![1.0, -2.0], not_positive("Beta", "b", -2.0)),
        (
            "Uniform",
            vec![2.0, 1.0],
            DistError::EmptyInterval {
                dist: "Uniform",
                lower: 2.0,
                upper: 1.0,
            },
        ),
        (
            "Uniform",
            vec![1.0, 1.0],
            DistError::EmptyInterval {
                dist: "Uniform",
                lower: 1.0,
                upper: 1.0,
            },
        ),
        (
            "Bernoulli",
            vec![-0.1],
            DistError::OutOfRange {
                dist: "Bernoulli",
                param: "p",
                value: -0.1,
                range: "[0, 1]",
            },
        ),
        (
            "Binomial",
            vec![10.0, 1.5],
            DistError::OutOfRange {
                dist: "Binomial",
                param: "p",
                value: 1.5,
                range: "[0, 1]",
            },
        ),
        (
            "Poisson",
            vec![-1.0],
            DistError::OutOfRange {
                dist: "Poisson",
                param: "rate",
                value: -1.0,
                range: "[0, inf)",
            },
        ),
        (
            "BernoulliLogit",
            vec![f64::INFINITY],
            DistError::NotFinite {
                dist: "BernoulliLogit",
                param: "logit",
                value: f64::INFINITY,
            },
        ),
        (
            "PoissonLog",
            vec![f64::NEG_INFINITY],
            DistError::NotFinite {
                dist: "PoissonLog",
                param: "log_rate",
                value: f64::NEG_INFINITY,
            },
        ),
    ];
    for (name, params, expected) in cases {
        let got = (spec(name).value)(&params).err();
        assert_eq!(got, Some(expected), "{name}{params:?}");
    }
    // NaN in any parameter of any distribution: NotFinite carrying the NaN.
    for s in specs() {
        for j in 0..s.ks_params.len() {
            if s.real[j + 1] {
                let mut p = s.ks_params.to_vec();
                p[j] = f64::NAN;
                match (s.value)(&p).err() {
                    Some(DistError::NotFinite { dist, value, .. }) => {
                        assert_eq!(dist, s.name);
                        assert!(value.is_nan());
                    }
                    other => panic!("{}{p:?}: {other:?}", s.name),
                }
            }
        }
    }
    // The message shows the value.
    let e = Beta::new(0.0, 1.0).unwrap_err().to_string();
    assert!(
        e.contains("Beta") && e.contains("`a`") && e.contains('0'),
        "{e}"
    );
}

/// `check` with the arguments given as `(position, values)`; the others are latent (`None`).
fn check_with(s: &Spec, given: &[(usize, &[f64])]) -> Result<(), ArgError> {
    let mut args: Vec<Option<&[f64]>> = vec![None; s.real.len()];
    for &(j, v) in given {
        args[j] = Some(v);
    }
    (s.check)(&args)
}

fn outside_support(dist: &'static str, value: f64, support: &'static str) -> DistError {
    DistError::OutsideSupport {
        dist,
        value,
        support,
    }
}

#[test]
fn checks_name_the_bad_value_and_where() {
    let err = |arg, index, error| Err(ArgError { arg, index, error });
    type Case = (&'static str, Vec<(usize, Vec<f64>)>, Result<(), ArgError>);
    let cases: Vec<Case> = vec![
        (
            "Bernoulli",
            vec![(0, vec![0.0, 1.0, 2.0])],
            err(0, 2, outside_support("Bernoulli", 2.0, "{0, 1}")),
        ),
        (
            "BernoulliLogit",
            vec![(0, vec![1.0, -1.0])],
            err(0, 1, outside_support("BernoulliLogit", -1.0, "{0, 1}")),
        ),
        (
            "Poisson",
            vec![(0, vec![3.0, -1.0])],
            err(0, 1, outside_support("Poisson", -1.0, "{0, 1, 2, ...}")),
        ),
        (
            "Poisson",
            vec![(0, vec![2.5])],
            err(0, 0, outside_support("Poisson", 2.5, "{0, 1, 2, ...}")),
        ),
        (
            "PoissonLog",
            vec![(0, vec![0.0, 1.0, 0.5])],
            err(0, 2, outside_support("PoissonLog", 0.5, "{0, 1, 2, ...}")),
        ),
        (
            "Binomial",
            vec![(0, vec![3.0, 5.0]), (1, vec![4.0])],
            err(0, 1, outside_support("Binomial", 5.0, "{0, 1, ..., n}")),
        ),
        (
            "Binomial",
            vec![(1, vec![10.0, 2.5])],
            err(
                1,
                1,
                DistError::OutOfRange {
                    dist: "Binomial",
                    param: "n",
                    value: 2.5,
                    range: "{0, 1, 2, ...}",
                },
            ),
        ),
        (
            "Binomial",
            vec![(2, vec![0.5, 1.5])],
            err(
                2,
                1,
                DistError::OutOfRange {
                    dist: "Binomial",
                    param: "p",
                    value: 1.5,
                    range: "[0, 1]",
                },
            ),
        ),
        (
            "BinomialLogit",
            vec![(0, vec![-2.0]), (1, vec![4.0])],
            err(
                0,
                0,
                outside_support("BinomialLogit", -2.0, "{0, 1, ..., n}"),
            ),
        ),
        (
            "Normal",
            vec![(2, vec![1.0, 2.0, 0.0])],
            err(2, 2, not_positive("Normal", "sigma", 0.0)),
        ),
        (
            "HalfNormal",
            vec![(0, vec![0.0, 1.0, -0.1])],
            err(0, 2, outside_support("HalfNormal", -0.1, "[0, inf)")),
        ),
        (
            "Exponential",
            vec![(0, vec![-1.0])],
            err(0, 0, outside_support("Exponential", -1.0, "[0, inf)")),
        ),
        (
            "Gamma",
            vec![(0, vec![1.0, 0.0])],
            err(0, 1, outside_support("Gamma", 0.0, "(0, inf)")),
        ),
        (
            "LogNormal",
            vec![(0, vec![-3.0])],
            err(0, 0, outside_support("LogNormal", -3.0, "(0, inf)")),
        ),
        (
            "InverseGamma",
            vec![(1, vec![-1.0])],
            err(1, 0, not_positive("InverseGamma", "shape", -1.0)),
        ),
        (
            "Beta",
            vec![(0, vec![1.0])],
            err(0, 0, outside_support("Beta", 1.0, "(0, 1)")),
        ),
        (
            "Beta",
            vec![(1, vec![0.0]), (2, vec![1.0])],
            err(1, 0, not_positive("Beta", "a", 0.0)),
        ),
        (
            "Uniform",
            vec![(1, vec![2.0]), (2, vec![1.0])],
            err(
                2,
                0,
                DistError::EmptyInterval {
                    dist: "Uniform",
                    lower: 2.0,
                    upper: 1.0,
                },
            ),
        ),
        (
            "Uniform",
            vec![(0, vec![0.5, 3.5]), (1, vec![0.0]), (2, vec![3.0])],
            err(0, 1, outside_support("Uniform", 3.5, "[lower, upper]")),
        ),
        (
            "StudentT",
            vec![(1, vec![0.0])],
            err(1, 0, not_positive("StudentT", "nu", 0.0)),
        ),
        (
            "HalfCauchy",
            vec![(1, vec![-1.0])],
            err(1, 0, not_positive("HalfCauchy", "sigma", -1.0)),
        ),
        (
            "Laplace",
            vec![(2, vec![0.0])],
            err(2, 0, not_positive("Laplace", "b", 0.0)),
        ),
        (
            "HalfStudentT",
            vec![(0, vec![-2.0])],
            err(0, 0, outside_support("HalfStudentT", -2.0, "[0, inf)")),
        ),
        (
            "Cauchy",
            vec![(0, vec![f64::INFINITY])],
            err(
                0,
                0,
                DistError::NotFinite {
                    dist: "Cauchy",
                    param: "y",
                    value: f64::INFINITY,
                },
            ),
        ),
        // Valid data passes; the edge 0 is allowed where the density is finite there.
        (
            "Bernoulli",
            vec![(0, vec![0.0, 1.0, 1.0]), (1, vec![0.3])],
            Ok(()),
        ),
        ("Poisson", vec![(0, vec![0.0, 7.0]), (1, vec![0.0])], Ok(())),
        (
            "Binomial",
            vec![(0, vec![0.0, 4.0]), (1, vec![4.0]), (2, vec![1.0])],
            Ok(()),
        ),
        (
            "HalfNormal",
            vec![(0, vec![0.0, 2.0]), (1, vec![1.0])],
            Ok(()),
        ),
        ("Exponential", vec![(0, vec![0.0])], Ok(())),
        (
            "Uniform",
            vec![(0, vec![0.0, 3.0]), (1, vec![0.0]), (2, vec![3.0])],
            Ok(()),
        ),
    ];
    for (name, given, expected) in cases {
        let s = spec(name);
        let given: Vec<(usize, &[f64])> = given.iter().map(|(j, v)| (*j, v.as_slice())).collect();
        assert_eq!(check_with(&s, &given), expected, "{name} {given:?}");
    }
    // NaN data is NotFinite at its index, for every argument of every distribution.
    for s in specs() {
        for j in 0..s.real.len() {
            match check_with(&s, &[(j, &[f64::NAN])]) {
                Err(ArgError {
                    arg,
                    index: 0,
                    error: DistError::NotFinite { dist, value, .. },
                }) if arg == j && dist == s.name && value.is_nan() => {}
                other => panic!("{} arg {j} NaN: {other:?}", s.name),
            }
        }
    }
}

/// Kernels return a non-finite value, never panic, for bad points and lengths.
#[test]
fn kernels_are_non_finite_outside_the_support() {
    let cases: Vec<(&str, Vec<Vec<f64>>, f64)> = vec![
        ("Bernoulli", vec![vec![2.0], vec![0.3]], f64::NEG_INFINITY),
        ("Bernoulli", vec![vec![1.0], vec![1.5]], f64::NAN),
        (
            "BernoulliLogit",
            vec![vec![0.5], vec![0.0]],
            f64::NEG_INFINITY,
        ),
        ("Poisson", vec![vec![-1.0], vec![2.0]], f64::NEG_INFINITY),
        ("Poisson", vec![vec![2.5], vec![2.0]], f64::NEG_INFINITY),
        ("Poisson", vec![vec![2.0], vec![-2.0]], f64::NAN),
        ("PoissonLog", vec![vec![1.5], vec![0.0]], f64::NEG_INFINITY),
        (
            "Binomial",
            vec![vec![5.0], vec![4.0], vec![0.5]],
            f64::NEG_INFINITY,
        ),
        ("Binomial", vec![vec![1.0], vec![2.5], vec![0.5]], f64::NAN),
        ("Binomial", vec![vec![1.0], vec![4.0], vec![1.5]], f64::NAN),
        (
            "BinomialLogit",
            vec![vec![-1.0], vec![4.0], vec![0.0]],
            f64::NEG_INFINITY,
        ),
        ("Normal", vec![vec![0.0], vec![0.0], vec![-1.0]], f64::NAN),
        (
            "Normal",
            vec![vec![0.0, 1.0], vec![0.0], vec![0.0]],
            f64::NAN,
        ),
        ("HalfNormal", vec![vec![-0.5], vec![1.0]], f64::NEG_INFINITY),
        ("HalfCauchy", vec![vec![-0.5], vec![1.0]], f64::NEG_INFINITY),
        (
            "HalfStudentT",
            vec![vec![-0.5], vec![3.0], vec![1.0]],
            f64::NEG_INFINITY,
        ),
        (
            "LogNormal",
            vec![vec![0.0], vec![0.0], vec![1.0]],
            f64::NEG_INFINITY,
        ),
        (
            "Exponential",
            vec![vec![-1.0], vec![1.0]],
            f64::NEG_INFINITY,
        ),
        (
            "Gamma",
            vec![vec![-1.0], vec![2.0], vec![1.0]],
            f64::NEG_INFINITY,
        ),
        ("Gamma", vec![vec![1.0], vec![0.0], vec![1.0]], f64::NAN),
        (
            "InverseGamma",
            vec![vec![0.0], vec![2.0], vec![1.0]],
            f64::NEG_INFINITY,
        ),
        (
            "Beta",
            vec![vec![1.0], vec![2.0], vec![2.0]],
            f64::NEG_INFINITY,
        ),
        ("Beta", vec![vec![0.5], vec![0.0], vec![1.0]], f64::NAN),
        (
            "Uniform",
            vec![vec![3.5], vec![0.0], vec![3.0]],
            f64::NEG_INFINITY,
        ),
        ("Uniform", vec![vec![1.5], vec![2.0], vec![1.0]], f64::NAN),
        (
            "StudentT",
            vec![vec![0.0], vec![-1.0], vec![0.0], vec![1.0]],
            f64::NAN,
        ),
        ("Cauchy", vec![vec![0.0], vec![0.0], vec![0.0]], f64::NAN),
        ("Laplace", vec![vec![0.0], vec![0.0], vec![-1.0]], f64::NAN),
    ];
    for (name, args, expected) in cases {
        let s = spec(name);
        let all = vec![true; args.len()];
        let (lp, _) = eval(s.kernel, &args, &all);
        let ok = if expected.is_nan() {
            lp.is_nan()
        } else {
            lp == expected
        };
        assert!(ok, "{name} {args:?}: {lp}, expected {expected}");
    }
    // Lengths that do not broadcast (2 against 3), and empty arguments: NaN for every kernel.
    for s in specs() {
        let mut rng = rng_for(3, 0);
        let p = (s.params)(&mut rng);
        let y = (s.obs)(&mut rng, &p);
        let mut args = vec![vec![y; 2]];
        args.extend(p.iter().map(|&x| vec![x; 3]));
        assert!(
            eval(s.kernel, &args, &vec![true; args.len()]).0.is_nan(),
            "{}",
            s.name
        );
        args[0] = vec![];
        assert!(
            eval(s.kernel, &args, &vec![true; args.len()]).0.is_nan(),
            "{}",
            s.name
        );
        // No observations against scalar parameters (N = 0, as Stan allows): a sum of no
        // terms, 0 with zero partials.
        let mut args = vec![vec![]];
        args.extend(p.iter().map(|&x| vec![x]));
        let (lp, grads) = eval(s.kernel, &args, &vec![true; args.len()]);
        assert_eq!(lp, 0.0, "{}", s.name);
        assert!(grads.iter().flatten().all(|&g| g == 0.0), "{}", s.name);
    }
}

/// Far in the tails the kernels stay finite and their partials match closed forms.
#[test]
fn tails_are_stable() {
    // BernoulliLogit at logit = -800: ln sigmoid(-800) = -800 exactly in f64, partial 1.
    let mut g = [0.0];
    let lp = dist::bernoulli_logit::lpdf(&[1.0], &[-800.0], None, Some(&mut g));
    assert_eq!((lp, g[0]), (-800.0, 1.0));
    // BinomialLogit(10, 700) at y = 0: 10 ln sigmoid(-700) = -7000, partial -10.
    let mut g = [0.0];
    let lp = dist::binomial_logit::lpdf(&[0.0], &[10.0], &[700.0], None, None, Some(&mut g));
    assert_eq!((lp, g[0]), (-7000.0, -10.0));
    // Bernoulli(1e-300) at 0: ln(1 - 1e-300) = -1e-300, not 0 - rounding.
    let lp = dist::bernoulli::lpdf(&[0.0], &[1e-300], None, None);
    assert_eq!(lp, -1e-300);
    // Beta near 1: ln(1 - y) by ln_1p keeps y = 1 - 1e-12 finite and exact.
    let lp = dist::beta::lpdf(&[1.0 - 1e-12], &[1.0], &[2.0], None, None, None);
    // scipy.stats.beta(a=1, b=2).logpdf(1 - 1e-12) = ln 2 + ln(1e-12) (to 1e-4 relative:
    // 1 - 1e-12 is not exact in binary)
    let exact = std::f64::consts::LN_2 + (1.0 - (1.0 - 1e-12f64)).ln();
    assert!(rel_close(lp, exact, tol::LPDF), "{lp} vs {exact}");
    // Beyond |z| = 1e154, z^2 overflows: ln(1 + z^2) must be formed without it.
    // scipy.stats.cauchy(0, 1).logpdf(1e200) = -922.1787670834677
    let lp = dist::cauchy::lpdf(&[1e200], &[0.0], &[1.0], None, None, None);
    assert!(rel_close(lp, -922.178_767_083_467_7, tol::LPDF), "{lp}");
    // scipy.stats.t overflows to -inf here; the reference is the same formula in mpmath at
    // 50 digits: loggamma((nu+1)/2) - loggamma(nu/2) - log(nu pi)/2 - log(s)
    // - (nu+1)/2 log1p(z^2/nu), z = (y - mu)/s.
    // (nu, mu, s, y) = (3, 0, 1, 1e200): -1840.871738667524
    let lp = dist::student_t::lpdf(&[1e200], &[3.0], &[0.0], &[1.0], None, None, None, None);
    assert!(rel_close(lp, -1_840.871_738_667_524, tol::LPDF), "{lp}");
    // (nu, mu, s, y) = (2.5, 1, 0.5, -1e300): -2418.8603464078287
    let mut g = [0.0; 4];
    let [gy, gnu, gmu, gs] = &mut g;
    let lp = dist::student_t::lpdf(
        &[-1e300],
        &[2.5],
        &[1.0],
        &[0.5],
        Some(std::slice::from_mut(gy)),
        Some(std::slice::from_mut(gnu)),
        Some(std::slice::from_mut(gmu)),
        Some(std::slice::from_mut(gs)),
    );
    assert!(rel_close(lp, -2_418.860_346_407_828_7, tol::LPDF), "{lp}");
    assert!(g.iter().all(|x| x.is_finite()), "{g:?}");
    // mpmath, 50 digits: log(2/pi) - log(2) - log1p((1e300/2)^2) = -1381.3094913211569
    let lp = dist::half_cauchy::lpdf(&[1e300], &[2.0], None, None);
    assert!(rel_close(lp, -1_381.309_491_321_156_9, tol::LPDF), "{lp}");
}

/// NaN in, NaN out: no value type panics or invents a number for a NaN point.
#[test]
fn nan_points_give_nan() {
    for s in specs() {
        let v = (s.value)(s.ks_params).unwrap();
        assert!(
            v.ln_density(f64::NAN).is_nan(),
            "{} ln_density(NaN)",
            s.name
        );
        assert!(v.cdf(f64::NAN).is_nan(), "{} cdf(NaN)", s.name);
        let mut args = vec![vec![f64::NAN]];
        args.extend(s.ks_params.iter().map(|&p| vec![p]));
        assert!(
            eval(s.kernel, &args, &vec![true; args.len()]).0.is_nan(),
            "{}",
            s.name
        );
        for j in 1..args.len() {
            let mut a = args.clone();
            a[0] = vec![(s.obs)(&mut rng_for(1, 0), s.ks_params)];
            a[j] = vec![f64::NAN];
            assert!(
                eval(s.kernel, &a, &vec![true; a.len()]).0.is_nan(),
                "{} arg {j}",
                s.name
            );
        }
    }
}
