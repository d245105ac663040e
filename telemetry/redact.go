package telemetry

import (
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
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
	var buf [64]byte
	n := normaliseKey(buf[:0], key)
	if sensitiveKeys[string(n)] { // no allocation: map lookup of a converted []byte
		return true
	}
	for _, p := range sensitiveParts {
		if strings.Contains(string(n), p) {
			return true
		}
	}
	return false
}

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
	ipv4Re   = regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\b`)
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
	if strings.IndexByte(s, '.') >= 0 {
		s = jwtRe.ReplaceAllLiteralString(s, Redacted)
		s = ipv4Re.ReplaceAllLiteralString(s, Redacted)
	}
	if strings.Count(s, ":") >= 2 {
		s = ipv6Re.ReplaceAllStringFunc(s, func(m string) string {
			if ip := net.ParseIP(strings.Trim(m, ":")); ip != nil || net.ParseIP(m) != nil {
				return Redacted
			}
			return m
		})
	}
	if hasFold(s, "bearer") || hasFold(s, "basic") || hasFold(s, "token") {
		s = bearerRe.ReplaceAllLiteralString(s, Redacted)
	}
	return s
}

// mayNeedRedaction is a cheap pre-check: every pattern RedactString masks
// contains '@', a '.' between digits or ':' or is introduced by a scheme word.
func mayNeedRedaction(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '@', ':':
			return true
		case '.':
			if i > 0 && isDigitOrAlpha(s[i-1]) {
				return true
			}
		case 'b', 'B', 't', 'T':
			if hasFold(s[i:], "bearer") || hasFold(s[i:], "basic") || hasFold(s[i:], "token") {
				return true
			}
		}
	}
	return false
}

func isDigitOrAlpha(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
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
	if a.Key != "" && IsSensitiveKey(a.Key) {
		if a.Value.Kind() == slog.KindGroup && len(a.Value.Group()) == 0 {
			return a
		}
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if r := RedactString(s); r != s {
			return slog.String(a.Key, r)
		}
	case slog.KindGroup:
		attrs := v.Group()
		var out []slog.Attr
		for i, g := range attrs {
			r := Redact(g)
			if out == nil && !sameAttr(r, g) {
				out = make([]slog.Attr, len(attrs))
				copy(out, attrs[:i])
			}
			if out != nil {
				out[i] = r
			}
		}
		if out != nil {
			return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
		}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, RedactString(x.Error()))
		case http.Header:
			return slog.Any(a.Key, redactHeader(x))
		case map[string]string:
			return slog.Any(a.Key, redactStringMap(x))
		case []string:
			out := make([]string, len(x))
			for i, s := range x {
				out[i] = RedactString(s)
			}
			return slog.Any(a.Key, out)
		}
	}
	if v.Kind() != a.Value.Kind() { // a LogValuer resolved to something plain
		return slog.Attr{Key: a.Key, Value: v}
	}
	return a
}

func sameAttr(a, b slog.Attr) bool {
	if a.Key != b.Key || a.Value.Kind() != b.Value.Kind() {
		return false
	}
	switch a.Value.Kind() {
	case slog.KindString:
		return a.Value.String() == b.Value.String()
	case slog.KindGroup:
		ag, bg := a.Value.Group(), b.Value.Group()
		return len(ag) == len(bg) && (len(ag) == 0 || &ag[0] == &bg[0])
	}
	return a.Value.Equal(b.Value)
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
