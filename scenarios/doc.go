// Package scenarios decides what the host answers when it is told to
// misbehave: scenario files (YAML) are decoded strictly and validated once at
// load, their match expressions compiled; an Engine then plans each request
// from the scenario bound to its terminal (or the global one), keeping the
// rules' counters and the risk limits, and falling back on the default host
// behaviour.
package scenarios
