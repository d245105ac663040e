package stacktest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// A small checker for the LogQL and TraceQL the dashboards use. Loki and
// Tempo (AGPL) cannot be linked or run here, so this checks what most often
// breaks: brackets and quotes, stream selectors and their matchers, pipeline
// stages, range durations, function names and TraceQL conditions.

var (
	labelName  = `[A-Za-z_][A-Za-z0-9_]*`
	matcherOp  = `(=~|!~|!=|=)`
	quoted     = "(\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`)"
	matcherRe  = regexp.MustCompile(`^\s*` + labelName + `\s*` + matcherOp + `\s*` + quoted + `\s*$`)
	durationRe = regexp.MustCompile(`^\d+(ms|s|m|h|d|w|y)$`)
	funcRe     = regexp.MustCompile(`([A-Za-z_]+)\s*\(`)
	// LogQL functions, aggregations and keywords that may precede "(".
	logqlFuncs = map[string]bool{
		"sum": true, "avg": true, "min": true, "max": true, "count": true, "stddev": true, "stdvar": true,
		"topk": true, "bottomk": true, "sort": true, "sort_desc": true, "by": true, "without": true,
		"count_over_time": true, "rate": true, "bytes_over_time": true, "bytes_rate": true,
		"absent_over_time": true, "sum_over_time": true, "avg_over_time": true, "max_over_time": true,
		"min_over_time": true, "first_over_time": true, "last_over_time": true, "stdvar_over_time": true,
		"stddev_over_time": true, "quantile_over_time": true, "rate_counter": true,
		"vector": true, "label_replace": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	}
	logqlStages = regexp.MustCompile(`^(json|logfmt|regexp|pattern|unpack|line_format|label_format|drop|keep|decolorize|unwrap)\b`)
	labelFilter = regexp.MustCompile(`^` + labelName + `\s*(=~|!~|!=|==|=|>=|<=|>|<)\s*(` + quoted + `|[0-9.]+[a-zA-Z]*)`)
)

