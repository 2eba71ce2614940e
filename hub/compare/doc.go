// Package compare computes the region's comparisons of its territories
// (issue 7): per-capita rates, benchmark groups, nearest peers, rolling
// four-quarter trends and the scalability views, each with its coverage
// ("27 of 30") and a 95% interval wherever a rate is shown.
//
// It is pure computation. Its inputs are the public territories file
// ([LoadTerritories]) and the values the territories published
// ([Value]): the region store reads them, this package never does, so the
// comparisons can be tested and benchmarked without a store and served by
// the API exactly as computed here (result types carry snake_case JSON
// tags and no free text: why a value is missing is a [Reason] code the
// dashboard translates).
//
// Two rules run through every function, both from PRIVACY.md: nothing is
// imputed (a missing or suppressed territory is counted in the coverage
// and left out of the value), and a rate is shown only with its interval
// (a value whose noise is not known yields no rate).
package compare
