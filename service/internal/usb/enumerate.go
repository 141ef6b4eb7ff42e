//go:build cgo

package usb

import (
	"fmt"
	"strings"

	udev "github.com/jochenvg/go-udev"
)

// enumerate lists the USB devices (not their interfaces) present now, as
// udev knows them.
func enumerate() ([]Uevent, error) {
	var u udev.Udev
	e := u.NewEnumerate()
	if err := e.AddMatchSubsystem("usb"); err != nil {
		return nil, fmt.Errorf("cannot list USB devices: %w", err)
	}
	if err := e.AddMatchProperty("DEVTYPE", "usb_device"); err != nil {
		return nil, fmt.Errorf("cannot list USB devices: %w", err)
	}
	devs, err := e.Devices()
	if err != nil {
		return nil, fmt.Errorf("cannot list USB devices: %w", err)
	}
	out := make([]Uevent, 0, len(devs))
	for _, d := range devs {
		ue := Uevent{
			Syspath: d.Syspath(), Sysname: d.Sysname(), Devnode: d.Devnode(), Devtype: d.Devtype(),
			Props: d.Properties(), Attrs: map[string]string{},
		}
		if ue.Props == nil {
			ue.Props = map[string]string{}
		}
		for _, a := range attrNames {
			if v := d.SysattrValue(a); v != "" {
				ue.Attrs[a] = v
			}
		}
		if ue.Props["ID_USB_INTERFACES"] == "" {
			// udev has not processed the device (or keeps no database,
			// as in a container): read the interfaces from sysfs instead.
			ue.Props["ID_USB_INTERFACES"] = interfacesFromSysfs(&u, d)
		}
		out = append(out, ue)
	}
	return out, nil
}

// interfacesFromSysfs builds an ID_USB_INTERFACES value from the device's
// interface children.
func interfacesFromSysfs(u *udev.Udev, d *udev.Device) string {
	e := u.NewEnumerate()
	if e.AddMatchSubsystem("usb") != nil || e.AddMatchProperty("DEVTYPE", "usb_interface") != nil || e.AddMatchParent(d) != nil {
		return ""
	}
	ifs, err := e.Devices()
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, i := range ifs {
		c, s, p := i.SysattrValue("bInterfaceClass"), i.SysattrValue("bInterfaceSubClass"), i.SysattrValue("bInterfaceProtocol")
		if len(c) != 2 || len(s) != 2 || len(p) != 2 {
			continue
		}
		if b.Len() == 0 {
			b.WriteByte(':')
		}
		b.WriteString(c + s + p + ":")
	}
	return b.String()
}
