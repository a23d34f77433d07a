package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file reproduces the small pieces of Ruby, ActiveSupport, Rails and
// did_you_mean behaviour whose output the simulator has to match byte for
// byte.

// acronyms are GitLab's inflection acronyms (config/initializers/0_inflections.rb).
var acronyms = map[string]string{"ee": "EE"}

// humanize is ActiveSupport's String#humanize as Rails applies it to a
// migration file name: underscores to spaces, a trailing "_id" dropped,
// words lower-cased (acronyms kept), the first letter capitalised.
func humanize(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	s = strings.TrimLeft(s, " ")
	if strings.HasSuffix(name, "_id") {
		s = strings.TrimSuffix(s, " id")
	}
	words := strings.Split(s, " ")
	for i, w := range words {
		if a, ok := acronyms[strings.ToLower(w)]; ok {
			words[i] = a
		} else {
			words[i] = strings.ToLower(w)
		}
	}
	s = strings.Join(words, " ")
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// camelize is ActiveSupport's String#camelize for a migration file name,
// giving the migration's class name.
func camelize(name string) string {
	var b strings.Builder
	for _, w := range strings.Split(name, "_") {
		if w == "" {
			continue
		}
		if a, ok := acronyms[strings.ToLower(w)]; ok {
			b.WriteString(a)
			continue
		}
		r, n := utf8.DecodeRuneInString(w)
		b.WriteRune(unicode.ToUpper(r))
		b.WriteString(w[n:])
	}
	return b.String()
}

// rubyCenter is Ruby's String#center with spaces: the extra space goes to
// the right.
func rubyCenter(s string, width int) string {
	n := utf8.RuneCountInString(s)
	if n >= width {
		return s
	}
	left := (width - n) / 2
	right := width - n - left
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", right)
}

// announce is Rails' Migration#announce: "== <version> <Class>: <message> "
// padded with "=" to 75 columns (no "=" and a trailing space when longer).
func announce(version, class, message string) string {
	text := version + " " + class + ": " + message
	pad := 75 - utf8.RuneCountInString(text)
	if pad < 0 {
		pad = 0
	}
	return "== " + text + " " + strings.Repeat("=", pad)
}

// secs formats a duration as Rails prints it ("%.4f").
func secs(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) }

// ---------------------------------------------------------------------------
// JSON values with Ruby semantics.

// rbKV is one key/value pair of a JSON object; objects keep their order, as
// Ruby hashes do.
type rbKV struct {
	Key   string
	Value any
}

// decodeOrdered decodes one JSON value keeping object key order. Numbers
// stay json.Number. It returns an error for invalid JSON.
func decodeOrdered(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		case '{':
			obj := []rbKV{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string")
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				obj = append(obj, rbKV{k, v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil
	}
}

// rubyInspect renders a decoded JSON value as Ruby 3.3's #inspect prints the
// equivalent Ruby object (Gitlab::Json.parse result or migration literal).
func rubyInspect(v any) string {
	var b strings.Builder
	writeInspect(&b, v)
	return b.String()
}

func writeInspect(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("nil")
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		b.WriteString(rubyStringInspect(t))
	case json.Number:
		b.WriteString(rubyNumberInspect(t))
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeInspect(b, e)
		}
		b.WriteByte(']')
	case []rbKV:
		b.WriteByte('{')
		for i, kv := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(rubyStringInspect(kv.Key))
			b.WriteString("=>")
			writeInspect(b, kv.Value)
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "%v", t)
	}
}

func rubyNumberInspect(n json.Number) string {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if s == "-0" {
			return "0"
		}
		return s // Ruby integers have arbitrary precision
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return "Infinity"
	}
	return rubyFloat(f)
}

