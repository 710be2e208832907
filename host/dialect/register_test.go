package dialect

import (
	"os"
	"path/filepath"

	"github.com/acqsim/acqsim/keys"
)

// The package's own tests register the built-in dialects from their data
// files, as the fixtures package does for everyone else (it cannot be
// imported from here: it imports this package).
func init() {
	for _, def := range []Definition{{Name: "iso87ascii"}, {Name: "cup", MAC: keys.MAC}, {Name: "iso87bcd"}} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "dialects", def.Name+".json"))
		if err != nil {
			panic(err)
		}
		def.Spec = raw
		if err := Register(def); err != nil {
			panic(err)
		}
	}
}
