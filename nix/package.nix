# secmon as a Nix package: secmon-daemon, secmon-client and
# secmon-notifier, with what `make install` lays out for a
# distribution: systemd units, the D-Bus policy, activation file and
# interface, man pages, shell completions, the journal catalog, the
# notifier's desktop entry and the DankMaterialShell plugin
# (share/dms-plugins/secmon).
#
#   pkgs.callPackage ./nix/package.nix { }      (the flake does this)
#
# runTests = true makes the same build run the whole Go test suite
# (`go test ./...`) instead of only the binaries' packages; the flake exposes
# it as checks.<system>.go-tests. In the build sandbox there is no root and
# no system bus, so the tests that need them skip and say why.
{
  lib,
  buildGoModule,
  go,
  go_1_26 ? null,
  pkg-config,
  scdoc,
  installShellFiles,
  systemd,
  # Only for runTests: the programs the tests drive (see README, "Tests").
  dbus,
  util-linux,
  procps,
  socat,
  inotify-tools,
  mandoc,
  versionSuffix ? "",
  runTests ? false,
}:

let
  # go.mod asks for Go 1.26, and a Nix build never downloads a toolchain
  # (GOTOOLCHAIN=local), so an older default Go must be swapped for 1.26.
  defaultGoWillDo = lib.versionAtLeast go.version "1.26";
  goToolchain =
    if defaultGoWillDo then
      go
    else if go_1_26 != null then
      go_1_26
    else
      throw "secmon needs Go 1.26 or newer; this nixpkgs has Go ${go.version} and no go_1_26";
  buildSecmon = if defaultGoWillDo then buildGoModule else buildGoModule.override { go = goToolchain; };

  # The one version string is service/internal/version's; the flake adds the
  # commit.
  versionLine = lib.findFirst (
    line: builtins.match ''var Version = "(.*)"'' line != null
  ) null (lib.splitString "\n" (builtins.readFile ../service/internal/version/version.go));
  baseVersion =
    if versionLine == null then
      throw "nix/package.nix: no `var Version = \"…\"` in service/internal/version/version.go"
    else
      builtins.head (builtins.match ''var Version = "(.*)"'' versionLine);

