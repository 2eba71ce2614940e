package disclosure

import (
	"fmt"
	"math/big"
	"strings"
)

// Tier is a group of a release's tables that share one σ²: tables ×
// 1/(2σ²) is the ρ the tier spends.
type Tier struct {
	Tables int
	Sigma2 *big.Rat
}

// NoisePlan is how a release in the noise mode spends its ρ. Tables is
// the number of tables of sensitivity 1; every cell gets noise of σ²
// Sigma2, except the totals when the release also has breakdowns and the
// settings give the totals a share of the ρ (Settings.HeadlineShare):
// then the totals form the Headline tier with a σ² of their own, and
// Sigma2 is the breakdowns'. ρ = (Tables − Headline.Tables)/(2·Sigma2) +
// Headline.Tables/(2·Headline.Sigma2), or Tables/(2·Sigma2) without a
// headline tier.
type NoisePlan struct {
	Tables   int
	Sigma2   *big.Rat
	Headline *Tier // nil: one σ² for every cell
	// RatePartition says the release has rates released as one
	// partition table (Cell.Within): their denominators carry the noise
	// of two cells.
	RatePartition bool
}

// CellSigma2 is the σ² of the noise drawn for a cell with the breakdown
// (nil or empty: a total). A rate's denominator under RatePartition is
// the sum of two such draws.
func (p *NoisePlan) CellSigma2(breakdown map[string]string) *big.Rat {
	return p.tierSigma2(len(breakdown) == 0)
}

func (p *NoisePlan) tierSigma2(total bool) *big.Rat {
	if p.Headline != nil && total {
		return p.Headline.Sigma2
	}
	return p.Sigma2
}

// Rho returns the ρ the plan spends.
func (p *NoisePlan) Rho() *big.Rat {
	rho := new(big.Rat)
	rest := p.Tables
	if p.Headline != nil {
		rest -= p.Headline.Tables
		rho.Add(rho, tierRho(p.Headline.Tables, p.Headline.Sigma2))
	}
	return rho.Add(rho, tierRho(rest, p.Sigma2))
}

func tierRho(tables int, sigma2 *big.Rat) *big.Rat {
	return new(big.Rat).Quo(big.NewRat(int64(tables), 1), new(big.Rat).Mul(sigma2, big.NewRat(2, 1)))
}

// planNoise splits rho over the tables of cells as the settings say.
// cells must have passed checkRequest.
func planNoise(set Settings, rho *big.Rat, cells []Cell) (*NoisePlan, error) {
	all, totals := map[string]bool{}, map[string]bool{}
	plan := &NoisePlan{}
	for _, c := range cells {
		k := tableKey(c)
		all[k] = true
		if len(c.Breakdown) == 0 {
			totals[k] = true
		}
		if c.Within != "" {
			plan.RatePartition = true
		}
	}
	plan.Tables = len(all)
	if plan.Tables == 0 {
		return nil, fmt.Errorf("no tables to release")
	}
	share := set.HeadlineShare
	if share == nil || share.Sign() == 0 || len(totals) == 0 || len(totals) == len(all) {
		s, err := SigmaSquaredForRho(new(big.Rat).Quo(rho, big.NewRat(int64(plan.Tables), 1)))
		if err != nil {
			return nil, err
		}
		plan.Sigma2 = s
		return plan, nil
	}
	headRho := new(big.Rat).Mul(rho, share)
	restRho := new(big.Rat).Sub(rho, headRho)
	hs, err := SigmaSquaredForRho(new(big.Rat).Quo(headRho, big.NewRat(int64(len(totals)), 1)))
	if err != nil {
		return nil, err
	}
	bs, err := SigmaSquaredForRho(new(big.Rat).Quo(restRho, big.NewRat(int64(plan.Tables-len(totals)), 1)))
	if err != nil {
		return nil, err
	}
	plan.Sigma2, plan.Headline = bs, &Tier{Tables: len(totals), Sigma2: hs}
	return plan, nil
}

// nestedPairs returns, for each cell with Within, the index of the cell it
// is within (its parent), and refuses pairs that would break the
// sensitivity the ledger accounts: the parent must exist with the same
// indicator, version, breakdown and Partition, not be within another
// cell, hold at least the child's count, and the pair must be alone in
// its partition (so a parent has one child).
func nestedPairs(cells []Cell) (map[int]int, error) {
	byKey := make(map[string]int, len(cells))
	members := map[string]int{} // partition of one breakdown → cells in it
	for i, c := range cells {
		byKey[cellKey(c.Indicator, c.Version, c.Breakdown, c.Measure)] = i
		if c.Partition != "" {
			members[partitionKey(c)]++
		}
	}
	pairs := map[int]int{}
	for i, c := range cells {
		if c.Within == "" {
			continue
		}
		name := fmt.Sprintf("cell %d (indicator %s, measure %s within %s)", i, c.Indicator, c.Measure, c.Within)
		j, ok := byKey[cellKey(c.Indicator, c.Version, c.Breakdown, c.Within)]
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: no cell of measure %s with the same indicator, version and breakdown", name, c.Within)
		case c.Partition == "" || cells[j].Partition != c.Partition:
			return nil, fmt.Errorf("%s: both cells of a nested pair must name the same partition", name)
		case cells[j].Within != "":
			return nil, fmt.Errorf("%s: measure %s is itself within another measure; nest one level only", name, c.Within)
		case cells[j].Count < c.Count:
			return nil, fmt.Errorf("%s: its count exceeds the count of the measure it is within", name)
		case members[partitionKey(c)] != 2:
			return nil, fmt.Errorf("%s: partition %s holds other measures besides the pair", name, c.Partition)
		}
		pairs[i] = j
	}
	return pairs, nil
}

func partitionKey(c Cell) string {
	return strings.Join([]string{c.Indicator, c.Version, breakdownJSON(c.Breakdown), c.Partition}, "\x00")
}
