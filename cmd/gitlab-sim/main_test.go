package main

import (
	"reflect"
	"testing"
)

func TestArgsFor(t *testing.T) {
	cases := []struct {
		argv, want []string
	}{
		{[]string{"/usr/local/bin/gitlab-rake", "db:migrate:status"}, []string{"rake", "db:migrate:status"}},
		{[]string{"gitlab-ctl", "status", "puma"}, []string{"ctl", "status", "puma"}},
		{[]string{"/opt/sim/gitlab-ctl"}, []string{"ctl"}},
		{[]string{"gitlab-rake", "--state", "/tmp/s.json", "db:migrate"}, []string{"--state", "/tmp/s.json", "rake", "db:migrate"}},
		{[]string{"gitlab-rake", "--state=/tmp/s.json", "db:migrate"}, []string{"--state=/tmp/s.json", "rake", "db:migrate"}},
		{[]string{"gitlab-rake", "db:migrate", "--state", "x"}, []string{"rake", "db:migrate", "--state", "x"}},
		{[]string{"gitlab-sim", "init", "--scenario", "decomposed"}, []string{"init", "--scenario", "decomposed"}},
		{[]string{"./gitlab-sim"}, []string{}},
		{nil, nil},
	}
	for _, c := range cases {
		if got := argsFor(c.argv); !reflect.DeepEqual(got, c.want) {
			t.Errorf("argsFor(%q) = %q, want %q", c.argv, got, c.want)
		}
	}
}
