package vandartest

import "fmt"

// The discrepancy knobs plant the faults a reconciliation must catch, one item at a time. Each is a fact
// about the provider, not about a request: it lasts until the Server is gone and shows to every client.
// Items reports which items carry one.

// HideItem leaves an item out of the statement while the wallet (and so every later item's `wallet` and the
// balance) still reflects it: the running-balance check must find the gap.
func (s *Server) HideItem(slug string, id int64) error {
	return s.plant(slug, id, func(b *business, r *record) error {
		r.hidden = true
		return nil
	})
}

// DuplicateItem makes the statement list an item twice, same id, back to back: mizan must count it once.
func (s *Server) DuplicateItem(slug string, id int64) error {
	return s.plant(slug, id, func(b *business, r *record) error {
		r.duplicated = true
		return nil
	})
}

// MisSignFee makes the wallet apply an item's fee with the wrong sign — money in gains amount + wage, money
// out loses amount − wage — while the item still reports its wage as usual. The item's `wallet`, every
// later one and the balance carry the error (2 × wage): the running balance breaks at that item.
func (s *Server) MisSignFee(slug string, id int64) error {
	return s.plant(slug, id, func(b *business, r *record) error {
		if r.wage == 0 {
			return fmt.Errorf("vandartest: item %d has no fee to mis-sign", id)
		}
		if _, moves := r.effective(); !moves {
			return fmt.Errorf("vandartest: item %d never moves the wallet", id)
		}
		r.misSignedFee = true
		if b.rebuild() < 0 {
			r.misSignedFee = false
			b.rebuild()
			return ErrInsufficientFunds
		}
		return nil
	})
}

// ChangeAmount restates a past item's amount, as a provider correcting its books would: from now on the
// statement reports the new amount, and the wallet chain (the item's `wallet`, every later one and the
// balance) is recomputed with it. mizan, having posted the old amount, must raise a changed-item alert.
func (s *Server) ChangeAmount(slug string, id int64, amount int64) error {
	return s.plant(slug, id, func(b *business, r *record) error {
		if amount <= 0 {
			return fmt.Errorf("vandartest: amount %d must be positive", amount)
		}
		old := r.amount
		r.amount = amount
		if b.rebuild() < 0 {
			r.amount = old
			b.rebuild()
			return ErrInsufficientFunds
		}
		return nil
	})
}

// DriftBalance makes the balance endpoint report the wallet plus delta (cumulative over calls) while the
// statement stays true: the balance check must catch it.
func (s *Server) DriftBalance(slug string, delta int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.business(slug)
	if err != nil {
		return err
	}
	b.drift += delta
	return nil
}

func (s *Server) plant(slug string, id int64, f func(*business, *record) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.business(slug)
	if err != nil {
		return err
	}
	// A knob that changes the wallet chain can change when a queued settlement is affordable: the queue's
	// planned releases come out first (so a release not yet made is not an item yet) and are planned again.
	now := s.nowLocked()
	b.unplanQueue(now)
	defer b.planQueue(now)
	r := b.byID[id]
	if r == nil {
		return fmt.Errorf("vandartest: business %s, item %d: %w", slug, id, ErrUnknownItem)
	}
	return f(b, r)
}
