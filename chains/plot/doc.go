// Package plot draws the figures by which people judge MCMC draws and
// combinations of subposteriors: marginal densities, corner (pairs) plots,
// trace plots, rank histograms and a side-by-side comparison of methods
// against a reference. It is what `epmc plot` and the notebooks call, on top
// of gonum.org/v1/plot.
//
// A figure takes Sets: labelled *chains.Draws, each with a Role that says
// how it is drawn. Subposteriors are thin lines, one colour each; combined
// draws (a combination method's output) are thick lines; the reference, a
// full-data run, is dashed black. SetOf reads the role and a label from a
// file's metadata (Meta.Kind, the shard index, the combination method).
//
//	sets := []plot.Set{plot.SetOf("shard-0.arrow", d0), …, plot.SetOf("full.arrow", full)}
//	err := plot.Marginals(w, sets, plot.Options{})
//
// Figures:
//
//   - Marginals: one panel per parameter, every set's density.
//   - Pairs: corner plot of the combined sets and the reference, with
//     39 %/86 %/99 % highest-density contours below the diagonal.
//   - Trace: one panel per parameter, one line per chain, saved warmup
//     shaded.
//   - Rank: rank histograms per parameter and chain (Vehtari et al. 2021).
//   - Compare: one panel per method, every parameter on the reference's
//     standardised scale.
//
// Densities are Gaussian kernel estimates from package kde (kde.Grid, by
// binning and FFT), with R's default bandwidth for the 1-D curves and a
// full bandwidth matrix by Scott's rule for the 2-D contours; 1-D curves of
// parameters with bounds recorded in the metadata (lower, upper, interval,
// simplex transforms) are reflected at the bounds. Draws with a
// .log_weight column are weighted.
//
// Defaults aim at figures that are readable as they come: at most
// DefaultMaxParams parameters per figure (the title says when it cuts), a
// size chosen from the number of panels, PNG at DefaultDPI, Liberation Sans
// at sizes legible at that resolution, and colours from the Okabe–Ito and
// Paul Tol palettes, which readers with the common colour-vision
// deficiencies can tell apart (dash patterns take over when the colours run
// out). Options can set the parameters, the size, the resolution, the
// format (PNG, SVG or PDF) and the title.
//
// Every function writes one complete figure to an io.Writer (epmc plot
// writes it to a temporary file that is renamed into place, so a failed run
// leaves no partial PNG). Densities are computed in parallel; the output is
// byte-for-byte the same from run to run and for any number of goroutines.
package plot
