package telemetry

import (
	"net/netip"
	"regexp"
	"strings"
)

// The shapes RedactString masks. Each expression runs only on strings that
// pass a cheap test for the part every match needs (an '@', "eyJ", a scheme
// word, a run of digits and dots, two colons among hex digits): the
// expressions cost microseconds, and every string attribute of every log
// line and span is scanned.
var (
	emailRe  = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	jwtRe    = regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*`)
	ipv4Re   = regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\b`)
	ipv6Re   = regexp.MustCompile(`(?i)(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{0,4}|(?:[0-9]{1,3}\.){3}[0-9]{1,3})`)
	bearerRe = regexp.MustCompile(`(?i)\b(?:bearer|basic|token)\s+[A-Za-z0-9\-._~+/]{8,}=*`)
	// A key and "=", ":" or "=>" before a value: "password=x", "api_key: x",
	// `"token":"x"`, "?secret=x&", ":password => 'x'". The key decides
	// (IsSensitiveKey).
	pairKeyRe = regexp.MustCompile(`([A-Za-z0-9][A-Za-z0-9_.\-]*)["']?[ \t]*(?:=>|[=:])[ \t]*`)
	// "cookie sid=x; theme=y" and "Cookie: sid=x": the pairs after the
	// word are the cookie's, whatever their names.
	cookieRe = regexp.MustCompile(`(?i)\b(?:set-)?cookie\b(["']?[ \t]*[=:]?[ \t]*["']?)([^\s,;"']+(?:;[ \t]*[^\s,;"']+)*)`)
)

// RedactString masks every part of s that looks like an email address, an
// IPv4 or IPv6 address, a bearer/basic credential or a JWT, the value of a
// key=value or key: value pair whose key is sensitive ([IsSensitiveKey]),
// and cookies after the word "cookie"; it returns s itself (without
// allocating) when there is nothing to mask.
func RedactString(s string) string {
	if !mayNeedRedaction(s) {
		return s
	}
	if isIP(s) {
		// A whole address, as attributes such as server.address hold:
		// no expression needed.
		return Redacted
	}
	if strings.IndexByte(s, '@') >= 0 {
		s = emailRe.ReplaceAllLiteralString(s, Redacted)
	}
	if strings.Contains(s, "eyJ") {
		s = jwtRe.ReplaceAllLiteralString(s, Redacted)
	}
	if mayHoldIPv4(s) {
		s = ipv4Re.ReplaceAllLiteralString(s, Redacted)
	}
	if mayHoldIPv6(s) {
		s = redactIPv6(s)
	}
	if containsFold(s, "bearer") || containsFold(s, "basic") || containsFold(s, "token") {
		s = bearerRe.ReplaceAllStringFunc(s, func(m string) string {
			cred := m[strings.LastIndexAny(m, " \t\r\n\v\f")+1:]
			if credentialLike(strings.TrimRight(cred, ".")) { // a full stop ends a sentence
				return Redacted
			}
			return m
		})
	}
	if strings.ContainsAny(s, "=:") {
		s = redactPairs(s)
	}
	return s
}

// redactPairs masks the values of key=value and key: value pairs whose key
// is sensitive, in free text such as an error message from a browser, and
// every cookie after the word "cookie".
func redactPairs(s string) string {
	if containsFold(s, "cookie") {
		s = splice(s, cookieRe.FindAllStringSubmatchIndex(s, -1), func(m []int, _ int) (int, int, string, bool) {
			sep, value := s[m[2]:m[3]], s[m[4]:m[5]]
			// "cookie banner shown" is prose; "cookie sid=x" is not.
			ok := strings.ContainsAny(sep, ":=") || strings.Contains(value, "=")
			return m[4], m[5], Redacted, ok
		})
	}
	// The expression finds the keys; a value runs to the closing quote or
	// to the next space or separator, so that the key after a harmless
	// pair ("failed: password: x") is still found.
	return splice(s, pairKeyRe.FindAllStringSubmatchIndex(s, -1), func(k []int, last int) (int, int, string, bool) {
		if k[0] < last || !IsSensitiveKey(s[k[2]:k[3]]) {
			return 0, 0, "", false
		}
		start := k[1]
		end := start + valueLen(s[start:])
		if end == start || strings.HasPrefix(strings.TrimLeft(s[start:], `"'`), Redacted) {
			return 0, 0, "", false
		}
		if q := s[start]; q == '"' || q == '\'' {
			return start, end, string(q) + Redacted + string(q), true
		}
		return start, end, Redacted, true
	})
}

