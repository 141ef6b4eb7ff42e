{
  description = "secmon: a security monitor for Linux desktops (camera, microphone, SSH, USB, network, files)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  # Only wiring: the package is nix/package.nix, the module nix/module.nix,
  # the VM test nix/tests/vm.nix.
  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      versionSuffix = "+git." + (self.shortRev or self.dirtyShortRev or "dirty");
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.callPackage ./nix/package.nix { inherit versionSuffix; };
      });

      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/module.nix ];
          services.secmon.package = lib.mkDefault (
            self.packages.${pkgs.stdenv.hostPlatform.system}.default
              or (pkgs.callPackage ./nix/package.nix { inherit versionSuffix; })
          );
        };

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          # Go, pkg-config, libudev and scdoc, as the package builds with.
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
          packages = [
            self.packages.${pkgs.stdenv.hostPlatform.system}.default.go
            pkgs.gopls
            pkgs.gcc
            pkgs.pkg-config
            pkgs.systemd
            pkgs.scdoc
            pkgs.mandoc
            # What the tests drive (README, "Tests").
            pkgs.dbus
            (pkgs.python3.withPackages (ps: [
              ps.python-dbusmock
              ps.pygobject3
              ps.pyyaml
            ]))
            pkgs.umockdev
            pkgs.pipewire
            pkgs.inotify-tools
            pkgs.strace
            pkgs.socat
            pkgs.util-linux
          ];
        };
      });

      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        go-tests = pkgs.callPackage ./nix/package.nix {
          inherit versionSuffix;
          runTests = true;
        };
        vm = import ./nix/tests/vm.nix {
          inherit pkgs;
          module = self.nixosModules.default;
        };
      });
    };
}
