package vandartest

import (
	"time"
)

// wireItem is a statement item as Vandar sends it: every field of the document's example and of the public
// fixtures (providers/facts.md §2.4), in their order, null where the item has no value.
type wireItem struct {
	ID                   int64          `json:"id"`
	UUID                 string         `json:"uuid"`
	TrackID              *string        `json:"track_id"`
	Amount               int64          `json:"amount"`
	Wage                 int64          `json:"wage"`
	Status               int            `json:"status"`
	RefID                *string        `json:"ref_id"`
	TrackingCode         *string        `json:"tracking_code"`
	CardNumber           *string        `json:"card_number"`
	CID                  *string        `json:"cid"`
	Verified             int            `json:"verified"`
	Channel              string         `json:"channel"`
	PaymentDate          *string        `json:"payment_date"`
	PaymentNumber        *int64         `json:"payment_number"`
	CreatedAt            string         `json:"created_at"`
	UpdatedAt            string         `json:"updated_at"`
	EffectiveAtJalali    *string        `json:"effective_at_jalali"`
	EffectiveTimeStamp   *int64         `json:"effective_time_stamp"`
	Wallet               int64          `json:"wallet"`
	Result               *string        `json:"result"`
	Description          *string        `json:"description"`
	FactorNumber         *string        `json:"factorNumber"`
	Mobile               *string        `json:"mobile"`
	CallbackURL          *string        `json:"callback_url"`
	FormID               *int64         `json:"form_id"`
	FormTitle            *string        `json:"form_title"`
	Settlement           *string        `json:"settlement"`
	SettlementPort       *string        `json:"settlement_port"`
	Port                 *string        `json:"port"`
	Comments             []string       `json:"comments"`
	APIToken             *string        `json:"api_token"`
	Logs                 any            `json:"logs"`
	RevisedTransactionID *int64         `json:"revised_transaction_id"`
	Refund               *wireRefund    `json:"refund"`
	RefundDetailIDs      []int64        `json:"refund_detail_ids"`
	IsShaparakPort       bool           `json:"is_shaparak_port"`
	IsDeposit            bool           `json:"is_deposit"`
	Payer                wirePayer      `json:"payer"`
	Receiver             wireReceiver   `json:"receiver"`
	ReceiptURL           *string        `json:"receipt_url"`
	TimePrediction       wirePrediction `json:"time_prediction"`
}

type wireLogs struct {
	TransactionID int64  `json:"transaction_id"`
	ResultCode    string `json:"result_code"`
	ResultMessage string `json:"result_message"`
	LogDate       string `json:"log_date"`
	Group         string `json:"group"`
}

type wireRefund struct {
	Type              string  `json:"type"`
	SourceTransaction *int64  `json:"source_transaction"`
	ErrorGroup        *string `json:"error_group"`
	ErrorDescription  *string `json:"error_description"`
}

type wirePayer struct {
	IP               *string `json:"ip"`
	IBAN             *string `json:"iban"`
	Name             *string `json:"name"`
	Slug             *string `json:"slug"`
	Avatar           *string `json:"avatar"`
	LegalName        *string `json:"legal_name"`
	BusinessOwner    *string `json:"business_owner"`
	Email            *string `json:"email"`
	Phone            *string `json:"phone"`
	Address          *string `json:"address"`
	Mobile           *string `json:"mobile"`
	AdditionalFields any     `json:"additional_fields"`
	Description      *string `json:"description"`
}

type wireReceiver struct {
	Name          *string `json:"name"`
	LegalName     *string `json:"legal_name"`
	Slug          *string `json:"slug"`
	Avatar        *string `json:"avatar"`
	BusinessOwner *string `json:"business_owner"`
	IBAN          *string `json:"iban"`
	BankName      *string `json:"bank_name"`
}

