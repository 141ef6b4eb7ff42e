package devaccess

import "github.com/pantheros/secmon/service/internal/fanotify"

// HasSysAdmin tells tests whether the fanotify link can be used.
var HasSysAdmin = fanotify.HasSysAdmin
