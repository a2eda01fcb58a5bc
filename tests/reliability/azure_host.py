"""The Azure host of the handler's end-to-end tests, re-exported for
the reliability suite."""
from test_handler_azure import AzureHost, write_script_root  # noqa: F401

