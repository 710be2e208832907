// Package interop holds cross-checks of acqsim against ISO 8583
// implementations it did not write: the npm package iso_8583, which packs
// sales (a retransmission and format errors among them) and holds the
// answers to its own field checks (sale.js), and Wireshark's ISO 8583
// dissector, which decodes a captured terminal day (tshark). Each skips
// when its tool is missing, unless ACQSIM_INTEROP=1 or ACQSIM_TSHARK=1.
package interop