type wirePrediction struct {
	IsAdminCheckStatus              bool    `json:"is_admin_check_status"`
	HasChangeDoneTimePrediction     bool    `json:"has_change_done_time_prediction"`
	IsCancelable                    bool    `json:"is_cancelable"`
	HasChangePortToPaya             bool    `json:"has_change_port_to_paya"`
	SettlementDoneTimePrediction    *string `json:"settlement_done_time_prediction"`
	SettlementCancelableTime        *string `json:"settlement_cancelable_time"`
	IsSettlementPayaReportFinally   *bool   `json:"is_settlement_paya_report_finally"`
	SettlementPayaReportFinallyTime *string `json:"settlement_paya_report_finally_time"`
	IsAfterTimePrediction           *bool   `json:"is_after_time_prediction"`
	IsAfterCancelable               *bool   `json:"is_after_cancelable"`
	P2PTimePrediction               *string `json:"p2p_time_prediction"`
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func num(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

func boolp(b bool) *bool { return &b }

// wire renders r as Vandar would report it at now. wallet is the running balance after r (meaningful only
// if r has moved the wallet by now).
func (r *record) wire(now time.Time, wallet int64, loc *time.Location) wireItem {
	status := r.statusAt(now)
	resolved := !now.Before(r.resolved)
	updated := r.created
	if resolved {
		updated = r.resolved
	}
	d := r.det
	w := wireItem{
		ID:              r.id,
		UUID:            r.uuid,
		TrackID:         str(r.trackID),
		Amount:          r.amount,
		Wage:            r.wage,
		Status:          status,
		CardNumber:      str(d.cardNumber),
		CID:             str(d.cid),
		Channel:         r.info.label,
		PaymentNumber:   num(d.paymentNumber),
		CreatedAt:       stamp(r.created, loc),
		UpdatedAt:       stamp(updated, loc),
		Description:     str(d.description),
		FactorNumber:    str(d.factorNumber),
		Mobile:          str(d.mobile),
		CallbackURL:     str(d.callbackURL),
		FormID:          num(d.formID),
		FormTitle:       str(d.formTitle),
		SettlementPort:  str(d.settlementPort),
		Port:            str(d.port),
		Comments:        []string{},
		APIToken:        str(d.apiToken),
		Logs:            []any{}, // the public fixtures' "no logs" is an empty array, not null
		RefundDetailIDs: []int64{},
		IsDeposit:       r.deposit,
		Payer: wirePayer{
			IP: str(d.ip), IBAN: str(d.payerIBAN), Name: str(d.payerName), Slug: str(d.payerSlug),
			Email: str(d.payerEmail), Mobile: str(d.mobile),
		},
		Receiver: wireReceiver{Name: str(d.receiverName), Slug: str(d.receiverSlug), BankName: str(d.bankName)},
	}
	if r.deposit {
		w.Payer.Description = str(d.description) // the payer's words, as on the documents' payment
	}
	if r.kind == KindSettlement {
		w.Receiver.IBAN = str(r.iban) // a return names the IBAN as its payer instead
	}
	if r.revised != 0 {
		w.RevisedTransactionID = &r.revised
	}
	if at, ok := r.effective(); ok && !at.After(now) {
		js, ts := stamp(at, loc), at.Unix()
		w.EffectiveAtJalali, w.EffectiveTimeStamp = &js, &ts
		w.Wallet = wallet
	}
	switch r.kind {
	case KindIPG, KindForm:
		w.IsShaparakPort = true
		switch {
		case status == StatusPaymentSucceeded:
			w.Verified = 1
			w.RefID, w.TrackingCode = str(d.refID), str(d.trackingCode)
			w.PaymentDate = str(stamp(r.resolved, loc))
			w.Result = str("تراکنش با موفقیت انجام شد.")
		case status == StatusPaymentFailed:
			w.Logs = wireLogs{TransactionID: r.id, ResultCode: d.failCode, ResultMessage: d.failMessage,
				LogDate: logDate(r.resolved, loc), Group: d.failGroup}
		}
	case KindCashIn, KindSubscription, KindInternalDeposit, KindInternalWithdrawal, KindCorrection:
		w.Verified = 1
		w.RefID, w.TrackingCode = str(d.refID), str(d.trackingCode)
		w.PaymentDate = str(stamp(r.created, loc))
	case KindRefund:
		w.Verified = 1
		w.RefID = str(d.refID)
		w.PaymentDate = str(stamp(r.created, loc))
		w.Refund = &wireRefund{Type: "IPG", SourceTransaction: num(r.refundOf)}
	case KindSettlement:
		w.TimePrediction = r.prediction(now, loc)
		if status == StatusSettlementDone {
			w.RefID, w.TrackingCode = str(d.refID), str(d.trackingCode)
			w.PaymentDate = str(stamp(r.resolved, loc))
			w.ReceiptURL = str(d.receiptURL)
		}
	}
	return w
}

// prediction is a settlement's time_prediction block as of now.
func (r *record) prediction(now time.Time, loc *time.Location) wirePrediction {
	pending := r.statusAt(now) == StatusSettlementPending
	done, cancel := predictionTime(r.det.predicted, loc), predictionTime(r.det.cancelableUntil, loc)
	return wirePrediction{
		IsCancelable:                  pending && now.Before(r.det.cancelableUntil),
		SettlementDoneTimePrediction:  &done,
		SettlementCancelableTime:      &cancel,
		IsSettlementPayaReportFinally: boolp(r.statusAt(now) == StatusSettlementDone),
		IsAfterTimePrediction:         boolp(pending && now.After(r.det.predicted)),
		IsAfterCancelable:             boolp(!now.Before(r.det.cancelableUntil)),
	}
}
