package emv

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Profile is how the cards of some BIN ranges compute their cryptograms, and
// the issuer's keys.
type Profile struct {
	// Name names the profile in the cards file and in logs.
	Name string
	// BINs are the card ranges the profile claims: prefixes ("476173") or
	// ranges of equal-length prefixes ("400000-400999"). The longest
	// matching prefix wins.
	BINs []string
	// Method is how the cards compute their cryptograms.
	Method Method
	// Keys are the issuer's master keys.
	Keys Keys
	// Verify checks the ARQC; false (`verify: none`) answers without
	// checking it.
	Verify bool
	// ARPC answers with tag 91; false (`arpc: none`) answers without it.
	ARPC bool
	// Card is the test card the emulator plays for this profile.
	Card TestCard
}

// TestCard is a card the terminal emulator plays: PAN, PAN sequence number,
// expiry (YYMM) and service code.
type TestCard struct{ PAN, PSN, Expiry, ServiceCode string }

// Profiles are the profiles a host knows, built-in ones first.
type Profiles struct {
	list []*Profile
}

// The default profile's name: it takes every card no other profile claims.
const defaultProfile = "emv-csk"

// The vectors' issuer master keys (test keys, never real ones).
var vectorKeys = Keys{
	AC:  mustHex("0123456789ABCDEFFEDCBA9876543210"),
	SMI: mustHex("FEDCBA98765432100123456789ABCDEF"),
	SMC: mustHex("89ABCDEF0123456776543210FEDCBA98"),
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Builtin are the profiles of the vectors' cards: "emv-csk" (every card no
// other profile claims; PAN 6212345678901234 PSN 01), "visa-cvn10" (BIN
// 476173), "visa-cvn18" (BIN 400000), "mc-cvn16" (BIN 541333), all with the
// vectors' issuer master keys, each test card the vector's PAN/PSN (service
// code 201, expiry 3012).
func Builtin() *Profiles {
	p := func(name string, m Method, bin, pan, psn string) *Profile {
		var bins []string
		if bin != "" {
			bins = []string{bin}
		}
		return &Profile{
			Name: name, BINs: bins, Method: m, Keys: vectorKeys.clone(), Verify: true, ARPC: true,
			Card: TestCard{PAN: pan, PSN: psn, Expiry: "3012", ServiceCode: "201"},
		}
	}
	return &Profiles{list: []*Profile{
		p(defaultProfile, CommonCore, "", "6212345678901234", "01"),
		p("visa-cvn10", VisaCVN10, "476173", "4761739001010010", "01"),
		p("visa-cvn18", VisaCVN18, "400000", "4000000000000002", "01"),
		p("mc-cvn16", MastercardCVN16, "541333", "5413330089010012", "00"),
	}}
}

func (k Keys) clone() Keys {
	c := func(b []byte) []byte { return append([]byte(nil), b...) }
	return Keys{AC: c(k.AC), SMI: c(k.SMI), SMC: c(k.SMC)}
}

func (p *Profile) clone() *Profile {
	c := *p
	c.BINs = append([]string(nil), p.BINs...)
	c.Keys = p.Keys.clone()
	return &c
}

// For is the profile of the card pan: the one with the longest matching BIN,
// else emv-csk.
func (p *Profiles) For(pan string) *Profile {
	var best *Profile
	bestLen := 0
	for _, pr := range p.list {
		for _, b := range pr.BINs {
			if n := binMatch(b, pan); n > bestLen {
				best, bestLen = pr, n
			}
		}
	}
	if best == nil {
		return p.Named(defaultProfile)
	}
	return best
}

// binMatch is the length of the prefix bin matches in pan, 0 when it does
// not. A range's ends have the same length, and digits compare as strings.
func binMatch(bin, pan string) int {
	lo, hi, ok := strings.Cut(bin, "-")
	if !ok {
		hi = lo
	}
	if len(pan) < len(lo) {
		return 0
	}
	if x := pan[:len(lo)]; x >= lo && x <= hi {
		return len(lo)
	}
	return 0
}

// Named is the profile called name, nil when none is.
func (p *Profiles) Named(name string) *Profile {
	for _, pr := range p.list {
		if pr.Name == name {
			return pr
		}
	}
	return nil
}

// Names are the profiles' names, built-in ones first, then the file's in
// its order.
func (p *Profiles) Names() []string {
	names := make([]string, len(p.list))
	for i, pr := range p.list {
		names[i] = pr.Name
	}
	return names
}

// LoadProfiles reads a cards file (YAML, see the package documentation) on
// top of the built-in profiles. Its errors say "name:line: reason".
func LoadProfiles(name string, data []byte) (*Profiles, error) {
	ps := Builtin()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 says "yaml: line N: reason"; say it as the others do.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if line, reason, ok := strings.Cut(rest, ": "); ok {
				return nil, fmt.Errorf("%s:%s: %s", name, line, reason)
			}
		}
		return nil, fmt.Errorf("%s: %s", name, msg)
	}
	fail := func(n *yaml.Node, format string, a ...any) error {
		return fmt.Errorf("%s:%d: %s", name, n.Line, fmt.Sprintf(format, a...))
	}
	if len(doc.Content) == 0 {
		return ps, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fail(root, "want a mapping with the key cards")
	}
	var cards *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "cards" {
			return nil, fail(k, "unknown key %q (want cards)", k.Value)
		}
		cards = v
	}
	if cards == nil || cards.Tag == "!!null" {
		return ps, nil
	}
	if cards.Kind != yaml.SequenceNode {
		return nil, fail(cards, "cards: want a list")
	}
	builtin := len(ps.list)
	seen := map[string]bool{}
	for _, n := range cards.Content {
		pr, err := ps.entry(n, seen, fail)
		if err != nil {
			return nil, err
		}
		if i := ps.index(pr.Name); i >= 0 && i < builtin {
			ps.list[i] = pr // a built-in profile redefined
		} else {
			ps.list = append(ps.list, pr)
		}
		if err := ps.overlaps(pr, n, fail); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

func (p *Profiles) index(name string) int {
	for i, pr := range p.list {
		if pr.Name == name {
			return i
		}
	}
	return -1
}

type failFunc func(n *yaml.Node, format string, a ...any) error

// entry reads one profile of the cards file.
func (p *Profiles) entry(n *yaml.Node, seen map[string]bool, fail failFunc) (*Profile, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fail(n, "a card profile must be a mapping")
	}
	fields := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "name", "like", "bins", "method", "keys", "verify", "arpc", "card":
		default:
			return nil, fail(k, "unknown key %q", k.Value)
		}
		if fields[k.Value] != nil {
			return nil, fail(k, "%s given twice", k.Value)
		}
		fields[k.Value], keys[k.Value] = v, k
	}
	nameNode := fields["name"]
	if nameNode == nil || nameNode.Kind != yaml.ScalarNode || nameNode.Value == "" {
		return nil, fail(n, "a card profile needs a name")
	}
	name := nameNode.Value
	if seen[name] {
		return nil, fail(nameNode, "profile %q defined twice", name)
	}
	seen[name] = true

	// The start: the like profile, else a built-in of the same name,
	// else nothing. A like does not pass on its BINs (the same BINs twice
	// would be ambiguous); a redefined built-in keeps its own.
	var pr *Profile
	if like := fields["like"]; like != nil {
		base := p.Named(like.Value)
		if base == nil {
			return nil, fail(like, "like: no profile %q (built-in or earlier in the file)", like.Value)
		}
		pr = base.clone()
		pr.BINs = nil
	} else if base := p.Named(name); base != nil {
		pr = base.clone()
	} else {
		pr = &Profile{Verify: true, ARPC: true}
		if fields["method"] == nil {
			return nil, fail(n, "profile %q needs a method (or like)", name)
		}
		if fields["keys"] == nil {
			return nil, fail(n, "profile %q needs keys (or like)", name)
		}
	}
	pr.Name = name

	if v := fields["method"]; v != nil {
		if !Method(v.Value).known() {
			return nil, fail(v, "unknown method %q (want %s, %s, %s or %s)", v.Value, CommonCore, VisaCVN10, VisaCVN18, MastercardCVN16)
		}
		pr.Method = Method(v.Value)
	}
	if v := fields["bins"]; v != nil {
		if v.Kind != yaml.SequenceNode {
			return nil, fail(v, "bins: want a list")
		}
		pr.BINs = nil
		for _, b := range v.Content {
			if err := checkBIN(b.Value); err != nil {
				return nil, fail(b, "bins: %v", err)
			}
			pr.BINs = append(pr.BINs, b.Value)
		}
	}
	if v := fields["keys"]; v != nil {
		if err := readKeys(v, &pr.Keys, fail); err != nil {
			return nil, err
		}
	}
	if v := fields["verify"]; v != nil {
		switch v.Value {
		case "none":
			pr.Verify = false
		case "arqc":
			pr.Verify = true
		default:
			return nil, fail(v, "verify: %q, want none or arqc", v.Value)
		}
	}
	if v := fields["arpc"]; v != nil {
		switch v.Value {
		case "none":
			pr.ARPC = false
		case "method":
			pr.ARPC = true
		default:
			return nil, fail(v, "arpc: %q, want none or method", v.Value)
		}
	}
	if v := fields["card"]; v != nil {
		if err := readCard(v, &pr.Card, fail); err != nil {
			return nil, err
		}
	}
	return pr, nil
}