// checkBalanced reports unbalanced brackets or unterminated strings.
func checkBalanced(expr string) error {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(expr); i++ {
		c := rune(expr[i])
		switch c {
		case '"', '`':
			end := i + 1
			for ; end < len(expr); end++ {
				if c == '"' && expr[end] == '\\' {
					end++
					continue
				}
				if rune(expr[end]) == c {
					break
				}
			}
			if end >= len(expr) {
				return fmt.Errorf("unterminated string at %d", i)
			}
			i = end
		case '(', '[', '{':
			stack = append(stack, c)
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return fmt.Errorf("unbalanced %q at %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	return nil
}

// splitTopLevel splits s on sep outside strings.
func splitTopLevel(s string, sep byte) []string {
	var parts []string
	start := 0
	outsideStrings(s, func(i int) {
		if s[i] == sep {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	})
	return append(parts, s[start:])
}

// outsideStrings calls f with the index of every byte of s outside "…" and
// `…` strings (quotes count as inside) and reports whether s ends inside one.
func outsideStrings(s string, f func(i int)) (open bool) {
	in := byte(0)
	for i := 0; i < len(s); i++ {
		switch {
		case in != 0:
			if s[i] == '\\' && in == '"' {
				i++
			} else if s[i] == in {
				in = 0
			}
		case s[i] == '"' || s[i] == '`':
			in = s[i]
		default:
			f(i)
		}
	}
	return in != 0
}

// checkLogQL checks a LogQL log or metric query.
func checkLogQL(expr string) error {
	if err := checkBalanced(expr); err != nil {
		return err
	}
	if !strings.Contains(expr, "{") {
		return fmt.Errorf("no stream selector")
	}
	for _, m := range funcRe.FindAllStringSubmatch(stripStrings(expr), -1) {
		if !logqlFuncs[m[1]] {
			return fmt.Errorf("unknown function %q", m[1])
		}
	}
	for _, r := range regexp.MustCompile(`\[([^\]]*)\]`).FindAllStringSubmatch(stripStrings(expr), -1) {
		if !durationRe.MatchString(strings.TrimSpace(r[1])) {
			return fmt.Errorf("range [%s] is not a duration", r[1])
		}
	}
	// Each stream selector, then its pipeline up to a range, ")" or the end.
	rest := expr
	for {
		sel, after, found, err := nextStreamSelector(rest)
		if !found || err != nil {
			return err
		}
		nonEmpty := false
		for _, m := range splitTopLevel(sel, ',') {
			if !matcherRe.MatchString(m) {
				return fmt.Errorf("bad label matcher %q", strings.TrimSpace(m))
			}
			if !strings.Contains(m, `""`) && !strings.Contains(m, `".*"`) {
				nonEmpty = true
			}
		}
		if !nonEmpty {
			return fmt.Errorf("stream selector {%s} needs a matcher that excludes empty values", sel)
		}
		rest = after
		end := len(rest)
		for _, stop := range []byte{'[', ')'} {
			if k := indexOutsideStrings(rest, stop); k >= 0 && k < end {
				end = k
			}
		}
		if err := checkPipeline(rest[:end]); err != nil {
			return err
		}
		rest = rest[end:]
	}
}

// nextStreamSelector finds the first stream selector of a LogQL expression
// s: its matchers between the braces, and what follows it.
func nextStreamSelector(s string) (sel, after string, found bool, err error) {
	i := indexOutsideStrings(s, '{')
	if i < 0 {
		return "", "", false, nil
	}
	j := indexOutsideStrings(s[i:], '}')
	if j < 0 {
		return "", "", false, fmt.Errorf("unclosed stream selector")
	}
	return s[i+1 : i+j], s[i+j+1:], true, nil
}

// checkPipeline checks the stages after a stream selector.
func checkPipeline(p string) error {
	p = strings.TrimSpace(p)
	for p != "" {
		var op string
		for _, o := range []string{"|=", "|~", "!=", "!~", "|"} {
			if strings.HasPrefix(p, o) {
				op = o
				break
			}
		}
		if op == "" {
			return fmt.Errorf("unexpected %q in pipeline", p)
		}
		p = strings.TrimSpace(p[len(op):])
		next := nextStage(p)
		stage := strings.TrimSpace(p[:next])
		p = strings.TrimSpace(p[next:])
		switch {
		case op != "|": // line filter
			if !regexp.MustCompile(`^` + quoted + `$`).MatchString(stage) {
				return fmt.Errorf("line filter %s needs one quoted string, got %q", op, stage)
			}
		case logqlStages.MatchString(stage):
		case labelFilter.MatchString(stage):
			if rest := labelFilter.ReplaceAllString(stage, ""); strings.TrimSpace(rest) != "" && !regexp.MustCompile(`^\s*(and|or|,)\s`).MatchString(rest) {
				return fmt.Errorf("trailing %q after label filter", rest)
			}
		default:
			return fmt.Errorf("unknown pipeline stage %q", stage)
		}
	}
	return nil
}

// nextStage returns where the stage starting p ends.
func nextStage(p string) int {
	best := len(p)
	for _, sep := range []string{"|", "!=", "!~"} {
		for off := 0; ; {
			k := strings.Index(p[off:], sep)
			if k < 0 {
				break
			}
			pos := off + k
			if !insideString(p, pos) {
				if pos < best && pos > 0 {
					best = pos
				}
				break
			}
			off = pos + len(sep)
		}
	}
	return best
}

func insideString(s string, pos int) bool {
	return outsideStrings(s[:pos], func(int) {})
}

func indexOutsideStrings(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c && !insideString(s, i) {
			return i
		}
	}
	return -1
}

func stripStrings(s string) string {
	return regexp.MustCompile(quoted).ReplaceAllString(s, `""`)
}

var (
	traceqlField = regexp.MustCompile(`^(resource|span|event|link|instrumentation)?\.[A-Za-z_][A-Za-z0-9_.]*$|^(status|kind|duration|name|statusMessage|rootName|rootServiceName|traceDuration|span:[a-zA-Z]+|trace:[a-zA-Z]+)$`)
	traceqlValue = regexp.MustCompile(`^(` + quoted + `|-?[0-9.]+(ns|us|µs|ms|s|m|h)?|true|false|nil|error|ok|unset|server|client|producer|consumer|internal|unspecified)$`)
	traceqlCond  = regexp.MustCompile(`^\s*(\S+)\s*(=~|!~|!=|>=|<=|=|>|<)\s*(.+?)\s*$`)
)

// checkTraceQL checks a TraceQL span-set query such as
// { resource.service.name = "x" && status = error }.
func checkTraceQL(expr string) error {
	if err := checkBalanced(expr); err != nil {
		return err
	}
	e := strings.TrimSpace(expr)
	if !strings.HasPrefix(e, "{") || indexOutsideStrings(e, '}') < 0 {
		return fmt.Errorf("want a span set { … }")
	}
	inner := e[1:indexOutsideStrings(e, '}')]
	if after := strings.TrimSpace(e[indexOutsideStrings(e, '}')+1:]); after != "" && !strings.HasPrefix(after, "|") && !strings.HasPrefix(after, "&&") && !strings.HasPrefix(after, ">>") {
		return fmt.Errorf("unexpected %q after span set", after)
	}
	if strings.TrimSpace(inner) == "" {
		return nil
	}
	for _, cond := range regexp.MustCompile(`&&|\|\|`).Split(inner, -1) {
		m := traceqlCond.FindStringSubmatch(cond)
		if m == nil {
			return fmt.Errorf("bad condition %q", strings.TrimSpace(cond))
		}
		if !traceqlField.MatchString(m[1]) {
			return fmt.Errorf("unknown field %q", m[1])
		}
		if !traceqlValue.MatchString(m[3]) {
			return fmt.Errorf("bad value %q", m[3])
		}
	}
	return nil
}

func TestQueryCheckers(t *testing.T) {
	for _, c := range []struct {
		lang, expr string
		ok         bool
	}{
		{"logql", `{service_name="blog-api"}`, true},
		{"logql", `{service_name="blog-api"} |= "frontend.error" | json | level="error"`, true},
		{"logql", `sum by (detected_level) (count_over_time({service_name="blog-api"} [1m]))`, true},
		{"logql", `sum(count_over_time({service_name="blog-api"} |= "x" [1m])) or vector(0)`, true},
		{"logql", `{service_name="blog-api"} | trace_id=~".*"`, true},
		{"logql", `{service_name="blog-api"`, false},
		{"logql", `{service_name=blog-api}`, false},
		{"logql", `{service_name=~".*"}`, false},
		{"logql", `{service_name="a"} |= error`, false},
		{"logql", `{service_name="a"} | frobnicate`, false},
		{"logql", `count_over_time({service_name="a"} [5 minutes])`, false},
		{"logql", `cnt_over_time({service_name="a"} [5m])`, false},
		{"traceql", `{ resource.service.name = "blog-api" && status = error }`, true},
		{"traceql", `{ kind = server && duration > 100ms }`, true},
		{"traceql", `{ .http.route = "/api/posts/{id}" }`, true},
		{"traceql", `{ resource.service.name = blog-api }`, false},
		{"traceql", `{ status = error `, false},
		{"traceql", `{ service.name == "x" }`, false},
	} {
		var err error
		if c.lang == "logql" {
			err = checkLogQL(c.expr)
		} else {
			err = checkTraceQL(c.expr)
		}
		if (err == nil) != c.ok {
			t.Errorf("%s %q: err = %v, want ok=%v", c.lang, c.expr, err, c.ok)
		}
	}
}