// rubyFloat is Float#inspect: shortest representation, always with a
// fractional part, exponent form outside 1e-4 <= |f| < 1e16.
func rubyFloat(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	abs := math.Abs(f)
	if abs >= 1e16 || abs < 1e-4 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		sign := exp[0]
		digits := strings.TrimLeft(exp[1:], "0")
		if len(digits) < 2 {
			digits = fmt.Sprintf("%02s", digits)
		}
		return mant + "e" + string(sign) + digits
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// rubyStringInspect is String#inspect for a UTF-8 string.
func rubyStringInspect(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, "\\x%02X", s[i])
			i++
			continue
		}
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '\v':
			b.WriteString(`\v`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case 0x1b:
			b.WriteString(`\e`)
		case '#':
			if i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '$' || s[i+1] == '@') {
				b.WriteString(`\#`)
			} else {
				b.WriteByte('#')
			}
		default:
			if unicode.IsPrint(r) {
				b.WriteRune(r)
			} else if r < 0x10000 {
				fmt.Fprintf(&b, "\\u%04X", r)
			} else {
				fmt.Fprintf(&b, "\\u{%X}", r)
			}
		}
		i += n
	}
	b.WriteByte('"')
	return b.String()
}

// compactJSON returns s without insignificant white space, as
// Object#to_json prints a value GitLab read from a jsonb column. It keeps
// number spellings and string escapes as they were written.
func compactJSON(s string) (string, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// jsonEqual compares two JSON texts the way PostgreSQL compares jsonb
// values: by value, ignoring white space and object key order.
func jsonEqual(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return jsonValueEqual(va, vb)
}

func jsonValueEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonValueEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonValueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// ---------------------------------------------------------------------------
// Oj's parse errors. Gitlab::Json.parse uses Oj.load(s, mode: :rails). On
// bad input Oj raises EncodingError (Oj's JSON mimic is not enabled) with
// "<what> (after <path>) at line L, column C [parse.c:N] in '<input>" - the
// input is appended without a closing quote - and Gitlab::Json re-raises it
// as JSON::ParserError. This emulates Oj's parser loop (oj_parse2); the
// messages, positions and line numbers were checked against Oj 3.14.2 (the
// parse.c line numbers differ between Oj versions).

const (
	ojNext_ArrayNew = iota
	ojNext_ArrayElement
	ojNext_ArrayComma
	ojNext_HashNew
	ojNext_HashKey
	ojNext_HashColon
	ojNext_HashValue
	ojNext_HashComma
)

var ojNextString = map[int]string{
	ojNext_ArrayNew: "array element or close", ojNext_ArrayElement: "array element", ojNext_ArrayComma: "comma",
	ojNext_HashNew: "hash pair or close", ojNext_HashKey: "hash key", ojNext_HashColon: "colon",
	ojNext_HashValue: "hash value", ojNext_HashComma: "comma",
}

type ojFrame struct {
	array bool
	next  int
	n     int    // array elements so far
	key   string // the current key of a hash
	hasK  bool
}

type ojParser struct {
	s     string
	cur   int
	stack []ojFrame
	msg   string // the error, formatted; "" while none
}

// ojParseError checks s like Oj.load(s, mode: :rails) and returns the
// exception message, or "" when s parses.
func ojParseError(s string) string {
	p := &ojParser{s: s}
	p.parse()
	return p.msg
}

func (p *ojParser) at(i int) byte {
	if i < len(p.s) {
		return p.s[i]
	}
	return 0
}

// fail records an error located at byte index pos (Oj's cur - 1).
func (p *ojParser) fail(line int, pos int, format string, args ...any) {
	what := fmt.Sprintf(format, args...)
	var path strings.Builder
	for _, f := range p.stack {
		if f.array {
			fmt.Fprintf(&path, "[%d]", f.n)
		} else if f.hasK {
			if path.Len() > 0 {
				path.WriteByte('.')
			}
			path.WriteString(f.key)
		}
	}
	col, lineNo := 1, 1
	c := pos
	for ; c > 0 && p.at(c) != '\n'; c-- {
		col++
	}
	for ; c > 0; c-- {
		if p.at(c) == '\n' {
			lineNo++
		}
	}
	msg := fmt.Sprintf("%s (after %s) at line %d, column %d [parse.c:%d]", what, path.String(), lineNo, col, line)
	if len(msg) > 126 { // Oj's error buffer
		msg = msg[:126]
	}
	p.msg = msg + " in '" + p.s
}

func (p *ojParser) top() *ojFrame {
	if len(p.stack) == 0 {
		return nil
	}
	return &p.stack[len(p.stack)-1]
}

// addValue is Oj's add_value: a complete value goes into its parent.
func (p *ojParser) addValue(kind string) {
	f := p.top()
	if f == nil {
		return
	}
	switch f.next {
	case ojNext_ArrayNew, ojNext_ArrayElement:
		f.n++
		f.next = ojNext_ArrayComma
	case ojNext_HashValue:
		f.next = ojNext_HashComma
	default:
		if kind == "" {
			p.fail(630, p.cur-1, "expected %s", ojNextString[f.next])
		} else {
			p.fail(435, p.cur-1, "expected %s, not %s", ojNextString[f.next], kind)
		}
	}
}

func (p *ojParser) parse() {
	first := true
	for {
		for p.cur < len(p.s) && strings.IndexByte(" \t\f\n\r", p.s[p.cur]) >= 0 {
			p.cur++
		}
		if first {
			if p.cur >= len(p.s) {
				p.fail(738, p.cur-1, "unexpected character")
			}
		} else if p.cur < len(p.s) {
			p.fail(731, p.cur-1, "unexpected characters after the JSON document")
		}
		if p.cur >= len(p.s) {
			return
		}
		c := p.s[p.cur]
		p.cur++
		switch {
		case c == '{':
			p.stack = append(p.stack, ojFrame{next: ojNext_HashNew})
		case c == '[':
			p.stack = append(p.stack, ojFrame{array: true, next: ojNext_ArrayNew})
		case c == '}':
			f := p.top()
			switch {
			case f == nil:
				p.fail(673, p.cur-1, "unexpected hash close")
			case f.next != ojNext_HashComma && f.next != ojNext_HashNew:
				p.fail(678, p.cur-1, "expected %s, not a hash close", ojNextString[f.next])
			default:
				p.stack = p.stack[:len(p.stack)-1]
				p.addValue("")
			}
		case c == ']':
			f := p.top()
			if f == nil {
				p.fail(648, p.cur-1, "unexpected array close")
				break
			}
			p.stack = p.stack[:len(p.stack)-1]
			if f.next != ojNext_ArrayComma && f.next != ojNext_ArrayNew {
				p.fail(653, p.cur-1, "expected %s, not an array close", ojNextString[f.next])
				break
			}
			p.addValue("")
		case c == ':':
			if f := p.top(); f != nil && f.next == ojNext_HashColon {
				f.next = ojNext_HashValue
			} else {
				p.fail(713, p.cur-1, "unexpected colon")
			}
		case c == ',':
			f := p.top()
			switch {
			case f != nil && f.next == ojNext_ArrayComma:
				f.next = ojNext_ArrayElement
			case f != nil && f.next == ojNext_HashComma:
				f.next = ojNext_HashKey
			default:
				p.fail(698, p.cur-1, "unexpected comma")
			}
		case c == '"':
			p.readString()
		case c == '+' || c == '-' || (c >= '0' && c <= '9'):
			p.readNumber()
		case c == 't' || c == 'f' || c == 'n':
			word := map[byte]string{'t': "true", 'f': "false", 'n': "null"}[c]
			start := p.cur - 1
			if !strings.HasPrefix(p.s[start:], word) {
				p.cur = start + len(word)
				p.fail(map[byte]int{'t': 126, 'f': 134, 'n': 118}[c], p.cur-1, "expected %s", word)
				break
			}
			p.cur = start + len(word)
			p.addValue("")
		case c == '/':
			p.skipComment()
			if first && p.msg == "" {
				continue
			}
		default:
			p.fail(809, p.cur-1, "unexpected character")
		}
		if p.msg != "" {
			return
		}
		if len(p.stack) == 0 {
			first = false
		}
	}
}

func (p *ojParser) readString() {
	start := p.cur
	i := p.cur
	for ; i < len(p.s); i++ {
		switch p.s[i] {
		case 0:
			p.cur = i + 1
			p.fail(388, p.cur-1, "NULL byte in string")
			return
		case '\\':
			i++
			switch p.at(i) {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if !strings.ContainsRune("0123456789abcdefABCDEF", rune(p.at(i+k))) || i+k >= len(p.s) {
						p.cur = i + k + 1
						p.fail(272, p.cur-1, "invalid hex character")
						return
					}
				}
				i += 4
			default:
				p.cur = i
				p.fail(317, p.cur-1, "invalid escaped character")
				return
			}
			continue
		case '"':
			f := p.top()
			p.cur = i
			if f != nil {
				switch f.next {
				case ojNext_HashNew, ojNext_HashKey:
					f.key, f.hasK, f.next = p.s[start:i], true, ojNext_HashColon
				default:
					p.addValue("a string")
				}
			}
			p.cur = i + 1
			return
		}
	}
	p.cur = len(p.s)
	p.fail(384, p.cur-1, "quoted string not terminated")
}

