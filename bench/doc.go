// Package bench is a load generator for ISO 8583 hosts: many terminals, each
// on its own connection, send a mix of sales, voids, reversals and balance
// inquiries in a closed or an open loop, and the latencies and response codes
// they get are added up. `acqsim bench` runs it.
//
// It is built to be faster than the host it measures: each terminal packs its
// requests once with moov-io/iso8583 and the dialect's spec and then writes
// the fields that change (STAN, time, the original's data) in place; one
// goroutine per connection reads and matches responses by STAN, and one
// deadline per connection expires the requests that wait too long;
// latencies go into histograms of constant size.
package bench
