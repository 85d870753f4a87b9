// What `import Ldae` gives the executables and the tests: the whole library, its three targets in one name.
@_exported import LdaeNumerics
@_exported import LdaeSupport
