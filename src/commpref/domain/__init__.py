"""Pure rules of communication preferences: no I/O, no framework imports."""
