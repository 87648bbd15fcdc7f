//! Limited-memory BFGS for smooth, convex objectives.
//!
//! The two-loop recursion of Nocedal (1980), "Updating quasi-Newton matrices with limited
//! storage", with the initial scaling `s·y / y·y` of Nocedal & Wright (2006), "Numerical
//! Optimization", eq. 7.20, and a backtracking line search on the Armijo condition with quadratic
//! interpolation (ibid., section 3.5). The objectives here are strictly convex (an L2 penalty
//! makes them so), where `s·y > 0` holds without a Wolfe curvature test, so the simpler line
//! search keeps every update positive definite; a pair that fails it anyway is dropped.
//!
//! The stopping rules are those of scipy's `L-BFGS-B`, which scikit-learn's `lbfgs` solver uses:
//! the largest gradient entry at most `gradient_tolerance`, or a relative decrease of the
//! objective below `value_tolerance`, or `max_iterations` iterations.
//!
//! The minimiser is driven from outside ("reverse communication"): it names the point it needs
//! ([`Minimizer::point`]) and is told the value and gradient there ([`Minimizer::tell`]). So
//! several minimisations (one per cross-validation fold) can share one pass over the data per
//! round, which is what makes K-fold training fast.

use std::collections::VecDeque;

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Options {
    pub(crate) max_iterations: usize,
    pub(crate) gradient_tolerance: f64,
    pub(crate) value_tolerance: f64,
    /// Correction pairs kept (`m` in the literature).
    pub(crate) history: usize,
}

/// How the minimisation went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Report {
    pub(crate) iterations: usize,
    pub(crate) evaluations: usize,
    pub(crate) converged: bool,
    pub(crate) value: f64,
}

/// Armijo's sufficient-decrease constant.
const ARMIJO: f64 = 1e-4;
/// Step reductions before the line search gives up.
const MAX_BACKTRACKS: usize = 30;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |max, value| max.max(value.abs()))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Waiting for the value at the starting point.
    Start,
    /// Waiting for the value at `candidate`, the `backtracks`-th reduced step along `direction`.
    LineSearch {
        backtracks: usize,
    },
    Done,
}

/// One L-BFGS minimisation, advanced one evaluation at a time.
#[derive(Debug, Clone)]
pub(crate) struct Minimizer {
    options: Options,
    state: State,
    x: Vec<f64>,
    value: f64,
    gradient: Vec<f64>,
    direction: Vec<f64>,
    slope: f64,
    step: f64,
    candidate: Vec<f64>,
    pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)>,
    alphas: Vec<f64>,
    report: Report,
}

impl Minimizer {
    pub(crate) fn new(start: Vec<f64>, options: Options) -> Self {
        let dimension = start.len();
        Self {
            options,
            state: State::Start,
            candidate: start.clone(),
            x: start,
            value: f64::INFINITY,
            gradient: vec![0.0; dimension],
            direction: vec![0.0; dimension],
            slope: 0.0,
            step: 0.0,
            pairs: VecDeque::with_capacity(options.history),
            alphas: vec![0.0; options.history],
            report: Report {
                iterations: 0,
                evaluations: 0,
                converged: false,
                value: f64::INFINITY,
            },
        }
    }

    /// The point whose value and gradient are needed next, or `None` when done.
    pub(crate) fn point(&self) -> Option<&[f64]> {
        (self.state != State::Done).then_some(self.candidate.as_slice())
    }

    /// The best point so far: the minimiser, once done.
    pub(crate) fn x(&self) -> &[f64] {
        &self.x
    }

    pub(crate) fn report(&self) -> Report {
        self.report
    }

    /// Takes the value and gradient at [`Minimizer::point`] and moves on.
    pub(crate) fn tell(&mut self, value: f64, gradient: &[f64]) {
        self.report.evaluations += 1;
        match self.state {
            State::Done => {}
            State::Start => {
                self.value = value;
                self.report.value = value;
                self.gradient.copy_from_slice(gradient);
                if max_abs(gradient) <= self.options.gradient_tolerance {
                    self.finish(true);
                } else {
                    self.next_iteration();
                }
            }
            State::LineSearch { backtracks } => {
                if value <= self.value + ARMIJO * self.step * self.slope {
                    self.accept(value, gradient);
                } else if backtracks + 1 >= MAX_BACKTRACKS {
                    // No decrease within rounding: as close to the minimum as this precision
                    // allows.
                    self.finish(true);
                } else {
                    // Minimiser of the quadratic through the value, the slope and this value,
                    // kept within [0.1, 0.5] of the step so the search neither stalls nor
                    // overshoots.
                    let curvature = value - self.value - self.slope * self.step;
                    let quadratic = if curvature > 0.0 && value.is_finite() {
                        -self.slope * self.step * self.step / (2.0 * curvature)
                    } else {
                        0.5 * self.step
                    };
                    self.step = quadratic.clamp(0.1 * self.step, 0.5 * self.step);
                    self.set_candidate();
                    self.state = State::LineSearch {
                        backtracks: backtracks + 1,
                    };
                }
            }
        }
    }

    fn finish(&mut self, converged: bool) {
        self.report.converged = converged;
        self.state = State::Done;
        self.candidate.copy_from_slice(&self.x);
    }

    fn set_candidate(&mut self) {
        for ((candidate, x), direction) in
            self.candidate.iter_mut().zip(&self.x).zip(&self.direction)
        {
            *candidate = x + self.step * direction;
        }
    }

