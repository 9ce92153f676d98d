// Package simfault holds what mizan's provider simulators (internal/sources/vandar/vandartest,
// internal/sources/yabandpay/yabandpaytest) share, so that a fault means the same thing whichever provider
// stands behind it and one conformance suite (internal/sources/sourcetest) can drive both:
//
//   - Kind and Fault: the ways a provider, or what stands in front of it (proxies, a CDN, the network),
//     misbehaves for one request — an error status, a 429, a slow answer, a truncated or HTML body, a reset;
//   - Set: faults armed for a number of requests or for a share of them, drawn from a seed;
//   - Serve: a fault's answer, in the provider's own words where it has any (Voice);
//   - Limiter: a sliding-window rate limit, for a simulator's 429s;
//   - Clock: the simulated clock a test stops and moves.
//
// It is the simulators' side only: the clients in internal/sources share internal/sources/httpclient, and
// neither package imports the other, so that a misunderstanding of a provider cannot hide in both the client
// and the simulator at once.
package simfault
