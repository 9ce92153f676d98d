package metrics

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/push"
)

// PushTimeout bounds one push to a Pushgateway.
const PushTimeout = 10 * time.Second

// Push sends everything reg holds to the Pushgateway at gateway (http[s]://host:port, optionally with
// user:password@ for basic auth), as the group job/instance: it replaces what the previous push of that group
// sent (HTTP PUT), so the group always shows the last run. It is how a one-shot run that nothing scrapes —
// `poller once` in a CronJob — still reports its polls.
//
// Its errors name the gateway without its password.
func Push(ctx context.Context, gateway, job, instance string, reg *Registry) error {
	u, err := url.Parse(gateway)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("pushgateway URL %q is not an http(s)://host:port URL", redact(gateway))
	}
	user, pass, auth := "", "", u.User != nil
	if auth {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	ctx, cancel := context.WithTimeout(ctx, PushTimeout)
	defer cancel()
	p := push.New(u.String(), job).Gatherer(reg.Gatherer()).Grouping("instance", instance)
	if auth {
		p = p.BasicAuth(user, pass)
	}
	if err := p.PushContext(ctx); err != nil {
		return fmt.Errorf("push metrics to %s: %w", u.Redacted(), err)
	}
	return nil
}

// redact drops what looks like credentials from a URL that did not parse.
func redact(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		scheme, _, ok := strings.Cut(s[:at], "://")
		if ok {
			return scheme + "://…@" + s[at+1:]
		}
		return "…@" + s[at+1:]
	}
	return s
}
