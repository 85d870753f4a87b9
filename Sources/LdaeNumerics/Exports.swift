// Every file of the numeric code sees the support module (errors, checks, the option descriptors).
@_exported import LdaeSupport
