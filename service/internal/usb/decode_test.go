package usb_test

import (
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/pantheros/secmon/service/internal/usb"
)

func TestInterfaceWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{":030101:", []string{"HID keyboard"}},
		{":030102:030000:", []string{"HID mouse", "HID"}},
		{":030101:030101:030000:", []string{"HID keyboard", "HID"}},
		{":080650:", []string{"mass storage"}},
		{":020600:0a0000:", []string{"network", "communications data"}},
		{":020d00:0a0001:", []string{"network", "communications data"}}, // NCM
		{":e00103:0a0000:", []string{"network", "communications data"}}, // RNDIS
		{":ef0401:", []string{"network"}},
		{":020201:0a0000:", []string{"modem", "communications data"}},
		{":010100:010200:", []string{"audio"}},
		{":0e0100:0e0200:", []string{"video"}},
		{":070102:", []string{"printer"}},
		{":090000:", []string{"hub"}},
		{":0b0000:", []string{"smart card"}},
		{":e00101:", []string{"bluetooth"}},
		{":ffffff:", []string{"vendor specific"}},
		{":fe0101:", []string{"firmware update"}},
		{":060101:", []string{"camera (still image)"}},
		{":c80000:", []string{"class c8"}},
		{":030101", []string{"HID keyboard"}}, // no final colon
		{"030101", []string{"HID keyboard"}},
		{":0301:zz0101:03010101:", nil}, // malformed entries are skipped
		{"", nil},
		{"::::", nil},
	} {
		if got := usb.InterfaceWords(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("InterfaceWords(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   usb.Uevent
		want usb.Device
	}{{
		name: "udev's full view",
		in: usb.Uevent{
			Syspath: "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2", Sysname: "1-2", Devnode: "/dev/bus/usb/001/005",
			Props: map[string]string{
				"ID_VENDOR_ID": "046d", "ID_MODEL_ID": "c31c", "ID_VENDOR_FROM_DATABASE": "Logitech, Inc.",
				"ID_MODEL_FROM_DATABASE": "Keyboard K120", "ID_SERIAL_SHORT": "KB0042", "ID_USB_INTERFACES": ":030101:",
			},
			Attrs: map[string]string{"manufacturer": "Logitech", "product": "USB Keyboard", "authorized": "1\n"},
		},
		want: usb.Device{
			VendorID: "046d", ProductID: "c31c", Vendor: "Logitech, Inc.", Product: "Keyboard K120", Serial: "KB0042",
			BusPath: "1-2", Interfaces: []string{"HID keyboard"}, Authorized: "true",
			Path: "/dev/bus/usb/001/005", Syspath: "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2",
		},
	}, {
		name: "no hardware database: descriptor strings from sysfs",
		in: usb.Uevent{
			Syspath: "/sys/devices/x/3-1.4", Sysname: "3-1.4",
			Props: map[string]string{"ID_VENDOR_ENC": `Foo\x20Corp`, "ID_VENDOR": "Foo_Corp"},
			Attrs: map[string]string{"idVendor": "1D6B", "idProduct": "0002", "manufacturer": "  Acme   Inc  ", "product": "Widget", "serial": "S1", "authorized": "0"},
		},
		want: usb.Device{
			VendorID: "1d6b", ProductID: "0002", Vendor: "Acme Inc", Product: "Widget", Serial: "S1",
			BusPath: "3-1.4", Authorized: "false", Path: "/sys/devices/x/3-1.4", Syspath: "/sys/devices/x/3-1.4",
		},
	}, {
		name: "udev's encoded names when sysfs has none",
		in: usb.Uevent{
			Sysname: "1-1",
			Props:   map[string]string{"ID_VENDOR_ENC": `Foo\x20Corp`, "ID_VENDOR": "Foo_Corp", "ID_MODEL": "Thing_2"},
		},
		want: usb.Device{Vendor: "Foo Corp", Product: "Thing_2", BusPath: "1-1"},
	}, {
		name: "a bare remove uevent: the kernel's PRODUCT only",
		in: usb.Uevent{
			Action: "remove", Syspath: "/sys/devices/x/1-2", Sysname: "1-2", Devnode: "/dev/bus/usb/001/005",
			Props: map[string]string{"PRODUCT": "46d/c31c/6400", "DEVTYPE": "usb_device"},
		},
		want: usb.Device{VendorID: "046d", ProductID: "c31c", BusPath: "1-2", Path: "/dev/bus/usb/001/005", Syspath: "/sys/devices/x/1-2"},
	}, {
		name: "hostile strings are cleaned, bad ids dropped",
		in: usb.Uevent{
			Sysname: "1-9",
			Props:   map[string]string{"ID_VENDOR_ID": "zzzz", "ID_MODEL_ID": "12345", "PRODUCT": "1/2/3"},
			Attrs:   map[string]string{"manufacturer": "Evil\nCorp\x1b[31m", "product": "a\u202eb", "serial": "\xff\xfe"},
		},
		want: usb.Device{VendorID: "", ProductID: "", Vendor: "Evil Corp\uFFFD[31m", Product: "a\uFFFDb", Serial: "\uFFFD\uFFFD", BusPath: "1-9"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := usb.Decode(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDeviceNameIDsKey(t *testing.T) {
	for _, tc := range []struct {
		d              usb.Device
		name, ids, key string
		keyboard       bool
	}{
		{usb.Device{VendorID: "046d", ProductID: "c31c", Vendor: "Logitech", Product: "USB Keyboard", Serial: "KB1", BusPath: "1-2", Interfaces: []string{"HID keyboard"}},
			"Logitech USB Keyboard", "046d:c31c", "046d:c31c:KB1", true},
		{usb.Device{VendorID: "0781", ProductID: "5567", Vendor: "SanDisk", Product: "SanDisk Cruzer", BusPath: "2-1", Interfaces: []string{"mass storage"}},
			"SanDisk Cruzer", "0781:5567", "0781:5567@2-1", false},
		{usb.Device{Vendor: "Acme", BusPath: "1-1"}, "Acme device", "?:?", ":@1-1", false},
		{usb.Device{Product: "Widget"}, "Widget", "?:?", ":@", false},
		{usb.Device{}, "unknown device", "?:?", ":@", false},
	} {
		if got := tc.d.Name(); got != tc.name {
			t.Errorf("Name() = %q, want %q", got, tc.name)
		}
		if got := tc.d.IDs(); got != tc.ids {
			t.Errorf("IDs() = %q, want %q", got, tc.ids)
		}
		if got := tc.d.Key(); got != tc.key {
			t.Errorf("Key() = %q, want %q", got, tc.key)
		}
		if got := tc.d.HasKeyboard(); got != tc.keyboard {
			t.Errorf("%+v: HasKeyboard() = %v, want %v", tc.d, got, tc.keyboard)
		}
	}
}

// FuzzDecode: whatever a device or udev says, Decode does not panic, ids
// are four hex digits or empty, and every name is short, valid UTF-8 with
// nothing a terminal would act on.
func FuzzDecode(f *testing.F) {
	f.Add(":030101:080650:", "046d", "c31c", "Logitech", "USB Keyboard", "KB0042", "46d/c31c/6400", `USB\x20Keyboard`, "1")
	f.Add(":0301:zz:", "zzzz", "12345", "Evil\nCorp\x1b[31m", "a\u202eb", "\xff\xfe", "1/2", `\x`, "0")
	f.Add("", "", "", "", "", "", "", `\xzz\x4`, "")
	f.Add(":e00101:ef0401:fe0101:ffffff:", "0x1", " 1D6B ", strings.Repeat("é", 300), "\t\t", "  ", "///", `\x00\x1b`, "2")
	f.Fuzz(func(t *testing.T, ifs, vid, pid, mfr, prod, serial, product, enc, auth string) {
		d := usb.Decode(usb.Uevent{
			Sysname: serial,
			Props:   map[string]string{"ID_USB_INTERFACES": ifs, "PRODUCT": product, "ID_MODEL_ENC": enc, "ID_VENDOR": mfr},
			Attrs:   map[string]string{"idVendor": vid, "idProduct": pid, "manufacturer": mfr, "product": prod, "serial": serial, "authorized": auth},
		})
		for _, id := range []string{d.VendorID, d.ProductID} {
			if id != "" && (len(id) != 4 || strings.Trim(id, "0123456789abcdef") != "") {
				t.Errorf("id %q is not four hex digits", id)
			}
		}
		for _, s := range append([]string{d.Vendor, d.Product, d.Serial, d.BusPath, d.Name()}, d.Interfaces...) {
			if !utf8.ValidString(s) {
				t.Errorf("%q is not UTF-8", s)
			}
			if utf8.RuneCountInString(s) > 2*128+1 {
				t.Errorf("%q is too long", s)
			}
			for _, r := range s {
				if !unicode.IsGraphic(r) {
					t.Errorf("%q holds %U", s, r)
				}
			}
		}
		if d.Authorized != "" && d.Authorized != "true" && d.Authorized != "false" {
			t.Errorf("authorized %q", d.Authorized)
		}
		seen := map[string]bool{}
		for _, w := range d.Interfaces {
			if seen[w] {
				t.Errorf("interface %q twice in %q", w, d.Interfaces)
			}
			seen[w] = true
		}
	})
}
