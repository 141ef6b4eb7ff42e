# Evaluates nix/module.nix without nixpkgs, for nix_test.go: a stand-in lib
# that keeps the module system's meaning for what the module uses (mkIf,
# mkMerge, mkDefault and option defaults: the lowest priority wins, lists
# from the winning definitions are joined, attribute sets merge per
# attribute) and stand-in packages whose store paths name them.
#
#   nix-instantiate --eval --strict --json eval-module.nix \
#     --arg module ./module.nix --arg secmon '{ enable = true; }'
{
  module,
  # The case's services.secmon definitions, as in a configuration.
  secmon,
}:

let
  inherit (builtins)
    all
    attrNames
    concatMap
    filter
    foldl'
    head
    isAttrs
    isList
    mapAttrs
    zipAttrsWith
    ;

  opt = attrs: attrs // { _type = "option"; };
  type = name: { inherit name; };
  mkOverride = priority: content: {
    _type = "override";
    inherit priority content;
  };

  lib = {
    mkOption = opt;
    mkEnableOption =
      name:
      opt {
        default = false;
        type = type "bool";
      };
    literalExpression = text: {
      _type = "literalExpression";
      inherit text;
    };
    literalMD = text: {
      _type = "literalMD";
      inherit text;
    };
    types = {
      bool = type "bool";
      str = type "str";
      package = type "package";
      listOf = t: { listOf = t; };
      submodule = m: { submodule = m; };
    };
    mkDefault = mkOverride 1000;
    mkIf = condition: content: {
      _type = "if";
      inherit condition content;
    };
    mkMerge = contents: {
      _type = "merge";
      inherit contents;
    };
    inherit mapAttrs concatMap;
    inherit (builtins) isString stringLength;
    filterAttrs =
      pred: set: removeAttrs set (filter (name: !(pred name set.${name})) (attrNames set));
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    unique = foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];
    hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
    getExe' = package: name: "${package}/bin/${name}";
  };

  package = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/${name}";
  };
  pkgs = {
    formats.toml = _: {
      type = type "toml";
      generate = name: value: package "toml-${name}";
    };
    stdenv = {
      buildPlatform.canExecute = _: true;
      hostPlatform = { };
    };
    runCommandLocal = name: env: script: package name // { inherit script; };
    writeTextDir =
      path: text:
      package (baseNameOf path)
      // {
        inherit path text;
      };
    callPackage = _: _: package "secmon";
    pipewire = package "pipewire";
    coreutils = package "coreutils";
  };

  kind = value: if isAttrs value then value._type or null else null;
  isSet = value: isAttrs value && !(value ? _type) && !(value ? outPath);

  # Definitions with their priority, properties discharged: mkIf false and
  # the empty mkMerge define nothing.
  defsOf =
    priority: value:
    if kind value == "merge" then
      concatMap (defsOf priority) value.contents
    else if kind value == "override" then
      defsOf value.priority value.content
    else if kind value == "if" then
      (if value.condition then defsOf priority value.content else [ ])
    else
      [ { inherit priority value; } ];

  # Attribute sets merge per attribute, leaving out attributes nothing
  # defines; otherwise the lowest priority wins and lists are joined.
  merge =
    defs:
    if all (d: isSet d.value) defs then
      let
        merged = zipAttrsWith (_: concatMap (x: x)) (
          map (d: mapAttrs (_: defsOf d.priority) d.value) defs
        );
      in
      mapAttrs (_: merge) (removeAttrs merged (filter (name: merged.${name} == [ ]) (attrNames merged)))
    else
      let
        best = foldl' (m: d: if d.priority < m then d.priority else m) 9999 defs;
        winners = filter (d: d.priority == best) defs;
      in
      if all (d: isList d.value) winners then concatMap (d: d.value) winners else (head winners).value;

  # Option defaults, as definitions of the lowest priority.
  defaults =
    options:
    mapAttrs (
      _: o:
      if (o._type or null) == "option" then
        (if o ? default then mkOverride 1500 o.default else lib.mkMerge [ ])
      else
        defaults o
    ) options;

  moduleWith = config: import module { inherit lib pkgs config; };
  given = [
    (defaults (moduleWith { }).options)
    { services.secmon = secmon; }
  ];
  configWith = moduleConfigs: merge (defsOf 100 (lib.mkMerge (given ++ moduleConfigs)));

  # The module's config depends on services.secmon, settings included, and
  # adds to settings only from the other options: so the module evaluated
  # against what was given alone, then against that plus its own settings,
  # yields the fixed point a real evaluation finds, without the module
  # system's laziness.
  config1 = configWith [ ];
  config2 = configWith [ (moduleWith config1).config ];
  config = configWith [ (moduleWith config2).config ];
in
{
  settings = config.services.secmon.settings;
  service = config.systemd.services.secmon or null;
  socket = config.systemd.sockets.secmon or null;
  notifier = config.systemd.user.services.secmon-notifier or null;
  users = config.users or null;
  dbusPackages = config.services.dbus.packages or null;
  busPolicies = map (p: p.text or null) (config.services.dbus.packages or [ ]);
  variables = config.environment.variables or null;
  etc = config.environment.etc or null;
  assertions = config.assertions or null;
}
