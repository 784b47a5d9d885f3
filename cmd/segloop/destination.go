package main

import (
	"github.com/segloop/segloop/segment"
)

// destination is where a run sends: Segment's endpoint with the write key,
// or an in-process sandbox server. client is nil in a dry run, which sends
// nothing. Close stops the sandbox.
type destination struct {
	endpoint string
	writeKey string
	sandbox  *sandboxServer // nil without --sandbox
	client   *segment.Client
}

// openDestination starts the sandbox (--sandbox) and makes the client. A
// client that cannot be made (a malformed endpoint) is a usage error.
func openDestination(f *importFlags) (*destination, error) {
	d := &destination{endpoint: f.endpoint, writeKey: f.writeKey}
	if f.sandbox {
		d.sandbox = startSandbox(sandboxOptions())
		d.endpoint, d.writeKey = d.sandbox.URL, sandboxWriteKey
	}
	if f.dryRun {
		return d, nil
	}
	var err error
	d.client, err = segment.NewClient(segment.Config{
		WriteKey:  d.writeKey,
		Endpoint:  d.endpoint,
		Timeout:   f.timeout,
		UserAgent: "segloop/" + version,
	})
	if err != nil {
		d.Close()
		return nil, usageError("import: %v", err)
	}
	return d, nil
}

// Close stops the sandbox, if any.
func (d *destination) Close() {
	if d.sandbox != nil {
		d.sandbox.Close()
	}
}

// destinationName names where the run sends, for checkpoints: a record of
// items delivered to one place must not skip them when sending to another.
// Diff mode is part of it: its messageIds differ, so a checkpoint of a run in
// one mode must not resume a run in the other.
func destinationName(f *importFlags) string {
	d := f.endpoint
	if f.sandbox {
		d = "sandbox"
	}
	if f.diff.location != "" {
		d += " (diff mode)"
	}
	return d
}
