package console

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestVendoredHTMXIsThePinnedRelease: the embedded htmx is byte for byte the file its README names.
func TestVendoredHTMXIsThePinnedRelease(t *testing.T) {
	js, err := staticFiles.ReadFile("static/htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("static/README.md")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(js)
	if !strings.Contains(string(readme), "| `htmx.min.js` | `"+hex.EncodeToString(sum[:])+"` |") {
		t.Fatalf("static/htmx.min.js has sha256 %x, which static/README.md does not record", sum)
	}
	if !strings.Contains(string(js), `version:"2.0.11"`) || !strings.Contains(string(readme), "htmx **2.0.11**") {
		t.Fatal("the vendored htmx is not the version the README names")
	}
}
