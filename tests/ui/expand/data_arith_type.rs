use vi::prelude::*;

// Data arithmetic follows the DSL's rules; data that holds no numbers is reported under
// the user's expression.
model! {
    fn m(y: &[f64], labels: &[String], flags: &[bool]) {
        let mu ~ Normal(0.0, 1.0);
        y ~ Normal(labels.ln() + mu, 1.0);
        y ~ Normal(mu, 2.0 * flags);
    }
}

fn main() {}
