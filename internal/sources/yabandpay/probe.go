package yabandpay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/mizanhq/mizan/internal/sources"
)

// Probe asks for each configured currency's balance once and reports what it understood, through the
// decoder the balance feed uses. A problem is what the poller would not take in silently: a refusal (a wrong
// key, a user without the right), or an answer it would quarantine.
func (s *Source) Probe(ctx context.Context, rec sources.Recorder) (sources.Report, error) {
	var report sources.Report
	for _, cur := range s.currencies {
		r := balanceCall(cur)
		report.Endpoints = append(report.Endpoints, sources.EndpointReport{Endpoint: r.endpoint() + " " + cur})
		e := &report.Endpoints[len(report.Endpoints)-1]
		body, err := s.client.send(ctx, r)
		if err != nil {
			var apiErr *APIError
			if errors.As(err, &apiErr) {
				e.Status = apiErr.Status
			}
			e.Problems = append(e.Problems, err.Error())
			continue
		}
		e.Status, e.Shape = http.StatusOK, sources.Shape(body)
		if rec != nil {
			clean, err := sources.Redact([]byte(s.client.redact(string(body))), map[string]string{"user": "000000"})
			if err == nil {
				err = rec.Record("balance_"+strings.ToLower(cur)+".json", clean)
			}
			if err != nil {
				e.Problems = append(e.Problems, "not recorded: "+err.Error())
			}
		}
		b, err := decodeBalance(r.endpoint(), s.user, cur, body, s.client.redact)
		if err != nil {
			e.Problems = append(e.Problems, "would be quarantined: "+err.Error())
			continue
		}
		b.ObservedAt = s.now().UTC()
		e.Count = 1
		b.Raw = nil
		if first, err := json.Marshal(b); err == nil {
			e.First = string(first)
		}
		var data map[string]json.RawMessage
		var top struct {
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(body, &top) == nil && json.Unmarshal(top.Data, &data) == nil {
			var unread []string
			for k := range data {
				if !slices.Contains(append([]string{"currency", "user"}, figureNames...), k) {
					unread = append(unread, k)
				}
			}
			if len(unread) > 0 {
				slices.Sort(unread)
				e.Notes = append(e.Notes, "fields mizan does not read (kept in the raw answer): "+strings.Join(unread, ", "))
			}
		}
	}
	return report, nil
}
