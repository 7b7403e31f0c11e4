"""The thin command line: parse flags, call the library, render the result."""
