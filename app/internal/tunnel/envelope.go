package tunnel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Envelope is a parsed Sentry envelope: a JSON header line, then items, each
// a JSON header line and a payload (of the header's length when given, else
// up to the next newline). Payloads may be binary (replay recordings).
type Envelope struct {
	Header EnvelopeHeader
	Items  []Item
}

// EnvelopeHeader is the part of the envelope header the tunnel reads.
type EnvelopeHeader struct {
	DSN     string `json:"dsn"`
	EventID string `json:"event_id"`
	Trace   struct {
		TraceID string `json:"trace_id"`
	} `json:"trace"`
}

// Item is one envelope item.
type Item struct {
	Type    string
	Payload []byte
}

// maxItems bounds the work on one envelope.
const maxItems = 100

// Parse parses b as an envelope, strictly enough to refuse garbage.
func Parse(b []byte) (*Envelope, error) {
	line, rest, _ := bytes.Cut(b, []byte{'\n'})
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, errors.New("empty envelope")
	}
	env := &Envelope{}
	if err := json.Unmarshal(line, &env.Header); err != nil {
		return nil, errors.New("the envelope header is not a JSON object")
	}
	for len(rest) > 0 {
		if len(env.Items) == maxItems {
			return nil, fmt.Errorf("more than %d items", maxItems)
		}
		var hdr []byte
		hdr, rest, _ = bytes.Cut(rest, []byte{'\n'})
		if len(bytes.TrimSpace(hdr)) == 0 {
			if len(bytes.TrimSpace(rest)) == 0 {
				break // trailing newline(s)
			}
			return nil, errors.New("empty item header")
		}
		var ih struct {
			Type   string `json:"type"`
			Length *int   `json:"length"`
		}
		if err := json.Unmarshal(hdr, &ih); err != nil || ih.Type == "" {
			return nil, errors.New("an item header is not a JSON object with a type")
		}
		var payload []byte
		if ih.Length != nil {
			n := *ih.Length
			if n < 0 || n > len(rest) {
				return nil, errors.New("an item's length runs past the end of the envelope")
			}
			payload, rest = rest[:n], rest[n:]
			if len(rest) > 0 && rest[0] == '\n' {
				rest = rest[1:]
			}
		} else {
			payload, rest, _ = bytes.Cut(rest, []byte{'\n'})
		}
		env.Items = append(env.Items, Item{Type: ih.Type, Payload: payload})
	}
	return env, nil
}
