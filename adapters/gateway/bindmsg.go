package gateway

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
)

// fieldMessage says in the API's terms (JSON member names, plain words)
// why a request failed validation: "hashBase64 is required unless hashes
// is given", not the validator's tag.
func fieldMessage(root reflect.Type, fe validator.FieldError) string {
	name, parent := jsonPath(root, fe.StructNamespace())
	param := fe.Param()
	other := func() string { // a Go field name in param, as its JSON name
		var names []string
		for _, f := range strings.Fields(param) {
			names = append(names, jsonFieldName(parent, f))
		}
		return strings.Join(names, " or ")
	}
	isString := fe.Kind() == reflect.String
	unit := func() string {
		if isString {
			return " characters"
		}
		if k := fe.Kind(); k == reflect.Slice || k == reflect.Array || k == reflect.Map {
			return " items"
		}
		return ""
	}
	switch fe.Tag() {
	case "required":
		return name + " is required"
	case "required_without":
		return name + " is required unless " + other() + " is given"
	case "required_with":
		return name + " is required when " + other() + " is given"
	case "excluded_with":
		return name + " may not be given together with " + other()
	case "max":
		return fmt.Sprintf("%s must be at most %s%s", name, param, unit())
	case "min":
		return fmt.Sprintf("%s must be at least %s%s", name, param, unit())
	case "len":
		return fmt.Sprintf("%s must be exactly %s%s", name, param, unit())
	case "gt":
		return fmt.Sprintf("%s must be greater than %s", name, param)
	case "gte":
		return fmt.Sprintf("%s must be %s or more", name, param)
	case "lt":
		return fmt.Sprintf("%s must be less than %s", name, param)
	case "lte":
		return fmt.Sprintf("%s must be %s or less", name, param)
	case "oneof":
		return fmt.Sprintf("%s must be one of %s", name, strings.Join(strings.Fields(param), ", "))
	case "base64":
		return name + " must be standard base64"
	case "hexadecimal":
		return name + " must be hexadecimal"
	case "printascii":
		return name + " must be printable ASCII"
	}
	if param != "" {
		return fmt.Sprintf("%s is not valid (%s %s)", name, fe.Tag(), param)
	}
	return fmt.Sprintf("%s is not valid (%s)", name, fe.Tag())
}

// jsonPath turns the validator's Go namespace ("signPDFReq.pdfOptions.Level",
// "req.Docs[0].Name") into the member's JSON path ("level", "docs[0].name"),
// leaving out embedded structs, and returns the struct type that holds the
// field (for naming the fields of cross-field tags).
func jsonPath(root reflect.Type, ns string) (string, reflect.Type) {
	parts := strings.Split(ns, ".")
	if len(parts) > 0 {
		parts = parts[1:] // the root type's name
	}
	t := deref(root)
	parent := t
	var out []string
	for _, p := range parts {
		goName, index, _ := strings.Cut(p, "[")
		if index != "" {
			index = "[" + index
		}
		parent = t
		f, ok := findField(t, goName)
		if !ok {
			out = append(out, p)
			t = nil
			continue
		}
		t = deref(f.Type)
		if f.Anonymous {
			continue
		}
		out = append(out, jsonName(f)+index)
		if index != "" && t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
			t = deref(t.Elem())
		}
	}
	return strings.Join(out, "."), parent
}

// jsonFieldName is the JSON name of the Go field goName of t (searched in
// embedded structs too), or goName when there is none.
func jsonFieldName(t reflect.Type, goName string) string {
	if f, ok := findField(t, goName); ok {
		return jsonName(f)
	}
	return goName
}

func findField(t reflect.Type, goName string) (reflect.StructField, bool) {
	if t == nil || t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	return t.FieldByName(goName)
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkKeyCase refuses a member whose name matches a field of t only when
// case is ignored: encoding/json would take "HashBase64" for hashBase64,
// so a client's typo would work here and fail at a stricter server. raw is
// the body decoded into any; it already decoded into t.
func checkKeyCase(t reflect.Type, raw any, path string) error {
	t = deref(t)
	if t == nil || reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return nil
	}
	switch v := raw.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			for k, e := range v {
				if err := checkKeyCase(t.Elem(), e, joinPath(path, k)); err != nil {
					return err
				}
			}
		case reflect.Struct:
			fields := jsonFields(t)
			for k, e := range v {
				f, ok := fields[k]
				if !ok {
					for name := range fields {
						if strings.EqualFold(name, k) {
							return badRequest("unknown member %q (names are case-sensitive: %q)", joinPath(path, k), joinPath(path, name))
						}
					}
					continue // unknown members are refused by the decoder
				}
				if err := checkKeyCase(f, e, joinPath(path, k)); err != nil {
					return err
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range v {
				if err := checkKeyCase(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// jsonFields maps the JSON names of t's fields, embedded structs' included,
// to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && tag == "" && deref(f.Type).Kind() == reflect.Struct {
			continue // its fields are listed themselves
		}
		if !f.IsExported() {
			continue
		}
		out[jsonName(f)] = f.Type
	}
	return out
}

// jsonTypeName names a Go type as the JSON value it decodes from.
func jsonTypeName(t reflect.Type) string {
	switch deref(t).Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another type"
}
