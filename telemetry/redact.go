package telemetry

import (
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
)

// Redacted replaces a secret or a piece of personal data.
const Redacted = "[REDACTED]"

// sensitiveKeys are attribute keys (normalised: lower case, without '-',
// '_' and '.') whose values are always replaced, whatever they look like.
var sensitiveKeys = map[string]bool{
	"authorization": true, "proxyauthorization": true, "cookie": true, "setcookie": true,
	"email": true, "emailaddress": true, "useremail": true, "mail": true,
	"ip": true, "clientip": true, "remoteip": true, "remoteaddr": true, "clientaddress": true,
	"clientaddr": true, "peeraddress": true, "networkpeeraddress": true, "sourceaddress": true,
	"xforwardedfor": true, "xrealip": true, "forwardedfor": true, "forwarded": true,
	"httpclientip": true, "netpeerip": true, "netsockpeeraddr": true,
	"body": true, "requestbody": true, "httprequestbody": true,
	"session": true, "sessionid": true, "dsn": true, "databaseurl": true, "redisurl": true,
}

// sensitiveParts are substrings of normalised keys that mark a secret:
// "user_password", "X-Api-Key", "refresh_token", "client_secret".
var sensitiveParts = []string{"password", "passwd", "secret", "token", "apikey", "credential", "privatekey", "cookie", "authorization"}

// IsSensitiveKey reports whether values logged under key are always
// redacted. Matching ignores case and the separators '-', '_' and '.'.
func IsSensitiveKey(key string) bool {
	if key == "" {
		return false
	}
	// Keys are nearly always the same few constants, checked on every log
	// record: remember recent answers in a small table indexed by cheap
	// features of the key. A slot holds one key; a collision replaces it.
	slot := &keyCache[(len(key)*31+int(key[0])*7+int(key[len(key)-1]))&(len(keyCache)-1)]
	if e := slot.Load(); e != nil && e.key == key {
		return e.sensitive
	}
	sensitive := isSensitiveKey(key)
	slot.Store(&keyVerdict{key: key, sensitive: sensitive})
	return sensitive
}

// keyCache remembers the verdicts of IsSensitiveKey; its size bounds the
// memory it holds whatever keys a program logs.
var keyCache [256]atomic.Pointer[keyVerdict]

type keyVerdict struct {
	key       string
	sensitive bool
}

func isSensitiveKey(key string) bool {
	var buf [64]byte
	n := normaliseKey(buf[:0], key)
	if sensitiveKeys[string(n)] { // no allocation: map lookup of a converted []byte
		return true
	}
	// One pass over the key, trying only the parts that start with the
	// byte at hand: keys are checked on every log record.
	for i := range n {
		for _, p := range sensitivePartsByFirst[n[i]] {
			if len(n)-i >= len(p) && string(n[i:i+len(p)]) == p {
				return true
			}
		}
	}
	return false
}

// sensitivePartsByFirst indexes sensitiveParts by their first byte.
var sensitivePartsByFirst = func() (idx [256][]string) {
	for _, p := range sensitiveParts {
		idx[p[0]] = append(idx[p[0]], p)
	}
	return idx
}()

