// Package registry lists the providers mizan can poll, by the name the sources file gives them in
// `provider:`. It is the one place that names them all: cmd/poller hands it to the configuration and the
// poller, which know only the sources.Provider interface. Adding a source is its own folder, one line here,
// and its page in docs/sources.md.
package registry

import (
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/bankstatement"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
)

// Providers returns every provider mizan has.
func Providers() sources.Registry {
	return sources.Registry{
		events.ProviderVandar:    vandar.Provider{},
		events.ProviderYabandPay: yabandpay.Provider{},
		bankstatement.Name:       bankstatement.Provider{},
	}
}
