package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"example.com/otelstarter/app/internal/blog"
)

// MaxBodyBytes bounds JSON request bodies.
const MaxBodyBytes = 64 << 10

// decode reads one JSON object into v with strict rules: a JSON content
// type (415 without one), size limit, no unknown fields, nothing after the object.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	// A missing type is refused too: a foreign page can send text/plain
	// (or no type) without a CORS preflight, never application/json.
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &blog.Error{Code: blog.CodeUnsupported, Message: "Content-Type must be application/json"}
	}
	// JSON is UTF-8 (RFC 8259): a body sent in another charset would be
	// read as something its sender did not mean.
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &blog.Error{Code: blog.CodeUnsupported, Message: "the body must be UTF-8 JSON: charset=utf-8 or none"}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return decodeError(err)
	}
	// encoding/json silently replaces invalid UTF-8 and lone UTF-16
	// surrogates with U+FFFD: refuse them instead of storing a lossy copy.
	if !utf8.Valid(raw) || hasLoneSurrogate(raw) {
		return &blog.Error{Code: blog.CodeInvalid, Message: "the body must be valid UTF-8 JSON"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeError(err)
		}
		return &blog.Error{Code: blog.CodeInvalid, Message: "the body must hold a single JSON object"}
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax  *json.SyntaxError
		typ     *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
		invalid *json.InvalidUnmarshalError
	)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &blog.Error{Code: blog.CodeTimeout, Message: "the request body arrived too slowly"}
	case errors.As(err, &tooBig):
		return &blog.Error{Code: blog.CodeTooLarge, Message: fmt.Sprintf("the body must be at most %d bytes", tooBig.Limit)}
	case errors.As(err, &syntax):
		return &blog.Error{Code: blog.CodeInvalid, Message: fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &blog.Error{Code: blog.CodeInvalid, Message: "the body must be a JSON object"}
		}
		return &blog.Error{Code: blog.CodeValidation, Message: "some fields are invalid",
			Fields: map[string]string{field: "must be a " + jsonType(typ.Type.Kind().String())}}
	case errors.Is(err, io.EOF):
		return &blog.Error{Code: blog.CodeInvalid, Message: "the body is empty; send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &blog.Error{Code: blog.CodeInvalid, Message: "malformed JSON: unexpected end of body"}
	case errors.As(err, &invalid):
		return err
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &blog.Error{Code: blog.CodeValidation, Message: "some fields are invalid",
			Fields: map[string]string{truncate(name, 64): "is not a known field"}}
	}
	return &blog.Error{Code: blog.CodeInvalid, Message: "malformed request body"}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "number"
	case "bool":
		return "boolean"
	}
	return kind
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// pathID parses the {id} path value.
func pathID(r *http.Request) (int64, error) {
	id, ok := positive(r.PathValue("id"), math.MaxInt64)
	if !ok {
		return 0, &blog.Error{Code: blog.CodeInvalid, Message: "the post ID must be a positive integer, in decimal without a sign or leading zeros"}
	}
	return id, nil
}

// positive parses a positive integer up to limit in its one canonical
// form: decimal digits, no sign, no leading zero. strconv alone also takes
// "+1" and "011", so that one resource would have many addresses (and
// cache keys, and route labels).
func positive(s string, limit int64) (int64, bool) {
	if s == "" || s[0] < '1' || s[0] > '9' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n <= limit
}

// pageParams parses ?page= and ?per_page=.
func pageParams(r *http.Request) (blog.Page, error) {
	q := r.URL.Query()
	p := blog.Page{Page: 1, PerPage: blog.DefaultPerPage}
	fields := map[string]string{}
	if v := q.Get("page"); v != "" {
		n, ok := positive(v, 1_000_000)
		if !ok {
			fields["page"] = "must be an integer from 1 to 1000000"
		}
		p.Page = int(n)
	}
	if v := q.Get("per_page"); v != "" {
		n, ok := positive(v, blog.MaxPerPage)
		if !ok {
			fields["per_page"] = fmt.Sprintf("must be an integer from 1 to %d", blog.MaxPerPage)
		}
		p.PerPage = int(n)
	}
	if len(fields) > 0 {
		return p, &blog.Error{Code: blog.CodeInvalid, Message: "invalid query parameters", Fields: fields}
	}
	return p, nil
}

// hasLoneSurrogate reports whether a JSON text holds a \uD800–\uDFFF escape
// that is not part of a high-low surrogate pair.
func hasLoneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++ // skip the escaped character, which may be a backslash
			continue
		}
		cp, ok := hex4(b, i+2)
		if !ok {
			continue // malformed: the decoder reports it
		}
		switch {
		case cp >= 0xD800 && cp <= 0xDBFF:
			lo, ok := hex4(b, i+8)
			if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' || !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		case cp >= 0xDC00 && cp <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}

func hex4(b []byte, at int) (int, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n := 0
	for _, c := range b[at : at+4] {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}
