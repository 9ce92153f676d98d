package apply

import (
	"testing"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/bankstatement"
)

// TestSnapshotsKeepTheLedgerOnlyForBalanceOnlySources pins what the registry's declarations decide: a source
// that reads balances and no statement has its snapshots posted; one whose statement builds the wallet has its
// balances compared with it instead; a provider nobody registered has neither done.
func TestSnapshotsKeepTheLedgerOnlyForBalanceOnlySources(t *testing.T) {
	for provider, want := range map[string]bool{
		events.ProviderYabandPay: true,  // balance only
		events.ProviderVandar:    false, // balance and a running-balance statement
		bankstatement.Name:       false, // bank statements: no provider balance at all
		"no-such-provider":       false,
	} {
		if got := snapshotsKeepLedger(provider); got != want {
			t.Errorf("snapshotsKeepLedger(%q) = %v, want %v", provider, got, want)
		}
	}
}
