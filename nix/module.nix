# services.secmon: secmon on NixOS.
#
# The options are the ones the NixOS integration guide promised, with the
# same names and meaning (enable, monitors.*, socketPath, watches, settings,
# user, group, extraGroups), plus package and notifier. `settings` is the
# whole of /etc/secmon/config.toml (secmon.toml(5)); the other options are
# written into it with lib.mkDefault, so anything set in settings wins.
#
# The units are the package's own (systemd.packages): secmon.socket and
# secmon.service with their sandboxing (scored by service/e2e/units_test.go).
# This module adds what only the NixOS configuration knows, as drop-ins: the
# configuration file, the user and groups, the socket path, and the
# capabilities of the monitors that are on.
#
# An alert handler reads the socket, which is root:<group> 0660: a unit
# running as nobody is refused ("permission denied"). Give it the group:
#
#   systemd.services.secmon-alerts = {
#     wantedBy = [ "multi-user.target" ];
#     after = [ "secmon.socket" ];
#     requires = [ "secmon.socket" ];
#     script = "${config.services.secmon.package}/bin/secmon-client --json --min-severity High | ${myHandler}/bin/alert-handler";
#     serviceConfig = {
#       DynamicUser = true;
#       SupplementaryGroups = [ config.services.secmon.group ];
#       Restart = "on-failure";
#     };
#   };
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.secmon;
  settingsFormat = pkgs.formats.toml { };

  defaultSocketPath = "/run/secmon/secmon.sock";

  # Whether a monitor runs, after settings had its say.
  monitorOn = name: cfg.settings.monitors.${name} or true;
  monitorNames = [
    "filesystem"
    "network"
    "usb"
    "camera"
    "microphone"
    "ssh"
  ];

  # What each monitor needs beyond what the user secmon may do. The service
  # gets the union for the monitors that are on, and nothing else: no monitor
  # on, no capability.
  monitorCapabilities = {
    # inotify needs read permission on what it watches, and the default
    # watches include root-only files and directories (/etc/shadow,
    # /etc/sudoers.d).
    filesystem = [ "CAP_DAC_READ_SEARCH" ];
    ssh = [
      # /root/.ssh and every /home/*/.ssh are 0700: watching them needs the
      # right to search and read them. It also lets secmon read sshd's
      # entries in the system journal (files 0640 root:systemd-journal).
      "CAP_DAC_READ_SEARCH"
    ];
    camera = [
      # fanotify with FAN_REPORT_FID is the only kernel interface that names
      # the process opening a device node (inotify never does); it needs
      # CAP_SYS_ADMIN. Without it, openers are found by a /proc scan.
      "CAP_SYS_ADMIN"
      # Naming the opener from /proc/PID/{exe,fd} when it is another user's.
      "CAP_SYS_PTRACE"
      # inotify and fanotify marks need read permission on the node
      # (root:video 0660); the alternative is extraGroups = [ "video" ].
      "CAP_DAC_READ_SEARCH"
    ];
    # As for the camera; the nodes are root:audio.
    microphone = [
      "CAP_SYS_ADMIN"
      "CAP_SYS_PTRACE"
      "CAP_DAC_READ_SEARCH"
    ];
    network = [
      # The eBPF programs on the socket tracepoints (listen, connect, accept,
      # resets sent to probes of closed ports).
      "CAP_BPF"
      "CAP_PERFMON"
      # The cgroup bind programs (UDP listeners).
      "CAP_NET_ADMIN"
      # Naming the program behind a socket that another user owns.
      "CAP_SYS_PTRACE"
    ];
    # udev re-broadcasts uevents on a netlink group every user may join.
    usb = [ ];
  };
  # Not granted, on purpose (TODO: decide with the camera and microphone
  # monitors' owners): CAP_SETUID and CAP_SETGID, which pw-dump would need to
  # run as the PipeWire user and name the application behind PipeWire. They
  # would let the daemon become any user. Without them an event names the
  # broker (pipewire) and says the client lookup failed. To have it anyway:
  #   systemd.services.secmon.serviceConfig = {
  #     AmbientCapabilities = [ "CAP_SETUID CAP_SETGID" ];
  #     CapabilityBoundingSet = [ "CAP_SETUID CAP_SETGID" ];
  #     SystemCallFilter = [ "@setuid" ];
  #   };

  # System calls the monitors make that the unit's filter (@system-service
  # minus @privileged) would refuse. A later SystemCallFilter= line adds to
  # an allow-list, so these lines only ever widen it for monitors that are on.
  monitorSystemCalls = {
    filesystem = [ ];
    ssh = [ ];
    camera = [
      "fanotify_init"
      "fanotify_mark"
    ];
    microphone = [
      "fanotify_init"
      "fanotify_mark"
    ];
    network = [
      "bpf"
      "perf_event_open"
    ];
    usb = [ ];
  };

  forMonitorsOn = table: lib.unique (lib.concatMap (name: lib.optionals (monitorOn name) table.${name}) monitorNames);
  capabilities = forMonitorsOn monitorCapabilities;
  systemCalls = forMonitorsOn monitorSystemCalls;

  # A watch as the daemon reads it: [[watches]] with the options given, and
  # any other key written as is (pattern, severity).
  renderWatch = watch: lib.filterAttrs (name: value: name != "_module" && value != null) watch;

  rawConfigFile = settingsFormat.generate "secmon.toml" cfg.settings;
  # A mistake in settings fails the build, with the daemon's own message
  # (file, line, key), instead of the service at boot.
  configFile =
    if pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform then
      pkgs.runCommandLocal "secmon-config.toml" { } ''
        ${lib.getExe' cfg.package "secmon-daemon"} --system --check ${rawConfigFile} >/dev/null
        cp ${rawConfigFile} $out
      ''
    else
      rawConfigFile;

  # The shipped bus policy lets user secmon own the name and group secmon
  # receive the events; other names get the same rights here.
  renamedBusPolicy = pkgs.writeTextDir "share/dbus-1/system.d/org.pantheros.Secmon.nixos.conf" ''
    <?xml version="1.0"?>
    <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
     "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
    <!-- services.secmon.user and services.secmon.group: the rights that
         org.pantheros.Secmon.conf gives user and group secmon. -->
    <busconfig>
      <policy user="${cfg.user}">
        <allow own="org.pantheros.Secmon"/>
      </policy>
      <policy group="${cfg.group}">
        <allow receive_sender="org.pantheros.Secmon"
               receive_interface="org.pantheros.Secmon1"
               receive_type="signal"/>
        <allow send_destination="org.pantheros.Secmon"
               send_interface="org.pantheros.Secmon1"/>
      </policy>
    </busconfig>
  '';

  mkMonitorOption =
    what:
    lib.mkOption {
      type = lib.types.bool;
      default = true;
      example = false;
      description = "Whether to monitor ${what}.";
    };

  watchType = lib.types.submodule {
    freeformType = settingsFormat.type;
    options = {
      path = lib.mkOption {
        type = lib.types.str;
        example = "/etc/nixos";
        description = "The file or directory to watch. It need not exist yet.";
      };
      description = lib.mkOption {
        type = lib.types.str;
        default = "";
        example = "NixOS configuration";
        description = "What the path is; each event of this watch carries it.";
      };
      enabled = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = "Whether the watch is active (false keeps it written down, but off).";
      };
      recursive = lib.mkOption {
        type = lib.types.bool;
        default = false;
        description = "Whether to watch the whole tree below path, directories created later included.";
      };
    };
  };
