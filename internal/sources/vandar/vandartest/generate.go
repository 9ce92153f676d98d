package vandartest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The generator makes a business's history: a month (by default) of gateway and form payments, cash-ins,
// direct debits, transfers, refunds and one or two settlements a day, with the outcomes, delays and fees a
// real Iranian merchant sees. Everything comes from the business's seeded random source, so the same seed,
// start and sizes always give the same items, ids and uuids.
//
// Money rules it keeps (mizan's running-balance check depends on them): money out is only generated when the
// wallet holds it at that moment, so the wallet never goes negative; payments are 10,000–5,000,000 Toman with
// a fee of about 1% capped at 10,000 (some plans pay none); settlements are at least 5,000 Toman.

// bank is an Iranian bank as IBANs and card numbers identify it.
type bank struct {
	code string // the three digits after the IBAN's check digits
	bin  string // card number prefix
	name string
}

func banks() []bank {
	return []bank{
		{"012", "610433", "بانک ملت"},
		{"017", "603799", "بانک ملی ایران"},
		{"018", "627353", "بانک تجارت"},
		{"019", "603769", "بانک صادرات ایران"},
		{"054", "622106", "بانک پارسیان"},
		{"056", "621986", "بانک سامان"},
		{"062", "636214", "بانک آینده"},
	}
}

// identity is what stays the same across a business's items.
type identity struct {
	owner    string
	accounts []account // the owner's bank accounts settlements go to
	apiToken string    // the gateway's api_token on payments
	forms    []form
	order    int64 // the shop's running order number (factorNumber)
}

type account struct {
	iban string
	bank bank
}

type form struct {
	id    int64
	title string
}