func normaliseKey(dst []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

var (
	emailRe  = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	ipv6Re   = regexp.MustCompile(`(?i)(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{0,4}|(?:[0-9]{1,3}\.){3}[0-9]{1,3})`)
	bearerRe = regexp.MustCompile(`(?i)\b(?:bearer|basic|token)\s+[A-Za-z0-9\-._~+/]{8,}=*`)
	jwtRe    = regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*`)
)

// RedactString masks every part of s that looks like an email address, an
// IPv4 or IPv6 address, a bearer/basic credential or a JWT, and returns s
// itself (without allocating) when there is nothing to mask.
func RedactString(s string) string {
	if !mayNeedRedaction(s) {
		return s
	}
	if strings.IndexByte(s, '@') >= 0 {
		s = emailRe.ReplaceAllLiteralString(s, Redacted)
	}
	// The regular expressions are costly; run each only when s has the
	// part every match needs ("eyJ" for a JWT).
	if strings.Contains(s, "eyJ") {
		s = jwtRe.ReplaceAllLiteralString(s, Redacted)
	}
	s = redactIPv4(s) // one pass, returning s itself when nothing matches
	if mayHoldIPv6(s) {
		s = redactIPv6(s)
	}
	if hasFold(s, "bearer") || hasFold(s, "basic") || hasFold(s, "token") {
		s = bearerRe.ReplaceAllStringFunc(s, func(m string) string {
			cred := m[strings.LastIndexAny(m, " \t\r\n\v\f")+1:]
			if credentialLike(strings.TrimRight(cred, ".")) { // a full stop ends a sentence
				return Redacted
			}
			return m
		})
	}
	return s
}

// redactIPv4 masks every dotted-quad IPv4 address that stands alone as a
// word: four decimal octets from 0 to 255 without leading zeros, joined by
// dots, with no letter, digit or '_' just before or after ("1.2.3.4" and
// the "1.2.3.4" of "1.2.3.4.5", not "v1.2.3.4" or "1.2.3.456"). It matches
// what the regular expression
//
//	\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\b
//
// matches (FuzzRedactIPv4 compares them) at a fraction of its cost: spans
// of databases and caches carry the server's address on every call.
func redactIPv4(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || i > 0 && isWordByte(s[i-1]) {
			continue
		}
		end := ipv4At(s, i)
		if end < 0 {
			continue
		}
		if last == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:i])
		b.WriteString(Redacted)
		last = end
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// ipv4At returns the end of the IPv4 address starting at s[i], or -1.
func ipv4At(s string, i int) int {
	for octet := range 4 {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if !validOctet(s[i:j]) {
			return -1
		}
		if octet == 3 {
			if j < len(s) && isWordByte(s[j]) {
				return -1
			}
			return j
		}
		if j >= len(s) || s[j] != '.' {
			return -1
		}
		i = j + 1
	}
	return -1
}

// validOctet reports whether d, all digits, is 0 to 255 without a leading
// zero.
func validOctet(d string) bool {
	switch len(d) {
	case 1:
		return true
	case 2:
		return d[0] != '0'
	case 3:
		return d[0] == '1' || d[0] == '2' && (d[1] < '5' || d[1] == '5' && d[2] <= '5')
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isWordByte is regexp's \b notion of a word character: ASCII letters,
// digits and '_'.
func isWordByte(c byte) bool { return isDigitOrAlpha(c) || c == '_' }

// mayHoldIPv6 reports whether s has a run of hex digits, ':' and '.' with
// two colons in it, which every match of ipv6Re is. Cache keys such as
// "blog:post:1" have two colons but no such run.
func mayHoldIPv6(s string) bool {
	colons := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':':
			colons++
			if colons >= 2 {
				return true
			}
		case c == '.' || isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F':
		default:
			colons = 0
		}
	}
	return false
}

// redactIPv6 masks the matches of ipv6Re that parse as an IPv6 address and
// stand alone: "::1" and "[fe80::1]:80" are addresses, while the "d::" of
// "std::vector" or the "::Ba" of "Foo::Bar" are parts of words.
func redactIPv6(s string) string {
	locs := ipv6Re.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		m := s[l[0]:l[1]]
		if net.ParseIP(strings.Trim(m, ":")) == nil && net.ParseIP(m) == nil {
			continue
		}
		if l[0] > 0 && isDigitOrAlpha(s[l[0]-1]) || l[1] < len(s) && isDigitOrAlpha(s[l[1]]) {
			continue
		}
		if last == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:l[0]])
		b.WriteString(Redacted)
		last = l[1]
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// credentialLike tells a credential after "Bearer", "Basic" or "token" from
// an English word ("basic authentication", "token refreshed"): credentials
// are long or mix in digits, symbols or inner capitals.
func credentialLike(c string) bool {
	if len(c) >= 20 {
		return true
	}
	for i := 0; i < len(c); i++ {
		switch ch := c[i]; {
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

// mayNeedRedaction is a cheap pre-check: every pattern RedactString masks
// contains '@' or ':', is a run of digits and dots (IPv4), starts with "eyJ"
// (JWT) or is introduced by a scheme word.
func mayNeedRedaction(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '@', ':':
			return true
		case 'e':
			if strings.HasPrefix(s[i:], "eyJ") {
				return true
			}
		case 'b', 'B', 't', 'T':
			if prefixFold(s[i:], "bearer") || prefixFold(s[i:], "basic") || prefixFold(s[i:], "token") {
				return true
			}
		}
	}
	return mayHoldIPv4(s)
}

// prefixFold reports whether s starts with the ASCII word w, ignoring case.
func prefixFold(s, w string) bool {
	return len(s) >= len(w) && strings.EqualFold(s[:len(w)], w)
}

// mayHoldIPv4 reports whether s has a run of digits and dots with at least
// three dots, which every IPv4 address is.
func mayHoldIPv4(s string) bool {
	dots, digits := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case isDigit(c):
			digits = true
		default:
			dots, digits = 0, false
			continue
		}
		if dots >= 3 && digits {
			return true
		}
	}
	return false
}

func isDigitOrAlpha(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// hasFold reports whether s contains the lower-case ASCII word w, ignoring case.
func hasFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// Redact returns a with its value masked: the whole value when the key is
// sensitive ([IsSensitiveKey]), the sensitive parts of strings and error
// messages otherwise, recursively inside groups. Other kinds pass unchanged.
func Redact(a slog.Attr) slog.Attr {
	r, _ := redact(a)
	return r
}

// redact is [Redact] that also reports whether it changed a. Comparing
// attributes instead would panic on values of uncomparable types (slog's
// Value.Equal compares KindAny values with ==), such as slices and maps.
func redact(a slog.Attr) (slog.Attr, bool) {
	if a.Key != "" && IsSensitiveKey(a.Key) {
		if a.Value.Kind() == slog.KindGroup && len(a.Value.Group()) == 0 {
			return a, false
		}
		return slog.String(a.Key, Redacted), true
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if r := RedactString(s); r != s {
			return slog.String(a.Key, r), true
		}
	case slog.KindGroup:
		attrs := v.Group()
		var out []slog.Attr
		for i, g := range attrs {
			r, changed := redact(g)
			if out == nil && changed {
				out = make([]slog.Attr, len(attrs))
				copy(out, attrs[:i])
			}
			if out != nil {
				out[i] = r
			}
		}
		if out != nil {
			return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}, true
		}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, RedactString(x.Error())), true
		case http.Header:
			return slog.Any(a.Key, redactHeader(x)), true
		case map[string]string:
			return slog.Any(a.Key, redactStringMap(x)), true
		case []string:
			var out []string
			for i, s := range x {
				r := RedactString(s)
				if out == nil && r != s {
					out = make([]string, len(x))
					copy(out, x[:i])
				}
				if out != nil {
					out[i] = r
				}
			}
			if out != nil {
				return slog.Any(a.Key, out), true
			}
		}
	}
	if a.Value.Kind() == slog.KindLogValuer { // resolved to something plain
		return slog.Attr{Key: a.Key, Value: v}, true
	}
	return a, false
}

func redactHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if IsSensitiveKey(k) {
			out[k] = []string{Redacted}
			continue
		}
		c := make([]string, len(vs))
		for i, v := range vs {
			c[i] = RedactString(v)
		}
		out[k] = c
	}
	return out
}

func redactStringMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if IsSensitiveKey(k) {
			out[k] = Redacted
		} else {
			out[k] = RedactString(v)
		}
	}
	return out
}
