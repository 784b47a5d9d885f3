// Package segmenttest is a Segment-compatible HTTP server for tests,
// benchmarks and segloop's sandbox. It speaks the Tracking API's dialect
// independently of package segment, so it can referee that client's wire
// format:
//
//   - POST /v1/identify takes one event ("type", if present, must be
//     "identify"); POST /v1/batch and its alias /v1/import take
//     {"batch":[...]} where every item carries "type". Any other path is a
//     404, any other method a 405. Content-Encoding: gzip is accepted.
//   - Auth: HTTP Basic with the write key as user name and an empty password,
//     or a "writeKey" field of the body; otherwise 401.
//   - Limits: a body over 500 KB (MaxBodyBytes), an event over 32 KB
//     (MaxEventBytes), bad JSON, or an event with neither userId nor
//     anonymousId is answered 400 with the plain-text body "Bad Request".
//     Deviation: real Segment answers 200 to an event without any id and
//     drops it later; this server answers 400 so tests notice. Like Segment,
//     a batch over 2,500 events (MaxBatchEvents) is answered 200 and the
//     excess is dropped (counted in Stats.Dropped).
//   - Rate limit: a token bucket of Options.Rate requests/s. A refused request
//     gets 429 with Retry-After (whole seconds until a token is free, at least
//     1) and X-RateLimit-Reset (Unix seconds when the window ends), and opens a
//     window of that length in which every request gets 429 with the time
//     left. Requests arriving in the window more than Options.Grace after the
//     429 that opened it count as Stats.EarlyRequests: clients that ignore
//     Retry-After show there.
//   - Faults: a seeded fraction of requests is answered 503 or has its
//     connection reset; Options.Latency delays every answer; Handler.Script
//     answers the next requests exactly as given.
//   - Accepted events are recorded: counts per messageId (duplicates
//     counted), and with Options.KeepEvents the events themselves.
//
// Checks run in this order: script, route, auth, Retry-After window and token
// bucket, injected reset or 503, body checks, then 200 {"success":true}.
//
// A Handler is safe for concurrent use; decoding runs outside any lock and
// the messageId record is sharded, so it sustains tens of thousands of events
// per second on two cores.
package segmenttest
