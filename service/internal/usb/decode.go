package usb

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Uevent is what udev tells about one device: its properties and the few
// sysfs attributes secmon reads (attrNames).
type Uevent struct {
	Action  string // add, remove, bind, …; empty for a device enumerated at start
	Syspath string
	Sysname string // "1-2.3": bus and port path
	Devnode string // /dev/bus/usb/BBB/DDD, if any
	Devtype string // usb_device, usb_interface
	Props   map[string]string
	Attrs   map[string]string
}

// attrNames are the sysfs attributes read for each device.
var attrNames = []string{"idVendor", "idProduct", "manufacturer", "product", "serial", "authorized"}

// Device is a USB device as secmon reports it. The names, serial and port
// come from the device (descriptors, which a malicious device chooses) or
// udev, and have been cleaned by Decode: valid UTF-8, no control
// characters, bounded. Path and Syspath are the kernel's and udev's, kept
// as they are: they are keys.
type Device struct {
	VendorID, ProductID string // four lowercase hex digits, or empty
	Vendor, Product     string // names
	Serial              string
	BusPath             string // sysfs name, "1-2.3"
	Interfaces          []string
	Authorized          string // "true", "false" or "" (unknown)
	Path                string // the devnode, else the syspath
	Syspath             string
}

// maxText bounds every string taken from a device: descriptors are at most
// 126 UTF-16 units, and nothing longer is needed to name a device.
const maxText = 128

// Decode turns udev's view of a device into a Device. Names prefer the
// hardware database (ID_VENDOR_FROM_DATABASE, ID_MODEL_FROM_DATABASE): those
// are what the ids mean, not what the device claims; then the descriptor
// strings (sysfs manufacturer, product); then udev's copies of them.
func Decode(u Uevent) Device {
	p := func(k string) string { return u.Props[k] }
	a := func(k string) string { return u.Attrs[k] }
	d := Device{
		VendorID:  hexID(first(p("ID_VENDOR_ID"), a("idVendor"), productField(p("PRODUCT"), 0))),
		ProductID: hexID(first(p("ID_MODEL_ID"), a("idProduct"), productField(p("PRODUCT"), 1))),
		Vendor:    clean(first(p("ID_VENDOR_FROM_DATABASE"), a("manufacturer"), unescape(p("ID_VENDOR_ENC")), p("ID_VENDOR"))),
		Product:   clean(first(p("ID_MODEL_FROM_DATABASE"), a("product"), unescape(p("ID_MODEL_ENC")), p("ID_MODEL"))),
		Serial:    clean(first(p("ID_SERIAL_SHORT"), a("serial"))),
		BusPath:   clean(u.Sysname),
		// ID_USB_INTERFACES is set by udev's usb_id; INTERFACE is a single
		// interface's own "3/1/1" (never on a usb_device, but harmless).
		Interfaces: InterfaceWords(p("ID_USB_INTERFACES")),
		Syspath:    u.Syspath,
	}
	switch strings.TrimSpace(a("authorized")) {
	case "1":
		d.Authorized = "true"
	case "0":
		d.Authorized = "false"
	}
	d.Path = u.Devnode
	if d.Path == "" {
		d.Path = d.Syspath
	}
	return d
}

// Name is how a description names the device: "Logitech, Inc. Keyboard
// K120", or "unknown device" when the device gave no names.
func (d Device) Name() string {
	switch {
	case d.Vendor == "" && d.Product == "":
		return "unknown device"
	case d.Vendor == "":
		return d.Product
	case d.Product == "":
		return d.Vendor + " device"
	case strings.HasPrefix(d.Product, d.Vendor):
		return d.Product
	default:
		return d.Vendor + " " + d.Product
	}
}

// IDs is "046d:c31c", or "?" for a missing half.
func (d Device) IDs() string {
	return or(d.VendorID, "?") + ":" + or(d.ProductID, "?")
}

