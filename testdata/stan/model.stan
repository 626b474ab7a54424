
data {
  int<lower=1> N;
  int<lower=1> K;
  matrix[N, K] X;
  real y[N];
}
parameters {
  real alpha;
  vector[K] beta;
  real<lower=0> sigma;
  matrix[2, 3] Z;
}
model {
  alpha ~ normal(0, 5);
  beta ~ normal(0, 2);
  sigma ~ exponential(1);
  to_vector(Z) ~ normal(0, 1);
  y ~ normal(alpha + X * beta, sigma);
}