func (p *ojParser) readNumber() {
	i := p.cur - 1
	if p.s[i] == '-' || p.s[i] == '+' {
		i++
	}
	for i < len(p.s) && p.s[i] >= '0' && p.s[i] <= '9' {
		i++
	}
	if p.at(i) == '.' {
		i++
		for i < len(p.s) && p.s[i] >= '0' && p.s[i] <= '9' {
			i++
		}
	}
	if p.at(i) == 'e' || p.at(i) == 'E' {
		i++
		if p.at(i) == '+' || p.at(i) == '-' {
			i++
		}
		for i < len(p.s) && p.s[i] >= '0' && p.s[i] <= '9' {
			i++
		}
	}
	p.cur = i
	p.addValue("")
}

func (p *ojParser) skipComment() {
	switch p.at(p.cur) {
	case '*':
		if end := strings.Index(p.s[p.cur+1:], "*/"); end >= 0 {
			p.cur += 1 + end + 2
			return
		}
		p.cur = len(p.s)
		p.fail(157, p.cur-1, "comment not terminated")
	case '/':
		if end := strings.IndexByte(p.s[p.cur:], '\n'); end >= 0 {
			p.cur += end + 1
		} else {
			p.cur = len(p.s)
		}
	default:
		p.fail(166, p.cur-1, "invalid comment format")
	}
}