// Key identifies the device in the seen store: vendor:product:serial. A
// device without a serial cannot be told from another of its model, so
// its port (bus_path) stands in for the serial: the same model in another
// port counts as new, which errs on the side of telling the user.
func (d Device) Key() string {
	if d.Serial != "" {
		return d.VendorID + ":" + d.ProductID + ":" + d.Serial
	}
	return d.VendorID + ":" + d.ProductID + "@" + d.BusPath
}

// HasKeyboard says whether the device offers a boot keyboard interface:
// what a keystroke-injection device presents.
func (d Device) HasKeyboard() bool { return d.has("HID keyboard") }

func (d Device) has(w string) bool {
	for _, i := range d.Interfaces {
		if i == w {
			return true
		}
	}
	return false
}

// InterfaceWords decodes udev's ID_USB_INTERFACES (":030101:080650:", one
// class/subclass/protocol triple in hex per interface) into words, in order
// and without repeats. Malformed entries are skipped.
func InterfaceWords(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ":") {
		if len(f) != 6 {
			continue
		}
		v, err := strconv.ParseUint(f, 16, 32)
		if err != nil {
			continue
		}
		w := classWord(byte(v>>16), byte(v>>8), byte(v))
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// classWord names one interface; codes from usb.org's "Defined Class Codes".
func classWord(class, sub, proto byte) string {
	switch class {
	case 0x01:
		return "audio"
	case 0x02:
		switch sub {
		case 0x06, 0x07, 0x0c, 0x0d, 0x0e: // ECM, ATM, EEM, NCM, MBIM
			return "network"
		case 0x02:
			return "modem"
		}
		return "communications"
	case 0x03:
		if sub == 0x01 && proto == 0x01 {
			return "HID keyboard"
		}
		if sub == 0x01 && proto == 0x02 {
			return "HID mouse"
		}
		return "HID"
	case 0x05:
		return "physical"
	case 0x06:
		return "camera (still image)"
	case 0x07:
		return "printer"
	case 0x08:
		return "mass storage"
	case 0x09:
		return "hub"
	case 0x0a:
		return "communications data"
	case 0x0b:
		return "smart card"
	case 0x0d:
		return "content security"
	case 0x0e:
		return "video"
	case 0x0f:
		return "personal healthcare"
	case 0x10:
		return "audio/video"
	case 0x11:
		return "billboard"
	case 0x12:
		return "USB-C bridge"
	case 0xdc:
		return "diagnostic"
	case 0xe0:
		if sub == 0x01 && proto == 0x01 {
			return "bluetooth"
		}
		if sub == 0x01 && proto == 0x03 {
			return "network" // RNDIS
		}
		return "wireless controller"
	case 0xef:
		if sub == 0x04 && proto == 0x01 {
			return "network" // RNDIS over Ethernet
		}
		return "miscellaneous"
	case 0xfe:
		switch sub {
		case 0x01:
			return "firmware update"
		case 0x02:
			return "infrared"
		case 0x03:
			return "test and measurement"
		}
		return "application specific"
	case 0xff:
		return "vendor specific"
	}
	return "class " + strconv.FormatUint(uint64(class), 16)
}

// productField reads the kernel's PRODUCT=46d/c31c/6400 (hex, unpadded),
// which even a bare remove uevent carries.
func productField(s string, i int) string {
	f := strings.Split(s, "/")
	if len(f) != 3 {
		return ""
	}
	return f[i]
}

// hexID normalises an id to four lowercase hex digits; anything else is
// dropped rather than reported as an id.
func hexID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return ""
	}
	return strconv.FormatUint(v|0x10000, 16)[1:]
}

// unescape decodes udev's \xNN escapes (ID_VENDOR_ENC, ID_MODEL_ENC).
func unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// clean makes a device-chosen string safe to show: invalid UTF-8 and
// anything not graphic (control and format characters, which could fake a
// line break or reverse text on a terminal) become U+FFFD, runs of white
// space one space, and the result is cut at maxText characters.
func clean(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	n, space := 0, false
	for i := 0; i < len(s) && n < maxText; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case unicode.IsSpace(r):
			if space {
				continue
			}
			space = true
			r = ' '
		case r == utf8.RuneError || !unicode.IsGraphic(r):
			space = false
			r = utf8.RuneError
		default:
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

func first(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
