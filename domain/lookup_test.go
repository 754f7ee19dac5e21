package domain

import "testing"

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+33612345678": "+33612345678", " +33 6 12 34 56 78 ": "+33612345678", "0033 6-12.34.56 (78)": "+33612345678",
		"+1 (415) 555-0100": "+14155550100", "0612345678": "", "+33 6 12 34 5x 78": "", "": "", "++33612345678": "",
		"+0612345678": "",
	} {
		got, ok := NormalizePhone(in)
		if (want == "") == ok || (ok && got != want) {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if NormalizeEmail("  Ada@Example.COM ") != "ada@example.com" {
		t.Error("email not normalised")
	}
}
