// Package httpclient holds the HTTP plumbing mizan's provider clients (internal/sources/vandar,
// internal/sources/yabandpay) share, so that the rules every provider call must keep are written once:
//
//   - Retrier: the retry loop — exponential backoff with jitter, a Retry-After that replaces the backoff's
//     wait, a budget of attempts and of time, and only errors that say they are Retryable retried;
//   - Send: one attempt's exchange — a transport failure or a body cut short is a TransportError (retryable
//     when the network failure is transient), a body over the size limit is ErrTooLarge, and the Retry-After
//     of a 429 or 503 is read (ParseRetryAfter);
//   - Snippet, Sanitize and Cut: untrusted response text made safe and short for errors and logs.
//
// What differs between providers stays with them: authentication, request signing, the shapes of their error
// bodies, what a refusal in a 200 looks like, and which of their secrets must be redacted. Errors from here
// start with a name the caller gives (e.g. "vandar GET /v2/business/acme/balance"), so that they read as the
// provider's own.
package httpclient
