use vi::prelude::*;

model! {
    fn m(y: &[f64], labels: &[String]) {
        let w ~ Normal(0.0, 1.0);
        // Data-only arithmetic follows the DSL's rules: strings are not numbers.
        y ~ Normal(w + (labels - 1.0), 1.0);
    }
}

fn main() {}
