package host

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/scenarios"
)

// The first case of the independent chip vectors: its request's F55 and the
// response's tag 91 for 00.
const (
	vectorPAN   = "6212345678901234"
	vectorF55   = "9F2608033B0085B6DA06529F2701809F100F07010103A00000010A0100000000009F3704112233449F36020001950500000080009A032611109C01009F02060000000012345F2A02015682027C009F1A0201569F03060000000000009F3303E0E1C89F34034203009F3501229F1E08534E3030303030318408A0000003330101019F090200305F340101"
	vectorTag91 = "68C03B99378621283030"
)

// chipDialect is iso87ascii whose chip answers add 8A and 89, as some hosts'
// do.
func chipDialect(t *testing.T) *dialect.Dialect {
	t.Helper()
	raw, err := fixtures.Dialects.ReadFile("dialects/iso87ascii.json")
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	file["acqsim"].(map[string]any)["chipAnswer"] = []string{"8A", "89"}
	spec, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	const name = "iso87ascii-chip-answer"
	if _, err := dialect.Load(name); err != nil {
		if err := dialect.Register(dialect.Definition{Name: name, Spec: spec}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := dialect.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAnswerChip: the issuer's answer in F55 as the plan says: tag 91 for
// the response code the response carries, one bit of it flipped, or none;
// the dialect's 8A and 89; the scripts after them; and a scenario's own F55
// left alone.
func TestAnswerChip(t *testing.T) {
	d := chipDialect(t)
	tags, err := emv.ParseTagsHex(vectorF55)
	if err != nil {
		t.Fatal(err)
	}
	auth := emv.Builtin().For(vectorPAN).Authorise(vectorPAN, "01", tags)
	if !auth.Valid {
		t.Fatalf("the vector's ARQC does not verify: %s", auth.Reason)
	}
	answer := func(rc, code string, cp scenarios.ChipPlan, set map[int]string) emv.Tags {
		t.Helper()
		resp := iso8583.NewMessage(d.Spec)
		resp.MTI("0210")
		if err := resp.Field(39, rc); err != nil {
			t.Fatal(err)
		}
		if code != "" {
			if err := resp.Field(38, code); err != nil {
				t.Fatal(err)
			}
		}
		if err := answerChip(d, resp, auth, &cp, set); err != nil {
			t.Fatal(err)
		}
		out, err := emv.ParseTagsHex(dialect.FieldValue(resp, 55))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	got := answer("00", "123456", scenarios.ChipPlan{}, nil)
	if got.Hex("91") != vectorTag91 || got.Hex("8A") != "3030" || got.Hex("89") != "313233343536" {
		t.Errorf("approval: %v, want tag 91 %s, 8A 3030, 89 the auth code", got, vectorTag91)
	}
	if got := answer("05", "", scenarios.ChipPlan{}, nil); got.Hex("8A") != "3035" || got.Hex("89") != "" || !strings.HasSuffix(got.Hex("91"), "3035") {
		t.Errorf("decline: %v, want the ARC 05 in 91 and 8A, no 89", got)
	}
	if got := answer("00", "123456", scenarios.ChipPlan{ARPC: "wrong"}, nil).Hex("91"); got == vectorTag91 || len(got) != len(vectorTag91) {
		t.Errorf("a wrong ARPC: 91 %s", got)
	}
	if got := answer("00", "123456", scenarios.ChipPlan{ARPC: "missing"}, nil); got.Hex("91") != "" || got.Hex("8A") != "3030" {
		t.Errorf("a missing ARPC: %v", got)
	}
	block := emv.Script{Command: "application-block", Template: 0x72, ID: 1}
	got = answer("00", "123456", scenarios.ChipPlan{Scripts: []emv.Script{block}}, nil)
	if len(got) != 4 || got[3].Tag != "72" {
		t.Errorf("with a script: %v, want 91, 8A, 89, then 72", got)
	}
	if got := answer("00", "123456", scenarios.ChipPlan{}, map[int]string{55: "9F3602FFFF"}); got.Hex("91") != "" {
		t.Errorf("a scenario's own F55 was replaced: %v", got)
	}
}