// ---------------------------------------------------------------------------
// did_you_mean, as rake uses it for "Don't know how to build task".

func jaro(a, b []rune) float64 {
	if len(a) > len(b) {
		a, b = b, a
	}
	l1, l2 := len(a), len(b)
	m, t := 0.0, 0.0
	rng := l2/2 - 1
	f1 := make([]bool, l1)
	f2 := make([]bool, l2+1)
	for i, c1 := range a {
		start := 0
		if i >= rng {
			start = i - rng
		}
		length := i + rng + 1 // Ruby's str2[start, length]
		for j := 0; j < length && start+j < l2; j++ {
			if !f2[start+j] && c1 == b[start+j] {
				f2[start+j] = true
				f1[i] = true
				m++
				break
			}
		}
	}
	k := 0
	for i, c1 := range a {
		if !f1[i] {
			continue
		}
		index := k
		for j := k; j <= l2; j++ { // Ruby: k = k.upto(length2) { break(j + 1) if flags2[j] }
			index = j
			if f2[j] {
				k = j + 1
				break
			}
		}
		if index >= l2 || c1 != b[index] {
			t++
		}
	}
	t = math.Floor(t / 2)
	if m == 0 {
		return 0
	}
	return (m/float64(l1) + m/float64(l2) + (m-t)/m) / 3
}

