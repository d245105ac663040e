package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DeviceCookies issues and checks device cookies, after OWASP's "Slow Down
// Online Guessing Attacks with Device Cookies": a successful login gives the
// browser a cookie, signed with the server's key, that names the account
// and a random device ID. Failed logins of a client that shows a valid
// cookie for the account count against that device, not the account, so
// strangers who exhaust an account's failures do not lock its owner out.
type DeviceCookies struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// DeviceCookieName is the cookie's name; it is sent to /api/login only.
const DeviceCookieName = "device"

// NewDeviceCookies returns cookies signed with key (at least 32 bytes) and
// valid for ttl.
func NewDeviceCookies(key []byte, ttl time.Duration) *DeviceCookies {
	return &DeviceCookies{key: key, ttl: ttl, now: time.Now}
}

// issue sets a new device cookie for the account email (normalised).
func (d *DeviceCookies) issue(w http.ResponseWriter, email string) {
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	exp := strconv.FormatInt(d.now().Add(d.ttl).Unix(), 10)
	payload := base64.RawURLEncoding.EncodeToString(id[:]) + "." + exp
	http.SetCookie(w, &http.Cookie{
		Name:     DeviceCookieName,
		Value:    payload + "." + d.sign(payload, email),
		Path:     "/api/login",
		MaxAge:   int(d.ttl / time.Second),
		HttpOnly: true,
		Secure:   true, // browsers accept it on http://localhost too
		SameSite: http.SameSiteStrictMode,
	})
}

// device returns the device ID of r's cookie when the cookie is valid for
// the account email and not expired.
func (d *DeviceCookies) device(r *http.Request, email string) (string, bool) {
	c, err := r.Cookie(DeviceCookieName)
	if err != nil {
		return "", false
	}
	payload, sig, ok := cutLast(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(d.sign(payload, email))) {
		return "", false
	}
	id, exp, _ := strings.Cut(payload, ".")
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || d.now().Unix() >= unix {
		return "", false
	}
	return id, true
}

// sign binds the payload to the account: a cookie is worth nothing for
// another one.
func (d *DeviceCookies) sign(payload, email string) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte("device-cookie/v1\x00" + email + "\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
