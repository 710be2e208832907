package scenarios

import "github.com/acqsim/acqsim/txn"

// registry applies the merchant and terminal statuses: the response code a
// request gets from its merchant's or terminal's standing, and the act that
// says whose status it was; "" when neither stops it. The terminal's is read
// first.
func (b *binding) registry(r *txn.Request) (rc string, act Act) {
	if p, ok := b.sc.Terminals[r.TID]; ok {
		if rc := p.code(r.Type); rc != "" {
			return rc, Act{Kind: ActTerminalStatus, Name: p.Status}
		}
	}
	if p, ok := b.sc.merchant(r.MID); ok {
		if rc := p.code(r.Type); rc != "" {
			return rc, Act{Kind: ActMerchantStatus, Name: p.Status}
		}
	}
	return "", Act{}
}

// code is the response code a party's status gives a request of type t, or
// "" when the status does not stop it.
func (p Party) code(t txn.Type) string {
	def := ""
	switch p.Status {
	case "unregistered":
		if t != txn.Echo {
			def = txn.NotRegistered
		}
	case "frozen", "closed":
		if t != txn.Echo && t != txn.SignOff {
			def = txn.InvalidMerchant
		}
	case "settlement-suspended":
		if txn.Of(t).ClosesBooks {
			def = txn.InvalidMerchant
		}
	case "void-disabled":
		if txn.Of(t).IsVoid() {
			def = txn.NotPermitted
		}
	}
	if def != "" && p.RC != "" {
		return p.RC
	}
	return def
}
