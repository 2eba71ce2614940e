// Package attack is the attack suite of PRIVACY.md goal 2: it publishes
// three years of a synthetic 150-household territory through Snodo's real
// disclosure ledger and through a threshold-only baseline, attacks what was
// published, and scores the attacks against the truth.
//
// # Threat model
//
// The attacker is anyone who reads the region's published tables: every
// release of the territory (the four quarterly provisional releases and
// the annual final release of each year, and the announced revision when
// one is made), the public catalogue (which tables exist, their breakdowns
// and measures) and the public parameters in each signed envelope (mode,
// threshold, σ², rounding base). The attacker may ask for the same release
// again as often as they like. They never see a true count: every attack
// function takes only releases (type [Release]); the truth is used only by
// the scoring in [Run].
//
// What is published mirrors hub/federation: an annual release carries, for
// every indicator of the catalogue, the total and every one-dimension
// breakdown of every measure (a binned indicator's bins are one table, sums
// are withheld); a quarterly release carries the totals of the indicators
// published quarterly. Three publishers see the same data: Snodo's default
// (discrete Gaussian noise, ρ = 1 per year, threshold 3), Snodo's rounding
// fallback (threshold 10, base 5, complementary suppression carried
// forward), and threshold-only publication (true counts, cells under 3
// suppressed, nothing else: the DataSHIELD / Sistan minimum cell). A fourth,
// Snodo's noise with the year cap raised so that the annual revision can be
// released, tests differencing against noise (the default cap refuses the
// revision).
//
// # The attacks
//
//   - Complementary cells and overlapping breakdowns ([Derive],
//     [DerivedCells]): each cell starts as the interval its mode allows
//     (a published true count, a rounded count ±2, "under the threshold");
//     every margin total = Σ cells of one dimension, for every dimension,
//     and numerator ≤ denominator then tighten the intervals until nothing
//     changes. A suppressed cell whose interval shrinks to one value is
//     derived exactly. The deductions are certain, so a derived value that
//     differs from the truth is a bug of the attack.
//   - Differencing across releases ([Difference], [QuarterDifference]):
//     revision 1 minus revision 0 of a year (late data only adds
//     households); with exactly one late household its category in every
//     dimension and its state for every indicator follow. Annual minus the
//     sum of the quarters counts, for a flow indicator, the households
//     whose data came after their quarter's release; when that is one, its
//     outcome is learnt.
//   - Averaging ([Average]): the same release asked for many times, the
//     answers averaged. Snodo's ledger re-sends the stored values, so the
//     average is the first answer; a publisher that drew fresh noise each
//     time ([RedrawPublisher], a counterfactual) would lose its noise as
//     σ/√n.
//   - Linear reconstruction ([Reconstruct]), the attack that led the US
//     Census to differential privacy: find n household records (n from the
//     caseload total) whose tables reproduce every published cell of a
//     year's final annual release, minimising the squared distance to the
//     published values (least squares for noisy cells, distance to the
//     certain interval otherwise), with integrality kept by searching over
//     records (simulated annealing, one field or a swap of one field
//     between two records at a time). Households isolated exactly by
//     differencing are pinned into the reconstruction.
//
// # Scoring
//
// A household's record, in the scope of the attack, is its category in
// each of the catalogue's five breakdown dimensions and its state for each
// indicator (outside the population, denominator only, numerator, which
// bin). A household is reconstructed exactly in a year when its record is
// unique in that year's true population and appears in the reconstruction
// (multiset matching: one reconstructed record matches at most one
// household). The rate is the number of households reconstructed exactly in
// at least one of the three years over the 150 households.
package attack
