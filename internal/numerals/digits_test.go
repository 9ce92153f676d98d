package numerals

import "testing"

func TestASCIIReadsEveryDigitSpelling(t *testing.T) {
	for in, want := range map[string]string{
		"۱۲۳۴۵۶۷۸۹۰": "1234567890", // Persian
		"١٢٣٤٥٦٧٨٩٠": "1234567890", // Arabic-Indic
		"12,۳۴٥":     "12,345",     // mixed, separators kept
		"IR۰۶۲":      "IR062",
		"no digits":  "no digits",
		"٫۵":         "٫5", // the decimal separator is the caller's to read
	} {
		if got := ASCII(in); got != want {
			t.Errorf("ASCII(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPersianIsUndoneByASCII(t *testing.T) {
	for _, s := range []string{"0", "1403/01/12 10:00:00", "IR610178091781644109504069", "-12.50"} {
		p := Persian(s)
		if p == s {
			t.Errorf("Persian(%q) changed nothing", s)
		}
		if got := ASCII(p); got != s {
			t.Errorf("ASCII(Persian(%q)) = %q", s, got)
		}
	}
}
