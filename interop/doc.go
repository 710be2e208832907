// Package interop holds cross-checks of acqsim against ISO 8583 implementations it did not write.
package interop
