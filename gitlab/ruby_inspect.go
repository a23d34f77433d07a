package gitlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// GitLab's batched-background-migration error prints the migration's
// configuration with Ruby's Hash#inspect:
//
//	{:job_class_name=>"CopyColumnUsingBackgroundMigrationJob", :table_name=>:projects, :column_name=>"id", :job_arguments=>[["id"], ["id_convert_to_bigint"]]}
//
// and Ruby 3.4 would print {job_class_name: "...", table_name: :projects, ...}
// (string keys as {"k" => v}). rubyInspectToJSON turns such a value into the
// JSON that Ruby's to_json would give for it: symbols become strings, nil
// null; keys become strings. Only the literals inspect produces for data are
// understood (strings, symbols, integers, floats, nil, true, false, arrays,
// hashes); anything else is an error, never a guess.

// rubyInspectMaxDepth bounds nesting so hostile input cannot exhaust the
// stack; job arguments nest two or three levels.
const rubyInspectMaxDepth = 64

// rubyInspectToJSON converts one inspected value, which must be all of s
// apart from surrounding white space, to compact JSON.
func rubyInspectToJSON(s string) (string, error) {
	p := rubyInspectParser{s: s}
	var b strings.Builder
	p.skipSpace()
	if err := p.value(&b, 0); err != nil {
		return "", err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return "", fmt.Errorf("ruby inspect: trailing text at offset %d", p.i)
	}
	out := b.String()
	if !json.Valid([]byte(out)) {
		// Defence in depth: every branch below writes valid JSON.
		return "", errors.New("ruby inspect: produced invalid JSON")
	}
	return out, nil
}

type rubyInspectParser struct {
	s string
	i int
}

func (p *rubyInspectParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *rubyInspectParser) errorf(format string, args ...any) error {
	return fmt.Errorf("ruby inspect: offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

// value writes the JSON of the value at p.i.
func (p *rubyInspectParser) value(b *strings.Builder, depth int) error {
	if depth > rubyInspectMaxDepth {
		return p.errorf("nested too deeply")
	}
	if p.i >= len(p.s) {
		return p.errorf("value expected, end of text")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		str, err := p.str()
		if err != nil {
			return err
		}
		writeJSONString(b, str)
	case c == ':':
		sym, err := p.symbol()
		if err != nil {
			return err
		}
		writeJSONString(b, sym)
	case c == '[':
		return p.array(b, depth)
	case c == '{':
		return p.hash(b, depth)
	case c == '-' || c >= '0' && c <= '9':
		num, err := p.number()
		if err != nil {
			return err
		}
		b.WriteString(num)
	default:
		word := p.word()
		switch word {
		case "nil":
			b.WriteString("null")
		case "true", "false":
			b.WriteString(word)
		default:
			return p.errorf("unsupported value %q", word)
		}
	}
	return nil
}

func (p *rubyInspectParser) array(b *strings.Builder, depth int) error {
	p.i++ // [
	b.WriteByte('[')
	for n := 0; ; n++ {
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			b.WriteByte(']')
			return nil
		}
		if n > 0 {
			if !p.eat(",") {
				return p.errorf("',' or ']' expected")
			}
			b.WriteByte(',')
			p.skipSpace()
		}
		if err := p.value(b, depth+1); err != nil {
			return err
		}
	}
}

// hash accepts every key form inspect prints: ":sym=>v" (Ruby < 3.4),
// "sym: v" and "\"odd sym\": v" (3.4), "\"str\"=>v" / "\"str\" => v" and
// other values as keys.
func (p *rubyInspectParser) hash(b *strings.Builder, depth int) error {
	p.i++ // {
	b.WriteByte('{')
	for n := 0; ; n++ {
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			b.WriteByte('}')
			return nil
		}
		if n > 0 {
			if !p.eat(",") {
				return p.errorf("',' or '}' expected")
			}
			b.WriteByte(',')
			p.skipSpace()
		}
		key, err := p.key(depth)
		if err != nil {
			return err
		}
		writeJSONString(b, key)
		b.WriteByte(':')
		p.skipSpace()
		if err := p.value(b, depth+1); err != nil {
			return err
		}
	}
}

// key reads a hash key and its separator and returns the key as to_json
// would name it (to_s of the key).
func (p *rubyInspectParser) key(depth int) (string, error) {
	if p.i >= len(p.s) {
		return "", p.errorf("key expected, end of text")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		k, err := p.str()
		if err != nil {
			return "", err
		}
		// "odd sym": v (3.4) or "str"=>v.
		if p.i < len(p.s) && p.s[p.i] == ':' && !strings.HasPrefix(p.s[p.i:], "::") {
			p.i++
			return k, nil
		}
		return k, p.arrow()
	case c == ':':
		k, err := p.symbol()
		if err != nil {
			return "", err
		}
		return k, p.arrow()
	case isRubyIdentStart(c):
		// sym: v (3.4); nil=>v, true=>v and false=>v are keys too.
		start := p.i
		k := p.word()
		if p.i < len(p.s) && p.s[p.i] == ':' {
			p.i++
			return k, nil
		}
		switch k {
		case "nil":
			return "", p.arrow()
		case "true", "false":
			return k, p.arrow()
		}
		p.i = start
		return "", p.errorf("unsupported key")
	}
	// Any other value used as a key: its JSON text is a number here.
	var b strings.Builder
	if err := p.value(&b, depth+1); err != nil {
		return "", err
	}
	k := b.String()
	if strings.HasPrefix(k, "[") || strings.HasPrefix(k, "{") {
		return "", p.errorf("unsupported key %s", k)
	}
	return k, p.arrow()
}