    fn accept(&mut self, value: f64, gradient: &[f64]) {
        let s: Vec<f64> = self
            .candidate
            .iter()
            .zip(&self.x)
            .map(|(c, x)| c - x)
            .collect();
        let y: Vec<f64> = gradient
            .iter()
            .zip(&self.gradient)
            .map(|(new, old)| new - old)
            .collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) {
            if self.pairs.len() == self.options.history {
                self.pairs.pop_front();
            }
            self.pairs.push_back((s, y, 1.0 / sy));
        }
        let previous = self.value;
        self.x.copy_from_slice(&self.candidate);
        self.gradient.copy_from_slice(gradient);
        self.value = value;
        self.report.value = value;
        let scale = previous.abs().max(value.abs()).max(1.0);
        if max_abs(gradient) <= self.options.gradient_tolerance
            || previous - value <= self.options.value_tolerance * scale
        {
            self.finish(true);
        } else {
            self.next_iteration();
        }
    }

    /// Chooses the next search direction and the first step along it.
    fn next_iteration(&mut self) {
        if self.report.iterations >= self.options.max_iterations {
            self.finish(false);
            return;
        }
        self.report.iterations += 1;
        // Two-loop recursion: direction = -H * gradient.
        let direction = &mut self.direction;
        direction.copy_from_slice(&self.gradient);
        for (index, (s, y, rho)) in self.pairs.iter().enumerate().rev() {
            let alpha = rho * dot(s, direction);
            self.alphas[index] = alpha;
            direction
                .iter_mut()
                .zip(y)
                .for_each(|(d, y)| *d -= alpha * y);
        }
        if let Some((s, y, _)) = self.pairs.back() {
            let gamma = dot(s, y) / dot(y, y);
            for d in direction.iter_mut() {
                *d *= gamma;
            }
        }
        for (index, (s, y, rho)) in self.pairs.iter().enumerate() {
            let beta = rho * dot(y, direction);
            let alpha = self.alphas[index];
            direction
                .iter_mut()
                .zip(s)
                .for_each(|(d, s)| *d += (alpha - beta) * s);
        }
        for d in direction.iter_mut() {
            *d = -*d;
        }
        self.slope = dot(&self.gradient, direction);
        if self.slope >= 0.0 {
            // Not a descent direction (rounding): restart from steepest descent.
            self.pairs.clear();
            for (d, g) in direction.iter_mut().zip(&self.gradient) {
                *d = -g;
            }
            self.slope = -dot(&self.gradient, &self.gradient);
        }
        self.step = if self.pairs.is_empty() {
            (1.0 / dot(&self.gradient, &self.gradient).sqrt()).min(1.0)
        } else {
            1.0
        };
        self.set_candidate();
        self.state = State::LineSearch { backtracks: 0 };
    }
}

/// Minimises `objective` from `start`; `objective(x, gradient)` returns the value at `x` and
/// writes the gradient.
#[cfg(test)]
pub(crate) fn minimize(
    start: Vec<f64>,
    options: Options,
    mut objective: impl FnMut(&[f64], &mut [f64]) -> f64,
) -> (Vec<f64>, Report) {
    let mut minimizer = Minimizer::new(start, options);
    let mut gradient = vec![0.0; minimizer.x().len()];
    while let Some(point) = minimizer.point() {
        let value = objective(point, &mut gradient);
        minimizer.tell(value, &gradient);
    }
    (minimizer.x().to_vec(), minimizer.report())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            max_iterations: 200,
            gradient_tolerance: 1e-8,
            value_tolerance: 0.0,
            history: 10,
        }
    }

    fn rosenbrock(x: &[f64], gradient: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        gradient[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        gradient[1] = 200.0 * (b - a * a);
        (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
    }

    #[test]
    fn minimises_an_ill_conditioned_quadratic() {
        // f(x) = sum_i i * (x_i - 1)^2 / 2, condition number 50.
        let (x, report) = minimize(vec![0.0; 50], options(), |x, gradient| {
            let mut value = 0.0;
            for (index, (x, g)) in x.iter().zip(gradient.iter_mut()).enumerate() {
                let weight = (index + 1) as f64;
                value += weight * (x - 1.0) * (x - 1.0) / 2.0;
                *g = weight * (x - 1.0);
            }
            value
        });
        assert!(report.converged, "{report:?}");
        assert!(x.iter().all(|x| (x - 1.0).abs() < 1e-7), "{x:?}");
        assert!(report.iterations < 100, "{report:?}");
    }

    #[test]
    fn minimises_the_rosenbrock_function() {
        let (x, report) = minimize(vec![-1.2, 1.0], options(), rosenbrock);
        assert!(report.converged, "{report:?}");
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
            "{x:?}"
        );
    }

    #[test]
    fn stops_at_the_iteration_limit() {
        let limited = Options {
            max_iterations: 3,
            ..options()
        };
        let (_, report) = minimize(vec![-1.2, 1.0], limited, rosenbrock);
        assert_eq!(report.iterations, 3);
        assert!(!report.converged);
    }

    #[test]
    fn a_start_at_the_minimum_needs_one_evaluation() {
        let (x, report) = minimize(vec![1.0, 1.0], options(), rosenbrock);
        assert_eq!(x, [1.0, 1.0]);
        assert_eq!((report.iterations, report.evaluations), (0, 1));
        assert!(report.converged);
    }
}
