package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// fill sets every field reachable from v to a non-zero value, with one element in every slice and a value behind every
// pointer, so that a Clone that forgets a field (or a field added later) leaves memory shared for sharedMemory to find.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(7)
	}
}

// sharedMemory names a path through which a and b reach the same memory (a pointer, a slice's array or a map).
func sharedMemory(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if p := sharedMemory(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
				return p
			}
		}
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return path
		}
		return sharedMemory(a.Elem(), b.Elem(), path)
	case reflect.Slice:
		if a.Len() > 0 && b.Len() > 0 && a.Pointer() == b.Pointer() {
			return path
		}
		for i := range min(a.Len(), b.Len()) {
			if p := sharedMemory(a.Index(i), b.Index(i), path+"[]"); p != "" {
				return p
			}
		}
	case reflect.Map:
		if !a.IsNil() && a.Pointer() == b.Pointer() {
			return path
		}
	}
	return ""
}

// TestClonesShareNothing: a clone of a program or a rule is equal to the original and shares no memory with it, so
// that the store can hand out copies of what it decoded once and no reader's change reaches another.
func TestClonesShareNothing(t *testing.T) {
	var p domain.Program
	fill(reflect.ValueOf(&p).Elem())
	var r domain.Rule
	fill(reflect.ValueOf(&r).Elem())
	for name, c := range map[string]struct{ orig, clone any }{
		"Program": {p, p.Clone()},
		"Rule":    {r, r.Clone()},
	} {
		if !reflect.DeepEqual(c.orig, c.clone) {
			t.Errorf("%s: the clone differs:\n%+v\n%+v", name, c.orig, c.clone)
		}
		if path := sharedMemory(reflect.ValueOf(c.orig), reflect.ValueOf(c.clone), name); path != "" {
			t.Errorf("%s: the clone shares %s with the original", name, path)
		}
	}
}

// TestLocationIsLoadedOnce: the program's time zone is the same *time.Location on every call, and an unknown or unset
// zone is UTC.
func TestLocationIsLoadedOnce(t *testing.T) {
	p := domain.Program{TimeZone: "Europe/Berlin"}
	a, b := p.Location(), p.Location()
	if a != b || a.String() != "Europe/Berlin" {
		t.Fatalf("Location: %p %v, %p %v", a, a, b, b)
	}
	for _, zone := range []string{"", "Local", "Nowhere/Else"} {
		if got := (domain.Program{TimeZone: zone}).Location(); got != time.UTC {
			t.Errorf("zone %q: %v, want UTC", zone, got)
		}
	}
}
