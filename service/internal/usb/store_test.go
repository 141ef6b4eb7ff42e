package usb_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/usb"
)

func TestStoreRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", usb.StoreName)
	if keys, err := usb.LoadStoreKeys(p); err != nil || len(keys) != 0 {
		t.Fatalf("missing file: %v %v, want empty and no error", keys, err)
	}
	if err := usb.SaveStoreKeys(p, "046d:c31c:KB0042", "0781:5567@2-1", "a:b:with \"quotes\"\nand a newline"); err != nil {
		t.Fatal(err)
	}
	if err := usb.SaveStoreKeys(p, "1d6b:0002@usb1"); err != nil {
		t.Fatal(err)
	}
	keys, err := usb.LoadStoreKeys(p)
	want := []string{"046d:c31c:KB0042", "0781:5567@2-1", "1d6b:0002@usb1", "a:b:with \"quotes\"\nand a newline"}
	if err != nil || !reflect.DeepEqual(keys, want) {
		t.Fatalf("got %q, %v; want %q", keys, err, want)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %q", left)
	}
}

func TestStoreDamageNamesFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"not json", "# c\n\n{\"key\":\"a\",\"interfaces\":\"\"}\nnot json\n", ":4: cannot parse a seen USB device"},
		{"wrong type", "{\"key\":7}\n", ":1: key: want a string, not a JSON number"},
		{"no key", "{\"interfaces\":\"hub\"}\n", ":1: key: missing"},
		{"unknown field", "{\"key\":\"a\",\"evil\":1}\n", `:1: cannot parse a seen USB device: json: unknown field "evil"`},
		{"two objects on a line", "{\"key\":\"a\"} {\"key\":\"b\"}\n", ":1: cannot parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), usb.StoreName)
			os.WriteFile(p, []byte(tc.text), 0o600)
			keys, err := usb.LoadStoreKeys(p)
			if err == nil || !strings.Contains(err.Error(), p+tc.want) {
				t.Fatalf("error %v, want one containing %q", err, p+tc.want)
			}
			if len(keys) != 0 {
				t.Errorf("a damaged store yields %q, want nothing", keys)
			}
		})
	}
}
