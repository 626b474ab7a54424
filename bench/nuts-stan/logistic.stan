// Logistic regression with normal(0, 5) priors on the intercept and every
// coefficient: the model of epmc's built-in "logistic" (no
// standardisation), written in Stan 2.21 syntax for rstan.
data {
  int<lower=1> N;
  int<lower=1> D;
  matrix[N, D] X;
  int<lower=0, upper=1> y[N];
}
parameters {
  real alpha;
  vector[D] beta;
}
model {
  alpha ~ normal(0, 5);
  beta ~ normal(0, 5);
  y ~ bernoulli_logit_glm(X, alpha, beta);
}