func newIdentity(rng *rand.Rand) identity {
	id := identity{owner: personName(rng), apiToken: randomString(rng, 13, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
		order: 1000 + rng.Int64N(9000)}
	for range 2 {
		b := pick(rng, banks())
		id.accounts = append(id.accounts, account{iban: iban(rng, b), bank: b})
	}
	for i, t := range []string{"فرم پرداخت شهریه", "فرم پیش‌پرداخت سفارش", "فرم کمک مالی"} {
		id.forms = append(id.forms, form{id: 2000 + int64(i)*37 + rng.Int64N(30), title: t})
	}
	return id
}

// generator holds what the history needs while it is being made.
type generator struct {
	b   *business
	rng *rand.Rand
	loc *time.Location
	// made are the records so far, and moves their effects on the wallet, for the balance at a moment.
	made  []*record
	moves moves
	// refundable are successful payments not yet refunded.
	refundable refundables
}

// generate makes days days of history from start's Tehran midnight, about perDay items a day.
func (b *business) generate(start time.Time, days, perDay int) error {
	g := &generator{b: b, rng: b.rng, loc: b.loc, moves: newMoves(b.opening)}
	first := tehranMidnight(start, b.loc)
	for d := range days {
		dayStart := time.Date(first.Year(), first.Month(), first.Day()+d, 0, 0, 0, 0, b.loc)
		if err := g.day(dayStart, perDay); err != nil {
			return err
		}
	}
	b.add(g.made...)
	if low := b.rebuild(); low < 0 {
		return fmt.Errorf("vandartest: generated history overdraws the wallet (%d): %w", low, ErrInsufficientFunds)
	}
	return nil
}

type arrival struct {
	at   time.Time
	kind Kind
}

func (g *generator) day(dayStart time.Time, perDay int) error {
	n := perDay*8/10 + g.rng.IntN(perDay*4/10+1)
	arrivals := make([]arrival, 0, n+2)
	for range n {
		arrivals = append(arrivals, arrival{at: dayStart.Add(g.timeOfDay()), kind: g.kind()})
	}
	// Most merchants settle once a day in the morning, some again in the evening.
	arrivals = append(arrivals, arrival{at: dayStart.Add(10*time.Hour + g.seconds(2*time.Hour)), kind: KindSettlement})
	if g.rng.IntN(2) == 0 {
		arrivals = append(arrivals, arrival{at: dayStart.Add(17*time.Hour + g.seconds(2*time.Hour)), kind: KindSettlement})
	}
	slices.SortStableFunc(arrivals, func(a, b arrival) int { return a.at.Compare(b.at) })
	for _, a := range arrivals {
		if err := g.make(a.kind, a.at); err != nil {
			return err
		}
	}
	return nil
}

// timeOfDay draws a moment of the day, busier in the afternoon and evening (Tehran time).
func (g *generator) timeOfDay() time.Duration {
	weights := []int{2, 1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 9, 8, 8, 8, 9, 9, 10, 10, 9, 7, 4}
	total := 0
	for _, w := range weights {
		total += w
	}
	x := g.rng.IntN(total)
	for h, w := range weights {
		if x < w {
			return time.Duration(h)*time.Hour + g.seconds(time.Hour)
		}
		x -= w
	}
	return 0
}

// seconds draws a whole number of seconds below d: Vandar's timestamps have no fractions.
func (g *generator) seconds(d time.Duration) time.Duration {
	return time.Duration(g.rng.Int64N(int64(d/time.Second))) * time.Second
}

func (g *generator) kind() Kind {
	table := []struct {
		k Kind
		w int
	}{
		{KindIPG, 58}, {KindForm, 15}, {KindCashIn, 8}, {KindSubscription, 5}, {KindRefund, 6},
		{KindInternalDeposit, 3}, {KindInternalWithdrawal, 2}, {KindCorrection, 1},
	}
	total := 0
	for _, e := range table {
		total += e.w
	}
	x := g.rng.IntN(total)
	for _, e := range table {
		if x < e.w {
			return e.k
		}
		x -= e.w
	}
	return KindIPG
}

// walletAt is the balance at t from what has been made so far. Everything made later has a larger id, so
// this is exactly the balance just before a new item created at t in the chain's (time, id) order.
func (g *generator) walletAt(t time.Time) int64 { return g.moves.balanceAt(t) }

// emit gives r its id and details and keeps it.
func (g *generator) emit(r *record) error {
	if err := g.b.allocate(r); err != nil {
		return err
	}
	g.b.describe(r)
	g.keep(r)
	return nil
}

func (g *generator) keep(r *record) {
	g.made = append(g.made, r)
	if at, ok := r.effective(); ok {
		g.moves.add(at, r.net())
	}
}

func (g *generator) make(k Kind, at time.Time) error {
	switch k {
	case KindIPG, KindForm:
		return g.payment(k, at)
	case KindCashIn:
		amount := round(g.logUniform(200_000, 50_000_000), 10_000)
		var wage int64
		if g.rng.IntN(10) < 6 {
			wage = min(amount/1000, 5_000)
		}
		return g.emit(g.instant(KindCashIn, amount, wage, at))
	case KindSubscription:
		amount := round(g.logUniform(50_000, 3_000_000), 1_000)
		return g.emit(g.instant(KindSubscription, amount, min(amount/100, 5_000), at))
	case KindInternalDeposit:
		return g.emit(g.instant(KindInternalDeposit, round(g.logUniform(100_000, 10_000_000), 10_000), 0, at))
	case KindCorrection:
		return g.emit(g.instant(KindCorrection, round(g.logUniform(1_000, 200_000), 100), 0, at))
	case KindInternalWithdrawal:
		w := g.walletAt(at)
		if w < 100_000 {
			return g.payment(KindIPG, at)
		}
		amount := round(50_000+g.rng.Int64N(min(w, 3_000_000)-50_000), 1_000)
		return g.emit(g.instant(KindInternalWithdrawal, amount, 0, at))
	case KindRefund:
		return g.refund(at)
	case KindSettlement:
		return g.settlement(at)
	}
	return fmt.Errorf("vandartest: cannot generate kind %q", k)
}

// instant is an item that is final from the moment it is created.
func (g *generator) instant(k Kind, amount, wage int64, at time.Time) *record {
	info, _ := infoOf(k)
	return &record{kind: k, info: info, amount: amount, wage: wage, deposit: info.deposit, created: at,
		resolved: at, final: info.finals[0]}
}

func (g *generator) payment(k Kind, at time.Time) error {
	info, _ := infoOf(k)
	amount := round(g.logUniform(10_000, 5_000_000), 1_000)
	var wage int64
	if g.rng.IntN(100) >= 15 {
		wage = min(amount/100, 10_000)
	}
	r := &record{kind: k, info: info, amount: amount, wage: wage, deposit: true, created: at,
		final: StatusPaymentSucceeded}
	switch x := g.rng.IntN(100); {
	case x < 74: // paid and verified within minutes
		r.resolved = at.Add(5*time.Second + g.seconds(3*time.Minute))
	case x < 80: // a two-step gateway payment verified much later: pending for a while
		r.resolved = at.Add(10*time.Minute + g.seconds(8*time.Hour))
	default: // abandoned or refused: failed once the gateway gives up on it
		r.final = StatusPaymentFailed
		r.resolved = at.Add(time.Second + g.seconds(20*time.Minute))
	}
	if err := g.emit(r); err != nil {
		return err
	}
	if r.final == StatusPaymentSucceeded {
		g.refundable.add(r)
	}
	return nil
}

// refund refunds a payment drawn among those that have succeeded by at and are not refunded yet, in the
// order they were made.
func (g *generator) refund(at time.Time) error {
	n := g.refundable.count(at)
	if n == 0 {
		return g.payment(KindIPG, at)
	}
	i := g.refundable.nth(at, g.rng.IntN(n))
	src := g.refundable.recs[i]
	amount := src.amount
	if g.rng.IntN(10) < 3 {
		amount = max(round(amount/2, 1_000), 1_000)
	}
	if amount > g.walletAt(at) {
		return g.payment(KindIPG, at)
	}
	g.refundable.remove(i)
	r := g.instant(KindRefund, amount, 0, at)
	r.refundOf = src.id
	r.det.cardNumber = src.det.cardNumber
	return g.emit(r)
}

func (g *generator) settlement(at time.Time) error {
	w := g.walletAt(at)
	amount := w * (50 + g.rng.Int64N(46)) / 100 / 10_000 * 10_000 // half to 95% of the wallet
	var wage int64
	if g.rng.IntN(2) == 0 {
		wage = min(max(amount/10_000, 240), 2_500)
	}
	if amount < 5_000 || amount+wage > w {
		return nil // not enough in the wallet today: no settlement
	}
	status, resolved := g.settlementOutcome(at)
	rs, err := g.b.newSettlement(NewItem{Kind: KindSettlement, Amount: amount, Wage: wage, CreatedAt: at,
		Status: status, ResolvedAt: resolved})
	if err != nil {
		return err
	}
	for _, r := range rs {
		g.keep(r)
	}
	return nil
}

// settlementOutcome draws how a settlement requested at t ends and when: most are paid at the predicted
// Paya cycle, some late (past their prediction), a few fail at the bank or are cancelled before being sent.
func (g *generator) settlementOutcome(t time.Time) (int, time.Time) {
	predicted, cancelable := payaCycle(t, g.loc)
	switch x := g.rng.IntN(100); {
	case x < 88:
		return StatusSettlementDone, predicted.Add(g.seconds(20 * time.Minute))
	case x < 92:
		return StatusSettlementDone, predicted.Add(2*time.Hour + g.seconds(8*time.Hour))
	case x < 96:
		return StatusSettlementFailed, predicted.Add(time.Hour + g.seconds(29*time.Hour))
	default:
		return StatusSettlementCanceled, t.Add(time.Minute + g.seconds(cancelable.Sub(t)-time.Minute))
	}
}

// payaCycle is when a settlement requested at t is predicted to be paid, and until when it can be
// cancelled. Non-instant settlements go to the bank in windows (facts.md §2.6); the simulator uses four
// daily Paya cycles and a cut-off 15 minutes before each, at least 30 minutes after the request.
func payaCycle(t time.Time, loc *time.Location) (predicted, cancelable time.Time) {
	day := tehranMidnight(t, loc)
	for d := 0; ; d++ {
		for _, hm := range [][2]int{{3, 45}, {9, 45}, {12, 45}, {18, 45}} {
			c := time.Date(day.Year(), day.Month(), day.Day()+d, hm[0], hm[1], 0, 0, loc)
			if !c.Before(t.Add(30 * time.Minute)) {
				return c, c.Add(-15 * time.Minute)
			}
		}
	}
}

// newSettlement makes a settlement and, if it fails or is cancelled, the return item that brings its amount
// back (wage 0, revised_transaction_id = the settlement). Both are allocated and described, not yet added.
func (b *business) newSettlement(n NewItem) ([]*record, error) {
	info, _ := infoOf(KindSettlement)
	r := &record{kind: KindSettlement, info: info, amount: n.Amount, wage: n.Wage, created: n.CreatedAt,
		resolved: n.ResolvedAt, final: n.Status, trackID: n.TrackID, iban: n.IBAN}
	if err := b.allocate(r); err != nil {
		return nil, err
	}
	b.describe(r)
	if n.Description != "" {
		r.det.description = n.Description
	}
	rs := []*record{r}
	if r.final == StatusSettlementFailed || r.final == StatusSettlementCanceled {
		ret, err := b.newReturn(r)
		if err != nil {
			return nil, err
		}
		rs = append(rs, ret)
	}
	return rs, nil
}

// newReturn makes the item that brings a failed or cancelled settlement's amount back when it resolves (wage
// 0: the fee is not returned), allocated and described, not yet added.
func (b *business) newReturn(r *record) (*record, error) {
	rinfo, _ := infoOf(KindReturn)
	ret := &record{kind: KindReturn, info: rinfo, amount: r.amount, deposit: true, created: r.resolved,
		resolved: r.resolved, final: StatusReturned, revised: r.id, iban: r.iban}
	if err := b.allocate(ret); err != nil {
		return nil, err
	}
	b.describe(ret)
	return ret, nil
}

// describe fills r's descriptive fields (and a settlement's missing track_id and IBAN) from the business's
// random source.
func (b *business) describe(r *record) {
	rng := b.rng
	r.uuid = uuid(rng)
	d := &r.det
	customerBank := pick(rng, banks())
	switch r.kind {
	case KindIPG, KindForm:
		d.cardNumber = customerBank.bin + "******" + digits(rng, 4)
		d.cid = randomString(rng, 64, "0123456789abcdef")
		d.refID = digits(rng, 12)
		d.trackingCode = digits(rng, 6)
		d.port = pick(rng, []string{"SAMAN", "BEHPARDAKHT"})
		if !b.noAPIToken {
			d.apiToken = b.id.apiToken
		}
		d.ip = fmt.Sprintf("%d.%d.%d.%d", 5+rng.IntN(180), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
		if rng.IntN(2) == 0 {
			d.mobile = "09" + digits(rng, 9)
		}
		if r.kind == KindIPG {
			b.id.order++
			d.factorNumber = strconv.FormatInt(b.id.order, 10)
			d.description = fmt.Sprintf("خرید به شماره سفارش : %d", b.id.order)
			d.callbackURL = fmt.Sprintf("https://%s.ir/checkout/vandar/callback?order=%d", b.slug, b.id.order)
		} else {
			f := pick(rng, b.id.forms)
			d.formID, d.formTitle = f.id, f.title
			d.payerName = personName(rng)
			d.payerEmail = fmt.Sprintf("customer%d@example.com", rng.IntN(100000))
			d.description = "پرداخت از " + f.title
		}
		failures := [][3]string{
			{"-2", "کاربر صفحه پرداخت را ترک کرده است.", "خطای کاربر"},
			{"-2", "کاربر صفحه پرداخت را ترک کرده است.", "خطای کاربر"},
			{"51", "موجودی حساب کافی نیست.", "خطای بانک"},
			{"55", "رمز کارت نامعتبر است.", "خطای کاربر"},
		}
		f := pick(rng, failures)
		d.failCode, d.failMessage, d.failGroup = f[0], f[1], f[2]
	case KindCashIn:
		d.payerName = personName(rng)
		d.payerIBAN = iban(rng, customerBank)
		d.paymentNumber = 1_000_000_000 + rng.Int64N(9_000_000_000)
		d.refID, d.trackingCode = digits(rng, 12), digits(rng, 6)
		d.description = "واریز با شناسه " + strconv.FormatInt(d.paymentNumber, 10)
	case KindSubscription:
		d.payerName = personName(rng)
		d.mobile = "09" + digits(rng, 9)
		d.refID, d.trackingCode = digits(rng, 12), digits(rng, 6)
		d.description = "برداشت مستقیم از حساب مشتری"
	case KindInternalDeposit:
		d.payerSlug = pick(rng, []string{"noavaran", "tak-market", "pars-shop", "kalaresan"})
		d.payerName = personName(rng)
		d.refID = digits(rng, 12)
		d.description = "انتقال وجه از " + d.payerSlug
	case KindInternalWithdrawal:
		d.receiverSlug = pick(rng, []string{"noavaran", "tak-market", "pars-shop", "kalaresan"})
		d.receiverName = personName(rng)
		d.refID = digits(rng, 12)
		d.description = "انتقال وجه به " + d.receiverSlug
	case KindCorrection:
		d.refID = digits(rng, 12)
		d.description = "اصلاح مبلغ تراکنش"
	case KindRefund:
		if d.cardNumber == "" {
			d.cardNumber = customerBank.bin + "******" + digits(rng, 4)
		}
		d.refID = digits(rng, 12)
		d.settlementPort = "3"
		d.description = "بازگشت وجه تراکنش"
		if r.refundOf != 0 {
			d.description += " " + strconv.FormatInt(r.refundOf, 10)
		}
	case KindSettlement:
		acct := pick(rng, b.id.accounts)
		if r.iban == "" {
			r.iban = acct.iban
		}
		if r.trackID == "" {
			r.trackID = uuid(rng)
		}
		d.receiverName = b.id.owner
		d.bankName = acct.bank.name
		for _, bk := range banks() {
			if len(r.iban) >= 7 && r.iban[4:7] == bk.code {
				d.bankName = bk.name
			}
		}
		d.refID, d.trackingCode = digits(rng, 12), digits(rng, 8)
		d.receiptURL = "https://vand.ar/" + randomString(rng, 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
		d.description = "تسویه حساب وندار"
		d.predicted, d.cancelableUntil = payaCycle(r.created, b.loc)
	case KindReturn:
		d.payerIBAN = r.iban
		d.description = fmt.Sprintf("بازگشت وجه تسویه %d", r.revised)
	}
	r.compact()
}

// compact moves r's strings into one allocation. The values stay the same; what changes is that a history of
// a million items is a few million objects fewer for the garbage collector to mark — in a benchmark the
// simulator shares its process with the poller it serves.
func (r *record) compact() {
	d := &r.det
	fields := []*string{&r.uuid, &r.trackID, &r.iban, &d.description, &d.refID, &d.trackingCode, &d.cardNumber,
		&d.cid, &d.ip, &d.factorNumber, &d.mobile, &d.callbackURL, &d.payerName, &d.payerIBAN, &d.payerEmail,
		&d.receiverName, &d.receiptURL, &d.failMessage, &d.failGroup}
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, f := range fields {
		sb.WriteString(*f)
	}
	all := sb.String()
	for _, f := range fields {
		l := len(*f)
		*f, all = all[:l], all[l:]
	}
}

// round rounds n down to a multiple of unit (at least unit).
func round(n, unit int64) int64 { return max(n/unit*unit, unit) }

// logUniform draws from [lo, hi] with small amounts more common than large ones, as real prices are.
func (g *generator) logUniform(lo, hi int64) int64 {
	l, h := math.Log(float64(lo)), math.Log(float64(hi))
	return int64(math.Exp(l + (h-l)*g.rng.Float64()))
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func digits(rng *rand.Rand, n int) string { return randomString(rng, n, "0123456789") }

func randomString(rng *rand.Rand, n int, alphabet string) string {
	var sb strings.Builder
	for range n {
		sb.WriteByte(alphabet[rng.IntN(len(alphabet))])
	}
	return sb.String()
}

// uuid draws a version-4 UUID from rng (not crypto/rand: the history must be reproducible).
func uuid(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// iban draws a valid Iranian IBAN at bank: IR, two ISO 7064 check digits, the bank's three digits, 19 more.
func iban(rng *rand.Rand, b bank) string {
	bban := b.code + digits(rng, 19)
	// Check digits: the BBAN followed by "IR00" with letters as numbers (I=18, R=27), mod 97.
	rem := 0
	for _, c := range bban + "182700" {
		rem = (rem*10 + int(c-'0')) % 97
	}
	return fmt.Sprintf("IR%02d%s", 98-rem, bban)
}

func personName(rng *rand.Rand) string {
	first := []string{"علی", "محمد", "زهرا", "فاطمه", "حسین", "مریم", "رضا", "سارا", "مهدی", "نرگس", "امیر", "لیلا"}
	last := []string{"احمدی", "محمدی", "حسینی", "رضایی", "کریمی", "موسوی", "جعفری", "قاسمی", "صادقی", "هاشمی"}
	return pick(rng, first) + " " + pick(rng, last)
}
