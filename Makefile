# secmon: build, render the man pages, install.
#   make                      binaries in build/, man pages in build/man/ (BUILD=dir to change)
#   make install PREFIX=/usr DESTDIR=/tmp/pkg   (copies what make built: no Go needed then)
#   make test                 the README's test command
#   make bench                the benchmark suite: writes BENCHMARKS.md (BENCHFLAGS=-quick for a short
#                             try); needs strace, inotify-tools and dbus, and root for all of it
# Needs Go, a C compiler and libudev (the USB monitor), scdoc (man pages).

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/secmon
# systemd, D-Bus and shell look-up paths are under PREFIX too; a
# distribution building for /usr gets the usual places.
LIBDIR_SYSTEMD ?= $(PREFIX)/lib/systemd
UNITDIR     ?= $(LIBDIR_SYSTEMD)/system
USERUNITDIR ?= $(LIBDIR_SYSTEMD)/user
CATALOGDIR  ?= $(LIBDIR_SYSTEMD)/catalog
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
DBUSDIR     ?= $(DATADIR)/dbus-1
SYSCONFDIR  ?= /etc
# DankMaterialShell's system plugin folder (its PluginService reads
# /etc/xdg/quickshell/dms-plugins); the plugin is enabled in DMS's settings.
DMSPLUGINDIR ?= $(SYSCONFDIR)/xdg/quickshell/dms-plugins

BUILD   ?= build
GO      ?= go
SCDOC   ?= scdoc
INSTALL ?= install
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/pantheros/secmon/service/internal/version.Version=$(VERSION) \
           -X github.com/pantheros/secmon/notifier/internal/notifier.Version=$(VERSION)

BINARIES := secmon-daemon secmon-client secmon-notifier
MANPAGES := $(patsubst man/%.scd,$(BUILD)/man/%,$(wildcard man/*.scd))

.PHONY: all build man install test bench clean
all: build man

build: $(addprefix $(BUILD)/,$(BINARIES))

$(BUILD)/secmon-daemon $(BUILD)/secmon-client: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./service/cmd/$(notdir $@)

# The notifier has no cgo, so it runs anywhere the session does.
$(BUILD)/secmon-notifier: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./notifier/cmd/secmon-notifier

man: $(MANPAGES)

$(BUILD)/man/%: man/%.scd
	@mkdir -p $(BUILD)/man
	$(SCDOC) < $< > $@

# install copies what make built, so `sudo make install` and a packaging
# step of its own need no Go: it builds the binaries only when one is
# missing (the man pages are ordinary file targets).
BUILT := $(addprefix $(BUILD)/,$(BINARIES))
install: $(if $(filter-out $(wildcard $(BUILT)),$(BUILT)),build) man
	$(INSTALL) -d $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(BINARIES)) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(USERUNITDIR)
	for u in systemd/*.socket systemd/*.service; do \
		sed 's#/usr/bin/secmon-#$(BINDIR)/secmon-#g' $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); done
	for u in $(wildcard systemd/user/*.service); do \
		sed 's#/usr/bin/secmon-#$(BINDIR)/secmon-#g' $$u > $(DESTDIR)$(USERUNITDIR)/$$(basename $$u); \
		chmod 0644 $(DESTDIR)$(USERUNITDIR)/$$(basename $$u); done
	$(INSTALL) -Dm 0644 data/sysusers.d/secmon.conf $(DESTDIR)$(SYSUSERSDIR)/secmon.conf
	$(INSTALL) -Dm 0644 data/tmpfiles.d/secmon.conf $(DESTDIR)$(TMPFILESDIR)/secmon.conf
	$(INSTALL) -Dm 0644 data/catalog/secmon.catalog $(DESTDIR)$(CATALOGDIR)/secmon.catalog
	$(INSTALL) -Dm 0644 dbus/org.pantheros.Secmon.conf $(DESTDIR)$(DBUSDIR)/system.d/org.pantheros.Secmon.conf
	$(INSTALL) -Dm 0644 dbus/org.pantheros.Secmon.service $(DESTDIR)$(DBUSDIR)/system-services/org.pantheros.Secmon.service
	$(INSTALL) -Dm 0644 dbus/org.pantheros.Secmon1.xml $(DESTDIR)$(DBUSDIR)/interfaces/org.pantheros.Secmon1.xml
	$(INSTALL) -Dm 0644 data/completions/secmon-client.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/secmon-client
	$(INSTALL) -Dm 0644 data/completions/_secmon-client $(DESTDIR)$(DATADIR)/zsh/site-functions/_secmon-client
	$(INSTALL) -Dm 0644 data/completions/secmon-client.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/secmon-client.fish
	for d in $(wildcard data/*.desktop); do $(INSTALL) -Dm 0644 $$d $(DESTDIR)$(DATADIR)/applications/$$(basename $$d); done
	for m in $(MANPAGES); do s=$${m##*.}; $(INSTALL) -Dm 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$m); done
	$(INSTALL) -d $(DESTDIR)$(DMSPLUGINDIR)/secmon
	$(INSTALL) -m 0644 $(wildcard data/dms-plugin/secmon/*) $(DESTDIR)$(DMSPLUGINDIR)/secmon/
	$(INSTALL) -Dm 0644 data/secmon.example.toml $(DESTDIR)$(DOCDIR)/secmon.example.toml
	$(INSTALL) -Dm 0644 data/notifier.example.toml $(DESTDIR)$(DOCDIR)/notifier.example.toml
	$(INSTALL) -Dm 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

test:
	$(GO) test -count=1 ./...

# Not part of test: it takes minutes and measures, it does not check.
bench:
	$(GO) run ./service/cmd/secmon-bench $(BENCHFLAGS)

clean:
	rm -rf $(BUILD)

FORCE:
