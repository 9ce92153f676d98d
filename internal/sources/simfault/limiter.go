package simfault

import "time"

// Limiter is a sliding log of requests per key (a token, a client address): no window of the given length
// ever holds more than the limit. The zero value is ready to use. It is not safe for concurrent use: the
// simulator's lock guards it.
type Limiter struct {
	hits  map[string][]time.Time
	swept time.Time
}

// Allow records a request for key at now and reports true, or, when the last window already holds limit
// requests, reports false and how long until one would be allowed.
func (l *Limiter) Allow(key string, limit int, window time.Duration, now time.Time) (bool, time.Duration) {
	if l.hits == nil {
		l.hits = map[string][]time.Time{}
	}
	if now.Sub(l.swept) > time.Minute { // forget keys (rotated tokens, gone clients) that have gone quiet
		for k, hs := range l.hits {
			if len(hs) == 0 || now.Sub(hs[len(hs)-1]) > window {
				delete(l.hits, k)
			}
		}
		l.swept = now
	}
	hs := l.hits[key]
	i := 0
	for i < len(hs) && now.Sub(hs[i]) >= window {
		i++
	}
	hs = hs[i:]
	if len(hs) >= limit {
		l.hits[key] = hs
		return false, hs[0].Add(window).Sub(now)
	}
	l.hits[key] = append(hs, now)
	return true, 0
}
