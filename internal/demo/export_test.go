package demo

// The summary's fixed texts, for the tests that read it.
const (
	HeadingBalances  = headingBalances
	HeadingPlanted   = headingPlanted
	HeadingLedger    = headingLedger
	LegendDifference = legendDifference
	LegendSigns      = legendSigns
)