in
buildSecmon {
  pname = if runTests then "secmon-tests" else "secmon";
  version = baseVersion + versionSuffix;

  # The source without the Nix files (editing them need not rebuild
  # secmon) and, when built from a checkout rather than the flake, without
  # .git and build output.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.difference ../. (
      lib.fileset.unions [
        ../flake.nix
        (lib.fileset.maybeMissing ../flake.lock)
        ./.
        (lib.fileset.maybeMissing ../.git)
        (lib.fileset.maybeMissing ../build)
        (lib.fileset.maybeMissing ../result)
      ]
    );
  };

  # The NAR hash of `go mod vendor`. After go.mod or go.sum change, the test
  # TestVendorHash (nix/nix_test.go) fails and prints the new value; it
  # computes it the way Nix does:
  #   go mod vendor -o /tmp/v/vendor
  #   nix --extra-experimental-features nix-command hash path /tmp/v/vendor
  # (or set lib.fakeHash here and copy the hash `nix build` reports).
  vendorHash = "sha256-dDWK2RPJbxDi8JQoEhnzi0k09Oswkk1ILPYFWC54IXo=";

  # The notifier has no cgo; outside Nix it is built with CGO_ENABLED=0 so
  # the one binary runs on any distribution. Here it links against the same
  # glibc as everything else, so it is built like the others.
  subPackages = [
    "service/cmd/secmon-daemon"
    "service/cmd/secmon-client"
    "notifier/cmd/secmon-notifier"
  ];

  ldflags = [
    "-s"
    "-w"
    "-X github.com/pantheros/secmon/service/internal/version.Version=${baseVersion + versionSuffix}"
    "-X github.com/pantheros/secmon/notifier/internal/notifier.Version=${baseVersion + versionSuffix}"
  ];

  # cgo stays on (buildGoModule's default on Linux): the USB monitor links
  # libudev. libudev.so.1 and libsystemd.so.0 are in the same directory of
  # systemd's output, so linking libudev also puts that directory in the
  # daemon's RUNPATH, where the SSH monitor's dlopen("libsystemd.so.0") (via
  # go-systemd's sdjournal) finds it on NixOS, which has no ld.so.cache.
  nativeBuildInputs = [
    pkg-config
    scdoc
    installShellFiles
  ];
  buildInputs = [ systemd ];

  doCheck = runTests;
  nativeCheckInputs = lib.optionals runTests [
    dbus
    systemd
    util-linux
    procps
    socat
    inotify-tools
    mandoc
    scdoc
  ];
  # The whole suite, not just the packages in subPackages.
  checkPhase = ''
    runHook preCheck
    export HOME=$TMPDIR
    # Tests may refer to their source paths; buildGoModule's default check
    # drops -trimpath for the same reason.
    export GOFLAGS=''${GOFLAGS//-trimpath/}
    go test -count=1 ./...
    runHook postCheck
  '';

  # Everything below is installed only if it is in the tree, so the package
  # builds at every step of the project's history.
  postInstall = ''
    # systemd units, pointed at this package's binaries: the unit files name
    # /usr/bin/secmon-… or a bare secmon-… in ExecStart.
    installUnit() {
      install -Dm0644 "$2" "$1/$(basename "$2")"
      sed -i \
        -e "s|/usr/bin/secmon-|$out/bin/secmon-|g" \
        -e "s|^ExecStart=secmon-|ExecStart=$out/bin/secmon-|" \
        "$1/$(basename "$2")"
    }
    for u in systemd/*.socket systemd/*.service; do
      if [ -f "$u" ]; then installUnit "$out/lib/systemd/system" "$u"; fi
    done
    for u in systemd/user/*.service; do
      if [ -f "$u" ]; then installUnit "$out/lib/systemd/user" "$u"; fi
    done
    for f in sysusers.d tmpfiles.d; do
      if [ -f "data/$f/secmon.conf" ]; then
        install -Dm0644 "data/$f/secmon.conf" "$out/lib/$f/secmon.conf"
      fi
    done
    if [ -f data/catalog/secmon.catalog ]; then
      install -Dm0644 data/catalog/secmon.catalog "$out/lib/systemd/catalog/secmon.catalog"
    fi

    # D-Bus: the policy (services.dbus.packages reads share/dbus-1/system.d),
    # system activation through systemd, and the interface.
    install -Dm0644 dbus/org.pantheros.Secmon.conf "$out/share/dbus-1/system.d/org.pantheros.Secmon.conf"
    install -Dm0644 dbus/org.pantheros.Secmon.service "$out/share/dbus-1/system-services/org.pantheros.Secmon.service"
    install -Dm0644 dbus/org.pantheros.Secmon1.xml "$out/share/dbus-1/interfaces/org.pantheros.Secmon1.xml"

    # Man pages: man/NAME.SECTION.scd rendered with scdoc.
    for m in man/*.scd; do
      if [ -f "$m" ]; then
        page=$(basename "$m" .scd)
        scdoc < "$m" > "$page"
        installManPage "$page"
      fi
    done

    for shell in bash zsh fish; do
      case $shell in
        bash) f=data/completions/secmon-client.bash ;;
        zsh) f=data/completions/_secmon-client ;;
        fish) f=data/completions/secmon-client.fish ;;
      esac
      if [ -f "$f" ]; then installShellCompletion --cmd secmon-client "--$shell" "$f"; fi
    done

    for d in data/*.desktop; do
      if [ -f "$d" ]; then
        install -Dm0644 "$d" "$out/share/applications/$(basename "$d")"
        sed -i "s|^Exec=secmon-|Exec=$out/bin/secmon-|" "$out/share/applications/$(basename "$d")"
      fi
    done

    # The DankMaterialShell plugin; services.secmon.dmsPlugin links it into
    # /etc/xdg/quickshell/dms-plugins.
    if [ -d data/dms-plugin/secmon ]; then
      install -Dm0644 -t "$out/share/dms-plugins/secmon" data/dms-plugin/secmon/*
    fi

    install -Dm0644 data/secmon.example.toml "$out/share/doc/secmon/secmon.example.toml"
    install -Dm0644 data/notifier.example.toml "$out/share/doc/secmon/notifier.example.toml"
    install -Dm0644 README.md "$out/share/doc/secmon/README.md"
  '';

  passthru.go = goToolchain;

  meta = {
    description = "Security monitor for Linux desktops: camera, microphone, SSH, USB, network and file changes as events";
    homepage = "https://github.com/pantheros/secmon";
    # The repository has no LICENSE file yet: set meta.license once it does.
    mainProgram = "secmon-client";
    platforms = lib.platforms.linux;
  };
}
