// Package slacktest is a Slack-compatible incoming-webhook sink for tests and the local pipeline: it answers
// like Slack (200 "ok"; 429 with Retry-After; 4xx with Slack's plain-text error codes; 5xx), records every
// message it accepts, and can print them as they arrive.
package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
)

// Message is one accepted webhook message: its fallback text and raw Block Kit blocks.
type Message struct {
	Text   string          `json:"text"`
	Blocks json.RawMessage `json:"blocks"`
}

// Fault is how the next requests are answered instead of accepting them.
type Fault struct {
	Status     int    // 429, 500, 400, 404, …
	RetryAfter int    // seconds, for 429
	Body       string // Slack's error string, e.g. invalid_payload; default per status
}

// Sink is a running fake webhook.
type Sink struct {
	URL string
	hs  *httptest.Server

	mu       sync.Mutex
	messages []Message
	faults   []Fault
	requests int
	out      io.Writer
}

// New starts a sink. out, when not nil, receives each accepted message's text as it arrives.
func New(out io.Writer) *Sink {
	s := &Sink{out: out}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL + "/services/T000/B000/XXXXXXXX"
	return s
}

// Close stops the sink.
func (s *Sink) Close() { s.hs.Close() }

// Fail makes the next len(faults) requests answer with those faults, in order.
func (s *Sink) Fail(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// Messages returns every accepted message, in arrival order.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests counts every request, accepted or not.
func (s *Sink) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.Method != http.MethodPost {
		http.Error(w, "invalid_method", http.StatusMethodNotAllowed)
		return
	}
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		if f.Status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(max(f.RetryAfter, 1)))
		}
		body := f.Body
		if body == "" {
			body = map[int]string{400: "invalid_payload", 403: "action_prohibited", 404: "channel_not_found",
				410: "channel_is_archived", 429: "rate_limited", 500: "rollup_error"}[f.Status]
		}
		w.WriteHeader(f.Status)
		io.WriteString(w, body)
		return
	}
	var m Message
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil || (m.Text == "" && len(m.Blocks) == 0) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "invalid_payload")
		return
	}
	s.messages = append(s.messages, m)
	if s.out != nil {
		fmt.Fprintf(s.out, "  slack ▸ %s\n", m.Text)
	}
	io.WriteString(w, "ok")
}
