package gitlab

import "testing"

func TestRubyInspectToJSON(t *testing.T) {
	ok := map[string]string{
		`nil`:                                `null`,
		`[nil, true, false, -1, 2.5]`:        `[null,true,false,-1,2.5]`,
		`[["id"], ["id_convert_to_bigint"]]`: `[["id"],["id_convert_to_bigint"]]`,
		`{:a=>1, :b=>:sym, :"odd key"=>[]}`:  `{"a":1,"b":"sym","odd key":[]}`,
		`{a: 1, "odd key": 2, "s" => 3}`:     `{"a":1,"odd key":2,"s":3}`,
		`{1=>"x", nil=>2, true=>3}`:          `{"1":"x","":2,"true":3}`,
		`{:valid?=>true, :save!=>1}`:         `{"valid?":true,"save!":1}`,
		`[:name=, :@ivar, :$g]`:              `["name=","@ivar","$g"]`,
		`"\x41\u00e9\u{1F600 41}\101\s"`:     `"Aé😀AA "`,
		`"<&>"`:                              `"<&>"`,
		`"\u0001"`:                           `"\u0001"`,
		` [ 1 ,2 ] `:                         `[1,2]`,
		`{}`:                                 `{}`,
	}
	for in, want := range ok {
		got, err := rubyInspectToJSON(in)
		if err != nil || got != want {
			t.Errorf("rubyInspectToJSON(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{
		``, `[`, `[1`, `[1 2]`, `{:a}`, `{:a=>}`, `"open`, `"\`, `Infinity`, `NaN`, `1.2.3`, `#<Object>`,
		`[1] x`, `{a 1}`, `"\u{110000}"`, `"\uZZ"`, `:`, `{[1]=>2}`, `--1`,
	} {
		if got, err := rubyInspectToJSON(bad); err == nil {
			t.Errorf("rubyInspectToJSON(%s) = %s, want an error", bad, got)
		}
	}
	deep := ""
	for range rubyInspectMaxDepth + 2 {
		deep += "["
	}
	if _, err := rubyInspectToJSON(deep); err == nil {
		t.Error("deep nesting accepted")
	}
}
