// Package disclosure adds the statistical disclosure control noise of Snodo's
// published tables: exact discrete Gaussian noise calibrated in zero-concentrated
// differential privacy (zCDP), as laid out in the "Noise" bullet of
// shared/design/PRIVACY.md.
//
// # What it does
//
// Every cell of a table (zeros included) receives an independent draw from the
// discrete Gaussian N_Z(0, σ²), the distribution on the integers with
// P[X = x] ∝ exp(-x²/(2σ²)). Because each household adds 1 to exactly one cell
// of a table, adding or removing one household changes the count vector by 1 in
// one coordinate (L2 sensitivity 1), and the discrete Gaussian mechanism is then
// ρ-zCDP with ρ = 1/(2σ²) (Canonne, Kamath, Steinke 2020).
// [SigmaSquaredForRho] and [RhoForSigmaSquared] convert between the two;
// [Variance] and [HalfWidth95] describe the noise for accuracy intervals.
//
// # Why exact sampling matters
//
// Textbook samplers draw a floating-point value and round it. Mironov (2012,
// "On Significance of the Least Significant Bits for Differential Privacy")
// showed that the set of doubles such a sampler can output depends on the true
// value, so an attacker who sees the noisy number can often tell which true
// value produced it and the privacy guarantee is void. This package therefore
// never uses floating point on the sampling path: σ² and every intermediate
// probability are rationals, and all randomness comes as uniform integers drawn
// from a cryptographic source. The algorithms are Algorithms 1–3 of Canonne,
// Kamath, Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS
// 2020): Bernoulli(exp(-γ)) for rational γ, the discrete Laplace, and rejection
// from the discrete Laplace to the discrete Gaussian. The output distribution is
// exactly N_Z(0, σ²), and the running time, though random, leaks nothing beyond
// σ² because it does not depend on the data.
//
// # Randomness
//
// Production code uses [Noise], which draws from crypto/rand. A [Sampler] can
// be built over any io.Reader so that tests can run on a seeded deterministic
// stream; such a stream must never be used for a release.
//
// # Storing releases
//
// A noisy value is a release. The caller (release epochs and the budget
// ledger) must store the values returned by [Noise] and re-send them on every
// retry or re-request; drawing fresh noise for the same cell and epoch would
// let anyone average the noise away and would spend budget that was never
// accounted.
package disclosure
