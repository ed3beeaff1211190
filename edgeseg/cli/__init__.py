"""The ``edgeseg`` command line: thin handlers that parse, call the library and print."""
