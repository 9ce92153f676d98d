package vandar

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mizanhq/mizan/internal/events"
)

// The table's decisions, spelt out once more: changing one of them must be deliberate (DESIGN.md, "Ledger").
func TestLookupStatus(t *testing.T) {
	t.Parallel()
	in, out := events.DirectionIn, events.DirectionOut
	want := map[int]StatusInfo{
		1:  {1, "SUCCESSFUL_TRANSACTION", events.KindPayment, events.StateSucceeded, true, in},
		-1: {-1, "FAILED_TRANSACTION", events.KindPayment, events.StateFailed, false, in},
		3:  {3, "PENDING_TRANSACTION", events.KindPayment, events.StatePending, false, in},
		2:  {2, "SUCCESSFUL_SETTLEMENT", events.KindSettlement, events.StateSucceeded, true, out},
		-2: {-2, "PENDING_SETTLEMENT", events.KindSettlement, events.StatePending, true, out},
		-3: {-3, "FAILED_SETTLEMENT", events.KindSettlement, events.StateFailed, true, out},
		-4: {-4, "CANCELED_SETTLEMENT", events.KindSettlement, events.StateCanceled, true, out},
		4:  {4, "CORRECTED_TRANSACTION", events.KindCorrection, events.StateSucceeded, true, ""},
		5:  {5, "INTERNAL_DEPOSIT", events.KindInternalDeposit, events.StateSucceeded, true, in},
		-5: {-5, "INTERNAL_WITHDRAW", events.KindInternalWithdrawal, events.StateSucceeded, true, out},
		6:  {6, "SUBSCRIPTION", events.KindSubscription, events.StateSucceeded, true, in},
		-6: {-6, "RETURNED_FROM_BANK_OR_VANDAR", events.KindReturned, events.StateSucceeded, true, in},
		9:  {9, "UNKNOWN", KindUnknown, StateUnknown, false, ""},
	}
	if len(StatusCodes()) != len(want) {
		t.Errorf("StatusCodes() has %d codes, want %d", len(StatusCodes()), len(want))
	}
	for _, code := range StatusCodes() {
		got, ok := LookupStatus(code)
		if !ok {
			t.Errorf("LookupStatus(%d): not found", code)
			continue
		}
		if diff := cmp.Diff(want[code], got); diff != "" {
			t.Errorf("LookupStatus(%d) (-want +got):\n%s", code, diff)
		}
	}
	for _, code := range []int{0, 7, 8, -7, -9, 10, 100} {
		if got, ok := LookupStatus(code); ok {
			t.Errorf("LookupStatus(%d) = %+v, want not found", code, got)
		}
	}
}

func TestNormalizeChannel(t *testing.T) {
	t.Parallel()
	for label, want := range map[string]string{
		"پرداخت اینترنتی":    ChannelIPG,
		" پرداخت  اینترنتی ": ChannelIPG,
		"فرم دریافت پول":     ChannelForm,
		"واریز با شناسه":     ChannelCashIn,
		"واريز با شناسه":     ChannelCashIn, // Arabic yeh
		"بازگشت وجه":         ChannelRefund,
		"تسویه حساب":         ChannelSettlement,
		"تسویه\u200cحساب":    ChannelSettlement, // zero-width non-joiner
		"تسويه حساب":         ChannelSettlement, // Arabic yeh
		"تسویه شاپرکی":       ChannelShaparakSettlement,
		"پرداخت خودکار":      ChannelSubscription,
		"کارتخوان":           ChannelPOS,
		"IPG":                ChannelIPG,
		"cash-in-by-code":    ChannelCashIn,
		"settlements":        ChannelSettlement,
		"":                   ChannelOther,
		"چیز دیگری":          ChannelOther,
	} {
		if got := NormalizeChannel(label); got != want {
			t.Errorf("NormalizeChannel(%q) = %q, want %q", label, got, want)
		}
	}
}

func TestKindForRefinesByChannel(t *testing.T) {
	t.Parallel()
	pay, _ := LookupStatus(1)
	settle, _ := LookupStatus(2)
	for _, tc := range []struct {
		info    StatusInfo
		channel string
		want    string
	}{
		{pay, ChannelIPG, events.KindPayment},
		{pay, ChannelCashIn, events.KindCashIn},
		{settle, ChannelSettlement, events.KindSettlement},
		{settle, ChannelRefund, events.KindRefund},
		{settle, ChannelCashIn, events.KindSettlement},
	} {
		if got := kindFor(tc.info, tc.channel); got != tc.want {
			t.Errorf("kindFor(%d, %s) = %s, want %s", tc.info.Code, tc.channel, got, tc.want)
		}
	}
}
