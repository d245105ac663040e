package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/httpjson"
)

func TestHasLoneSurrogate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		`{"t":"\ud83d\ude00"}`: false, // a pair: 😀
		`{"t":"\ud800"}`:       true,
		`{"t":"\udc00x"}`:      true,
		`{"t":"\ud800\u0041"}`: true,
		`{"t":"\\ud800"}`:      false, // an escaped backslash, then text
		`{"t":"\u00e9\u4e2d"}`: false,
		`{"t":"\ud800`:         true,
		`{"t":"plain"}`:        false,
		`{"t":"\uD83D\uDE00"}`: false,
		`{"t":"\\\ud800"}`:     true,
	} {
		if got := hasLoneSurrogate([]byte(in)); got != want {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", in, got, want)
		}
	}
}

// FuzzDecodePostInput: any body is either refused with a client error or
// decoded into valid UTF-8 that holds U+FFFD only if the client sent one.
func FuzzDecodePostInput(f *testing.F) {
	for _, s := range []string{`{"title":"a","body":"b"}`, `{"title":"\ud800","body":"x"}`, "{\"title\":\"\xff\"}", `{"title":1}`, `{}`, `[`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		var in blog.PostInput
		err := decode(w, r, &in)
		if err != nil {
			if code := blog.ErrorCode(err); httpjson.Status(code) >= 500 {
				t.Fatalf("decode(%q) = %v: a server error for client input", body, err)
			}
			return
		}
		for _, s := range []string{in.Title, in.Body} {
			if !utf8.ValidString(s) {
				t.Fatalf("decoded invalid UTF-8 from %q", body)
			}
			if strings.ContainsRune(s, utf8.RuneError) && !bytes.Contains(body, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
				t.Fatalf("U+FFFD invented while decoding %q", body)
			}
		}
		_ = in.Validate() // must not panic
	})
}
