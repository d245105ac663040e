package telemetry

import (
	"strings"
	"testing"
)

// FuzzPrechecks checks that the cheap tests in front of the IPv4 and IPv6
// expressions never skip a string the expression would change.
func FuzzPrechecks(f *testing.F) {
	for _, s := range []string{
		"::1", "blog:post:1", "fe80::1%eth0", "a:b:c", "1:2", "x::ffff:1.2.3.4", "g::h",
		"1.2.3.4", "a1.2.3.4", "1.2.3.4.5.6.7.8", "10.0.0.1:5432", "1..2.3.4", "x 10.0.0.1, 10.0.0.2 y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !mayHoldIPv4(s) && ipv4Re.MatchString(s) {
			t.Errorf("mayHoldIPv4(%q) = false, but ipv4Re matches", s)
		}
		if !mayHoldIPv6(s) && redactIPv6(s) != s {
			t.Errorf("mayHoldIPv6(%q) = false, but redactIPv6 gives %q", s, redactIPv6(s))
		}
	})
}

// FuzzRedactString checks the invariants of RedactString on any input: no
// email or IPv4 address the patterns recognise survives, redacting twice
// changes nothing, and nothing panics. Seeds live in
// testdata/fuzz/FuzzRedactString; run with
// go test -fuzz FuzzRedactString ./telemetry/.
func FuzzRedactString(f *testing.F) {
	for _, s := range []string{
		"", "post created", "alice@example.com", "dial 10.0.0.1:5432", "::1", "[fe80::1]:80",
		"2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.0.2.1", "Bearer abc123DEF456ghi",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "12:30:45", "1.2.3", "std::vector",
		"basic authentication failed", "a@b.co@c.de", "1.2.3.4.5.6.7.8", "a::1.2.3.4",
		"password=hunter2 cookie sid=abc", `{"token":"x"}`, "a: b: c=", "secret='", `password="`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := RedactString(s)
		if m := emailRe.FindString(out); m != "" {
			t.Errorf("RedactString(%q) = %q keeps the email %q", s, out, m)
		}
		if m := ipv4Re.FindString(out); m != "" {
			t.Errorf("RedactString(%q) = %q keeps the IPv4 address %q", s, out, m)
		}
		// No sensitive key is left followed by a value of its own.
		for _, k := range pairKeyRe.FindAllStringSubmatchIndex(out, -1) {
			if IsSensitiveKey(out[k[2]:k[3]]) && valueLen(out[k[1]:]) > 0 && !strings.HasPrefix(strings.TrimLeft(out[k[1]:], `"'`), Redacted) {
				t.Errorf("RedactString(%q) = %q keeps the value of %q", s, out, out[k[2]:k[3]])
			}
		}
		if again := RedactString(out); again != out {
			t.Errorf("not idempotent: RedactString(%q) = %q, then %q", s, out, again)
		}
		if out == s && strings.Contains(s, Redacted) && !strings.Contains(out, Redacted) {
			t.Errorf("lost a marker")
		}
	})
}