// arrow consumes "=>" with optional spaces around it.
func (p *rubyInspectParser) arrow() error {
	p.skipSpace()
	if !p.eat("=>") {
		return p.errorf("'=>' expected")
	}
	return nil
}

func (p *rubyInspectParser) eat(tok string) bool {
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

// word reads an identifier, with a trailing ? or ! as Ruby method names and
// symbols allow.
func (p *rubyInspectParser) word() string {
	start := p.i
	for p.i < len(p.s) && isRubyIdentChar(p.s[p.i]) {
		p.i++
	}
	if p.i > start && p.i < len(p.s) && (p.s[p.i] == '?' || p.s[p.i] == '!') {
		p.i++
	}
	return p.s[start:p.i]
}

// symbol reads :name, :@ivar, :$gvar, :name= (not the = of =>) or
// :"quoted".
func (p *rubyInspectParser) symbol() (string, error) {
	p.i++ // :
	if p.i < len(p.s) && p.s[p.i] == '"' {
		return p.str()
	}
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == '@' || p.s[p.i] == '$') && p.i-start < 2 {
		p.i++
	}
	if p.i >= len(p.s) || !isRubyIdentStart(p.s[p.i]) {
		return "", p.errorf("symbol name expected")
	}
	p.word()
	if p.i < len(p.s) && p.s[p.i] == '=' && !strings.HasPrefix(p.s[p.i:], "=>") {
		p.i++
	}
	return p.s[start:p.i], nil
}

// number reads an Integer or Float literal as inspect prints it (-12,
// 1.5, 1.0e+20) and returns it if it is also a JSON number. Infinity and
// NaN are not JSON and fail as words.
func (p *rubyInspectParser) number() (string, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	for p.i < len(p.s) && strings.IndexByte("0123456789.eE+-", p.s[p.i]) >= 0 {
		p.i++
	}
	num := p.s[start:p.i]
	if !json.Valid([]byte(num)) {
		return "", p.errorf("bad number %q", num)
	}
	return num, nil
}

// str reads a double-quoted String#inspect literal and returns its value.
func (p *rubyInspectParser) str() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if err := p.escape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated string")
}

// escape decodes the escape after a backslash: the ones String#inspect
// writes (\" \\ \#, \n \t \r \f \v \b \a \e, \xHH, \uHHHH, \u{H...}) plus
// octal and \s; any other escaped character stands for itself.
func (p *rubyInspectParser) escape(b *strings.Builder) error {
	if p.i >= len(p.s) {
		return p.errorf("unterminated escape")
	}
	c := p.s[p.i]
	p.i++
	switch c {
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'f':
		b.WriteByte('\f')
	case 'v':
		b.WriteByte('\v')
	case 'b':
		b.WriteByte('\b')
	case 'a':
		b.WriteByte('\a')
	case 'e':
		b.WriteByte(0x1b)
	case 's':
		b.WriteByte(' ')
	case 'x':
		v, ok := p.digits(16, 2)
		if !ok {
			return p.errorf("bad \\x escape")
		}
		b.WriteByte(byte(v))
	case 'u':
		if p.eat("{") {
			// \u{H...} holds one or more space-separated code points.
			for {
				p.skipSpace()
				if p.eat("}") {
					return nil
				}
				v, ok := p.digits(16, 6)
				if !ok || !utf8.ValidRune(rune(v)) {
					return p.errorf("bad \\u{} escape")
				}
				b.WriteRune(rune(v))
			}
		}
		start := p.i
		v, ok := p.digits(16, 4)
		if !ok || p.i-start != 4 || !utf8.ValidRune(rune(v)) {
			return p.errorf("bad \\u escape")
		}
		b.WriteRune(rune(v))
	case '0', '1', '2', '3', '4', '5', '6', '7':
		p.i--
		v, _ := p.digits(8, 3)
		b.WriteByte(byte(v))
	default:
		b.WriteByte(c)
	}
	return nil
}

// digits reads 1 to max digits in base and returns their value.
func (p *rubyInspectParser) digits(base, max int) (int, bool) {
	start := p.i
	for p.i < len(p.s) && p.i-start < max {
		if _, err := strconv.ParseUint(p.s[p.i:p.i+1], base, 8); err != nil {
			break
		}
		p.i++
	}
	if p.i == start {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[start:p.i], base, 32)
	return int(v), err == nil
}

func isRubyIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isRubyIdentChar(c byte) bool {
	return isRubyIdentStart(c) || c >= '0' && c <= '9'
}

// writeJSONString writes s as a JSON string the way Ruby's JSON generator
// does: quote, backslash and control characters escaped, nothing else
// (so "<" stays "<", unlike encoding/json's HTML-safe default). Invalid
// UTF-8 becomes U+FFFD so the result is always valid JSON.
func writeJSONString(b *strings.Builder, s string) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c < 0x20:
			fmt.Fprintf(b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