func jaroWinkler(s1, s2 string) float64 {
	a, b := []rune(s1), []rune(s2)
	d := jaro(a, b)
	if d > 0.7 {
		bonus := 0
		for i := 0; i < 4 && i < len(a); i++ {
			if i < len(b) && a[i] == b[i] {
				bonus++
			} else {
				break
			}
		}
		d += float64(bonus) * 0.1 * (1 - d)
	}
	return d
}

func levenshtein(s1, s2 string) int {
	a, b := []rune(s1), []rune(s2)
	if len(a) == 0 {
		return len(b)
	}
	if len(b) == 0 {
		return len(a)
	}
	d := make([]int, len(b)+1)
	for j := range d {
		d[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := d[0]
		d[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur := min(d[j]+1, d[j-1]+1, prev+cost)
			prev = d[j]
			d[j] = cur
		}
	}
	return d[len(b)]
}

// didYouMean is DidYouMean::SpellChecker#correct (did_you_mean 1.6, Ruby 3.x).
func didYouMean(dictionary []string, input string) []string {
	in := strings.ToLower(strings.ReplaceAll(input, "@", ""))
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "@", "")) }
	threshold := 0.77
	if utf8.RuneCountInString(in) > 3 {
		threshold = 0.834
	}
	var words []string
	for _, w := range dictionary {
		if jaroWinkler(norm(w), in) >= threshold && w != input {
			words = append(words, w)
		}
	}
	sort.SliceStable(words, func(i, j int) bool {
		return jaroWinkler(words[i], in) < jaroWinkler(words[j], in)
	})
	for i, j := 0, len(words)-1; i < j; i, j = i+1, j-1 {
		words[i], words[j] = words[j], words[i]
	}
	lim := int(math.Ceil(float64(utf8.RuneCountInString(in)) * 0.25))
	var out []string
	for _, w := range words {
		if levenshtein(norm(w), in) <= lim {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		for _, w := range words {
			nw := norm(w)
			l := min(utf8.RuneCountInString(in), utf8.RuneCountInString(nw))
			if levenshtein(nw, in) < l {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

// didYouMeanMessage is DidYouMean::Formatter.message_for.
func didYouMeanMessage(corrections []string) string {
	if len(corrections) == 0 {
		return ""
	}
	return "\nDid you mean?  " + strings.Join(corrections, "\n               ")
}

// rubyToJSON is ActiveSupport's #to_json for a decoded JSON value: compact,
// with <, >, & and U+2028/U+2029 escaped as \uXXXX.
func rubyToJSON(v any) string {
	var b strings.Builder
	writeRubyJSON(&b, v)
	return b.String()
}

func writeRubyJSON(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		s := t.String()
		if strings.ContainsAny(s, ".eE") {
			if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
				s = rubyFloat(f)
			}
		} else if s == "-0" {
			s = "0"
		}
		b.WriteString(s)
	case string:
		b.WriteByte('"')
		for _, r := range t {
			switch r {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '<', '>', '&', 0x2028, 0x2029:
				fmt.Fprintf(b, `\u%04x`, r)
			default:
				if r < 0x20 {
					fmt.Fprintf(b, `\u%04x`, r)
				} else {
					b.WriteRune(r)
				}
			}
		}
		b.WriteByte('"')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeRubyJSON(b, e)
		}
		b.WriteByte(']')
	case []rbKV:
		b.WriteByte('{')
		for i, kv := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeRubyJSON(b, kv.Key)
			b.WriteByte(':')
			writeRubyJSON(b, kv.Value)
		}
		b.WriteByte('}')
	}
}
