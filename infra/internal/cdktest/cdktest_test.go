package cdktest

import (
	"encoding/json"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEval(t *testing.T) {
	pseudo := map[string]string{"AWS::StackId": "arn:aws:cloudformation:eu-west-1:111122223333:stack/S/1234", "AWS::Partition": "aws"}
	v := decode(t, `{"x":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":x-",{"Fn::Select":[2,{"Fn::Split":["/",{"Ref":"AWS::StackId"}]}]}]]}}`)["x"]
	if got, err := EvalString(v, pseudo); err != nil || got != "arn:aws:x-1234" {
		t.Errorf("Eval = %q, %v", got, err)
	}
	for _, bad := range []string{`{"x":{"Ref":"SomeResource"}}`, `{"x":{"Fn::GetAtt":["R","Arn"]}}`, `{"x":{"Fn::Select":[3,{"Fn::Split":["/","a/b"]}]}}`} {
		if got, err := Eval(decode(t, bad)["x"], pseudo); err == nil {
			t.Errorf("Eval(%s) = %v, want an error", bad, got)
		}
	}
}

func TestCycle(t *testing.T) {
	ok := decode(t, `{"Resources":{
		"A":{"Type":"T","Properties":{"X":{"Ref":"B"},"Y":{"Ref":"AWS::StackId"}}},
		"B":{"Type":"T","DependsOn":["C"]},
		"C":{"Type":"T","Properties":{"Z":{"Fn::Sub":"${AWS::Region}-x"}}}}}`)
	if c := Cycle(ok); c != nil {
		t.Errorf("cycle %v in an acyclic template", c)
	}
	cyclic := decode(t, `{"Resources":{
		"A":{"Type":"T","Properties":{"X":{"Ref":"B"}}},
		"B":{"Type":"T","Properties":{"Y":{"Fn::GetAtt":["C","Arn"]}}},
		"C":{"Type":"T","Properties":{"Z":{"Fn::Sub":"${A.Arn}"}}}}}`)
	if c := Cycle(cyclic); strings.Join(c, ">") != "A>B>C>A" {
		t.Errorf("cycle %v, want A>B>C>A", c)
	}
	dependsOn := decode(t, `{"Resources":{"A":{"Type":"T","DependsOn":"B"},"B":{"Type":"T","Properties":{"X":{"Ref":"A"}}}}}`)
	if c := Cycle(dependsOn); len(c) != 3 {
		t.Errorf("cycle %v, want A>B>A", c)
	}
}