in
{
  options.services.secmon = {
    enable = lib.mkEnableOption "secmon, the security monitor (camera, microphone, SSH, USB, network and file events)";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalMD "the flake's `packages.\${system}.default` when imported through `nixosModules.default`, else `pkgs.callPackage ./nix/package.nix { }`";
      description = "The secmon package: secmon-daemon, secmon-client, secmon-notifier, and their units and D-Bus files.";
    };

    monitors = {
      filesystem = mkMonitorOption "files (inotify): the paths in `watches`, or without any the built-in list (/etc/nixos, sudo, PAM, accounts, cron)";
      network = mkMonitorOption "the network: TCP connections, listening ports and port scans";
      usb = mkMonitorOption "USB devices being plugged in and pulled out";
      camera = mkMonitorOption "the cameras: which program opens one, and when it lets go";
      microphone = mkMonitorOption "the microphones (audio capture devices): which program opens one, and when it lets go";
      ssh = mkMonitorOption "SSH: sshd's logins, failures and brute force from the journal, and changes to SSH keys and sshd's configuration";
    };

    socketPath = lib.mkOption {
      type = lib.types.str;
      default = defaultSocketPath;
      example = "/run/secmon/events.sock";
      description = ''
        The JSON-lines event socket (`secmon-client`, `socat UNIX-CONNECT:… -`). It is created
        by `secmon.socket` with mode 0660 for root and `group`; when it is not the default,
        `SECMON_SOCKET` points `secmon-client` at it.
      '';
    };

    watches = lib.mkOption {
      type = lib.types.listOf watchType;
      default = [ ];
      example = lib.literalExpression ''
        [
          {
            path = "/etc/nixos";
            description = "NixOS configuration";
            enabled = true;
            recursive = true;
          }
          {
            path = "/root/.ssh";
            description = "Root SSH keys";
            enabled = true;
            recursive = false;
          }
        ]
      '';
      description = ''
        Filesystem watches (`[[watches]]` in the configuration). When the list is empty the
        daemon's built-in ones apply; a non-empty list replaces them. SSH keys and sshd's
        configuration are watched by `monitors.ssh` either way. Other keys of a watch, such as
        `pattern` (a glob instead of a path) and `severity`, are passed on as written.
      '';
    };

    settings = lib.mkOption {
      type = lib.types.submodule { freeformType = settingsFormat.type; };
      default = { };
      example = lib.literalExpression ''
        {
          log_level = "debug";
          camera.devices = [ "/dev/video*" ];
          ssh.brute_force_threshold = 10;
        }
      '';
      description = ''
        The daemon's configuration, written to /etc/secmon/config.toml: any key of
        secmon.toml(5) (see also data/secmon.example.toml). The options above are
        written into it as defaults, so a key set here overrides them: `settings.watches`
        replaces `watches`, `settings.socket_path` replaces `socketPath`, and
        `settings.monitors.*` replaces `monitors.*`. The file is checked with
        `secmon-daemon --check` when the system is built.
      '';
    };

    user = lib.mkOption {
      type = lib.types.str;
      default = "secmon";
      description = ''
        The user secmon-daemon runs as. It is created when left at the default. Its privileges
        come from the capabilities of the monitors that are on, not from the user.
      '';
    };

    group = lib.mkOption {
      type = lib.types.str;
      default = "secmon";
      description = ''
        The daemon's group. Its members may read the event socket and, by the D-Bus policy,
        receive the `Event` signals and call `GetEventsAfter`. It is created when left at the
        default.
      '';
    };

    extraGroups = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [
        "audio"
        "video"
        "input"
      ];
      description = "Additional groups for the daemon (`SupplementaryGroups=`), for device access.";
    };

    notifier = {
      enable = lib.mkEnableOption "secmon-notifier, desktop notifications of secmon's events (the user unit secmon-notifier.service, started with the graphical session of every user in `group`)";

      users = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        example = [ "alice" ];
        description = ''
          Users who receive secmon's events: they are added to `group`, which lets their
          notifier receive the D-Bus signals and lets them read the event socket.
        '';
      };
    };

    dmsPlugin.enable = lib.mkEnableOption ''
      secmon's DankMaterialShell bar plugin, in DMS's system plugin folder
      (/etc/xdg/quickshell/dms-plugins/secmon): a pill while a camera or microphone is in use
      and while High and Critical alerts are unacknowledged. Enable it in DMS's settings
      (Plugins), then add it to the bar; its users must be in `group` (see `notifier.users`).
      With DMS's own module, `programs.dank-material-shell.plugins.secmon.src =
      "''${pkgs.secmon}/share/dms-plugins/secmon"` installs the same folder'';
  };

  config = lib.mkIf cfg.enable (
    lib.mkMerge [
      {
        services.secmon.settings = {
          socket_path = lib.mkDefault cfg.socketPath;
          socket_group = lib.mkDefault cfg.group;
          monitors = lib.mapAttrs (_: lib.mkDefault) cfg.monitors;
          watches = lib.mkIf (cfg.watches != [ ]) (lib.mkDefault (map renderWatch cfg.watches));
        };

        assertions = [
          {
            assertion =
              lib.isString cfg.settings.socket_path
              && lib.hasPrefix "/" cfg.settings.socket_path
              && lib.stringLength cfg.settings.socket_path < 108;
            message = "services.secmon.socketPath must be an absolute path shorter than 108 bytes (a Unix socket's limit).";
          }
        ];

        environment.etc."secmon/config.toml".source = configFile;
        environment.systemPackages = [ cfg.package ];
        environment.variables = lib.mkIf (cfg.settings.socket_path != defaultSocketPath) {
          SECMON_SOCKET = cfg.settings.socket_path;
        };

        systemd.packages = [ cfg.package ];
        services.dbus.packages = [
          cfg.package
        ]
        ++ lib.optional (cfg.user != "secmon" || cfg.group != "secmon") renamedBusPolicy;

        # The socket starts at boot, and so does the service: a monitor that
        # waited for its first client would miss what happened before.
        systemd.sockets.secmon = {
          wantedBy = [ "sockets.target" ];
          socketConfig = {
            # An empty value first resets the package's ListenStream.
            ListenStream = [
              ""
              cfg.settings.socket_path
            ];
            SocketGroup = cfg.group;
          };
        };

        systemd.services.secmon = {
          wantedBy = [ "multi-user.target" ];
          restartTriggers = [ configFile ];
          # pw-dump names the application behind PipeWire (when the daemon
          # may run it as the PipeWire user: see above).
          path = lib.optional (monitorOn "camera" || monitorOn "microphone") pkgs.pipewire;
          serviceConfig = {
            # Empty values first reset what the package's unit says.
            ExecStart = [
              ""
              "${lib.getExe' cfg.package "secmon-daemon"} --system --config /etc/secmon/config.toml"
            ];
            # NixOS has no /bin/kill.
            ExecReload = [
              ""
              "${lib.getExe' pkgs.coreutils "kill"} -HUP $MAINPID"
            ];
            User = cfg.user;
            Group = cfg.group;
            SupplementaryGroups = cfg.extraGroups;
            CapabilityBoundingSet = [ "" ] ++ lib.optional (capabilities != [ ]) (toString capabilities);
            AmbientCapabilities = [ "" ] ++ lib.optional (capabilities != [ ]) (toString capabilities);
            SystemCallFilter = lib.optional (systemCalls != [ ]) (toString systemCalls);
          };
        };

        users.users = lib.mkIf (cfg.user == "secmon") {
          secmon = {
            isSystemUser = true;
            group = cfg.group;
            description = "secmon security monitor";
          };
        };
        users.groups = lib.mkMerge [
          (lib.mkIf (cfg.group == "secmon") { secmon = { }; })
          (lib.mkIf (cfg.notifier.users != [ ]) { ${cfg.group}.members = cfg.notifier.users; })
        ];
      }

      (lib.mkIf cfg.dmsPlugin.enable {
        environment.etc."xdg/quickshell/dms-plugins/secmon".source = "${cfg.package}/share/dms-plugins/secmon";
      })

      (lib.mkIf cfg.notifier.enable {
        systemd.user.services.secmon-notifier = {
          description = "secmon desktop notifications";
          wantedBy = [ "graphical-session.target" ];
          partOf = [ "graphical-session.target" ];
          after = [ "graphical-session.target" ];
          # Only in the sessions of users who may receive the events.
          unitConfig.ConditionGroup = cfg.group;
          # "Details" opens a terminal: the session's programs, not only the
          # few a NixOS unit gets by default.
          path = [
            "/run/wrappers"
            "%h/.nix-profile"
            "/etc/profiles/per-user/%u"
            "/nix/var/nix/profiles/default"
            "/run/current-system/sw"
          ];
          serviceConfig.ExecStart = [
            ""
            (lib.getExe' cfg.package "secmon-notifier")
          ];
        };
      })
    ]
  );
}
