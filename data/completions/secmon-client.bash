# bash completion for secmon-client                      -*- shell-script -*-
# Installed as share/bash-completion/completions/secmon-client.

_secmon_client() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local types="FileCreate FileModify FileDelete FileAccess FileMove FileAttrib CameraAccess CameraReleased MicrophoneAccess MicrophoneReleased SshAccess SshLogin SshLoginFailed SshBruteForce SshLogSpoofed NetworkConnection NetworkListen PortScanDetected UsbDeviceInserted UsbDeviceRemoved Incident CustomMessage EventsDropped MonitorStatus"
    case $prev in
        --type|-type)
            # a comma-separated list: complete the part after the last comma
            local head=""
            [[ $cur == *,* ]] && head=${cur%,*},
            COMPREPLY=($(compgen -P "$head" -W "$types" -- "${cur##*,}"))
            return ;;
        --min-severity|-min-severity)
            COMPREPLY=($(compgen -W "Low Medium High Critical" -- "$cur"))
            return ;;
        --socket|-socket)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --count|-count|--replay-after|-replay-after|--show|-show)
            return ;;
    esac
    COMPREPLY=($(compgen -W "--count --json --min-severity --no-color --pretty --replay-after --show --socket --type --version --help" -- "$cur"))
}
complete -F _secmon_client secmon-client
