package configcheck

import (
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode parses data as a YAML document into out (a pointer to a struct
// with yaml tags) and records every problem of the file's shape: syntax,
// unknown keys (with the valid ones), keys given twice, and values of the
// wrong kind. It fills out as far as it can, so that the caller can go on
// to check the values and report those problems in the same round.
//
// It returns false when there is nothing to check further: the file is
// empty or not YAML at all.
func (p *Problems) Decode(data []byte, out any) bool {
	if p.lines == nil {
		p.lines = map[string]int{}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.syntax(err)
		return false
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.Addf("", "the file is empty")
		return false
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		p.Addf("", "the file is empty")
		return false
	}
	before := p.Len()
	p.walk(root, reflect.TypeOf(out).Elem(), "")
	if root.Kind != yaml.MappingNode {
		return false
	}
	// The walk has reported what is wrong; decoding now fills every value
	// that is right (yaml leaves the wrong ones at their zero value).
	if err := root.Decode(out); err != nil && p.Len() == before {
		p.Addf("", "%s", yamlTypeRE.ReplaceAllString(err.Error(), ""))
	}
	return true
}

// yamlTypeRE strips Go type names from yaml's messages: they mean nothing
// to an operator.
var yamlTypeRE = regexp.MustCompile(` (in|into) (type )?[\w.*\[\]]+`)

var linePrefixRE = regexp.MustCompile(`^line \d+: `)

var syntaxLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax records a YAML syntax error at its line.
func (p *Problems) syntax(err error) {
	msg := err.Error()
	if m := syntaxLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.list = append(p.list, Problem{Line: line, Msg: "not valid YAML: " + m[2]})
		return
	}
	p.Addf("", "not valid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// walk checks node n against the Go type t at key path. It never quotes a
// value: the value could be a secret.
func (p *Problems) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := p.lines[path]; !ok {
		p.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // absent: the zero value
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			p.shapeProblem(path, 0, "%s", describe(err))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p.walk(n, t.Elem(), path)
	case reflect.Struct:
		if !p.want(n, yaml.MappingNode, path) {
			return
		}
		fields := structFields(t)
		p.mapping(n, path, func(key string, value *yaml.Node, kpath string) {
			ft, ok := fields[key]
			if !ok {
				p.shapeProblem(kpath, 0, "unknown key; the keys here are %s", strings.Join(sortedKeys(fields), ", "))
				return
			}
			p.walk(value, ft, kpath)
		})
	case reflect.Map:
		if !p.want(n, yaml.MappingNode, path) {
			return
		}
		p.mapping(n, path, func(_ string, value *yaml.Node, kpath string) { p.walk(value, t.Elem(), kpath) })
	case reflect.Slice:
		if !p.want(n, yaml.SequenceNode, path) {
			return
		}
		for i, item := range n.Content {
			p.walk(item, t.Elem(), Index(path, i))
		}
	case reflect.Interface:
		// anything goes
	default:
		if !p.want(n, yaml.ScalarNode, path) {
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			p.shapeProblem(path, 0, "expected %s", kindWord(t))
		}
	}
}

// mapping calls f for each key of mapping n, after recording its line;
// keys given twice are problems (YAML forbids them, and which one wins
// would be a guess).
func (p *Problems) mapping(n *yaml.Node, path string, f func(key string, value *yaml.Node, kpath string)) {
	seen := map[string]int{}
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" { // <<: *defaults merges the keys of an anchor
			kept = append(kept, k, v)
			p.merge(v, path, f)
			continue
		}
		kpath := Join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			p.shapeProblem(kpath, k.Line, "given twice (first on line %d); keep one", first)
			continue
		}
		seen[k.Value] = k.Line
		p.lines[kpath] = k.Line
		kept = append(kept, k, v)
		f(k.Value, v, kpath)
	}
	// yaml aborts the whole decoding at a repeated key; without the
	// repeats, it fills everything else.
	n.Content = kept
}

// merge checks the keys that a merge key (<<) brings in: one mapping or a
// list of them, usually aliases.
func (p *Problems) merge(v *yaml.Node, path string, f func(key string, value *yaml.Node, kpath string)) {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			k := v.Content[i]
			kpath := Join(path, k.Value)
			if _, ok := p.lines[kpath]; !ok {
				p.lines[kpath] = k.Line
			}
			f(k.Value, v.Content[i+1], kpath)
		}
	case yaml.SequenceNode:
		for _, m := range v.Content {
			p.merge(m, path, f)
		}
	default:
		p.shapeProblem(path, v.Line, "<< merges a mapping, found %s", kindName(v.Kind))
	}
}

// want records a problem when n is not of kind k.
func (p *Problems) want(n *yaml.Node, k yaml.Kind, path string) bool {
	if n.Kind == k {
		return true
	}
	p.shapeProblem(path, 0, "expected %s, found %s", kindName(k), kindName(n.Kind))
	return false
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "keys with values (a mapping)"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

func kindWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "a single value"
	}
}

// describe words an error of a custom unmarshaler without yaml's "line N:"
// (the problem has its own line) or Go type names.
func describe(err error) string {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = linePrefixRE.ReplaceAllString(msg, "")
	return yamlTypeRE.ReplaceAllString(msg, "")
}

// structFields maps the yaml keys of struct t to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for k, v := range structFields(f.Type) {
				fields[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
