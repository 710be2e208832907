// Package emv is a chip card's cryptography on both sides: field 55's tags, the
// issuer's keys and cryptograms (ARQC checked, ARPC answered, scripts), and a
// card that answers them as a real one would.
//
// The host reads a request's field 55 with ParseTags, picks the card's
// Profile by its BIN (Profiles.For), checks the ARQC (Profile.Authorise) and
// answers with tag 91 for the response code it sends (Auth.IssuerData) and,
// if it likes, issuer scripts (Auth.Script). The terminal emulator plays a
// Card: FirstAC gives the request's field 55, SecondAC reads the response as a
// card would and gives a TC or an AAC.
//
// The four methods (emv-csk, visa-cvn10, visa-cvn18, mc-cvn16) reproduce, byte
// for byte, the cases in testdata/emv.json, computed with pyemv, an
// independent implementation; methods in method.go says what each one uses.
// The keys there are test keys, never real ones.
//
// # The cards file
//
// LoadProfiles reads profiles on top of the built-in ones from YAML:
//
//	cards:
//	  - name: my-visa
//	    like: visa-cvn18          # start from a profile (built-in or earlier in the file)
//	    bins: ["412345", "412300-412399"]
//	    method: visa-cvn18        # one of the methods (required unless like)
//	    keys: {ac: HEX32, smi: HEX32, smc: HEX32}
//	    verify: none              # or arqc (the default)
//	    arpc: none                # or method (the default: the method's ARPC)
//	    card: {pan: "4123450000000001", psn: "01", expiry: "3012", service_code: "201"}
//
// A profile starts from its like (its method, keys, settings and test card,
// but not its BINs: two profiles with the same BINs would be ambiguous), or,
// when its name is a built-in's, redefines that built-in (keeping its BINs
// unless it gives some); otherwise method and keys are required. BINs are
// prefixes or ranges of two prefixes of the same length; the longest
// matching one wins, and a card no BIN claims is emv-csk's. Unknown keys, bad
// hex, keys that are not 16 bytes, an unknown method, BINs of the same length
// that overlap another profile's and a like that names nothing are errors
// "name:line: reason", which never show a key or card data. testdata/cards.yaml
// is an example.
//
// Card data (5A, 57, 56, 5F20, 9F1F, 9F20, 9F6B) is masked wherever it is
// shown: Tags.String and Masked, and no error of this package carries a value.
package emv
