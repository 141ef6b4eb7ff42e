# fish completion for secmon-client; installed as share/fish/vendor_completions.d/secmon-client.fish
complete -c secmon-client -f
complete -c secmon-client -l count -x -d 'exit after this many events'
complete -c secmon-client -l json -d 'print JSON lines even on a terminal'
complete -c secmon-client -l min-severity -x -a 'Low Medium High Critical' -d 'only events at least this severe'
complete -c secmon-client -l no-color -d 'no colours'
complete -c secmon-client -l pretty -d 'print readable lines even into a pipe'
complete -c secmon-client -l replay-after -x -d 'first print the kept events with a larger seq'
complete -c secmon-client -l show -x -d 'show one event in full'
complete -c secmon-client -l socket -r -F -d 'daemon socket'
complete -c secmon-client -l type -x -a 'FileCreate FileModify FileDelete FileAccess FileMove FileAttrib CameraAccess CameraReleased MicrophoneAccess MicrophoneReleased SshAccess SshLogin SshLoginFailed SshBruteForce SshLogSpoofed NetworkConnection NetworkListen PortScanDetected UsbDeviceInserted UsbDeviceRemoved Incident CustomMessage EventsDropped MonitorStatus' -d 'only events of this type'
complete -c secmon-client -l version -d 'print the version and exit'
complete -c secmon-client -l help -d 'show the flags'
