package devaccess

// HasSysAdmin tells tests whether the fanotify link can be used.
var HasSysAdmin = hasSysAdmin
