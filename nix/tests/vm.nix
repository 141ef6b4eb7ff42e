# A NixOS VM with services.secmon on: a program opens a stand-in camera, and
# the CameraAccess event is seen the ways a user would see it — secmon-client
# on the socket, busctl on the system bus (the Event signal and
# GetEventsAfter), and journalctl -u secmon — with the group and bus policy
# deciding who may see it.
#
#   nix build .#checks.x86_64-linux.vm   (or nix flake check)
{ pkgs, module }:

let
  fakeCamera = "/run/fakecam/video0";

  # Holds the camera open for $1 seconds (default 30), so that even a /proc
  # scan (no fanotify) finds it as the opener. Run as a script, its comm is
  # its own name; the sleep does not inherit the descriptor, so this is the
  # only holder.
  camOpener = pkgs.writeShellScriptBin "cam-opener" ''
    exec 3< ${fakeCamera}
    sleep "''${1:-30}" 3<&-
  '';
in
pkgs.testers.runNixOSTest {
  name = "secmon";

  nodes.machine =
    { ... }:
    {
      imports = [ module ];

      services.secmon = {
        enable = true;
        settings.camera.devices = [ "/run/fakecam/video*" ];
        notifier = {
          enable = true;
          users = [ "alice" ];
        };
      };

      users.users.alice.isNormalUser = true;
      users.users.bob.isNormalUser = true;

      # The stand-in camera: a character device (1:3, like /dev/null) where
      # secmon is told to look. inotify and fanotify report its opens as they
      # would a real /dev/video0's. tmpfiles makes it before secmon starts.
      systemd.tmpfiles.rules = [
        "d /run/fakecam 0755 root root -"
        "c ${fakeCamera} 0666 root root - 1:3"
      ];

      environment.systemPackages = [ camOpener ];
    };

  testScript = ''
    import json

    machine.wait_for_unit("secmon.socket")
    machine.wait_for_unit("secmon.service")
    machine.succeed("systemctl status secmon")
    machine.succeed("secmon-daemon --check /etc/secmon/config.toml")

    with subtest("the service runs as secmon with the capabilities of its monitors"):
        assert machine.succeed("ps -o user= -C secmon-daemon").strip() == "secmon"
        caps = machine.succeed("systemctl show -p AmbientCapabilities --value secmon")
        for cap in ["cap_sys_admin", "cap_sys_ptrace", "cap_dac_read_search", "cap_bpf"]:
            assert cap in caps, f"{cap} not in {caps}"

    with subtest("secmon-client sees the camera opened"):
        machine.succeed("cam-opener 30 >/dev/null 2>&1 &")
        out = machine.succeed(
            "timeout 60 secmon-client --replay-after 0 --type CameraAccess --count 1 --json"
        )
        event = json.loads(out.splitlines()[0])
        assert event["event_type"]["type"] == "CameraAccess", event
        assert event["path"] == "${fakeCamera}", event
        assert event["process"]["comm"] == "cam-opener", event

    with subtest("GetEventsAfter on the system bus returns it"):
        reply = json.loads(machine.succeed(
            "busctl --system --json=short call org.pantheros.Secmon /org/pantheros/Secmon1 "
            "org.pantheros.Secmon1 GetEventsAfter tu 0 0"
        ))
        cams = [e for e in reply["data"][0] if e[2] == "CameraAccess"]
        assert cams, reply
        assert cams[0][4] == "${fakeCamera}", cams
        assert cams[0][6].get("comm") == "cam-opener", cams

    with subtest("the Event signal carries it"):
        machine.succeed("busctl --system --json=short monitor org.pantheros.Secmon >/tmp/bus.log 2>&1 &")
        # Open again until the monitor (which starts asynchronously) has seen
        # one open's signal.
        machine.wait_until_succeeds(
            "cam-opener 1 && grep '\"member\":\"Event\"' /tmp/bus.log | grep -q CameraAccess",
            timeout=60,
        )

    with subtest("journalctl -u secmon has it"):
        machine.wait_until_succeeds(
            "journalctl -u secmon -o json --output-fields=SECMON_EVENT_TYPE"
            " | grep -q '\"SECMON_EVENT_TYPE\":\"CameraAccess\"'",
            timeout=30,
        )

    with subtest("members of the group may read events, others may not"):
        machine.succeed(
            "su alice -c '/run/current-system/sw/bin/timeout 30 /run/current-system/sw/bin/secmon-client"
            " --replay-after 0 --type CameraAccess --count 1 --json'"
        )
        machine.succeed(
            "su alice -c '/run/current-system/sw/bin/busctl --system call org.pantheros.Secmon"
            " /org/pantheros/Secmon1 org.pantheros.Secmon1 GetEventsAfter tu 0 1'"
        )
        machine.fail(
            "su bob -c '/run/current-system/sw/bin/timeout 30 /run/current-system/sw/bin/secmon-client --replay-after 0 --count 1 --json'"
        )
        machine.fail(
            "su bob -c '/run/current-system/sw/bin/busctl --system call org.pantheros.Secmon"
            " /org/pantheros/Secmon1 org.pantheros.Secmon1 GetEventsAfter tu 0 1'"
        )

    with subtest("the notifier starts with graphical sessions"):
        machine.succeed("test -e /etc/systemd/user/graphical-session.target.wants/secmon-notifier.service")
  '';
}
