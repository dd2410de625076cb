package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// decodeStrict decodes exactly one JSON value into v, rejecting unknown fields and
// trailing data, and names what it was decoding in the error.
func decodeStrict(data []byte, v any, what string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("decoding %s: empty payload", what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field == "" {
			return fmt.Errorf("decoding %s: expected a JSON object, got JSON %s", what, ute.Value)
		}
		if errors.As(err, &ute) {
			return fmt.Errorf("decoding %s: field %q: expected %s, got JSON %s", what, ute.Field, ute.Type, ute.Value)
		}
		if field := culprit(data, v); field != "" {
			return fmt.Errorf("decoding %s: field %q: %w", what, field, err)
		}
		return fmt.Errorf("decoding %s: %w", what, err)
	}
	if dec.More() {
		return fmt.Errorf("decoding %s: trailing data after the JSON value", what)
	}
	return nil
}

// culprit finds the top-level field whose value fails to decode into v's type, for
// errors (such as a malformed time) that encoding/json reports without a field name.
func culprit(data []byte, v any) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return ""
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		fresh := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if json.Unmarshal(one, fresh) != nil {
			return k
		}
	}
	return ""
}

// fieldErrors collects validation problems so one error names all of them.
type fieldErrors []string

func (f *fieldErrors) require(ok bool, field string) {
	if !ok {
		*f = append(*f, "missing "+field)
	}
}

func (f *fieldErrors) check(ok bool, msg string) {
	if !ok {
		*f = append(*f, msg)
	}
}

func (f fieldErrors) err(what string) error {
	if len(f) == 0 {
		return nil
	}
	return fmt.Errorf("invalid %s: %s", what, strings.Join(f, "; "))
}
