package blog

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// mixesScripts reports whether one part of an email address (the local
// part, or a label of the domain) mixes writing systems, as "exаmple" with
// a Cyrillic "а" does: such a part passes PRECIS, yet reads as another
// account's address. The rule is the "Highly Restrictive" level of Unicode
// TS #39 (§5.2), which browsers apply to domain names: a part is in one
// script, or in Latin with Han and the Japanese kana, Bopomofo or Hangul.
// Digits, punctuation and combining marks belong to every script.
func mixesScripts(email string) bool {
	for part := range strings.FieldsFuncSeq(email, func(r rune) bool { return r == '@' || r == '.' }) {
		seen := map[string]bool{}
		for _, r := range part {
			if s := scriptOf(r); s != "Common" && s != "Inherited" {
				seen[s] = true
			}
		}
		if len(seen) > 1 && !allowedScriptMix(seen) {
			return true
		}
	}
	return false
}

// allowedScriptMixes are the sets of scripts that TS #39's Highly
// Restrictive level lets one part combine.
var allowedScriptMixes = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

func allowedScriptMix(seen map[string]bool) bool {
	for _, mix := range allowedScriptMixes {
		n := 0
		for _, s := range mix {
			if seen[s] {
				n++
			}
		}
		if n == len(seen) {
			return true
		}
	}
	return false
}

// scriptOf names the Unicode script of r, as the keys of unicode.Scripts
// do. Every rune is in exactly one script's table.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if unicode.IsLetter(r) {
			return "Latin"
		}
		return "Common"
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return "Unknown"
}