// splice returns s with spans replaced, for the matches of an expression
// on s (FindAll…Index, in order): pick returns the span of a match to
// replace and its replacement, or false to keep the match; last is where
// the previous replacement ended. It returns s itself when nothing is
// replaced.
func splice(s string, matches [][]int, pick func(m []int, last int) (start, end int, repl string, ok bool)) string {
	var b strings.Builder
	last := 0
	for _, m := range matches {
		start, end, repl, ok := pick(m, last)
		if !ok {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(repl)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// valueLen is the length of the value at the start of s: a quoted string
// with its quotes (a backslash escapes the quote, as in JSON), an
// authorization scheme with its credential ("Basic dXNl…"), or the run up
// to a space or one of & ; , } ].
func valueLen(s string) int {
	if s == "" {
		return 0
	}
	if q := s[0]; q == '"' || q == '\'' {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case q:
				return i + 1
			}
		}
		return len(s)
	}
	n := wordLen(s)
	if rest := s[n:]; isAuthScheme(s[:n]) && len(rest) > 1 && (rest[0] == ' ' || rest[0] == '\t') {
		n += 1 + wordLen(rest[1:])
	}
	return n
}

// wordLen is the length of the run at the start of s up to a space, a
// quote or one of & ; , } ].
func wordLen(s string) int {
	if i := strings.IndexAny(s, " \t\r\n&;,}]\"'"); i >= 0 {
		return i
	}
	return len(s)
}

// isAuthScheme reports whether w names an HTTP authentication scheme,
// which a credential follows after one space.
func isAuthScheme(w string) bool {
	for _, scheme := range []string{"basic", "bearer", "digest", "negotiate", "token", "hoba", "mutual"} {
		if strings.EqualFold(w, scheme) {
			return true
		}
	}
	return false
}

// mayNeedRedaction is the test in front of all the others, in one pass:
// every shape RedactString masks contains '@', ':' or '=', starts with "eyJ",
// follows a scheme word or is a run of digits and dots. Most strings, such
// as IDs and names, fail it at once.
func mayNeedRedaction(s string) bool {
	for i, c := range []byte(s) {
		switch c {
		case '@', ':', '=':
			return true
		case 'e':
			if strings.HasPrefix(s[i:], "eyJ") {
				return true
			}
		case 'b', 'B', 't', 'T':
			if hasPrefixFold(s[i:], "bearer") || hasPrefixFold(s[i:], "basic") || hasPrefixFold(s[i:], "token") {
				return true
			}
		}
	}
	return mayHoldIPv4(s)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// redactIPv6 masks the matches of ipv6Re that parse as an IPv6 address and
// stand alone: "::1" and "[fe80::1]:80" are addresses, while the "::Ba" of
// "Foo::Bar" is part of a word.
func redactIPv6(s string) string {
	return splice(s, ipv6Re.FindAllStringIndex(s, -1), func(l []int, _ int) (int, int, string, bool) {
		m := s[l[0]:l[1]]
		ok := (isIP(strings.Trim(m, ":")) || isIP(m)) &&
			!(l[0] > 0 && isAlnum(s[l[0]-1])) && !(l[1] < len(s) && isAlnum(s[l[1]]))
		return l[0], l[1], Redacted, ok
	})
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// credentialLike tells a credential after "Bearer", "Basic" or "token" from
// an English word ("basic authentication", "token refreshed"): credentials
// are long or mix in digits, symbols or inner capitals.
func credentialLike(c string) bool {
	if len(c) >= 20 {
		return true
	}
	for i, ch := range []byte(c) {
		switch {
		case 'a' <= ch && ch <= 'z':
		case 'A' <= ch && ch <= 'Z':
			if i > 0 {
				return true
			}
		default: // digit or one of -._~+/=
			return true
		}
	}
	return false
}

// mayHoldIPv4 reports whether s has a run of digits and dots with at least
// three dots, which every match of ipv4Re is.
func mayHoldIPv4(s string) bool {
	dots, digits := 0, false
	for _, c := range []byte(s) {
		switch {
		case c == '.':
			dots++
		case '0' <= c && c <= '9':
			digits = true
		default:
			dots, digits = 0, false
		}
		if dots >= 3 && digits {
			return true
		}
	}
	return false
}

// mayHoldIPv6 reports whether s has a run of hex digits, ':' and '.' with
// two colons in it, which every match of ipv6Re is. Cache keys such as
// "blog:post:1" have two colons but no such run.
func mayHoldIPv6(s string) bool {
	colons := 0
	for _, c := range []byte(s) {
		switch {
		case c == ':':
			colons++
			if colons >= 2 {
				return true
			}
		case c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F':
		default:
			colons = 0
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// containsFold reports whether s contains the ASCII word w, ignoring case.
func containsFold(s, w string) bool {
	for i := range len(s) - len(w) + 1 {
		if hasPrefixFold(s[i:], w) {
			return true
		}
	}
	return false
}