// checkBIN checks a prefix or a range of two equal-length prefixes.
func checkBIN(b string) error {
	lo, hi, isRange := strings.Cut(b, "-")
	if !isRange {
		hi = lo
	}
	if !digits(lo) || !digits(hi) || len(lo) > 11 {
		return fmt.Errorf("%q is not a prefix of 1 to 11 digits or a range of two", b)
	}
	if len(lo) != len(hi) {
		return fmt.Errorf("%q: a range's ends must have the same length", b)
	}
	if lo > hi {
		return fmt.Errorf("%q: the range ends before it starts", b)
	}
	return nil
}

// overlaps refuses BINs of the same length that overlap another profile's:
// which profile a card in both belongs to would be a matter of order.
func (p *Profiles) overlaps(pr *Profile, n *yaml.Node, fail failFunc) error {
	for _, b := range pr.BINs {
		lo, hi, ok := strings.Cut(b, "-")
		if !ok {
			hi = lo
		}
		for _, other := range p.list {
			if other == pr {
				continue
			}
			for _, ob := range other.BINs {
				olo, ohi, ok := strings.Cut(ob, "-")
				if !ok {
					ohi = olo
				}
				if len(olo) == len(lo) && lo <= ohi && olo <= hi {
					return fail(n, "bins: %s overlaps %s of profile %q", b, ob, other.Name)
				}
			}
		}
	}
	return nil
}

