# NixOS: ship secmon's events to Datadog with the agent's journald log
# integration — the same as journald.yaml beside this file. Import it from
# your configuration next to services.secmon.
#
# Every journal field of an entry becomes a log attribute, so SECMON_SEVERITY,
# SECMON_EVENT_TYPE, SECMON_SEQ, SECMON_META_* … can be faceted and alerted on.
{ ... }:
{
  services.datadog-agent = {
    enable = true;
    apiKeyFile = "/run/keys/datadog_api_key";
    extraConfig.logs_enabled = true;
    # conf.d/journald.d/conf.yaml
    checks.journald.logs = [
      {
        type = "journald";
        path = "/var/log/journal/";
        # secmon's unit only; drop this to ship everything.
        include_units = [ "secmon.service" ];
        service = "secmon";
        source = "secmon";
      }
    ];
  };

  # The agent reads the journal as a member of systemd-journal.
  users.users.datadog.extraGroups = [ "systemd-journal" ];
}