func readKeys(n *yaml.Node, k *Keys, fail failFunc) error {
	if n.Kind != yaml.MappingNode {
		return fail(n, "keys: want {ac: HEX32, smi: HEX32, smc: HEX32}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := n.Content[i], n.Content[i+1]
		var dst *[]byte
		switch kn.Value {
		case "ac":
			dst = &k.AC
		case "smi":
			dst = &k.SMI
		case "smc":
			dst = &k.SMC
		default:
			return fail(kn, "keys: unknown key %q (want ac, smi, smc)", kn.Value)
		}
		// The errors never show a key.
		b, err := hex.DecodeString(v.Value)
		if err != nil {
			return fail(v, "keys.%s is not hex", kn.Value)
		}
		if len(b) != 16 {
			return fail(v, "keys.%s is %d bytes, want 16 (32 hex digits)", kn.Value, len(b))
		}
		*dst = b
	}
	return nil
}

func readCard(n *yaml.Node, c *TestCard, fail failFunc) error {
	if n.Kind != yaml.MappingNode {
		return fail(n, "card: want {pan: ..., psn: ..., expiry: YYMM, service_code: ...}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := n.Content[i], n.Content[i+1]
		// The errors never show the value: it is card data.
		var err error
		switch kn.Value {
		case "pan":
			if !digits(v.Value) || len(v.Value) < 12 || len(v.Value) > 19 {
				err = errors.New("card.pan must be 12 to 19 digits")
			}
			c.PAN = v.Value
		case "psn":
			if !digits(v.Value) || len(v.Value) != 2 {
				err = errors.New("card.psn must be 2 digits (quote it: \"01\")")
			}
			c.PSN = v.Value
		case "expiry":
			if !digits(v.Value) || len(v.Value) != 4 || v.Value[2:] < "01" || v.Value[2:] > "12" {
				err = errors.New("card.expiry must be YYMM (quote it: \"3012\")")
			}
			c.Expiry = v.Value
		case "service_code":
			if !digits(v.Value) || len(v.Value) != 3 {
				err = errors.New("card.service_code must be 3 digits")
			}
			c.ServiceCode = v.Value
		default:
			return fail(kn, "card: unknown key %q (want pan, psn, expiry, service_code)", kn.Value)
		}
		if err != nil {
			return fail(v, "%v", err)
		}
	}
	return nil
}
